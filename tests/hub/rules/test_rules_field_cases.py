"""The shipped Fengshan rules in field conditions the brute-force comparisons cannot see: epoch times
at start-up, readings that reach the hub a few seconds after they were taken, a GNSS gap, a dead gauge.

Each case once missed a warning or held villagers evacuated; both engines (incremental and brute
force) shared the mistake, so only the expected outcome, worked out by hand, catches it."""

from __future__ import annotations

import math

from edge.wire import Reading
from hub.rules.engine import Engine, EngineState
from hub.rules.loader import load_ruleset
from hub.rules.model import Transition

from .helpers import DEPLOY, T0


def engine(*files: str) -> Engine:
    return Engine(load_ruleset([DEPLOY / f for f in files]))


def hub_run(eng: Engine, readings: list[Reading], wire: dict[str, float], end: float) -> list[Transition]:
    """As the hub runs the engine: a tick every 10 s of its clock, and each reading evaluated when it
    arrives, `wire[sensor]` seconds after it was taken."""
    arrivals = sorted(((r.time + wire.get(r.sensor, 0.0), k, r) for k, r in enumerate(readings)))
    st, out, now, j = eng.initial_state(), [], T0, 0
    while now < end:
        while j < len(arrivals) and arrivals[j][0] < now + 10:
            st, o = eng.evaluate(st, [arrivals[j][2]], arrivals[j][0])
            out += o
            j += 1
        now += 10
        st, o = eng.evaluate(st, (), now)
        out += o
    return out


def hours(out: list[Transition], rule: str) -> list[tuple[float, str]]:
    return [(round((t.at - T0) / 3600, 1), t.to_level.label) for t in out if t.rule == rule]


def test_a_second_of_wire_delay_does_not_hold_a_warning_forever() -> None:
    """60 mm in an hour at fs-hp02, then 12 dry hours. `flash-flood-critical-rain` has clear_for 30m
    and the gauge reports every 5 min. Before, a reading arriving 2 s after its time left a gap in
    which the hub's tick restarted clear_for at every period: orange stood for the whole 12 hours."""
    rain = [5.0] * 12 + [0.0] * 12 * 12
    rs = [Reading("fs-hp02-rg1", "rain_mm", v, T0 + 300 * (i + 1), i + 1) for i, v in enumerate(rain)]
    end = T0 + 13 * 3600
    on_time = hours(hub_run(engine("flash_flood.yaml"), rs, {}, end), "flash-flood-critical-rain")
    assert on_time[-1] == (6.6, "none")  # each step down after 30 min at the lower level
    for delay in (2.0, 15.0):
        late = hub_run(engine("flash_flood.yaml"), rs, {"fs-hp02-rg1": delay}, end)
        assert [lv for _, lv in hours(late, "flash-flood-critical-rain")] == [lv for _, lv in on_time]


def test_inputs_arriving_at_different_delays_let_a_warning_clear() -> None:
    """The landslide rule reads the gauge, the crack meter and the GNSS. Each arrives a few seconds
    late, by a different amount; before, the last to report always reset the step-down just before it
    reported, so the others were never "heard since", and yellow never cleared."""
    rs, crack = [], 100.0
    for i in range(1, 16 * 12 + 1):
        rs.append(Reading("fs-hp01-rg1", "rain_mm", 0.0, T0 + 300 * i, i))
    for i in range(1, 16 * 6 + 1):
        crack += 0.5 if i <= 18 else 0.0  # 3 mm/h for 3 h, then still
        rs.append(Reading("fs-hp01-cr1", "crack_mm", crack, T0 + 600 * i, i))
    for i in range(1, 17):
        rs.append(Reading("fs-hp01-gn1", "disp_mm", 20.0, T0 + 3600 * i, i))
    wire = {"fs-hp01-rg1": 3.0, "fs-hp01-cr1": 5.0, "fs-hp01-gn1": 12.0}
    got = hours(hub_run(engine("landslide.yaml"), rs, wire, T0 + 16 * 3600), "landslide-rain-displacement")
    assert [lv for _, lv in got] == ["yellow", "none"]


