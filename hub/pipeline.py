"""The one decision loop: readings → store queue + rule engine → transitions → dispatcher."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from edge.wire import Batch, Reading
from hub.dedupe import Deduper
from hub.influx import line
from hub.rules.model import Transition

log = logging.getLogger(__name__)


class TransitionSink(Protocol):
    """The dispatcher as the pipeline sees it: submit() must not block."""

    def submit(self, transitions: list[Transition]) -> None: ...


class LineSink(Protocol):
    def put(self, lines: list[str]) -> None: ...


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reading_line(r: Reading, origin: str, site: str) -> str:
    tags = {"sensor": r.sensor, "site": site, "origin": origin, "source": r.source, "quality": r.quality}
    if r.issued is not None:
        tags["issued"] = iso(r.issued)
    return line(r.quantity, tags, {"value": r.value, "seq": r.seq}, r.time)


class Pipeline:
    """Owns the engine state. Called from the MQTT thread (handle_batch) and a timer thread (tick).

    The engine is pure and fast (microseconds per reading), so decisions are made inline on the
    ingest thread; everything slow (InfluxDB, channels) sits behind the store's and dispatcher's queues.
    """

    def __init__(
        self,
        engine: Any,
        sensor_sites: dict[str, str],
        store: LineSink | None,
        dispatcher: TransitionSink,
        clock: Callable[[], float],
        sites: frozenset[str] | None = None,
        store_unassigned: bool = True,
    ) -> None:
        self.engine = engine
        self.state = engine.initial_state()
        self.sensor_sites = sensor_sites
        self.store = store
        self.dispatcher = dispatcher
        self.clock = clock
        self.sites = sites  # partition: the sites this hub decides; None means all
        self.store_unassigned = store_unassigned  # partitioned: this hub also takes site-less readings
        self.dedupe = Deduper()
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self._unknown_logged: set[str] = set()
        self.last_decision = 0.0

    def swap_engine(self, engine: Any, state: Any, sensor_sites: dict[str, str]) -> None:
        """Replace the rule set (SIGHUP) with an engine whose windows were already rebuilt."""
        with self.lock:
            self.engine, self.state, self.sensor_sites = engine, state, sensor_sites

    def site_of(self, sensor: str) -> str:
        """The sensor's site from the rule set; feed sensors are named `{feed}@{site}`."""
        site = self.sensor_sites.get(sensor)
        if site is None and "@" in sensor:
            site = sensor.rpartition("@")[2]
        return site or ""

    def owns(self, sensor: str) -> bool:
        if self.sites is None:
            return True
        site = self.site_of(sensor)
        return site in self.sites if site else self.store_unassigned

    def handle_batch(self, batch: Batch) -> list[Transition]:
        fresh: list[Reading] = []
        lines: list[str] = []
        for r in batch.readings:
            if not self.owns(r.sensor):
                self.counts["not_owned"] += 1
                continue
            if not self.dedupe.first_time(batch.origin, r.seq):
                self.counts["duplicate"] += 1
                continue
            site = self.site_of(r.sensor)
            if not site and r.source != "health":
                self._unknown(r, batch.origin)
            fresh.append(r)
            lines.append(reading_line(r, batch.origin, site))
        if not fresh:
            return []
        self.counts["readings"] += len(fresh)
        if self.store is not None:
            self.store.put(lines)
        return self.decide(fresh)

    def decide(self, readings: Sequence[Reading]) -> list[Transition]:
        with self.lock:
            self.state, transitions = self.engine.evaluate(self.state, readings, self.clock())
            self.last_decision = self.clock()
        if transitions:
            self.counts["transitions"] += len(transitions)
            self.dispatcher.submit(transitions)
        return transitions

    def tick(self) -> list[Transition]:
        """Advance time with no readings: hold times, step-down timers and staleness."""
        return self.decide(())

    def warm_up(self, readings: Iterable[Reading]) -> int:
        """Rebuild windows from stored history at start-up (the engine ignores readings it has seen, so
        broker redeliveries after the restart do not count twice). Transitions go to the dispatcher,
        whose delivery state makes sure nobody is told again what they were told before the restart."""
        history = sorted(readings, key=lambda r: r.time)
        if history:
            self.decide(history)
        return len(history)

    def _unknown(self, r: Reading, origin: str) -> None:
        self.counts["unknown_sensor"] += 1
        if r.sensor not in self._unknown_logged:
            self._unknown_logged.add(r.sensor)
            log.warning(
                "unknown sensor sensor=%s origin=%s quantity=%s: stored, not in any rule set",
                r.sensor,
                origin,
                r.quantity,
            )
