"""Engine-level properties: the incremental engine and a brute-force one (every window rescanned on
every read) produce the same transitions on random streams with late, duplicate and corrected readings;
forecasts use the newest issue per valid time."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.naive import naive_state
from edge.wire import Reading
from hub.rules.model import Level

from .helpers import T0, engine_for

RULES = """  - id: table
    sites: [s1]
    inputs: {rain: {quantity: rain_mm}}
    values: {r10: "sum(rain, 10m)", r30: "sum(rain, 30m)"}
    thresholds: {r10: [5, 10, 15, 20], r30: [10, 20, 30, 40]}
    hysteresis: 0.25
  - id: mixed
    sites: [s1]
    inputs: {rain: {quantity: rain_mm}, c: {sensor: cr1}}
    levels:
      blue: "max_of(mean(rain, 20m)) >= 2 or rate(c, 30m) >= 6"
      yellow: "at_least(2, sum(rain, 10m) >= 6) and count(c, 30m) >= 2"
      red: "max(c, 30m) - min(c, 30m) >= 9"
    for: 2m
"""

reading = st.tuples(
    st.sampled_from(["rg1", "rg2", "rg3", "cr1"]),
    st.integers(0, 120),  # minute: late and duplicate times are common
    st.floats(0, 8, allow_nan=False).map(lambda x: round(x, 1)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(reading, max_size=80))
def test_incremental_engine_equals_brute_force(
    tmp_path_factory, stream: list[tuple[str, int, float]]
) -> None:
    eng = engine_for(tmp_path_factory.mktemp("p"), RULES, tick_s=60, sweep_s=60)
    fast, slow = eng.initial_state(), naive_state(eng)
    now = T0
    for i, (sensor, minute, value) in enumerate(stream):
        q = "crack_mm" if sensor == "cr1" else "rain_mm"
        r = Reading(sensor, q, value, T0 + minute * 60, i)
        now = max(now, r.time)
        fast, a = eng.evaluate(fast, [r], now)
        slow, b = eng.evaluate(slow, [r], now)
        assert [(t.rule, t.at, t.from_level, t.to_level) for t in a] == [
            (t.rule, t.at, t.from_level, t.to_level) for t in b
        ]
    fast, a = eng.evaluate(fast, [], now + 7200)
    slow, b = eng.evaluate(slow, [], now + 7200)
    assert [(t.rule, t.to_level) for t in a] == [(t.rule, t.to_level) for t in b]


def test_forecast_rule_uses_newest_issue(tmp_path: Path) -> None:
    eng = engine_for(
        tmp_path,
        """  - id: fc
    sites: [s2]
    inputs: {fc: {forecast: rain_mm}}
    levels: {blue: "forecast_sum(fc, 3h) >= 50"}
""",
    )
    hour = 3600.0

    def fc(valid_h: int, issued_h: float, mm: float, feed: str = "cma") -> Reading:
        return Reading(
            f"{feed}@s2",
            "rain_mm",
            mm,
            T0 + valid_h * hour,
            0,
            source="forecast",
            issued=T0 + issued_h * hour,
        )

    st_, out = eng.evaluate(eng.initial_state(), [fc(1, 0, 20), fc(2, 0, 20), fc(3, 0, 20)], T0)
    assert [t.to_level for t in out] == [Level.BLUE]
    # A newer issue (another feed) revises hour 2 down to 2 mm: 42 mm ahead, the warning ends.
    st_, out = eng.evaluate(st_, [fc(2, 0.5, 2, feed="gd")], T0 + 60)
    assert [(t.from_level, t.to_level) for t in out] == [(Level.BLUE, Level.NONE)]
    # An older issue arriving late is ignored: 40 mm for hour 2 would have raised it again.
    st_, out = eng.evaluate(st_, [fc(2, -1, 40)], T0 + 120)
    assert out == []
