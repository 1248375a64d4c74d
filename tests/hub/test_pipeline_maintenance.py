"""A sensor's maintenance window (`ews/v1/cmd/silence` with a `sensor`): the technician's test readings
stay out of the rules, live and after a restart that rebuilds the windows from real influxd, while the
site's other gauges keep deciding.

The engine, pipeline, store lines and influxd are real; the dispatcher is a list (what it does with a
transition is tested in tests/hub/alerts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.wire import Batch, Reading
from hub.history import load_history, load_maintenance
from hub.influx import InfluxClient, InfluxConfig
from hub.pipeline import Pipeline
from hub.rules.model import Level

from .pipeline_helpers import Clock, Sink, engine, pipeline
from .rules.helpers import T0

WET = """  - id: wet
    sites: [s1]
    inputs: {rain: {quantity: rain_mm}}
    levels: {blue: "max_of(sum(rain, 1h)) >= 10"}
"""


def hub(tmp_path: Path, clock: Clock) -> tuple[Pipeline, Sink]:
    return pipeline(engine(tmp_path, WET), clock)


def send(p: Pipeline, clock: Clock, sensor: str, mm: float, minute: int) -> None:
    clock.now = T0 + 60 * minute
    p.handle_batch(
        Batch("fs-gw01", (Reading(sensor, "rain_mm", mm, clock.now, 1000 * minute + int(sensor[-1])),))
    )


def hour_sum(p: Pipeline, sensor: str) -> float:
    return p.state.series[(sensor, "rain_mm")].windows[0].sum(p.clock())


def test_test_tips_stay_out_of_the_rules_and_out_of_a_rebuild(
    tmp_path: Path, influx_db: tuple[str, str]
) -> None:
    clock = Clock()
    p, sink = hub(tmp_path, clock)
    send(p, clock, "rg1", 3.0, 1)  # real rain before the technician arrives
    p.maintain("rg1", T0 + 3600, "officer-li")
    for m in range(2, 22):  # the technician tips rg1's bucket: 20 mm, which alone would raise blue
        send(p, clock, "rg1", 1.0, m)
    assert sink.got == [] and hour_sum(p, "rg1") == 3.0
    assert p.counts["maintenance_readings"] == 20 and p.state.counters["muted"] == 20
    for m in range(22, 34):  # real rain at rg2: the site's other gauges keep deciding
        send(p, clock, "rg2", 1.0, m)
    assert [(t.rule, t.to_level) for t in sink.got] == [("wet", Level.BLUE)]
    assert sum("quality=maintenance" in ln for ln in sink.lines) == 20  # stored, tagged

    # A restart within the window: the stored tips stay out, the window is read back from influxd.
    url, db = influx_db
    client = InfluxClient(InfluxConfig(url=url, database=db))
    client.create_database()
    client.write(sink.lines)
    # The window as officers see it on the hazard-point dashboard (its "事件" annotation query).
    shown = client.query(
        'SELECT "title", "text" FROM "annotation" WHERE "site" = \'s1\' AND "kind" = \'maintenance_window\''
    )
    assert [row[1:] for row in shown[0]["values"]] == [
        ["传感器维护", "rg1 维护至 6月21日 09:00（officer-li）"]
    ]
    clock.now = T0 + 34 * 60
    assert load_maintenance(client, clock.now) == [("rg1", T0 + 60, T0 + 3600, "officer-li")]
    p2, sink2 = hub(tmp_path, clock)
    for sensor, start, until, who in load_maintenance(client, clock.now):
        p2.maintain(sensor, until, who, record=False, start=start)
    history = load_history(client, p2.engine.history_needed(), clock.now)
    assert sum(r.quality == "maintenance" for r in history) == 20
    p2.warm_up(history, {("s1", "wet"): (Level.BLUE, T0 + 33 * 60)})
    assert sink2.got == []  # blue stands: nothing to tell anyone
    assert hour_sum(p2, "rg1") == 3.0 and hour_sum(p2, "rg2") == pytest.approx(12.0)
    send(p2, clock, "rg1", 5.0, 35)  # still in the window
    assert hour_sum(p2, "rg1") == 3.0

    # Closed early: rg1 counts again, and a later restart opens nothing. A tip taken in the window
    # that arrives late (the gateway was off while the technician worked) is still left out.
    p2.maintain("rg1", clock.now, "officer-li")
    send(p2, clock, "rg1", 0.5, 36)
    assert hour_sum(p2, "rg1") == pytest.approx(3.5)
    late = Reading("rg1", "rain_mm", 4.0, T0 + 60 * 20, 99)
    p2.handle_batch(Batch("fs-gw01", (late,)))
    assert hour_sum(p2, "rg1") == pytest.approx(3.5)
    assert "rain_mm,origin=fs-gw01,quality=maintenance,sensor=rg1" in sink2.lines[-1]
    client.write(sink2.lines)
    assert load_maintenance(client, clock.now + 1) == []


def test_a_backlog_from_before_the_window_is_real_and_a_closed_window_outlives_a_restart(
    tmp_path: Path, influx_db: tuple[str, str]
) -> None:
    """The technician powers the gateway back on: its outbox sends the storm's rain, taken before the
    window opened, while the window is open. That rain is real and decides. After the window closed
    and the hub restarted, a test tip taken in the window that arrives late is still left out."""
    clock = Clock()
    p, sink = hub(tmp_path, clock)
    clock.now = T0 + 30 * 60
    p.maintain("rg1", T0 + 3600, "officer-li")
    backlog = tuple(Reading("rg1", "rain_mm", 2.0, T0 + 60 * m, 500 + m) for m in range(20, 26))
    p.handle_batch(Batch("fs-gw01", backlog))  # 12 mm taken at minutes 20-25, before the window
    assert [(t.rule, t.to_level) for t in sink.got] == [("wet", Level.BLUE)]
    assert p.counts["maintenance_readings"] == 0 and hour_sum(p, "rg1") == pytest.approx(12.0)
    send(p, clock, "rg1", 9.0, 31)  # the technician's tip, in the window
    assert hour_sum(p, "rg1") == pytest.approx(12.0) and p.counts["maintenance_readings"] == 1
    clock.now = T0 + 40 * 60
    p.maintain("rg1", clock.now, "officer-li")  # closed early

    url, db = influx_db
    client = InfluxClient(InfluxConfig(url=url, database=db))
    client.create_database()
    client.write(sink.lines)
    clock.now = T0 + 50 * 60
    assert load_maintenance(client, clock.now) == []  # nothing open
    ended = load_maintenance(client, clock.now, ended_s=86400.0)
    assert ended == [("rg1", T0 + 30 * 60, T0 + 40 * 60, "officer-li")]
    p2, _ = hub(tmp_path, clock)
    for sensor, start, until, who in ended:
        p2.recall(sensor, start, until, who)
    p2.warm_up(load_history(client, p2.engine.history_needed(), clock.now), {("s1", "wet"): (Level.BLUE, 0)})
    assert hour_sum(p2, "rg1") == pytest.approx(12.0)
    late = Reading("rg1", "rain_mm", 8.0, T0 + 60 * 35, 999)  # a tip taken at minute 35, sent now
    p2.handle_batch(Batch("fs-gw01", (late,)))
    assert hour_sum(p2, "rg1") == pytest.approx(12.0) and p2.counts["maintenance_readings"] == 1
