"""Run `ews hub` as a real child process against the test's mosquitto and influxd."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from edge.mqttlink import MqttConfig, make_client
from edge.wire import ROOT, Batch, Reading, command_topic, encode_batch, readings_topic

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "fengshan" / "rules" / "flash_flood.yaml"
ALERTS = REPO / "deploy" / "fengshan" / "alerts.yaml"


def write_config(tmp: Path, name: str, mqtt_port: int, influx_url: str, db: str, **extra: Any) -> Path:
    alerts = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    for ch in alerts["channels"].values():
        if ch["kind"] == "console":
            ch["stream"] = "stderr"
        elif ch["kind"] == "mqtt_alert":
            ch.update(mqtt={"port": mqtt_port}, client_id=f"ews-{name}-alerts")
        elif ch["kind"] == "annotation":
            ch["influx"] = {"url": influx_url, "database": db}
    alerts["state_path"] = str(tmp / f"{name}-alerts.sqlite")
    doc = {
        "hub_id": name,
        "mqtt": {"port": mqtt_port},
        "influx": {"url": influx_url, "database": db},
        "store": {"spill_dir": str(tmp / f"{name}-spill"), "flush_interval_s": 0.05},
        "rules": [str(RULES)],
        "alerts": alerts,
        "tick_s": 0.2,
        **extra,
    }
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def start_hub(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "ews.cli", "hub", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=open(log, "ab"), env=env, cwd=REPO,  # noqa: SIM115
    )  # fmt: skip


def wait_for(cond: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return bool(cond())


class AlertWatch:
    """Collects every alert message (site, level, kind) from ews/v1/alert/#."""

    def __init__(self, port: int) -> None:
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.client = make_client(MqttConfig(port=port), f"alert-watch-{time.monotonic_ns()}")
        subscribed = threading.Event()
        self.client.on_connect = lambda c, *_: c.subscribe(f"{ROOT}/alert/#", 1)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        # An alert published before the broker's SUBACK would be missed (a loaded machine is slow).
        assert subscribed.wait(10), "alert watch could not subscribe"

    def _on(self, _c: Any, _u: Any, msg: Any) -> None:
        if msg.retain:
            return  # a retained copy of an earlier message, not a new decision
        with self.lock:
            self.messages.append(json.loads(msg.payload))

    def levels(self, site: str) -> list[str]:
        with self.lock:
            return [m["level"] for m in self.messages if m["site"] == site and m["kind"] == "alert"]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Gateway:
    """Publishes rain batches the way an edge gateway does (own topic, sequence numbers)."""

    def __init__(self, port: int, gateway: str) -> None:
        self.gateway = gateway
        self.seq = 0
        self.client = make_client(MqttConfig(port=port), f"gw-{gateway}-{time.monotonic_ns()}")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def rain(self, sensor: str, mm_each: float, times: list[float]) -> None:
        readings = []
        for t in times:
            self.seq += 1
            readings.append(Reading(sensor, "rain_mm", mm_each, t, self.seq))
        info = self.client.publish(
            readings_topic(self.gateway), encode_batch(Batch(self.gateway, tuple(readings))), qos=1
        )
        info.wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Officer:
    """Publishes operator commands on ews/v1/cmd/{verb}, as the officers' app does."""

    def __init__(self, port: int, who: str = "officer-li") -> None:
        self.who = who
        self.client = make_client(MqttConfig(port=port), f"officer-{time.monotonic_ns()}")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def command(self, verb: str, **doc: Any) -> None:
        body = json.dumps({"who": self.who, **doc}, ensure_ascii=False).encode()
        self.client.publish(command_topic(verb), body, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class HubRig:
    """One `ews hub` process with a gateway, an officer and an alert watcher on the test's broker; a
    context manager that stops them all. restart() is a clean stop and a start on the same config."""

    def __init__(self, config: Path, log: Path, port: int) -> None:
        self.config, self.log = config, log
        self.watch, self.gw, self.officer = AlertWatch(port), Gateway(port, "fs-gw01"), Officer(port)
        self.hub = start_hub(config, log)
        self.starts = 1

    def running(self) -> None:
        """Wait until the latest start says it runs."""
        assert wait_for(lambda: self.text().count("hub running") == self.starts, 20), self.text()[-2000:]

    def text(self) -> str:
        return self.log.read_text()

    def restart(self) -> None:
        self.hub.send_signal(signal.SIGTERM)
        assert self.hub.wait(30) == 0
        self.hub = start_hub(self.config, self.log)
        self.starts += 1
        self.running()

    def __enter__(self) -> HubRig:
        try:
            self.running()
        except BaseException:
            self.__exit__()  # a hub that did not start is stopped all the same
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.hub.send_signal(signal.SIGTERM)
        self.hub.wait(30)
        for c in (self.officer, self.watch, self.gw):
            c.close()
