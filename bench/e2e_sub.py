"""Latency subscriber process: receives alert messages and stamps them with CLOCK_MONOTONIC on arrival."""

from __future__ import annotations

import json
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from bench.e2e_workload import message_key
from edge.mqttlink import MqttConfig, make_client

ALERT_SUB = "ews/v1/alert/#"
DECISION_SUB = "bench/decision/#"  # the hub-side tee in bench/e2e_hub.py
FLOOR_SUB = "bench/floor/#"  # the minimal relay in bench/e2e_floor.py


class Subscriber:
    """Records (arrival, topic, payload) in the paho callback; decoding waits until the bench asks."""

    def __init__(self, host: str, port: int) -> None:
        self.records: list[tuple[float, str, bytes]] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = make_client(MqttConfig(host=host, port=port), "bench-alert-subscriber")
        self.client.on_connect = lambda c, *_a: c.subscribe(
            [(ALERT_SUB, 1), (DECISION_SUB, 1), (FLOOR_SUB, 1)]
        )
        self.client.on_subscribe = lambda *_a: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port, 30)
        self.client.loop_start()
        if not self.ready.wait(10):
            raise RuntimeError(f"alert subscriber: no SUBACK from {host}:{port}")

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        now = time.monotonic()
        if msg.retain:
            return  # a retained state from before we subscribed, not a new alert
        with self.lock:
            self.records.append((now, msg.topic, bytes(msg.payload)))

    def collect(self) -> list[tuple[float, tuple[str, str, int] | None, str]]:
        """Everything received since the last collect: (arrival, join key or None, topic)."""
        with self.lock:
            got, self.records = self.records, []
        out = []
        for t, topic, payload in got:
            try:
                doc = json.loads(payload)
            except ValueError:
                doc = {}
            out.append((t, message_key(doc) if isinstance(doc, dict) else None, topic))
        return out

    def count(self) -> int:
        with self.lock:
            return len(self.records)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def serve(conn: Connection, host: str, port: int) -> None:
    sub = Subscriber(host, port)
    conn.send(("ready", None))
    while True:
        cmd, _args = conn.recv()
        if cmd == "stop":
            break
        conn.send(("ok", sub.collect() if cmd == "collect" else sub.count()))
    sub.close()
