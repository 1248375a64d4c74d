"""LoRaWAN devices through a ChirpStack v4 network server: MQTT uplink events decoded to readings."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import paho.mqtt.client as mqtt
from pydantic import BaseModel, ConfigDict, Field, field_validator

from edge.mqttlink import MqttConfig, make_client
from edge.sensors import lpp
from edge.sensors.base import ListeningSensor, SensorConfig
from edge.sensors.payload_layout import LayoutError, LayoutField, decode_layout
from edge.wire import Reading

log = logging.getLogger(__name__)


class ChirpStackError(ValueError):
    """An uplink event that cannot be turned into readings; the message names device and topic."""


class DeviceMap(BaseModel):
    """How one end device's uplinks become readings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sensor: str = Field(description="Sensor id the device's readings carry")
    codec: Literal["lpp", "layout", "object"] = Field(
        description="lpp: Cayenne LPP in data; layout: fixed byte layout; object: ChirpStack's decoded object"
    )
    map: dict[str, str] = Field(
        default_factory=dict,
        description="lpp: key like analog_input_1 or accelerometer_2_x -> quantity; object: key or a.b path -> quantity",
    )
    layout: list[LayoutField] = Field(default_factory=list, description="layout codec: the fields")
    signal: bool = Field(True, description="Also send the best gateway RSSI as signal_dbm (health)")


class ChirpStackConfig(SensorConfig):
    """Subscribe to a ChirpStack v4 MQTT integration and map devEUIs to sensors."""

    kind: Literal["chirpstack"] = Field(description="ChirpStack v4 MQTT uplinks")
    mqtt: MqttConfig = Field(
        default_factory=lambda: MqttConfig.model_validate({}), description="The ChirpStack broker"
    )
    topic: str = Field("application/+/device/+/event/up", description="Uplink event topic filter")
    client_id: str | None = Field(None, description="MQTT client id (persistent session); default ews-<id>")
    devices: dict[str, DeviceMap] = Field(description="devEUI (16 hex digits) -> device mapping")

    @field_validator("devices", mode="before")
    @classmethod
    def _quoted(cls, v: object) -> object:
        if isinstance(v, dict) and any(not isinstance(k, str) for k in v):
            raise ValueError('devEUIs must be quoted strings in YAML ("0000000000000001")')
        return v

    @field_validator("devices")
    @classmethod
    def _euis(cls, v: dict[str, DeviceMap]) -> dict[str, DeviceMap]:
        out = {}
        for eui, dev in v.items():
            if len(eui) != 16 or any(c not in "0123456789abcdefABCDEF" for c in eui):
                raise ValueError(f"devEUI {eui!r} must be 16 hex digits")
            out[eui.lower()] = dev
        return out

    def build(self, clock: Callable[[], float] = time.time) -> ListeningSensor:
        return ChirpStackListener(self, clock)