def test_inverse_velocity_predicts_from_the_first_hours_after_start() -> None:
    """GNSS follows Fukuzono's law, 1/v = a·(t_f − t), with failure at T0 + 100 h, hourly readings. The
    shipped rule goes yellow at 72 h to failure and orange at 24 h. Before, a window built at start-up
    fitted x in hours since 1970: every failure time looked 30 years away, and no level came."""
    tf, a = 100 * 3600.0, 0.05
    rs = [
        Reading("fs-hp01-gn1", "disp_mm", -math.log((tf - h * 3600) / 3600) / a, T0 + h * 3600, h)
        for h in range(96)
    ]
    eng = engine("landslide.yaml")
    st: EngineState = eng.initial_state()
    out: list[Transition] = []
    for r in rs:
        st, o = eng.evaluate(st, [r], r.time)
        out += o
    assert hours(out, "landslide-inverse-velocity") == [(28.0, "yellow"), (76.0, "orange")]
    rule = next(r for r in eng.rules if r.id == "landslide-inverse-velocity")
    assert abs(rule.values["ttf_h"](st.slots, T0 + 95 * 3600) - 5.0) < 0.05


def test_the_tangent_angle_after_a_gnss_gap() -> None:
    """2 mm/h is 48 mm/day, 32 times the 1.5 mm/day steady rate: atan(32) = 88.2°, red. After a GNSS
    outage only 4 h of readings are in the 24 h window; divided by 24 h instead of the 4 h they span,
    the angle read 79.4°, yellow, until a day had passed."""
    eng = engine("landslide.yaml")
    rule = next(r for r in eng.rules if r.id == "landslide-rain-displacement")
    rs = [Reading("fs-hp01-gn1", "disp_mm", 0.0, T0, 0)] + [
        Reading("fs-hp01-gn1", "disp_mm", 100 + 2.0 * h, T0 + 3600 * h, h) for h in range(26, 31)
    ]
    st = eng.initial_state()
    for r in rs:
        st, _ = eng.evaluate(st, [r], r.time)
    assert abs(rule.values["angle"](st.slots, T0 + 30 * 3600) - math.degrees(math.atan(32))) < 0.01


def test_a_forecast_warning_does_not_wait_for_a_dead_gauge() -> None:
    """130 mm forecast in the next 3 h at fs-hp02 is red by flash-flood-forecast's own table. With the
    site's only gauge stale, the rain of the last 3 h is unknown (NaN) and the sum was NaN: no level at
    all, in the storms that take gauges down. The forecast alone now decides; the message says "--"."""
    eng = engine("flash_flood.yaml", "health.yaml")
    st = eng.initial_state()
    for i in range(1, 25):  # 2 h of dry readings, then the gauge's link drops for an hour
        st, _ = eng.evaluate(st, [Reading("fs-hp02-rg1", "rain_mm", 0.0, T0 + 300 * i, i)], T0 + 300 * i)
    now = T0 + 3 * 3600
    st, out = eng.evaluate(st, (), now)
    assert ("sensor-stale.fs-hp02-rg1", "blue") in [(t.rule, t.to_level.label) for t in out]
    fc = [
        Reading("openmeteo@fs-hp02", "rain_mm", v, now + 3600 * (h + 1), source="forecast", issued=now)
        for h, v in enumerate([40.0, 50.0, 40.0])
    ]
    st, out = eng.evaluate(st, fc, now + 1)
    red = [t for t in out if t.rule == "flash-flood-forecast"]
    assert [(t.site, t.to_level.label) for t in red] == [("fs-hp02", "red")]
    assert "过去3小时雨量--毫米" in red[0].message and "预报未来3小时130毫米" in red[0].message
