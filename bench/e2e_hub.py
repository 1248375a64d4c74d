"""Hub process for the bench: the real composition root (hub.app.Hub) with the mqtt_alert channel only."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from edge.mqttlink import MqttConfig, make_client
from hub.alerts import messages as m
from hub.alerts.config import AlertsConfig
from hub.app import Hub
from hub.config import HubConfig
from hub.influx import InfluxConfig
from hub.pipeline import TransitionSink
from hub.rules.model import Level, Transition
from hub.store import StoreConfig

log = logging.getLogger(__name__)


def bench_config(workdir: Path, host: str, port: int, influx_url: str, rules: list[Path]) -> HubConfig:
    """Everything real: ingest, pipeline, engine, store (5,000 points / 200 ms), dispatcher with its
    SQLite state (WAL, synchronous=FULL), and the mqtt_alert record channel. No people in the directory,
    so the only delivery per notice is the MQTT alert message the subscriber times."""
    mqtt = MqttConfig(host=host, port=port)
    alerts = AlertsConfig.model_validate(
        {
            "state_path": workdir / "alerts.sqlite",
            "dispatch": {
                "policy": {
                    "person_channels": {},
                    "record_channels": {"mqtt_alert": [m.ALERT, m.DOWN, m.CLEAR]},
                }
            },
            "channels": {
                "mqtt_alert": {
                    "kind": "mqtt_alert",
                    "mqtt": mqtt.model_dump(),
                    "client_id": "bench-hub-alerts",
                }
            },
        }
    )
    return HubConfig(
        hub_id="bench",
        mqtt=mqtt,
        influx=InfluxConfig(url=influx_url, database="bench"),
        store=StoreConfig(spill_dir=workdir / "spill"),
        rules=rules,
        alerts=alerts,
        rebuild_on_start=False,
    )


class DecisionTee:
    """Publishes each transition the moment the engine emits it, then hands it to the real dispatcher.

    This is measurement plumbing, not a product path: it shows when a reading became a decision on the
    wire (QoS 1, own paho client with TCP_NODELAY), apart from the dispatcher's durable bookkeeping.
    """

    def __init__(self, cfg: MqttConfig, inner: TransitionSink) -> None:
        self.inner = inner
        self.client = make_client(cfg, "bench-hub-decisions")
        up = threading.Event()
        self.client.on_connect = lambda *_a: up.set()
        self.client.connect(cfg.host, cfg.port, 30)
        self.client.loop_start()
        if not up.wait(10):
            raise RuntimeError("decision tee: no CONNACK")

    def submit(self, transitions: list[Transition]) -> None:
        for t in transitions:
            kind = "clear" if t.to_level == Level.NONE else "alert"
            body = json.dumps({"alert_id": t.alert_id, "kind": kind, "value": t.value})
            self.client.publish(f"bench/decision/{t.site}/{t.rule}", body.encode(), qos=1)
        self.inner.submit(transitions)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def stats(hub: Hub) -> dict[str, Any]:
    assert hub.pipeline is not None and hub.dispatcher is not None and hub.ingest is not None
    d = hub.dispatcher.stats()
    return {
        "cpu_s": time.process_time(),
        "wall": time.monotonic(),
        "readings": hub.pipeline.counts["readings"],
        "duplicate_readings": hub.pipeline.counts["duplicate"],
        "transitions": hub.pipeline.counts["transitions"],
        "batches": hub.ingest.counts["batches"],
        "rejected": sum(v for k, v in hub.ingest.counts.items() if k.startswith("rejected")),
        "store_written": hub.store.written,
        "store_rejected": hub.store.rejected,
        "store_backlog": hub.store.backlog(),
        "sent": d["channels"]["mqtt_alert"]["sent"],
        "failed": d["channels"]["mqtt_alert"]["failed"],
        "dispatch_duplicates": d["duplicates"],
        "suppressed_repeats": d["suppressed_repeats"],
        "coalesced": d["intake_coalesced"],
        "queued": d["queued"]["mqtt_alert"],
    }


def serve(conn: Connection, cfg: HubConfig, switch_interval: float | None = None) -> None:
    """Process entry: start the hub, answer `stats` until `stop`."""
    logging.basicConfig(level=logging.WARNING, format="hub %(levelname)s %(name)s %(message)s")
    if switch_interval:
        sys.setswitchinterval(switch_interval)  # --switch-interval: the GIL hand-over experiment
    hub = Hub(cfg)
    hub.start()
    assert hub.ingest is not None and hub.pipeline is not None and hub.dispatcher is not None
    tee = DecisionTee(cfg.mqtt, hub.dispatcher)
    hub.pipeline.dispatcher = tee
    if not hub.ingest.wait_connected(10):
        conn.send(("error", "hub ingest did not connect"))
        return
    conn.send(("ready", None))
    while True:
        cmd, _args = conn.recv()
        if cmd == "stop":
            break
        conn.send(("ok", stats(hub)))
    hub.stop()
    tee.close()
    conn.send(("ok", None))
