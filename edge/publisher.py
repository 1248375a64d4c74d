"""Drains the outbox to MQTT at QoS 1, acking only after PUBACK; retained status, last will, backoff."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from pydantic import BaseModel, ConfigDict, Field

from edge.clock import Frame
from edge.mqttlink import MqttConfig, make_client
from edge.outbox import Outbox, OutboxError
from edge.wire import Batch, Reading, encode_batch, readings_topic, status_topic

log = logging.getLogger(__name__)

OFFLINE = json.dumps({"state": "offline"}, separators=(",", ":"))


class PublishConfig(BaseModel):
    """How the gateway sends its outbox to the hub's broker."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_max: int = Field(default=500, ge=1, le=10_000, description="Most readings in one MQTT message")
    max_inflight: int = Field(
        default=20, ge=1, le=1000, description="Messages sent and not yet PUBACKed, at most"
    )
    backoff_min_s: float = Field(default=0.5, gt=0, description="First reconnect delay, seconds (real time)")
    backoff_max_s: float = Field(
        default=60.0, gt=0, description="Longest reconnect delay, seconds (real time)"
    )
    connect_timeout_s: float = Field(
        default=10.0, gt=0, description="Give up a connection attempt after this"
    )


class Publisher:
    """One thread that connects, publishes and reconnects; paho's own thread runs each connection.

    Each connection gets a fresh paho client with automatic reconnect off, so that after a link loss
    nothing stale is resent by paho behind our back: the outbox releases what was in flight and the
    next connection sends the newest reading of every sensor first, then the backlog in order.
    """

    def __init__(
        self,
        gateway: str,
        mqtt_cfg: MqttConfig,
        cfg: PublishConfig,
        outbox: Outbox,
        clock: Callable[[], float] = time.time,
        frames: Callable[[], Frame] | None = None,
    ) -> None:
        self.gateway = gateway
        self.frames = frames  # the clock's frame now: readings stamped before a step move (edge.clock)
        self.mqtt_cfg = mqtt_cfg
        self.cfg = cfg
        self.outbox = outbox
        self.clock = clock
        self.topic = readings_topic(gateway)
        self.status_topic = status_topic(gateway)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._space = threading.Condition(self._lock)
        self._pending: dict[int, list[Reading] | None] = {}  # mid -> readings (None: status message)
        self._early: set[int] = set()  # PUBACKs that beat the publish() return (paho race)
        self._conn_up = threading.Event()
        self._conn_down = threading.Event()
        self._connected = False
        self._failing = False  # a connection attempt failed since the last success (log once)
        self._down_since: float | None = clock()  # unreachable until the first CONNACK
        self.published = 0
        self.published_by_sensor: Counter[str] = Counter()
        self.messages = 0
        self.connects = 0

    # ---- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"publisher-{self.gateway}", daemon=True)
        self._thread.start()

    def stop(self, drain_s: float = 2.0, timeout: float = 10.0) -> None:
        """Stop; while connected, first give the outbox up to drain_s to empty (a clean shutdown)."""
        deadline = time.monotonic() + drain_s
        while self._connected and self.outbox.count() > 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        self._stop.set()
        with self._lock:
            self._space.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def connected(self) -> bool:
        return self._connected

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def down_since(self) -> float | None:
        """Clock time since which the broker has been out of reach; None while connected.

        A clock set back since (NTP correcting an RTC kept in Beijing time) would put the start of the
        outage hours ahead, and hold off the offline siren rules (autonomy.py) that long: the outage
        then counts from now, at worst `unreachable_s` late."""
        since, now = self._down_since, self.clock()
        if since is not None and since > now:
            self._down_since = since = now
        return since

    # ---- connection loop -----------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.cfg.backoff_min_s
        while not self._stop.is_set():
            client = self._connect()
            if client is not None:
                delay = self.cfg.backoff_min_s
                try:
                    self._serve(client)  # an outbox error is retried inside, on the same link
                finally:
                    self._teardown(client)
            if self._stop.is_set():
                break
            # Full jitter keeps a village of gateways from reconnecting in lockstep after an outage.
            self._stop.wait(random.uniform(delay / 2, delay))
            delay = min(delay * 2, self.cfg.backoff_max_s)

    def _connect(self) -> mqtt.Client | None:
        self._conn_up.clear()
        self._conn_down.clear()
        client = make_client(
            self.mqtt_cfg, f"ews-gw-{self.gateway}", clean_start=True, reconnect_on_failure=False
        )
        client.will_set(self.status_topic, OFFLINE, qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.max_inflight_messages_set(self.cfg.max_inflight + 1)  # +1: the status message
        client.connect_timeout = self.cfg.connect_timeout_s
        try:
            client.connect(self.mqtt_cfg.host, self.mqtt_cfg.port, self.mqtt_cfg.keepalive_s)
        except (OSError, ValueError) as exc:
            self._connect_failed(f"{type(exc).__name__}: {exc}")
            return None
        client.loop_start()
        deadline = time.monotonic() + self.cfg.connect_timeout_s
        while not self._conn_up.is_set() and not self._conn_down.is_set() and not self._stop.is_set():
            if time.monotonic() > deadline:
                break
            self._conn_up.wait(0.05)
        if not self._conn_up.is_set():
            self._teardown(client)
            return None
        return client

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self._connect_failed(f"refused: {reason}")  # e.g. bad credentials: an operator must act
            self._conn_down.set()
            return
        self._conn_up.set()

    def _connect_failed(self, why: str) -> None:
        """Log once per outage, not once per reconnect attempt."""
        if self._failing:
            log.debug("broker unreachable gateway=%s error=%s", self.gateway, why)
            return
        self._failing = True
        log.warning(
            "broker unreachable gateway=%s host=%s port=%d error=%s backlog=%d",
            self.gateway,
            self.mqtt_cfg.host,
            self.mqtt_cfg.port,
            why,
            self.outbox.count(),
        )

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._conn_down.set()
        with self._lock:
            self._space.notify_all()

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, _r: Any, _p: Any) -> None:
        with self._lock:
            if mid not in self._pending:
                self._early.add(mid)
                return
            readings = self._pending.pop(mid)
            self._space.notify_all()
        if readings:
            self._acked(readings)

    def _acked(self, readings: list[Reading]) -> None:
        try:
            self.outbox.ack(r.seq for r in readings)
        except OutboxError as exc:
            # The broker has them; if the delete failed they are resent and the hub drops duplicates.
            log.error("outbox ack failed gateway=%s error=%s", self.gateway, exc)
            return
        self.published += len(readings)
        self.messages += 1
        self.published_by_sensor.update(r.sensor for r in readings)

    def _track(self, info: mqtt.MQTTMessageInfo, readings: list[Reading] | None) -> None:
        with self._lock:
            if info.mid in self._early:
                self._early.discard(info.mid)
                early = True
            else:
                self._pending[info.mid] = readings
                early = False
        if early and readings:
            self._acked(readings)

    def _teardown(self, client: mqtt.Client) -> None:
        was_up = self._connected
        if self._stop.is_set() and was_up and not self._conn_down.is_set():
            self._say_goodbye(client)
        self._connected = False
        if self._down_since is None:
            self._down_since = self.clock()
        try:
            client.disconnect()
        except Exception as exc:  # paho raises little here; a dead socket must not stop the loop
            log.debug("disconnect failed gateway=%s error=%s", self.gateway, exc)
        client.loop_stop()
        with self._lock:
            self._pending.clear()
            self._early.clear()
        self.outbox.release()  # whatever had no PUBACK goes again, fresh first
        if was_up and self._stop.is_set():
            log.info("broker link closed gateway=%s backlog=%d", self.gateway, self.outbox.count())
        elif was_up:
            log.warning("broker link down gateway=%s backlog=%d", self.gateway, self.outbox.count())

    def _say_goodbye(self, client: mqtt.Client, timeout: float = 2.0) -> None:
        """A clean stop: wait briefly for outstanding PUBACKs, then say offline (no will on a clean exit)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending and time.monotonic() < deadline and not self._conn_down.is_set():
                self._space.wait(0.05)
        try:
            info = client.publish(self.status_topic, OFFLINE, qos=1, retain=True)
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
        except (RuntimeError, ValueError) as exc:
            log.debug("offline status not sent gateway=%s error=%s", self.gateway, exc)

    # ---- publishing ----------------------------------------------------------------------------

    def _serve(self, client: mqtt.Client) -> None:
        status = {"state": "online", "gateway": self.gateway, "since": self.clock()}
        info = client.publish(self.status_topic, json.dumps(status), qos=1, retain=True)
        self._track(info, None)
        self._connected = True
        self._failing = False
        self._down_since = None
        self.connects += 1
        log.info("broker link up gateway=%s backlog=%d", self.gateway, self.outbox.count())
        self.outbox.release()
        fresh, pause = True, 0.0
        while not self._stop.is_set() and not self._conn_down.is_set():
            with self._lock:
                while len(self._pending) > self.cfg.max_inflight and not self._conn_down.is_set():
                    self._space.wait(0.5)
                    if self._stop.is_set():
                        return
            frame = self.frames() if self.frames is not None else None
            try:
                batch = self.outbox.take_batch(self.cfg.batch_max, fresh_first=fresh, frame=frame)
            except OutboxError as exc:
                # The disk failed, not the link (an SD card read error may pass): keep it, retry later.
                if not pause:
                    log.error("outbox read failed gateway=%s error=%s", self.gateway, exc)
                pause = min(max(pause * 2, self.cfg.backoff_min_s), self.cfg.backoff_max_s)
                self._stop.wait(pause)
                continue
            if pause:
                pause = 0.0
                log.info("outbox readable again gateway=%s", self.gateway)
            if fresh and len(batch) < self.cfg.batch_max:
                fresh = False  # every series' newest is out; the backlog follows in seq order
            if not batch:
                self.outbox.wait(0.2)
                continue
            if not self._send(client, batch):
                return

    def _send(self, client: mqtt.Client, batch: list[Reading]) -> bool:
        payload = encode_batch(Batch(self.gateway, tuple(batch), self.clock(), self.outbox.stream))
        info = client.publish(self.topic, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            # Not queued by paho (link just dropped): put them back for the next connection.
            self.outbox.release(r.seq for r in batch)
            log.debug("publish refused gateway=%s rc=%s", self.gateway, info.rc)
            return False
        self._track(info, batch)
        return True
