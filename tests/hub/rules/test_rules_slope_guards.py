"""Slope guards (hub/rules/slopes.py) never change what the engine emits: on random displacement and
crack streams with late, duplicate and corrected readings, jumps both ways, out-of-range values and gaps
that make sensors stale, the guarded engine and the unguarded brute-force one emit the same transitions."""

from __future__ import annotations

from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bench.naive import naive_state
from edge.wire import Reading

from .helpers import T0, engine_for, key, play

RULES = """  - id: rates
    sites: [s1]
    inputs: {c: {sensor: cr1}}
    levels: {yellow: "rate(c, 30m) >= 2", red: "rate(c, 30m) * 2 >= 9"}
  - id: either
    sites: [s1]
    inputs: {c: {sensor: cr1}}
    levels: {blue: "rate(c, 20m) >= 3 or rate(c, 20m) / 2 >= 2.5", orange: "rate(c, 20m) >= 1 and rate(c, 20m) > 6"}
    for: 2m
  - id: shifted
    sites: [s1]
    inputs: {c: {sensor: cr1}}
    levels: {blue: "delta(c, 15m) + 1 >= 3", yellow: "delta(c, 15m) - 2 > 2"}
  - id: table
    sites: [s1]
    inputs: {g: {sensor: gn1}}
    values: {d: "delta(g, 2h)"}
    thresholds: {d: [1, 2, 4, 8]}
    hysteresis: 0.25
  - id: tangent
    sites: [s1]
    inputs: {g: {sensor: gn1}}
    values: {a: "tangent_angle(g, 2h, 5.0)"}
    thresholds: {a: [45, 60, 80, 85]}
    hysteresis: 0.1
    for: 3m
  - id: gnssrate
    sites: [s1]
    inputs: {g: {sensor: gn1}}
    levels: {blue: "24 * rate(g, 1h) >= 30"}
  - id: slow
    sites: [s1]
    inputs: {c: {sensor: cr1}}
    levels: {blue: "rate(c, 2h) >= 2"}
"""
HEALTH = """  - id: stale
    kind: stale
    periods: 3
  - id: range
    kind: range
    ranges: {crack_mm: [-40, 40]}
"""

step = st.one_of(
    st.tuples(
        st.sampled_from(["cr1", "gn1"]),
        st.integers(0, 240),  # minute: late, duplicate and corrected readings are common
        st.sampled_from([0.0, 0.0, 0.05, -0.05, 0.1, 0.3, -0.3, 0.8, 1.5, -2.0, 4.0, 9.0, -30.0]),
    ),
    st.tuples(st.just("gap"), st.integers(1, 40), st.just(0.0)),  # time passes with no data
)


def run_both(tmp: Path, stream: list) -> tuple[list, list, int]:
    eng = engine_for(tmp, RULES + HEALTH, tick_s=60, sweep_s=600, health_s=60)
    fast, slow = eng.initial_state(), naive_state(eng)
    assert fast.guards is not None and slow.guards is None
    level = {"cr1": 0.0, "gn1": 0.0}
    now = T0
    out_fast: list = []
    out_slow: list = []
    skipped = 0
    for i, (sensor, minute, dv) in enumerate(stream):
        if sensor == "gap":
            now += minute * 60
            batch = []
        else:
            level[sensor] += dv  # a walk in stream order: late readings carry today's value
            q = "crack_mm" if sensor == "cr1" else "disp_mm"
            r = Reading(sensor, q, level[sensor], T0 + minute * 60, i)
            now = max(now, r.time)
            batch = [r]
        fast, a = eng.evaluate(fast, batch, now)
        slow, b = eng.evaluate(slow, batch, now)
        out_fast += a
        out_slow += b
        assert key(a) == key(b), (i, key(a), key(b))
        skipped += sum(g is not None for g in fast.guards or [])
    return out_fast, out_slow, skipped


