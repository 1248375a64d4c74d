"""The gateway agent: polls sensors (one thread per bus), stores every reading durably, runs the publisher."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from edge.autonomy import Autonomy
from edge.clock import STAMP_SLACK_S, Frame, Pacer, StepWatch, flag_time, system_frame
from edge.config import GatewayConfig
from edge.health import HealthProbe
from edge.outbox import Outbox, OutboxError
from edge.publisher import Publisher
from edge.relay import Relay, build_relay
from edge.sensors.base import ListeningSensor, PolledSensor
from edge.slots import SensorSlot, SlotError, build_slots, invalid_reading, is_listening
from edge.wire import CLOCK_STEP, Reading

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class AgentError(RuntimeError):
    """The agent cannot start: a sensor cannot be built or the outbox cannot be opened."""


class Agent:
    """One gateway process: sensors → outbox (on disk) → publisher, plus health and local autonomy."""

    def __init__(
        self,
        cfg: GatewayConfig,
        sensors: list[PolledSensor | ListeningSensor] | None = None,
        clock: Clock = time.time,
        relay: Relay | None = None,
        frames: Callable[[], Frame] | None = None,
    ) -> None:
        self.cfg = cfg
        self.clock = clock
        # The clock's frame, for re-stamping readings taken before it is set (edge.clock.restamped).
        # Only the system clock has one by default: a demo's storm clock runs fast, so its lead over
        # the time since boot grows all the time and would look like a step at every reading.
        self.frames = frames if frames is not None else (system_frame if clock is time.time else None)
        self._given_sensors = sensors
        self._given_relay = relay
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._slots: list[SensorSlot] = []
        self._accepted: Counter[str] = Counter()
        self.outbox: Outbox | None = None
        self.publisher: Publisher | None = None
        self.autonomy: Autonomy | None = None
        self._relay: Relay | None = None
        self._unstored = 0

    # ---- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        cfg = self.cfg
        try:
            self._slots = build_slots(self.cfg, self._given_sensors, self.clock)
        except SlotError as exc:
            raise AgentError(str(exc)) from exc
        try:
            self.outbox = Outbox(cfg.outbox.path, cfg.outbox.max_readings)
        except OutboxError as exc:
            raise AgentError(str(exc)) from exc
        self.publisher = Publisher(cfg.id, cfg.mqtt, cfg.publish, self.outbox, self.clock, self.frames)
        relay = self._given_relay
        if relay is None and cfg.autonomy.relay is not None:
            relay = build_relay(cfg.autonomy.relay)
        self._relay = relay
        self.autonomy = Autonomy(cfg.id, cfg.autonomy, relay, self._store_event)
        self._stop.clear()
        self.publisher.start()
        buses: dict[str, list[SensorSlot]] = defaultdict(list)
        for slot in self._slots:
            if is_listening(slot.driver):
                slot.driver.start(self._emitter(slot))
            else:
                buses[str(slot.driver.bus)].append(slot)
        for bus, slots in buses.items():
            self._spawn(f"bus-{bus}", self._poll_bus, slots)
        self._spawn("housekeeping", self._housekeeping)
        log.info(
            "agent started gateway=%s sensors=%d buses=%d backlog=%d",
            cfg.id,
            len(self._slots),
            len(buses),
            self.outbox.count(),
        )

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        t = threading.Thread(target=target, args=args, name=f"{self.cfg.id}-{name}", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for slot in self._slots:
            if is_listening(slot.driver):
                self._quietly(slot.driver.stop, slot.id)
        for t in self._threads:
            t.join(30)
        self._threads.clear()
        for slot in self._slots:
            if hasattr(slot.driver, "close"):
                self._quietly(slot.driver.close, slot.id)
        if self.publisher is not None:
            self.publisher.stop()
        if self._relay is not None:
            self._quietly(self._relay.close, "relay")
        if self.outbox is not None:
            self.outbox.close()
        log.info("agent stopped gateway=%s", self.cfg.id)

    @staticmethod
    def _quietly(fn: Callable[[], None], what: str) -> None:
        try:
            fn()
        except Exception as exc:  # shutting down: report and go on releasing the rest
            log.warning("stop failed sensor=%s error=%s", what, exc)

    # ---- sensors -------------------------------------------------------------------------------

    def _poll_bus(self, slots: list[SensorSlot]) -> None:
        """Poll the sensors of one bus one after another, each on its own period (event-time clock)."""
        pacer = Pacer(self.clock, self._stop)
        start = self.clock()
        due = {id(s): start for s in slots}
        while not self._stop.is_set():
            now = self.clock()
            for s in slots:
                if due[id(s)] - now > s.period_s:
                    # The clock was set back (NTP correcting an RTC kept in Beijing time): poll now,
                    # not once the clock is back at the old schedule, hours later.
                    log.warning(
                        "clock set back sensor=%s by_s=%.0f: polling from now", s.id, due[id(s)] - now
                    )
                    due[id(s)] = now
            slot = min(slots, key=lambda s: due[id(s)])
            if not pacer.sleep_until(due[id(slot)], horizon=slot.period_s):
                return
            now = self.clock()
            if now < due[id(slot)]:
                continue  # woken because the clock was set back: plan again
            self._poll_one(slot, now)
            # Stay on the sensor's phase; if polling fell behind (slow bus), skip the missed slots.
            behind = max(0, math.ceil((now - due[id(slot)]) / slot.period_s))
            due[id(slot)] += slot.period_s * max(1, behind)

    def _poll_one(self, slot: SensorSlot, now: float) -> None:
        try:
            readings = slot.driver.poll(now)
        except Exception as exc:  # SensorError and any driver bug alike: one failure path per device
            self._failed(slot, exc)
            return
        if not slot.up:
            slot.up = True
            log.info("sensor back sensor=%s errors=%d", slot.id, slot.errors)
        # A list of readings, or anything else (one Reading, garbage) as a batch of one for _accept to
        # judge. A Reading is itself a tuple, so it must not be taken for a sequence of readings.
        seq = isinstance(readings, list | tuple) and not isinstance(readings, Reading)
        self._accept(slot, list(readings) if seq else [readings], now)

    def _failed(self, slot: SensorSlot, exc: Exception) -> None:
        with self._lock:
            slot.errors += 1
        if slot.up:
            slot.up = False
            log.warning("sensor down sensor=%s error=%s: %s", slot.id, type(exc).__name__, exc)

    def _emitter(self, slot: SensorSlot) -> Callable[[Reading], None]:
        def emit(reading: Reading) -> None:
            # Listening protocols (SL651 M2, LoRa ACK, ChirpStack PUBACK) acknowledge only when emit
            # returns, so a reading that did not reach the disk must raise: the station sends it again.
            if not self._accept(slot, [reading], self.clock()):
                raise OutboxError(f"sensor {slot.id}: reading not stored; not acknowledging it")

        return emit

    def _accept(self, slot: SensorSlot, readings: list[Any], now: float) -> bool:
        """Validate and store; False only when valid readings could not be stored."""
        good: list[Reading] = []
        for r in readings:
            why = invalid_reading(r)
            if why is None:
                good.append(flag_time(r, now, self.cfg.clock))
                continue
            with self._lock:
                slot.rejected += 1
            if not slot.rejecting:
                slot.rejecting = True
                log.warning("reading rejected sensor=%s reason=%s", slot.id, why)
        if good and slot.rejecting and len(good) == len(readings):
            slot.rejecting = False
            log.info("readings valid again sensor=%s rejected=%d", slot.id, slot.rejected)
        return self._store(good, routine=True, now=now)

    def _store_event(self, readings: list[Reading]) -> None:
        """Autonomy events (siren on/off) are never dropped when the outbox is full."""
        self._store(readings, routine=False)

    def _store(self, readings: list[Reading], routine: bool, now: float | None = None) -> bool:
        """Durable before returning: the caller polls its sensor again only after this.

        `now`: the gateway clock when the readings were taken; those it stamped keep its frame."""
        if not readings or self.outbox is None:
            return bool(not readings)
        frames: list[Frame | None] | None = None
        if self.frames is not None and now is not None:
            fr = self.frames()  # read just after `now` was: a poll's duration apart, far below a step
            frames = [fr if abs(r.time - now) <= STAMP_SLACK_S else None for r in readings]
        try:
            stored = self.outbox.add(readings, routine=routine, frames=frames)
        except OutboxError as exc:
            with self._lock:
                self._unstored += len(readings)
            log.error("readings not stored count=%d error=%s", len(readings), exc)
            return False
        with self._lock:
            self._accepted.update(r.sensor for r in stored)
        if self.autonomy is not None:
            self.autonomy.observe(stored)
        return True

    # ---- health and autonomy -------------------------------------------------------------------

    def _housekeeping(self) -> None:
        assert self.outbox is not None and self.publisher is not None and self.autonomy is not None
        probe = HealthProbe(self.cfg.id, self.cfg.health, self.cfg.outbox.path.parent)
        pacer = Pacer(self.clock, self._stop)
        next_health = next_rules = self.clock()
        longest = max(self.cfg.health.period_s, self.cfg.autonomy.check_s)
        steps = StepWatch(self.frames) if self.frames is not None else None
        while True:
            now = self.clock()
            # A clock set back would stop health reports and the siren rules until it caught up.
            next_health = min(next_health, now + self.cfg.health.period_s)
            next_rules = min(next_rules, now + self.cfg.autonomy.check_s)
            if not pacer.sleep_until(min(next_health, next_rules), horizon=longest):
                return
            now = self.clock()
            try:
                if now >= next_health:
                    next_health = now + self.cfg.health.period_s
                    health = probe.read(now, self.outbox.count(), self.outbox.dropped)
                    if steps is not None and (step := steps.step()) is not None:
                        log.warning("gateway clock set gateway=%s step_s=%.0f", self.cfg.id, step)
                        health.append(Reading(probe.sensor, CLOCK_STEP, round(step), now, source="health"))
                    self._store(health, True, now)
                if now >= next_rules:
                    next_rules = now + self.cfg.autonomy.check_s
                    self.autonomy.tick(now, self.publisher.down_since())
            except Exception:  # a bug here must not end health reporting or the siren rules
                log.exception("housekeeping failed gateway=%s", self.cfg.id)

    # ---- numbers -------------------------------------------------------------------------------

    def healthy(self) -> bool:
        """For the systemd watchdog: every polling, housekeeping, listening and publishing thread runs."""
        if self._stop.is_set() or not self._threads or self.publisher is None:
            return False
        alive = [t.is_alive() for t in self._threads]
        alive += [s.driver.alive() for s in self._slots if is_listening(s.driver)]
        return all(alive) and self.publisher.alive()

    def stats(self) -> dict[str, Any]:
        """Counts for the demo, tests and operators: totals and per sensor."""
        pub, box = self.publisher, self.outbox
        published = dict(pub.published_by_sensor) if pub else {}
        dropped = box.dropped_by_sensor() if box else {}
        with self._lock:
            accepted = dict(self._accepted)
            per: dict[str, dict[str, Any]] = {}
            for sid in sorted(set(accepted) | set(published) | set(dropped) | {s.id for s in self._slots}):
                per[sid] = {
                    "accepted": accepted.get(sid, 0),
                    "published": published.get(sid, 0),
                    "dropped": dropped.get(sid, 0),
                }
            for slot in self._slots:
                per[slot.id].update(errors=slot.errors, rejected=slot.rejected, up=slot.up)
            return {
                "gateway": self.cfg.id,
                "accepted": sum(accepted.values()),
                "published": pub.published if pub else 0,
                "dropped": box.dropped if box else 0,
                "rejected": sum(s.rejected for s in self._slots),
                "errors": sum(s.errors for s in self._slots),
                "unstored": self._unstored,
                "outbox_depth": box.count() if box else 0,
                "connected": bool(pub and pub.connected()),
                "local_alarms": self.autonomy.activations if self.autonomy else 0,
                "sensors": per,
            }