def _path(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def event_time(doc: dict[str, Any], fallback: float) -> float:
    text = doc.get("time")
    if isinstance(text, str):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return fallback


def decode_uplink(
    doc: Any, devices: dict[str, DeviceMap], now: float, where: str = ""
) -> tuple[str, list[Reading]]:
    """Pure: (dedupe key, readings) for one uplink event. Raises ChirpStackError naming the device."""
    if not isinstance(doc, dict):
        raise ChirpStackError(f"{where}: event is not a JSON object")
    eui = _path(doc, "deviceInfo.devEui")
    if not isinstance(eui, str):
        raise ChirpStackError(f"{where}: no deviceInfo.devEui")
    dev = devices.get(eui.lower())
    if dev is None:
        raise ChirpStackError(f"{where}: device {eui} not in config")
    key = str(doc.get("deduplicationId") or f"{eui}:{doc.get('fCnt')}")
    t = event_time(doc, now)
    values: list[tuple[str, float, str]] = []
    if dev.codec == "object":
        obj = doc.get("object")
        if not isinstance(obj, dict):
            raise ChirpStackError(f"{where}: device {eui}: no decoded object (is a codec set in ChirpStack?)")
        for path, quantity in dev.map.items():
            v = _path(obj, path)
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                values.append((quantity, float(v), "good"))
    else:
        try:
            data = base64.b64decode(doc.get("data") or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise ChirpStackError(f"{where}: device {eui}: data is not base64") from None
        try:
            if dev.codec == "lpp":
                values = [(dev.map[v.key], v.value, "good") for v in lpp.decode(data) if v.key in dev.map]
            else:
                port = doc.get("fPort")
                values = decode_layout(data, dev.layout, port if isinstance(port, int) else None)
        except (lpp.LppError, LayoutError) as exc:
            raise ChirpStackError(f"{where}: device {eui} fCnt {doc.get('fCnt')}: {exc}") from None
    readings = [Reading(dev.sensor, q, v, t, quality=qual) for q, v, qual in values]
    rx = doc.get("rxInfo")
    rssi = [
        float(r["rssi"])
        for r in (rx if isinstance(rx, list) else [])
        if isinstance(r, dict)
        and isinstance(r.get("rssi"), int | float)
        and not isinstance(r["rssi"], bool)
        and math.isfinite(r["rssi"])
    ]
    if dev.signal and rssi:
        readings.append(Reading(dev.sensor, "signal_dbm", max(rssi), t, source="health"))
    return key, readings


class ChirpStackListener:
    """Driver: paho network thread, QoS 1, persistent session so events queued while we were away arrive."""

    def __init__(self, cfg: ChirpStackConfig, clock: Callable[[], float]) -> None:
        self.cfg = cfg
        self.clock = clock
        self.stats = {"uplinks": 0, "readings": 0, "rejected": 0, "duplicates": 0}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._failing: set[str] = set()
        self._client: mqtt.Client | None = None
        self._emit: Callable[[Reading], None] | None = None
        self.subscribed = threading.Event()

    def start(self, emit: Callable[[Reading], None]) -> None:
        self._emit = emit
        client = make_client(
            self.cfg.mqtt, self.cfg.client_id or f"ews-{self.cfg.id}", clean_start=False, manual_ack=True
        )
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_subscribe = lambda *_a: self.subscribed.set()
        client.connect_async(self.cfg.mqtt.host, self.cfg.mqtt.port, self.cfg.mqtt.keepalive_s)
        client.loop_start()  # reconnects by itself with backoff
        self._client = client

    def stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def alive(self) -> bool:
        # paho clears its loop thread when that thread ends, and has no public accessor for it.
        return self._client is not None and self._client._thread is not None

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("chirpstack connect failed sensor=%s reason=%s", self.cfg.id, reason)
            return
        client.subscribe(self.cfg.topic, qos=1)
        log.info("chirpstack subscribed sensor=%s topic=%s", self.cfg.id, self.cfg.topic)

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        """Runs on paho's thread. PUBACK only once the readings are emitted (or the event is rejected for
        good); if the agent cannot take them, no PUBACK: the broker redelivers on the next session."""
        try:
            self.handle(msg.topic, bytes(msg.payload))
        except Exception as exc:
            log.error("chirpstack emit failed sensor=%s topic=%s error=%s", self.cfg.id, msg.topic, exc)
            return
        client.ack(msg.mid, msg.qos)

    def handle(self, topic: str, payload: bytes) -> None:
        assert self._emit is not None
        try:
            doc = json.loads(payload)
            key, readings = decode_uplink(doc, self.cfg.devices, self.clock(), topic)
        except (ValueError, UnicodeDecodeError) as exc:  # ChirpStackError is a ValueError, as is bad JSON
            self.stats["rejected"] += 1
            if topic not in self._failing:
                self._failing.add(topic)
                log.warning(
                    "chirpstack uplink rejected sensor=%s topic=%s error=%.200s", self.cfg.id, topic, exc
                )
            return
        self._failing.discard(topic)
        self.stats["uplinks"] += 1
        if key in self._seen:
            self.stats["duplicates"] += 1
            return
        for r in readings:
            self._emit(r)
            self.stats["readings"] += 1
        self._seen[key] = None
        if len(self._seen) > 4096:
            self._seen.popitem(last=False)
