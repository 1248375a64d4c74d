"""The main job end to end: `ews demo` through real mosquitto, influxd and a Modbus RTU gauge on a pty."""

import json
import os
import subprocess
import sys
from pathlib import Path

from ews.demo import DemoOptions, run_demo, stored_seqs
from ews.servers import Influxd, Mosquitto
from hub.influx import InfluxClient, InfluxConfig

REPO = Path(__file__).resolve().parents[1]


def test_cli_demo_starts_its_own_servers_and_reaches_red() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("EWS_DEMO_MQTT", None)
    env.pop("EWS_DEMO_INFLUX", None)
    proc = subprocess.run(
        [sys.executable, "-m", "ews.cli", "demo", "--speed", "4000"],
        capture_output=True, text=True, timeout=240, env=env, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["max_level"] == "red" and result["lost"] == 0
    assert result["readings_sent"] == result["readings_stored"] > 1000
    assert {a["site"] for a in result["alerts"] if a["level"] == "red"} >= {"fs-hp01"}
    # issue 6: the whole delivery chain, counted from what the channels produced
    d = result["deliveries"]
    assert d["sms"] > 20 and d["sms_parts"] >= d["sms"]  # PDUs the modem simulator accepted
    assert d["broadcast"] >= 1 and d["drone"] >= 1 and d["cap"] >= 1
    assert d["escalations"] >= 1  # nobody acknowledged the landslide slope's red alert
    assert result["evacuation"] == {"fs-g1": "15/15", "fs-g2": "22/22", "fs-g3": "12/12", "fs-g4": "9/9"}
    # the timeline is readable: hourly rain digests and level changes in Chinese
    assert any("雨量(1h)" in line for line in lines) and any("红色" in line for line in lines)


def test_broker_down_for_ten_seconds_loses_no_reading(
    mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    """Stop the broker mid-storm; every gateway sequence number must still reach InfluxDB, once."""
    out: list[str] = []
    opts = DemoOptions(
        speed=3000, broker=mosquitto, mqtt=("127.0.0.1", mosquitto.port), influx_url=influxd.url,
        database="outage", kill_broker_at_h=5.0, kill_broker_for_s=10.0, workdir=tmp_path, out=out.append,
    )  # fmt: skip
    result = run_demo(opts)
    assert any("断开" in line for line in out) and any("恢复" in line for line in out)
    assert result["lost"] == 0 and result["max_level"] == "red"
    seqs = stored_seqs(InfluxClient(InfluxConfig(url=influxd.url, database="outage")))
    assert set(seqs) == {"fs-gw01", "fs-gw02", "fs-gw03"}
    for gateway, numbers in seqs.items():
        assert numbers == list(range(1, len(numbers) + 1)), (
            f"{gateway}: gaps or duplicates in sequence numbers"
        )
    assert sum(len(v) for v in seqs.values()) == result["readings_sent"]
