"""Restart: rebuilding windows from stored history forgets no rain and replays no stale alert.

The store side (querying InfluxDB for history_needed()) is the hub's; here the stored history is the
list of readings the live engine saw, which is what the store returns (one point per series and time).
"""

from __future__ import annotations

import random

from hub.rules.engine import Engine
from hub.rules.loader import load_ruleset
from hub.rules.model import Level

from .helpers import DEPLOY, play, rain


def engine() -> Engine:
    return Engine(load_ruleset([DEPLOY / "flash_flood.yaml"]))


STORM = [1.0] * 12 + [6.0] * 12 + [8.0] * 12  # climbs to red at fs-hp02 in 3 h


def test_restart_mid_storm_restores_windows_and_emits_nothing_new() -> None:
    live = engine()
    readings = rain("fs-hp02-rg1", STORM)
    st, out = play(live, readings)
    assert out[-1].to_level == Level.RED
    now = readings[-1].time
    need = live.history_needed()[("fs-hp02-rg1", "rain_mm")]
    assert need == 24 * 3600
    history = [r for r in readings if r.time > now - need]
    random.Random(3).shuffle(history)  # the store may return it in any order

    fresh = engine()
    persisted = {(t.site, t.rule): (t.to_level, t.at) for t in out}  # what the dispatcher kept
    st2 = fresh.restore(fresh.initial_state(), persisted)
    st2, out2 = fresh.rebuild(st2, history, now)
    assert out2 == []  # nobody gets the red SMS again
    w_live = st.series[("fs-hp02-rg1", "rain_mm")].windows
    w_new = st2.series[("fs-hp02-rg1", "rain_mm")].windows
    assert [w.sum(now) for w in w_new] == [w.sum(now) for w in w_live]
    # And the rain keeps counting: the next hour of rain is judged on the full history.
    st2, out3 = play(fresh, rain("fs-hp02-rg1", [0.0] * 12, t0=now), st2)
    assert out3 == []  # still red: the 24 h total has not gone anywhere


def test_rebuild_without_persisted_state_emits_only_the_current_level() -> None:
    readings = rain("fs-hp02-rg1", STORM)
    now = readings[-1].time
    fresh = engine()
    st, out = fresh.rebuild(fresh.initial_state(), readings, now)
    assert [(t.site, t.from_level, t.to_level) for t in out] == [("fs-hp02", Level.NONE, Level.RED)]


def test_rebuild_after_the_storm_has_passed_replays_nothing() -> None:
    readings = rain("fs-hp02-rg1", STORM)
    fresh = engine()
    st, out = fresh.rebuild(fresh.initial_state(), readings, readings[-1].time + 30 * 3600)
    assert out == []  # the storm's blue..red steps are history, not alerts


def test_a_restart_after_a_long_outage_lowers_nothing_until_the_gauges_report() -> None:
    """An hour of 6 mm per 5 min (orange), then the hub is down for 3 h. Its windows, rebuilt from the
    store, say blue (the 6 h sum), but the store holds nothing newer than the storm either: ticks
    alone must not step the warning down; the first current readings decide (lifecycle.inputs_news)."""
    readings = rain("fs-hp02-rg1", [6.0] * 12)
    st, out = play(engine(), readings)
    assert out[-1].to_level == Level.ORANGE
    last = readings[-1].time
    now = last + 3 * 3600
    fresh = engine()
    persisted = {(t.site, t.rule): (t.to_level, t.at) for t in out}
    st2 = fresh.restore(fresh.initial_state(), persisted)
    st2, out2 = fresh.rebuild(st2, readings, now)
    assert out2 == []
    for k in range(1, 361):  # an hour of ticks, no readings
        st2, ticked = fresh.evaluate(st2, (), now + 10 * k)
        assert ticked == [], f"stepped down {10 * k} s after the restart, with no news"
    st2, after = play(fresh, rain("fs-hp02-rg1", [0.0] * 12, t0=now + 3600), st2)
    steps = [(t.at, t.from_level, t.to_level) for t in after if t.site == "fs-hp02"]
    # clear_for (30 min) counts only time the gauge could confirm the lower level: from its first
    # current reading, not from the rebuild that first saw the evidence fall.
    assert steps == [(now + 3600 + 300 + 1800, Level.ORANGE, Level.BLUE)]
