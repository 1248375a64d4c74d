"""A rule reload (SIGHUP) and a start-up hand the new engine where the running one stands: the levels
people were told and every reading the windows hold, not a fresh state rebuilt from the store alone.

The engine, rules and pipeline are the real ones; the dispatcher is a list (what it does with a
transition is tested in tests/hub/alerts), and the stored history is passed in as readings (reading it
from influxd is tested in tests/hub/rules/test_rules_restart_influx.py and the whole SIGHUP path
against a running hub in tests/hub/test_hub_process.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from edge.wire import Batch, Reading
from hub.pipeline import Pipeline
from hub.rules.engine import Engine
from hub.rules.model import Level

from .pipeline_helpers import Clock, engine, pipeline, sensor_sites
from .rules.helpers import SITES, T0

HEAVY = """  - id: heavy
    sites: [s1]
    inputs: {rain: {sensor: rg1}}
    values: {r1h: "sum(rain, 1h)"}
    thresholds: {r1h: [35, 45, 60, 80]}
    hysteresis: 0.2
"""
GAUGE6 = """  - id: gauge6
    sites: [s1]
    inputs: {rain: {sensor: rg1}}
    levels: {blue: "sum(rain, 6h) >= 70"}
"""
FORECAST = """  - id: fcst
    sites: [s1]
    inputs: {fc: {forecast: rain_mm}}
    levels: {blue: "forecast_sum(fc, 3h) >= 10"}
"""


def rain(p: Pipeline, clock: Clock, mm: list[float], start: int) -> None:
    """rg1 reports mm[i] at minute start + i, one MQTT batch each, decided when it arrives."""
    for i, v in enumerate(mm):
        clock.now = T0 + 60 * (start + i)
        p.handle_batch(Batch("fs-gw01", (Reading("rg1", "rain_mm", v, clock.now, start + i),)))


def hour_sum(p: Pipeline, now: float) -> float:
    return p.state.series[("rg1", "rain_mm")].windows[0].sum(now)


def heavy_level(p: Pipeline) -> int:
    return p.state.alerts[p.engine.index[("s1", "heavy")]].level


def test_a_reload_in_the_hysteresis_band_keeps_the_level_and_every_reading(tmp_path: Path) -> None:
    """The 1 h sum rises to 48 mm (yellow, 45) and then sits at 40 mm, inside yellow's band (down to
    36 mm). Before, the reloaded engine started at no level and evaluated the stored history: it raised
    blue from no level, a step down from yellow that the evidence did not allow. The store here holds
    nothing yet, so the windows must come from the readings the running engine holds."""
    clock = Clock()
    p, d = pipeline(engine(tmp_path, HEAVY, "a.yaml"), clock)
    rain(p, clock, [0.8] * 60, 1)  # 48 mm in the last hour
    rain(p, clock, [0.4] * 20, 61)  # the last hour now holds 40 × 0.8 + 20 × 0.4 = 40 mm
    assert [(t.from_level, t.to_level) for t in d.got] == [
        (Level.NONE, Level.BLUE),
        (Level.BLUE, Level.YELLOW),
    ]
    old_sum = hour_sum(p, clock.now)
    assert old_sum == pytest.approx(40.0)
    held = [Reading("rg1", "rain_mm", 0.8 if m <= 60 else 0.4, T0 + 60 * m) for m in range(1, 81)]
    fresh = Engine(p.engine.ruleset, tick_s=10)
    _, before = fresh.evaluate(fresh.initial_state(), held, clock.now)
    assert [(t.from_level, t.to_level) for t in before] == [(Level.NONE, Level.BLUE)]  # the old way

    d.got.clear()
    n = p.swap_engine(engine(tmp_path, HEAVY, "b.yaml"), [], p.sensor_sites)
    assert n >= 60 and d.got == []  # nothing to tell anyone: nothing changed
    assert heavy_level(p) == Level.YELLOW
    assert hour_sum(p, clock.now) == pytest.approx(old_sum)
    # The 0.8 mm minutes go on leaving the hour: 36 mm (the bottom of yellow's band) at minute 90, 32 mm
    # at minute 100. The level steps down from the one people were told, once, to blue.
    rain(p, clock, [0.4] * 20, 81)
    assert [(t.from_level, t.to_level) for t in d.got] == [(Level.YELLOW, Level.BLUE)]
    assert d.got[0].at > T0 + 60 * 90


def test_a_reload_keeps_the_forecasts(tmp_path: Path) -> None:
    """The stored history holds no forecasts and the feed polls hourly: before, the reloaded engine
    had none, and a forecast warning cleared on the reload and came back at the next poll."""
    clock = Clock()
    p, d = pipeline(engine(tmp_path, FORECAST, "a.yaml"), clock)
    clock.now = T0 + 60
    hours = [T0 + 3600 * h for h in (1, 2, 3)]
    fc = tuple(
        Reading("qx@s1", "rain_mm", 6.0, t, h, source="forecast", issued=T0) for h, t in enumerate(hours)
    )
    p.handle_batch(Batch("feed-qx", fc))
    assert [t.to_level for t in d.got] == [Level.BLUE]
    clock.now = T0 + 600
    p.swap_engine(engine(tmp_path, FORECAST, "b.yaml"), [], p.sensor_sites)
    p.tick()
    assert [t.to_level for t in d.got] == [Level.BLUE]  # nothing new: no clear, no repeat
    assert p.state.alerts[p.engine.index[("s1", "fcst")]].level == Level.BLUE


def test_a_partitioned_hub_rebuilds_a_sensor_the_new_files_add(tmp_path: Path) -> None:
    """A hub that decides s1 only, and stores no site-less readings: the new files add gauge rg4 at s1.
    Its stored history is this hub's, by the new files' sites; by the old ones it had no site, and
    the reload dropped it (its 1 h sum started from nothing)."""
    clock = Clock()
    p, _ = pipeline(engine(tmp_path, HEAVY, "a.yaml"), clock, sites=frozenset({"s1"}), store_unassigned=False)
    clock.now = T0 + 3600
    history = [Reading("rg4", "rain_mm", 2.0, T0 + 60 * m) for m in range(1, 61)]
    with_rg4 = SITES.replace(
        "  - {id: rg9,", "  - {id: rg4, site: s1, quantity: rain_mm, period_s: 60}\n  - {id: rg9,"
    )
    new = engine(tmp_path, HEAVY.replace("sensor: rg1", "sensor: rg4"), "b.yaml", with_rg4)
    p.swap_engine(new, history, sensor_sites(new))
    assert p.state.series[("rg4", "rain_mm")].windows[0].sum(clock.now) == pytest.approx(120.0)
    assert heavy_level(p) == Level.RED


STALE = """  - id: stale
    kind: stale
    periods: 3