@settings(max_examples=400, deadline=None)
@given(st.lists(step, max_size=120))
# A slow creep, then a reading 1 minute after the last: the short span makes the rate jump.
@example([("cr1", m, 0.05) for m in range(0, 60, 10)] + [("cr1", 51, 0.3), ("gap", 40, 0.0)])
# A late reading lands inside the window below the others: the delta grows without a new newest.
@example([("gn1", m, 0.3) for m in range(0, 100, 10)] + [("gn1", 5, -30.0), ("gap", 5, 0.0)])
def test_slope_guarded_engine_equals_unguarded_brute_force(tmp_path_factory, stream: list) -> None:
    run_both(tmp_path_factory.mktemp("s"), stream)


def test_slope_guards_engage_and_skip_on_quiet_creep(tmp_path: Path) -> None:
    """A steady slow creep keeps every rule quiet: each holds a slope guard, and the brute force agrees."""
    stream = []
    for m in range(0, 240, 10):
        stream += [("cr1", m, 0.02), ("gn1", m, 0.01)]
    out_fast, out_slow, skipped = run_both(tmp_path, stream)
    slope_rules = {"rates", "either", "shifted", "table", "tangent", "gnssrate", "slow"}
    assert [t for t in out_fast + out_slow if t.rule in slope_rules] == []  # (rain gauges go stale)
    eng = engine_for(tmp_path, RULES + HEALTH)
    assert {r.id: r.slope[0] for r in eng.rules if r.slope} == {  # every rule here is guardable
        "slow": "rate",
        "rates": "rate",
        "either": "rate",
        "shifted": "delta",
        "table": "delta",
        "tangent": "rate",  # the angle of the window's rate (docs/rules.md)
        "gnssrate": "rate",
    }
    assert skipped > 0


def test_a_creep_that_speeds_up_still_fires(tmp_path: Path) -> None:
    """The guard must give way as the crack accelerates: yellow at 2 mm/h, then red at 4.5 mm/h."""
    eng = engine_for(tmp_path, RULES)
    readings, v = [], 0.0
    for k in range(30):
        v += 0.05 if k < 12 else 0.5 if k < 20 else 1.0  # 0.3 mm/h, then 3 mm/h, then 6 mm/h
        readings.append(Reading("cr1", "crack_mm", v, T0 + k * 600, k))
    st_, out = play(eng, readings)
    levels = [t.to_level.label for t in out if t.rule == "rates"]
    assert levels[:2] == ["yellow", "red"]
    _, slow_out = play(eng, readings, naive_state(eng))
    assert key(out) == key(slow_out)


