"""MQTT alert channel against a real mosquitto: retained JSON per alert topic, QoS 1, broker-down errors."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from edge.mqttlink import MqttConfig, make_client
from ews.servers import Mosquitto
from hub.channels.base import ChannelError, Notification
from hub.channels.mqtt_alert import MqttAlertChannel, MqttAlertConfig


def note(kind: str = "alert", level: str = "orange") -> Notification:
    extra = {"kind": kind, "rule": "rain", "at": "1780000000.0", "value": "62.0", "level_num": "3",
             "from_level": "yellow", "max_level": "orange", "message": "1小时雨量 62mm ≥ 60mm",
             "site_name": "凤山村后山滑坡隐患点", "hazard": "landslide", "episode": "fs-hp01/rain#1780000000",
             "labels": '{"hazard": "landslide"}'}  # fmt: skip
    return Notification("fs-hp01/rain", "*", "【凤山预警】橙色预警", level, "fs-hp01", extra)


def retained(broker: Mosquitto, topic: str, timeout: float = 5.0) -> dict[str, Any]:
    """Subscribe afresh and return the retained message on topic (what a dashboard sees on connect)."""
    got: dict[str, Any] = {}
    done = threading.Event()
    c = make_client(MqttConfig(port=broker.port), "test-reader")

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        got.update(json.loads(msg.payload), _retain=msg.retain, _qos=msg.qos)
        done.set()

    c.on_message = on_message
    c.on_connect = lambda cl, *_: cl.subscribe(topic, qos=1)
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    try:
        assert done.wait(timeout), f"no retained message on {topic}"
    finally:
        c.loop_stop()
        c.disconnect()
    return got


@pytest.fixture
def channel(mosquitto: Mosquitto) -> Any:
    ch = MqttAlertConfig(
        mqtt=MqttConfig(port=mosquitto.port), client_id="test-hub-alerts", publish_timeout_s=1.0
    ).build()
    ch.start()
    yield ch
    ch.close()


def test_level_change_is_retained_json(channel: MqttAlertChannel, mosquitto: Mosquitto) -> None:
    receipt = channel.send(note())
    assert receipt.startswith("ews/v1/alert/fs-hp01/rain mid=")
    msg = retained(mosquitto, "ews/v1/alert/fs-hp01/rain")
    assert msg["_retain"] is True and msg["_qos"] == 1
    assert (msg["level"], msg["level_num"], msg["state"], msg["value"]) == ("orange", 3, "firing", 62.0)
    assert msg["site_name"] == "凤山村后山滑坡隐患点" and msg["labels"] == {"hazard": "landslide"}


def test_clear_replaces_the_retained_level(channel: MqttAlertChannel, mosquitto: Mosquitto) -> None:
    channel.send(note())
    channel.send(note(kind="clear"))
    msg = retained(mosquitto, "ews/v1/alert/fs-hp01/rain")
    assert (msg["level"], msg["level_num"], msg["state"], msg["max_level"]) == (
        "none",
        0,
        "resolved",
        "orange",
    )


def test_broker_down_is_recoverable_then_recovers(channel: MqttAlertChannel, mosquitto: Mosquitto) -> None:
    channel.send(note())
    mosquitto.stop()
    with pytest.raises(ChannelError) as err:
        channel.send(note(level="red"))
    assert err.value.recoverable is True
    mosquitto.start()
    for _ in range(30):  # paho reconnects on its own (1-30 s backoff); the dispatcher would retry like this
        try:
            channel.send(note(level="red"))
            break
        except ChannelError as exc:
            assert exc.recoverable
    assert retained(mosquitto, "ews/v1/alert/fs-hp01/rain")["level"] == "red"


def test_bad_site_name_is_unrecoverable(channel: MqttAlertChannel) -> None:
    bad = Notification("fs+hp/rain", "*", "x", "red", "fs+hp", {"rule": "rain"})
    with pytest.raises(ChannelError) as err:
        channel.send(bad)
    assert err.value.recoverable is False