"""


def test_a_reload_that_drops_a_firing_rule_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The alert stands (only a person can say the danger is over) and the log says how to close it;
    from then on the rules no longer decide it, so the dispatcher's `close` may end it."""
    clock = Clock()
    p, _ = pipeline(engine(tmp_path, HEAVY + GAUGE6 + STALE, "a.yaml"), clock)
    rain(p, clock, [0.8] * 60, 1)
    assert heavy_level(p) == Level.YELLOW
    assert p.decides("s1", "heavy") and p.decides("s1", "gauge6")
    assert p.decides("s1", "stale.rg1") and p.decides("s2", "stale.rg9")  # health checks' alerts
    assert not p.decides("s2", "heavy") and not p.decides("s2", "stale.rg1")  # rg1 is at s1
    with caplog.at_level(logging.WARNING, logger="hub.pipeline"):
        p.swap_engine(engine(tmp_path, GAUGE6, "b.yaml"), [], p.sensor_sites)
    assert p.counts["alert_rule_gone"] == 1
    assert "reload: alert left standing, its rule is gone site=s1 rule=heavy level=yellow" in caplog.text
    assert 'ews/v1/cmd/close {"who": …, "site": "s1", "rule": "heavy"}' in caplog.text
    assert not p.decides("s1", "heavy") and not p.decides("s1", "stale.rg1")
    assert p.decides("s1", "gauge6")


def test_start_up_says_which_standing_alerts_no_rule_decides(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The rule files were edited while the hub was down: the dispatcher's standing alert for a rule
    they no longer hold is named at start-up, as on a reload."""
    clock = Clock()
    p, d = pipeline(engine(tmp_path, GAUGE6, "a.yaml"), clock)
    with caplog.at_level(logging.WARNING, logger="hub.pipeline"):
        p.warm_up([], {("s1", "heavy"): (Level.ORANGE, T0 - 600), ("s1", "gauge6"): (Level.BLUE, T0 - 60)})
    assert p.counts["alert_rule_gone"] == 1
    assert "start-up: alert left standing, its rule is gone site=s1 rule=heavy level=orange" in caplog.text
    assert "rule=gauge6" not in caplog.text


def test_start_up_warns_of_a_period_the_stored_history_contradicts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """rg1 is declared at 60 s; its stored history reports every 10 minutes. Such a period holds
    levels and makes data health call the gauge stale: the hub says so at start-up, as replay does."""
    clock = Clock()
    p, _ = pipeline(engine(tmp_path, HEAVY, "a.yaml"), clock)
    history = [Reading("rg1", "rain_mm", 0.2, T0 + 600 * k) for k in range(6)]
    history += [Reading("rg2", "rain_mm", 0.1, T0 + 60 * k) for k in range(60)]  # as declared
    clock.now = T0 + 3600
    with caplog.at_level(logging.WARNING, logger="hub.pipeline"):
        assert p.warm_up(history) == 66
    assert p.counts["period_too_short"] == 1
    assert "start-up sensor period too short sensor=rg1 period_s=60 median_gap_s=600" in caplog.text
    assert "sensor=rg2" not in caplog.text
