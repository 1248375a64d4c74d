"""MQTT subscriber with a persistent session: decode batches, reject bad ones loudly, hand the rest on."""

from __future__ import annotations

import fnmatch
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import paho.mqtt.client as mqtt

from edge.mqttlink import MqttConfig, make_client
from edge.wire import INGEST_SUBSCRIPTIONS, ROOT, Batch, WireError, decode_batch, origin_of_topic
from hub.influx import line

log = logging.getLogger(__name__)

STATUS_SUB = f"{ROOT}/gw/+/status"
COMMAND_SUB = f"{ROOT}/cmd/+"


class Ingest:
    """Subscribes to readings, gateway status and operator commands.

    The session is persistent (clean_session=False, fixed client id), so QoS 1 readings published while
    the hub was down wait in the broker and arrive when it returns.
    """

    def __init__(
        self,
        cfg: MqttConfig,
        client_id: str,
        on_batch: Callable[[Batch], object],
        now: Callable[[], float],
        on_command: Callable[[str, dict[str, Any]], object] | None = None,
        on_lines: Callable[[list[str]], object] | None = None,
        gateway_sensors: dict[str, list[str]] | None = None,
    ) -> None:
        self.cfg = cfg
        self.client_id = client_id
        self.on_batch = on_batch
        self.on_command = on_command
        self.on_lines = on_lines  # where status, rejection and audit rows go (the store)
        # gateway -> sensor id patterns it may report; a stolen gateway cannot speak for other sensors
        self.gateway_sensors = gateway_sensors or {}
        self.now = now
        self.counts: Counter[str] = Counter()
        self._logged: set[tuple[str, str]] = set()
        self.connected = threading.Event()
        self.client: mqtt.Client | None = None

    def start(self) -> None:
        client = make_client(self.cfg, self.client_id, clean_start=False)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(1, 5)
        client.connect_async(self.cfg.host, self.cfg.port, self.cfg.keepalive_s)
        client.loop_start()
        self.client = client

    def stop(self) -> None:
        self.connected.clear()  # a disconnect we asked for is not worth a warning
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None

    def wait_connected(self, timeout: float = 10.0) -> bool:
        return self.connected.wait(timeout)

    # -- paho callbacks (network thread) ----------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        if reason.is_failure:
            log.error("mqtt connect refused host=%s port=%d reason=%s", self.cfg.host, self.cfg.port, reason)
            return
        client.subscribe([(t, 1) for t in (*INGEST_SUBSCRIPTIONS, STATUS_SUB, COMMAND_SUB)])
        log.info("mqtt connected host=%s port=%d client=%s", self.cfg.host, self.cfg.port, self.client_id)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, _reasons: Any, _p: Any = None) -> None:
        # Connected means subscribed: on a new session, a batch published before the broker's SUBACK
        # would not be delivered (a persistent session keeps its subscriptions across reconnects).
        self.connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        if self.connected.is_set():
            log.warning("mqtt disconnected host=%s reason=%s; reconnecting", self.cfg.host, reason)
        self.connected.clear()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        topic = msg.topic
        payload = bytes(msg.payload)
        try:
            if topic.endswith("/readings"):
                self._readings(topic, payload)
            elif topic.endswith("/status"):
                self._status(topic, payload)
            elif topic.startswith(f"{ROOT}/cmd/"):
                self._command(topic, payload)
        except WireError as exc:
            self.reject(topic, "bad_payload", str(exc))
        except Exception as exc:  # a bug in one message must never stop ingest
            log.exception("ingest failed topic=%s", topic)
            self.reject(topic, "internal_error", repr(exc))

    def _readings(self, topic: str, payload: bytes) -> None:
        origin = origin_of_topic(topic)
        batch, errors = decode_batch(payload, where=f"topic {topic}")
        if batch.origin != origin:
            # A gateway may only speak for itself; the broker ACL enforces this too.
            self.reject(topic, "origin_mismatch", f"batch origin {batch.origin!r} on topic of {origin!r}")
            return
        for err in errors:
            self.reject(topic, "bad_row", str(err))
        patterns = self.gateway_sensors.get(origin) if topic.startswith(f"{ROOT}/gw/") else None
        if patterns is not None:
            batch = self._own_sensors(topic, batch, patterns)
        self.counts["batches"] += 1
        self.on_batch(batch)

    def _own_sensors(self, topic: str, batch: Batch, patterns: list[str]) -> Batch:
        own = [f"{batch.origin}-*", *patterns]  # the gateway's own health and autonomy readings
        keep = [r for r in batch.readings if any(fnmatch.fnmatchcase(r.sensor, p) for p in own)]
        for r in batch.readings:
            if r not in keep:
                self.reject(
                    topic, "foreign_sensor", f"gateway {batch.origin} may not report sensor {r.sensor}"
                )
        return batch if len(keep) == len(batch.readings) else replace(batch, readings=tuple(keep))

    def _status(self, topic: str, payload: bytes) -> None:
        gateway = topic.split("/")[3]
        try:
            doc = json.loads(payload) if payload else {"state": "offline"}
        except ValueError:
            raise WireError(f"topic {topic}: status is not JSON") from None
        online = 1 if isinstance(doc, dict) and doc.get("state") == "online" else 0
        if self.on_lines:
            self.on_lines([line("gateway_status", {"gateway": gateway}, {"online": online}, self.now())])
        log.info("gateway status gateway=%s online=%d", gateway, online)

    def _command(self, topic: str, payload: bytes) -> None:
        verb = topic.rsplit("/", 1)[1]
        try:
            doc = json.loads(payload)
        except ValueError:
            raise WireError(f"topic {topic}: command is not JSON") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("who"), str) or not doc["who"]:
            raise WireError(f"topic {topic}: a command must be a JSON object naming its sender in 'who'")
        if self.on_lines:
            fields = {"topic": topic, "payload": payload.decode("utf-8", "replace")[:2000]}
            self.on_lines([line("command_audit", {"verb": verb, "who": doc["who"]}, fields, self.now())])
        log.info("command verb=%s who=%s", verb, doc["who"])
        if self.on_command:
            self.on_command(verb, doc)

    def reject(self, where: str, reason: str, detail: str) -> None:
        """Count every rejection; log the first of each (source, reason) and store a row for the dashboard."""
        self.counts[f"rejected_{reason}"] += 1
        key = (where, reason)
        if key not in self._logged:
            self._logged.add(key)
            log.warning("rejected source=%s reason=%s detail=%s", where, reason, detail[:300])
        if self.on_lines:
            self.on_lines(
                [
                    line(
                        "rejected",
                        {"origin": where, "reason": reason},
                        {"n": 1, "detail": detail[:500]},
                        self.now(),
                    )
                ]
            )
