"""Real paho clients (through edge.mqttlink.make_client) for the broker tests: connect, collect, wait."""

from __future__ import annotations

import itertools
import queue
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from edge.mqttlink import MqttConfig, make_client

_ids = itertools.count(1)


class Probe:
    """One connected client that records what it receives and the broker's answer to CONNECT."""

    def __init__(self, cfg: MqttConfig, client_id: str | None = None, clean: bool = True) -> None:
        self.cfg = cfg
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.connack: queue.Queue[Any] = queue.Queue()
        self.subacks: queue.Queue[list[Any]] = queue.Queue()
        self.client = make_client(cfg, client_id or f"probe-{next(_ids)}", clean_start=clean)
        self.client.on_connect = lambda _c, _u, _f, rc, _p: self.connack.put(rc)
        self.client.on_message = lambda _c, _u, m: self.messages.put((m.topic, bytes(m.payload)))
        self.client.on_subscribe = lambda _c, _u, _mid, rcs, _p: self.subacks.put(list(rcs))
        self.lock = threading.Lock()

    def connect(self, timeout: float = 5.0) -> Any:
        """Connect and return the CONNACK reason code (no automatic reconnect)."""
        self.client.connect(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
        self.client.loop_start()
        return self.connack.get(timeout=timeout)

    def subscribe(self, topic: str, qos: int = 1, timeout: float = 5.0) -> list[Any]:
        self.client.subscribe(topic, qos)
        return self.subacks.get(timeout=timeout)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(5)

    def received_until(self, sentinel_topic: str, timeout: float = 5.0) -> list[str]:
        """Topics received up to and including the sentinel; per-publisher order makes this a full proof
        that messages published before the sentinel were dropped by the broker, with no sleeps."""
        topics: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            topic, _payload = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            topics.append(topic)
            if topic == sentinel_topic:
                return topics

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def cfg_for(
    port: int, username: str | None, password_file: Path | None, tls_ca: Path | None = None
) -> MqttConfig:
    return MqttConfig.model_validate(
        {
            "host": "127.0.0.1",
            "port": port,
            "username": username,
            "password_file": password_file,
            "tls_ca": tls_ca,
        }
    )


def is_refused(rc: mqtt.ReasonCode | int) -> bool:
    return bool(getattr(rc, "is_failure", rc != 0))
