"""Test helper: a real MQTT subscriber (persistent session, QoS 1) that records what the hub would see."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from typing import Any

import paho.mqtt.client as mqtt

from edge.mqttlink import MqttConfig, make_client
from edge.wire import Reading, decode_batch


class Probe:
    """Subscribes to a gateway's readings and status; survives broker restarts (persistent session)."""

    def __init__(self, port: int, gateway: str, client_id: str = "probe") -> None:
        self.gateway = gateway
        self.lock = threading.Lock()
        self.batches: list[list[Reading]] = []
        self.status: list[dict[str, Any]] = []
        self.subscribed = threading.Event()
        self.client = make_client(MqttConfig(port=port), client_id, clean_start=False)
        self.client.reconnect_delay_set(1, 1)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        self.client.connect("127.0.0.1", port, 5)
        self.client.loop_start()
        assert self.subscribed.wait(10), "probe could not subscribe"

    def _on_connect(self, client: mqtt.Client, *_a: Any) -> None:
        client.subscribe([(f"ews/v1/gw/{self.gateway}/readings", 1), (f"ews/v1/gw/{self.gateway}/status", 1)])

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            if msg.topic.endswith("/status"):
                self.status.append(json.loads(msg.payload))
                return
            batch, errors = decode_batch(bytes(msg.payload), msg.topic)
            assert not errors and batch.origin == self.gateway
            self.batches.append(list(batch.readings))

    def readings(self) -> list[Reading]:
        with self.lock:
            return [r for b in self.batches for r in b]

    def seqs(self) -> set[int]:
        return {r.seq for r in self.readings()}

    def wait_for(self, seqs: set[int], timeout: float = 20.0) -> set[int]:
        """Wait until every seq has arrived; return the ones still missing."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            missing = seqs - self.seqs()
            if not missing:
                return set()
            time.sleep(0.05)
        return seqs - self.seqs()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def early_arrivals(readings: list[Reading]) -> dict[tuple[str, str], int]:
    """Per series, how many readings arrived before an older reading of the same series.

    Fresh-first sends the newest reading of each series ahead of the backlog after every (re)connect,
    so each connect may make one reading per series "early"; any other inversion is a reordering bug.
    Duplicates (resent after a lost PUBACK) count at their first arrival.
    """
    seen: set[int] = set()
    series: dict[tuple[str, str], list[int]] = defaultdict(list)
    for r in readings:
        if r.seq not in seen:
            seen.add(r.seq)
            series[(r.sensor, r.quantity)].append(r.seq)
    early: dict[tuple[str, str], int] = {}
    for key, seqs in series.items():
        later_min = float("inf")
        count = 0
        for s in reversed(seqs):
            if s > later_min:
                count += 1
            later_min = min(later_min, s)
        early[key] = count
    return early
