"""Clocks through real parts: a gateway clock ahead through the real edge publisher, mosquitto and an
`ews hub` process; the hub's own clock set back while it runs (the whole Hub in-process on real mosquitto
and influxd, its clock a variable because a test cannot set the machine's clock)."""

import time
from pathlib import Path

from edge.mqttlink import MqttConfig
from edge.outbox import Outbox
from edge.publisher import PublishConfig, Publisher
from edge.wire import Reading
from ews.servers import Influxd, Mosquitto
from hub.app import Hub
from hub.config import load_hub_config
from hub.influx import InfluxClient, InfluxConfig

from .hubproc import AlertWatch, Gateway, HubRig, wait_for, write_config


def test_rain_from_a_gateway_clock_ahead_through_the_real_wire(
    mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    """fs-gw01's clock runs 8 h ahead (Beijing time taken for UTC). The real outbox and publisher send
    60 mm stamped on that clock, and the batch's send time too. The hub process moves the readings to
    when they fell (orange now, not for nine hours), stores them as suspect, tells the site's officers
    that the gateway's clock is off, and writes the notice for the Gateways dashboard."""
    ahead = 8 * 3600.0
    cfg = write_config(tmp_path, "hubA", mosquitto.port, influxd.url, "ews")
    with HubRig(cfg, tmp_path / "hub.log", mosquitto.port) as rig:
        outbox = Outbox(tmp_path / "outbox.db")
        fast = PublishConfig(backoff_min_s=0.1, backoff_max_s=0.5, connect_timeout_s=5)
        pub = Publisher("fs-gw01", MqttConfig(port=mosquitto.port), fast, outbox, lambda: time.time() + ahead)
        pub.start()
        try:
            outbox.add(
                [
                    Reading("fs-hp01-rg1", "rain_mm", 6.0, time.time() + ahead - 60 * m)
                    for m in range(50, 0, -5)
                ]
            )
            assert wait_for(lambda: outbox.count() == 0), outbox.count()
        finally:
            pub.stop()
            outbox.close()
        assert wait_for(lambda: "orange" in rig.watch.levels("fs-hp01")), rig.text()[-2000:]
        assert wait_for(lambda: any(m["rule"] == "clock.fs-gw01" for m in rig.watch.messages)), (
            rig.watch.messages
        )
        store = InfluxClient(InfluxConfig(url=influxd.url, database="ews"))
        assert wait_for(lambda: store.count("rain_mm", "\"quality\" = 'suspect'") == 10)
        stamps = [row[0] for s in store.query('SELECT "value" FROM "rain_mm"') for row in s["values"]]
        assert max(stamps) <= time.time() + 1  # stored at their real times, none hours ahead
        assert wait_for(
            lambda: store.query('SELECT "detail" FROM "hub_notice" WHERE "kind" = \'clock\'') != []
        )


def test_a_hub_clock_set_back_rebuilds_the_windows_at_the_new_time(
    mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    """The hub booted 8 h ahead (a server whose RTC keeps Beijing time) and NTP sets it right while it
    runs. 60 mm fell in the real last hour: to a hub 8 h ahead that rain is old, so no warning. Before,
    the engine's time (which never goes back) kept judging it from 8 h ahead until that hour came, and
    orange never came; now the set-back is seen at the next tick, the windows are rebuilt from the
    store at the new time, and orange comes."""
    real = time.time()
    now = [real + 8 * 3600]
    watch, gw = AlertWatch(mosquitto.port), Gateway(mosquitto.port, "fs-gw01")
    hub = Hub(
        load_hub_config(write_config(tmp_path, "hubC", mosquitto.port, influxd.url, "ews")),
        clock=lambda: now[0],
    )
    hub.start()
    try:
        assert hub.ingest is not None and hub.ingest.wait_connected()
        gw.rain("fs-hp01-rg1", 6.0, [real - 60 * m for m in range(50, 0, -5)])
        store = InfluxClient(InfluxConfig(url=influxd.url, database="ews"))
        assert wait_for(lambda: store.count("rain_mm", "\"sensor\" = 'fs-hp01-rg1'") == 10)
        assert hub.pipeline is not None and hub.pipeline.counts["readings"] == 10  # decided: nothing
        assert watch.levels("fs-hp01") == []
        now[0] = time.time()
        assert wait_for(lambda: "orange" in watch.levels("fs-hp01")), watch.messages
    finally:
        hub.stop()
        watch.close()
        gw.close()
