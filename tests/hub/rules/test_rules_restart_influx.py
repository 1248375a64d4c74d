"""Restart mid-storm against real influxd: windows rebuilt from the store forget no rain, and the
rebuild emits no alert that was already sent (issue #3, "Restart")."""

from __future__ import annotations

from hub.history import load_history
from hub.influx import InfluxClient, InfluxConfig, line
from hub.rules.engine import Engine
from hub.rules.loader import load_ruleset
from hub.rules.model import Level

from .helpers import DEPLOY, play, rain


def test_restart_mid_storm_rebuilds_windows_from_influxd(influx_db: tuple[str, str]) -> None:
    url, db = influx_db
    client = InfluxClient(InfluxConfig(url=url, database=db))
    client.create_database()
    rules = [DEPLOY / "flash_flood.yaml"]
    live = Engine(load_ruleset(rules))
    # 26 h at fs-hp02: a wet day, then the storm's core; older rain must drop out of the 24 h window.
    readings = rain("fs-hp02-rg1", [0.4] * 12 * 14 + [1.0] * 12 * 9 + [6.0] * 12 + [8.0] * 12 * 2)
    st, sent = play(live, readings)
    assert sent[-1].to_level == Level.RED
    client.write(
        line(
            r.quantity,
            {"sensor": r.sensor, "site": "fs-hp02", "source": r.source, "quality": r.quality},
            {"value": r.value, "seq": r.seq},
            r.time,
        )
        for r in readings
    )
    now = readings[-1].time

    # The hub restarts: a fresh engine, the dispatcher's persisted levels, history from influxd.
    fresh = Engine(load_ruleset(rules))
    history = load_history(client, fresh.history_needed(), now)
    assert len(history) == 12 * 24  # exactly the 24 h the windows need
    st2 = fresh.restore(fresh.initial_state(), {(t.site, t.rule): (t.to_level, t.at) for t in sent})
    st2, out = fresh.rebuild(st2, history, now)
    assert out == []
    key = ("fs-hp02-rg1", "rain_mm")
    for w_live, w_new in zip(st.series[key].windows, st2.series[key].windows, strict=True):
        assert abs(w_new.sum(now) - w_live.sum(now)) < 1e-9, w_live.length
    assert st2.alerts[fresh.index[("fs-hp02", "flash-flood-critical-rain")]].level == Level.RED
