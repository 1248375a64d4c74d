"""MQTT alert channel: each level change as retained JSON on ews/v1/alert/{site}/{rule}, QoS 1."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from edge.mqttlink import MqttConfig, make_client
from edge.wire import WireError, alert_topic
from hub.channels.base import ChannelError, Notification

log = logging.getLogger(__name__)

STATES = {"clear": "resolved", "maintenance_clear": "resolved"}


class MqttAlertConfig(BaseModel):
    """The broker the hub publishes alert states to (officers' apps, Grafana live, sirens subscribe)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["mqtt_alert"] = Field("mqtt_alert", description="Channel kind")
    mqtt: MqttConfig = Field(
        default_factory=lambda: MqttConfig.model_validate({}), description="Broker and credentials"
    )
    client_id: str = Field("ews-hub-alerts", description="MQTT client id (unique per hub)")
    publish_timeout_s: float = Field(5.0, gt=0, description="Wait this long for PUBACK before retrying")
    max_inflight: int = Field(
        1000,
        ge=1,
        description="Alert messages awaiting PUBACK at once (an alert storm is published together and "
        "confirmed together); 1 waits for each PUBACK before the next publish",
    )

    def build(self) -> MqttAlertChannel:
        return MqttAlertChannel(self)


def payload(n: Notification) -> dict[str, Any]:
    """The alert message: level, state and the words people saw; `level` none means cleared."""
    kind = n.extra.get("kind", "alert")
    level = "none" if kind in STATES else n.level
    value = n.extra.get("value", "")
    return {
        "v": 1,
        "alert_id": n.alert_id,
        "site": n.site,
        "rule": n.extra.get("rule", ""),
        "level": level,
        "level_num": 0 if level == "none" else int(n.extra.get("level_num") or 0),
        "from_level": n.extra.get("from_level", ""),
        "max_level": n.extra.get("max_level", ""),
        "state": STATES.get(kind, "firing"),
        "kind": kind,
        "at": float(n.extra.get("at") or 0.0),
        "value": float(value) if value else None,
        "message": n.extra.get("message", ""),
        "text": n.text,
        "site_name": n.extra.get("site_name", ""),
        "hazard": n.extra.get("hazard", ""),
        "episode": n.extra.get("episode", ""),
        "labels": json.loads(n.extra.get("labels") or "{}"),
    }


class MqttPublisher:
    """One paho client with its own network loop; publish() waits for the PUBACK (shared with cap_out)."""

    def __init__(
        self, cfg: MqttConfig, client_id: str, timeout_s: float, what: str, max_inflight: int = 20
    ) -> None:
        self.cfg, self.client_id, self.timeout_s, self.what = cfg, client_id, timeout_s, what
        self.max_inflight = max_inflight
        self._client: Any = None
        self._connected = threading.Event()

    def start(self) -> None:
        c = make_client(self.cfg, self.client_id)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.reconnect_delay_set(1, 30)
        c.max_inflight_messages_set(self.max_inflight)
        c.connect_async(self.cfg.host, self.cfg.port, self.cfg.keepalive_s)
        c.loop_start()
        self._client = c

    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        if not rc.is_failure:
            log.info("%s connected host=%s port=%d", self.what, self.cfg.host, self.cfg.port)
            self._connected.set()
        else:
            log.error("%s refused by broker reason=%s", self.what, rc)

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        if self._connected.is_set():
            log.warning("%s disconnected reason=%s", self.what, rc)
        self._connected.clear()

    def close(self) -> None:
        if self._client is not None:
            self._connected.clear()  # a disconnect we asked for is not worth a warning
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def publish(self, topic: str, body: bytes, retain: bool) -> int:
        """QoS 1; ChannelError(recoverable=True) when offline or no PUBACK in time. Returns the mid."""
        if self._client is None:
            self.start()
        # Publishing while offline would queue inside paho AND be retried by the dispatcher: wait instead.
        if not self._connected.wait(self.timeout_s):
            raise ChannelError(
                f"{self.what}: not connected to {self.cfg.host}:{self.cfg.port}", recoverable=True
            )
        info = self._client.publish(topic, body, qos=1, retain=retain)
        try:
            info.wait_for_publish(self.timeout_s)
        except (RuntimeError, ValueError) as exc:
            raise ChannelError(f"{self.what} {topic}: {exc}", recoverable=True) from None
        if not info.is_published():
            raise ChannelError(f"{self.what} {topic}: no PUBACK within {self.timeout_s}s", recoverable=True)
        return int(info.mid)

    def publish_many(self, messages: list[tuple[str, bytes, bool]]) -> list[int | ChannelError]:
        """QoS 1, all in flight at once, then every PUBACK awaited within one timeout. One result per
        message, in order: its mid, or ChannelError(recoverable=True) when it was not confirmed."""
        if self._client is None:
            self.start()
        if not self._connected.wait(self.timeout_s):
            err = ChannelError(
                f"{self.what}: not connected to {self.cfg.host}:{self.cfg.port}", recoverable=True
            )
            return [err] * len(messages)
        infos = [self._client.publish(topic, body, qos=1, retain=retain) for topic, body, retain in messages]
        deadline = time.monotonic() + self.timeout_s
        out: list[int | ChannelError] = []
        for (topic, _, _), info in zip(messages, infos, strict=True):
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as exc:  # e.g. the client went offline meanwhile
                out.append(ChannelError(f"{self.what} {topic}: {exc}", recoverable=True))
                continue
            if info.is_published():
                out.append(int(info.mid))
            else:
                out.append(
                    ChannelError(f"{self.what} {topic}: no PUBACK within {self.timeout_s}s", recoverable=True)
                )
        return out


class MqttAlertChannel:
    """Publishes the alert state retained, so a dashboard or siren that connects later sees it at once."""

    def __init__(self, cfg: MqttAlertConfig) -> None:
        self.cfg = cfg
        self.publisher = MqttPublisher(
            cfg.mqtt, cfg.client_id, cfg.publish_timeout_s, "mqtt alert channel", cfg.max_inflight
        )

    def start(self) -> None:
        self.publisher.start()

    def close(self) -> None:
        self.publisher.close()

    def send(self, n: Notification) -> str:
        topic, body = _message(n)
        mid = self.publisher.publish(topic, body, retain=True)
        return f"{topic} mid={mid}"

    def send_many(self, ns: list[Notification]) -> list[str | ChannelError]:
        """A burst (an alert storm): published in order without waiting between them, confirmed together.

        With max_inflight 1 each waits for its PUBACK first, as send() does."""
        out: list[str | ChannelError] = []
        batch: list[tuple[str, bytes, bool]] = []
        slots: list[int] = []  # index in out of each message in batch
        for n in ns:
            try:
                topic, body = _message(n)
            except ChannelError as exc:
                out.append(exc)
                continue
            if self.cfg.max_inflight <= 1:
                try:
                    out.append(f"{topic} mid={self.publisher.publish(topic, body, retain=True)}")
                except ChannelError as exc:
                    out.append(exc)
                    if exc.recoverable:  # the rest is sent again after this one anyway
                        out += [exc] * (len(ns) - len(out))
                        return out
                continue
            slots.append(len(out))
            out.append("")
            batch.append((topic, body, True))
        if batch:
            for i, (topic, _, _), res in zip(slots, batch, self.publisher.publish_many(batch), strict=True):
                out[i] = res if isinstance(res, ChannelError) else f"{topic} mid={res}"
        return out


def _message(n: Notification) -> tuple[str, bytes]:
    try:
        topic = alert_topic(n.site, n.extra.get("rule") or n.alert_id.split("/")[-1])
    except WireError as exc:
        raise ChannelError(f"mqtt alert: {exc}", recoverable=False) from None
    return topic, json.dumps(payload(n), ensure_ascii=False, separators=(",", ":")).encode()