# Regular readings (every 10 minutes per sensor), mostly small moves, now and then a dip or a jump, a
# late reading or a pause: the patterns that move a window's first reading without a new rise.
cadence = st.one_of(
    st.tuples(
        st.just("tick"),
        st.sampled_from(["cr1", "gn1"]),
        st.sampled_from([0.0, 0.0, 0.0, 0.02, -0.02, 0.1, -1.0, 1.0, -6.0, 6.0]),
    ),
    st.tuples(st.just("late"), st.sampled_from(["cr1", "gn1"]), st.integers(1, 130)),
    st.tuples(st.just("gap"), st.integers(1, 25), st.just(0)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(cadence, max_size=160))
def test_slope_guards_on_regular_cadence_equal_brute_force(tmp_path_factory, plan: list) -> None:
    clock = {"cr1": 0, "gn1": 0}
    stream: list = []
    for op, a, b in plan:
        if op == "tick":
            clock[a] += 10
            stream.append((a, clock[a], b))
        elif op == "late":  # 3 mm below the walk, minutes back (or a correction at the same time)
            stream.append((a, max(0, clock[a] - b), -3.0))
        else:
            stream.append(("gap", a, 0.0))
    run_both(tmp_path_factory.mktemp("c"), stream)


def creep(sensor: str, minutes: range, value) -> list:
    """Readings every 10 min as run_both steps (moves), with value(minute) as the level."""
    out, last = [], 0.0
    for m in minutes:
        out.append((sensor, m, value(m) - last))
        last = value(m)
    return out


def test_guard_expires_before_an_old_dip_becomes_the_first_reading(tmp_path: Path) -> None:
    """A dip 10 minutes before the guard was set is not the window's first reading then, and the level
    is flat afterwards (nothing rises), yet 110 minutes later the dip is the first reading of the 2 h
    window and the rate is 5 mm over 110 min: the rule must fire. Only the guard's expiry sees this."""
    stream = creep("cr1", range(0, 240, 10), lambda m: -5.0 if m == 110 else 0.0)
    out_fast, out_slow, _ = run_both(tmp_path, stream)
    assert [t.to_level.label for t in out_slow if t.rule == "slow"][:1] == ["blue"]
    assert key(out_fast) == key(out_slow)


def test_delta_guard_counts_the_lowest_reading_in_the_window(tmp_path: Path) -> None:
    """A dip inside the 2 h window, then flat: once the readings before the dip leave the window the
    delta is the depth of the dip (table rule: 4 mm is orange). The budget must start from the lowest
    reading in the window, not from the first."""
    stream = creep("gn1", range(0, 300, 10), lambda m: -4.5 if m == 100 else 0.0)
    out_fast, out_slow, _ = run_both(tmp_path, stream)
    assert "orange" in [t.to_level.label for t in out_slow if t.rule == "table"]
    assert key(out_fast) == key(out_slow)


def test_rate_guard_counts_every_reading_that_can_become_first(tmp_path: Path) -> None:
    """Readings at 0 mm, one at -2.5 mm 40 min after the first, then 0 mm again: when the early readings
    leave the 2 h window the dip is the first reading and the rate is 2.5 mm over 80 min (1.9 mm/h),
    then less; with -4 mm it is 3 mm/h. Every reading up to the guard's midpoint must bound the rate."""
    stream = creep("cr1", range(0, 240, 10), lambda m: -4.0 if m == 40 else 0.0)
    out_fast, out_slow, _ = run_both(tmp_path, stream)
    assert "blue" in [t.to_level.label for t in out_slow if t.rule == "slow"]
    assert key(out_fast) == key(out_slow)


def test_a_nan_reading_turns_the_guard_off(tmp_path: Path) -> None:
    """A NaN from a faulty logger carries no rise that can be measured: the next real reading must be
    judged in full (here a 10 mm jump over the 2 h window fires), never skipped."""
    eng = engine_for(tmp_path, RULES)
    readings = [Reading("cr1", "crack_mm", 0.0, T0 + m * 60, m) for m in range(0, 70, 10)]
    readings += [
        Reading("cr1", "crack_mm", float("nan"), T0 + 70 * 60, 98),
        Reading("cr1", "crack_mm", 10.0, T0 + 80 * 60, 99),
    ]
    _, out = play(eng, readings)
    _, slow_out = play(eng, readings, naive_state(eng))
    assert "blue" in [t.to_level.label for t in slow_out if t.rule == "slow"]
    assert key(out) == key(slow_out)


def test_a_late_nan_does_not_hide_the_windows_least_value(tmp_path: Path) -> None:
    """A NaN inserted late sits in the middle of the window's min deque and would hide the 0.5 mm
    reading after it; the budget must then come from the readings themselves. When the readings
    before the dip leave the 2 h window, 1.55 - 0.5 mm reaches the 1 mm blue threshold."""
    eng = engine_for(tmp_path, RULES)

    def gn(minute: float, v: float, seq: int) -> Reading:
        return Reading("gn1", "disp_mm", v, T0 + minute * 60, seq)

    readings = [gn(0, 1.0, 0), gn(20, 0.5, 1), gn(30, 1.4, 2), gn(10, float("nan"), 3)]
    readings += [gn(m, 1.4, 4 + m) for m in range(40, 131, 10)] + [gn(131, 1.55, 200)]
    _, out = play(eng, readings)
    _, slow_out = play(eng, readings, naive_state(eng))
    assert "blue" in [t.to_level.label for t in slow_out if t.rule == "table"]
    assert key(out) == key(slow_out)
