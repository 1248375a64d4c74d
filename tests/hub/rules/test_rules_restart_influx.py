"""Restart mid-storm against real influxd: windows rebuilt from the store forget no rain nor the
forecasts still ahead, and the rebuild emits no alert that was already sent (issue #3, "Restart")."""

from __future__ import annotations

import random
from pathlib import Path

from edge.wire import Batch, Reading, decode_batch, encode_batch, to_ms
from hub.history import load_forecasts, load_history
from hub.influx import InfluxClient, InfluxConfig, line
from hub.reading_lines import reading_line
from hub.rules.engine import Engine
from hub.rules.loader import load_ruleset
from hub.rules.model import Level
from hub.rules.restart import forecasts_needed

from .helpers import DEPLOY, T0, engine_for, play, rain

FORECAST = """  - id: fcst
    sites: [s1]
    inputs: {fc: {forecast: rain_mm}}
    levels: {blue: "forecast_sum(fc, 3h) >= 10"}
"""


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


def test_restart_keeps_the_forecasts_still_ahead(influx_db: tuple[str, str], tmp_path: Path) -> None:
    """A forecast warning stands through a restart while the feed is down: the hub reads the stored
    forecasts still ahead back from influxd. Before, the rebuilt engine had none, and the forecast
    rule cleared at start-up."""
    url, db = influx_db
    client = InfluxClient(InfluxConfig(url=url, database=db))
    client.create_database()
    eng = engine_for(tmp_path, FORECAST)
    now = T0 + 600
    ahead = [
        Reading("qx@s1", "rain_mm", 4.0, T0 + 3600 * h, h, source="forecast", issued=T0) for h in (1, 2, 3)
    ]
    stored = [
        *ahead,
        Reading("qx@s1", "rain_mm", 9.0, T0, 0, source="forecast", issued=T0 - 3600),  # valid before now
        Reading("qx@s2", "rain_mm", 9.0, T0 + 3600, 1, source="forecast", issued=T0),  # no rule reads s2's
    ]
    client.write(reading_line(r, "feed-qx", r.sensor.rpartition("@")[2]) for r in stored)
    st, sent = eng.evaluate(eng.initial_state(), ahead, now)
    assert [t.to_level for t in sent] == [Level.BLUE]  # 12 mm in the next 3 h

    fresh = engine_for(tmp_path, FORECAST)
    got = load_forecasts(client, forecasts_needed(fresh.ruleset), now)
    assert sorted(got) == sorted(ahead)
    st2 = fresh.restore(fresh.initial_state(), {(t.site, t.rule): (t.to_level, t.at) for t in sent})
    st2, out = fresh.rebuild(st2, got, now + 60)
    assert out == []
    assert st2.alerts[fresh.index[("s1", "fcst")]].level == Level.BLUE
    _, without = fresh.rebuild(
        fresh.restore(fresh.initial_state(), {(t.site, t.rule): (t.to_level, t.at) for t in sent}),
        [],
        now + 60,
    )
    assert [t.to_level for t in without] == [Level.NONE]  # what start-up did before


def test_a_stored_reading_reads_back_as_the_very_reading_decoded(influx_db: tuple[str, str]) -> None:
    """Times from gateway clocks have arbitrary fractions. A reading decoded from the wire, stored as
    the hub stores it and read back by load_history must have the same float time, or a reload, which
    rebuilds from stored readings plus those the engine holds, counts it twice (docs/rules.md). Before,
    history was read in whole seconds: every fractional reading became a second copy."""
    url, db = influx_db
    client = InfluxClient(InfluxConfig(url=url, database=db))
    client.create_database()
    rng = random.Random(7)
    raw = [[f"rg{k % 3}", "rain_mm", 0.5, T0 + rng.uniform(0, 3600), k] for k in range(2000)] + [
        ["rg0", "rain_mm", 0.5, t, 9000 + k] for k, t in enumerate((T0 + 0.0005, T0 + 1.9995, T0 + 2.0006))
    ]
    batch, errors = decode_batch(encode_batch(Batch("fs-gw01", tuple(Reading(*r) for r in raw))))
    assert errors == []
    client.write(reading_line(r, "fs-gw01", "s1") for r in batch.readings)
    back = load_history(client, {(f"rg{k}", "rain_mm"): 7200.0 for k in range(3)}, T0 + 3601)
    assert sorted((r.sensor, r.time) for r in back) == sorted((r.sensor, r.time) for r in batch.readings)
    assert all(r.time == to_ms(r.time) for r in back)


def test_readings_stamped_a_little_ahead_are_reloaded(influx_db: tuple[str, str]) -> None:
    """A gauge whose clock runs 4 minutes fast is within NTP's slack: the hub stores its readings as
    stamped, and the live windows count them. Before, start-up read history only up to `now`, so a
    restart forgot the newest rain of every such gauge for good."""
    url, db = influx_db
    client = InfluxClient(InfluxConfig(url=url, database=db))
    client.create_database()
    rules = [DEPLOY / "flash_flood.yaml"]
    live = Engine(load_ruleset(rules))
    readings = rain("fs-hp02-rg1", [2.0] * 12)  # an hour of rain, every 5 min
    now = readings[-1].time
    readings = [r._replace(time=r.time + 240.0) for r in readings]  # the gauge's clock is 4 min fast
    st, _ = live.evaluate(live.initial_state(), readings, now)
    client.write(reading_line(r, "fs-gw02", "fs-hp02") for r in readings)
    fresh = Engine(load_ruleset(rules))
    history = load_history(client, fresh.history_needed(), now)
    assert len(history) == len(readings)
    st2, _ = fresh.rebuild(fresh.initial_state(), history, now)
    key = ("fs-hp02-rg1", "rain_mm")
    for w_live, w_new in zip(st.series[key].windows, st2.series[key].windows, strict=True):
        assert w_new.sum(now) == w_live.sum(now) == 24.0
