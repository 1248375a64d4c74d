"""Dispatcher rows in a real influxd: schema shape, masked phones, and nothing lost while InfluxDB is down."""

from __future__ import annotations

import time
from pathlib import Path

from ews.servers import Influxd
from hub.alerts.config import AlertsConfig
from hub.alerts.dispatcher import Dispatcher
from hub.alerts.rows import RowWriter
from hub.alerts.state import StateStore
from hub.influx import InfluxClient, InfluxConfig
from hub.rules.model import AlertState, Level, Transition

from .conftest import RecordingChannel

T0 = 1_780_000_000.0


def wait_count(client: InfluxClient, q: str, want: int, timeout: float = 15.0) -> int:
    deadline = time.monotonic() + timeout
    got = -1
    while time.monotonic() < deadline:
        series = client.query(q)
        got = int(series[0]["values"][0][1]) if series else 0
        if got >= want:
            return got
        time.sleep(0.1)
    return got


def started(
    fengshan: AlertsConfig, influxd: Influxd, db: str, timeout_s: float, tmp_path: Path
) -> tuple[InfluxClient, RowWriter, Dispatcher]:
    """A dispatcher with recording channels whose rows a RowWriter writes to `db` on the influxd, started."""
    client = InfluxClient(InfluxConfig(url=influxd.url, database=db, timeout_s=timeout_s))
    client.create_database()
    writer = RowWriter(client)
    chans = {n: RecordingChannel(n) for n in fengshan.dispatch.policy.channel_names()}
    state = StateStore(tmp_path / "s.sqlite")
    state.open()
    d = Dispatcher(fengshan.dispatch, fengshan.directory, chans, state, writer)
    writer.start()
    d.start()
    return client, writer, d


def test_rows_survive_influx_outage(fengshan: AlertsConfig, influxd: Influxd, tmp_path: Path) -> None:
    client, writer, d = started(fengshan, influxd, "ews", 1.0, tmp_path)
    sms = d.channels["sms"]
    assert isinstance(sms, RecordingChannel)
    try:
        influxd.stop()  # InfluxDB goes down before the storm hits
        d.submit([Transition("rain", "fs-hp01", T0, Level.NONE, Level.RED, AlertState.FIRING, 81.0)])
        assert len(sms.wait_for(10)) == 10  # delivery does not wait for InfluxDB
        assert d.handle_sms("13800000202", "撤离 fs-g2 20/22", T0 + 600)["ok"]
        assert d.handle_sms("13800000101", "1", T0 + 700)["ok"]
        d.tick(T0 + 3600)  # acknowledged: no escalation
        assert writer.pending() > 0
        influxd.start()
        q = 'SELECT count("n") FROM delivery WHERE "state"=\'sent\' AND "channel"=\'sms\''
        assert wait_count(client, q, 12) == 12  # 10 alert SMS and 2 receipts for the two replies
        assert wait_count(client, 'SELECT count("level_num") FROM alert', 1) == 1
        assert wait_count(client, 'SELECT count("n") FROM ack', 1) == 1
        assert wait_count(client, 'SELECT count("evacuated") FROM evacuation', 1) == 1
        ev = client.query("SELECT evacuated, total, grid FROM evacuation")[0]["values"][0]
        assert ev[1:] == [20, 22, "fs-g2"]
        villagers = client.query("SELECT recipient FROM delivery WHERE audience='villager'")
        who = {r[1] for r in villagers[0]["values"]}
        assert who == {"138****1101", "138****1102", "138****1201", "138****1202"}
        alert = client.query("SELECT level_num, value, hazard, state FROM alert")[0]["values"][0]
        assert alert[1:] == [4, 81.0, "landslide", "firing"]
    finally:
        d.stop()
        writer.stop()
        d.state.close()


def test_rows_name_the_episode_and_level_an_ack_answers(
    fengshan: AlertsConfig, influxd: Influxd, tmp_path: Path
) -> None:
    """Blue, acknowledged; then red, which nobody has acknowledged yet (the dispatcher would escalate it),
    and a second rule of the site goes blue under it. The rows must say so: the blue ack's level_key is
    not red's, site_level stays red, the evacuation report names the episode."""
    client, writer, d = started(fengshan, influxd, "ews_keys", 2.0, tmp_path)
    try:
        d.process(Transition("rain", "fs-hp01", T0, Level.NONE, Level.BLUE, AlertState.FIRING, 36.0))
        assert d.handle_sms("13800000101", "1", T0 + 600)["ok"]
        d.process(Transition("rain", "fs-hp01", T0 + 1800, Level.BLUE, Level.RED, AlertState.FIRING, 82.0))
        d.process(Transition("water", "fs-hp01", T0 + 2400, Level.NONE, Level.BLUE, AlertState.FIRING, 2.1))
        assert d.handle_sms("13800000202", "撤离 fs-g2 5/22", T0 + 3000)["ok"]
        assert wait_count(client, 'SELECT count("evacuated") FROM evacuation', 1) == 1
        assert wait_count(client, 'SELECT count("level_num") FROM alert', 3) == 3
        alerts = client.query('SELECT "rule", "level_num", "site_level", "episode", "level_key" FROM alert')
        blue, red, water = (r[1:] for r in alerts[0]["values"])
        assert [blue[1:3], red[1:3], water[1:3]] == [[1, 1], [4, 4], [1, 4]]  # the site stays red
        assert blue[3] == red[3] != water[3]  # one episode of rain, blue then red; water its own
        ack = client.query('SELECT "episode", "level", "level_key" FROM ack')[0]["values"][0]
        assert ack[1:] == [blue[3], "blue", blue[4]]
        assert red[4] != blue[4]  # the blue ack does not answer red
        evac = client.query('SELECT "episode" FROM evacuation')[0]["values"][0]
        assert evac[1] == red[3]
    finally:
        d.stop()
        writer.stop()
        d.state.close()
