"""The hub's own clock set back while it runs: the whole Hub in-process (ingest, engine, store, dispatcher)
on real mosquitto and influxd. Its clock is a variable because a test cannot set the machine's clock."""

import time
from pathlib import Path

from ews.servers import Influxd, Mosquitto
from hub.app import Hub
from hub.config import load_hub_config
from hub.influx import InfluxClient, InfluxConfig

from .hubproc import AlertWatch, Gateway, wait_for, write_config


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
