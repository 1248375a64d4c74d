"""A sensor's maintenance window survives a restart in which InfluxDB comes up after the hub, through a
real `ews hub` process, mosquitto and influxd."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from ews.servers import Influxd, Mosquitto
from hub.influx import InfluxClient, InfluxConfig

from .hubproc import HubRig, start_hub, wait_for, write_config


def test_a_window_is_read_back_when_influxd_starts_after_the_hub(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """After a power cut the hub and InfluxDB start together. The windows were read back once, at once:
    InfluxDB still down, the technician's open window was forgotten, and their test tips (10 × 8 mm)
    went to the villagers as a red flash-flood alert. They are now read after the wait for InfluxDB."""
    influx = Influxd(tmp_path / "influx")
    influx.start()
    cfg = write_config(tmp_path, "hubA", mosquitto.port, influx.url, "ews", history_wait_s=30.0)
    try:
        with HubRig(cfg, tmp_path / "hub.log", mosquitto.port) as rig:
            # 1e308 minutes is no work on site: before, it half-applied (muted for ever, stored nowhere).
            rig.officer.command("silence", sensor="fs-hp01-rg1", minutes=1e308)
            assert wait_for(lambda: "maintenance command refused" in rig.text())
            rig.officer.command("silence", sensor="fs-hp01-rg1", minutes=120)  # the technician is on site
            store = InfluxClient(InfluxConfig.model_validate({"url": influx.url, "database": "ews"}))
            assert wait_for(lambda: bool(store.query('SELECT * FROM "maintenance_window"')))
            rig.hub.send_signal(signal.SIGTERM)
            assert rig.hub.wait(30) == 0
            influx.stop()
            rig.hub = start_hub(cfg, rig.log)
            rig.starts += 1
            time.sleep(2)
            influx = Influxd(tmp_path / "influx", port=influx.port)
            influx.start()
            rig.running()
            rig.gw.rain("fs-hp01-rg1", 8.0, [time.time() + 0.01 * k for k in range(10)])
            wait_for(lambda: rig.watch.levels("fs-hp01") != [], 8)
            assert rig.watch.levels("fs-hp01") == [], "the test tips raised a real alert"
            assert "stored history unavailable" in rig.text()  # InfluxDB was down when the hub started
    finally:
        influx.stop()
