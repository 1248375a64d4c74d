"""MQTT alert channel bursts (send_many) against a real mosquitto: many in flight, confirmed together,
in order, with a failure reported per message and never hidden."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from edge.mqttlink import MqttConfig, make_client
from ews.servers import Mosquitto
from hub.channels.base import ChannelError, Notification
from hub.channels.mqtt_alert import MqttAlertChannel, MqttAlertConfig


def note(site: str, level: str, value: float, kind: str = "alert") -> Notification:
    extra = {"kind": kind, "rule": "rain", "at": "1780000000.0", "value": str(value), "level_num": "3",
             "episode": f"{site}/rain#1780000000"}  # fmt: skip
    return Notification(f"{site}/rain", "*", f"【凤山预警】{level}", level, site, extra)


class Listener:
    """A live subscriber on ews/v1/alert/#: every message in arrival order (what a siren controller sees)."""

    def __init__(self, broker: Mosquitto) -> None:
        self.got: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        ready = threading.Event()
        self.c = make_client(MqttConfig(port=broker.port), "test-burst-listener")
        self.c.on_message = self._on_message
        self.c.on_subscribe = lambda *_a: ready.set()
        self.c.connect("127.0.0.1", broker.port)
        self.c.subscribe("ews/v1/alert/#", qos=1)
        self.c.loop_start()
        assert ready.wait(5)

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        with self.lock:
            self.got.append((msg.topic, json.loads(msg.payload)))

    def wait(self, n: int, timeout: float = 10.0) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.got) >= n:
                    return list(self.got)
            time.sleep(0.01)
        with self.lock:
            return list(self.got)

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


@pytest.fixture
def channel(mosquitto: Mosquitto) -> Any:
    cfg = MqttAlertConfig(mqtt=MqttConfig(port=mosquitto.port), client_id="test-burst", publish_timeout_s=1.0)
    ch = cfg.build()
    ch.start()
    yield ch
    ch.close()


def test_burst_is_all_confirmed_and_arrives_in_order(channel: MqttAlertChannel, mosquitto: Mosquitto) -> None:
    listener = Listener(mosquitto)
    try:
        # 300 sites, each going orange then red in the same burst: order within a topic is the meaning.
        burst = [
            note(f"bs-{i:03d}", lvl, i + k / 10)
            for i in range(300)
            for k, lvl in enumerate(("orange", "red"))
        ]
        results = channel.send_many(burst)
        assert all(isinstance(r, str) and " mid=" in r for r in results), results[:3]
        got = listener.wait(len(burst))
    finally:
        listener.close()
    assert len(got) == len(burst)
    for i in range(300):
        mine = [body["level"] for topic, body in got if topic == f"ews/v1/alert/bs-{i:03d}/rain"]
        assert mine == ["orange", "red"]  # once each, never overtaken


def test_bad_topic_fails_alone(channel: MqttAlertChannel, mosquitto: Mosquitto) -> None:
    burst = [note("fs-hp01", "red", 1.0), note("fs+hp", "red", 2.0), note("fs-hp02", "red", 3.0)]
    results = channel.send_many(burst)
    assert isinstance(results[0], str) and isinstance(results[2], str)
    assert isinstance(results[1], ChannelError) and results[1].recoverable is False


def test_broker_down_every_message_recoverable(channel: MqttAlertChannel, mosquitto: Mosquitto) -> None:
    assert all(isinstance(r, str) for r in channel.send_many([note("fs-hp01", "orange", 1.0)]))
    mosquitto.stop()
    results = channel.send_many([note(f"bs-{i}", "red", float(i)) for i in range(20)])
    assert len(results) == 20
    assert all(isinstance(r, ChannelError) and r.recoverable for r in results)


def test_max_inflight_one_waits_for_each_puback(mosquitto: Mosquitto) -> None:
    """The old one-at-a-time behaviour stays selectable (bench/dispatch.py compares both)."""
    cfg = MqttAlertConfig(mqtt=MqttConfig(port=mosquitto.port), client_id="test-burst-1", max_inflight=1)
    ch = cfg.build()
    ch.start()
    try:
        results = ch.send_many(
            [note(f"bs-{i}", "red", float(i)) for i in range(5)] + [note("a+b", "red", 0.0)]
        )
    finally:
        ch.close()
    assert all(isinstance(r, str) for r in results[:5])
    assert isinstance(results[5], ChannelError) and not results[5].recoverable
