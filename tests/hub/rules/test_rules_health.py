"""Data health: staleness, stuck and out-of-range values raise maintenance alerts for officers only,
and the affected data stays out of rule evaluation."""

from __future__ import annotations

from pathlib import Path

from edge.wire import Reading
from hub.rules.model import AlertState, Level

from .helpers import T0, engine_for, play

HEALTH = """  - id: stale
    kind: stale
    periods: 3
  - id: range
    kind: range
    ranges: {rain_mm: [0, 50], crack_mm: [-10, 100]}
    level: yellow
  - id: stuck
    kind: stuck
    durations: {crack_mm: 10m}
"""
RAIN = """  - id: heavy
    sites: [s1]
    inputs: {rain: {quantity: rain_mm}}
    values: {r1h: "sum(rain, 1h)"}
    thresholds: {r1h: [35, 45, 60, 80]}
    audience: villagers
"""


def test_stale_sensor_raises_and_clears_a_maintenance_alert(tmp_path: Path) -> None:
    eng = engine_for(tmp_path, HEALTH, health_s=10)
    st, out = eng.evaluate(eng.initial_state(), [Reading("rg1", "rain_mm", 0.0, T0, 1)], T0)
    assert out == []
    st, out = eng.evaluate(st, [], T0 + 181)  # rg1: period 60 s, 3 periods without data
    stale = {t.rule: t for t in out}
    t = stale["stale.rg1"]
    assert t.to_level == Level.BLUE and t.state == AlertState.FIRING and t.site == "s1"
    assert t.labels["maintenance"] == "true" and t.labels["audience"] == "officers"
    assert t.labels["sensor"] == "rg1" and "数据中断" in t.message
    # Every other sensor of the site never reported at all; they went stale after their grace period too.
    assert all(x.labels["audience"] == "officers" for x in out)
    st, out = eng.evaluate(st, [Reading("rg1", "rain_mm", 0.0, T0 + 190, 2)], T0 + 200)
    assert [(x.rule, x.to_level, x.state) for x in out if x.rule == "stale.rg1"] == [
        ("stale.rg1", Level.NONE, AlertState.RESOLVED)
    ]


def test_out_of_range_value_never_reaches_rules(tmp_path: Path) -> None:
    eng = engine_for(tmp_path, HEALTH + RAIN)
    # 999 mm in a minute is a corrupt frame, not a storm: no villager alert, one maintenance alert.
    st, out = play(eng, [Reading("rg1", "rain_mm", 999.0, T0, 1)])
    assert [(t.rule, t.to_level, t.labels["audience"]) for t in out] == [
        ("range.rg1", Level.YELLOW, "officers")
    ]
    assert st.counters["unhealthy"] == 1
    st, out = play(eng, [Reading("rg1", "rain_mm", 1.0, T0 + 60, 2)], st)
    assert [(t.rule, t.to_level) for t in out] == [("range.rg1", Level.NONE)]
    assert st.series[("rg1", "rain_mm")].pairs()[1] == [1.0]


def test_stuck_sensor_is_flagged_and_excluded(tmp_path: Path) -> None:
    eng = engine_for(
        tmp_path,
        HEALTH
        + """  - id: crack
    sites: [s1]
    inputs: {c: {sensor: cr1}}
    levels: {blue: "count(c, 1h) >= 12"}
""",
    )
    readings = [Reading("cr1", "crack_mm", 3.3, T0 + i * 60, i) for i in range(15)]
    st, out = play(eng, readings)
    out = [t for t in out if not t.rule.startswith("stale.")]  # the other sensors of s1 are silent
    assert [(t.rule, t.to_level) for t in out] == [("stuck.cr1", Level.BLUE)]
    assert out[0].at == T0 + 600
    assert st.series[("cr1", "crack_mm")].n == 10  # minutes 0..9 were fed, then excluded
    st, out = play(eng, [Reading("cr1", "crack_mm", 3.4, T0 + 960, 16)], st)
    assert [(t.rule, t.to_level) for t in out if t.rule == "stuck.cr1"] == [("stuck.cr1", Level.NONE)]


def test_stale_gauge_leaves_the_group_and_holds_the_level(tmp_path: Path) -> None:
    eng = engine_for(tmp_path, HEALTH + RAIN, health_s=10, tick_s=10)
    burst = [Reading(g, "rain_mm", 40.0, T0 + 60, 1) for g in ("rg1", "rg2", "rg3")]
    st, out = eng.evaluate(eng.initial_state(), burst, T0 + 60)
    assert [t.to_level for t in out if t.rule == "heavy"] == [Level.BLUE]
    # rg2 and rg3 keep reporting dry minutes; rg1 dies. After an hour the rain has left every window,
    # but rg1 is unhealthy, so the warning is not lowered for lack of data.
    t = T0 + 60
    for i in range(70):
        t += 60
        st, out = eng.evaluate(st, [Reading(g, "rain_mm", 0.0, t, i + 2) for g in ("rg2", "rg3")], t)
        assert not [x for x in out if x.rule == "heavy"], (i, out)
    assert not st.series[("rg1", "rain_mm")].ok
    # rg1 is back, with the other two's readings of the same minute (a level falls only while every
    # input has reported within its period: lifecycle.py).
    back = [Reading(g, "rain_mm", 0.0, t + 60, 99) for g in ("rg1", "rg2", "rg3")]
    st, out = eng.evaluate(st, back, t + 60)
    assert [(x.rule, x.to_level) for x in out if x.rule == "heavy"] == [("heavy", Level.NONE)]


def test_rain_from_a_gauge_that_was_stale_decides_its_rule_promptly(tmp_path: Path) -> None:
    """A gauge that went stale reports again with heavy rain: its rule fires at that reading or, at the
    latest, at the next health sweep (10 s here), never only at the next full sweep (1 h here)."""
    eng = engine_for(tmp_path, HEALTH + RAIN, health_s=10, sweep_s=3600)
    st, _ = eng.evaluate(eng.initial_state(), [Reading("rg1", "rain_mm", 0.0, T0, 1)], T0)
    st, out = eng.evaluate(st, [], T0 + 190)
    assert "stale.rg1" in {t.rule for t in out}
    st, out = eng.evaluate(st, [Reading("rg1", "rain_mm", 40.0, T0 + 200, 2)], T0 + 200)
    fired = [t for t in out if t.rule == "heavy"]
    if not fired:  # the gauge was still flagged stale when its reading came in
        st, out = eng.evaluate(st, [], T0 + 215)  # the next health sweep clears it
        fired = [t for t in out if t.rule == "heavy"]
    assert fired and fired[0].to_level == Level.BLUE
