"""The one decision loop: readings → store queue + rule engine → transitions → dispatcher."""

from __future__ import annotations

import logging
import math
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


class ReadingLines:
    """reading_line() with each series' measurement and tags escaped once, not once per reading.

    Formatting the tags was the largest per-reading cost on the ingest thread (bench/e2e.py profile,
    docs/performance.md); the text is identical to reading_line's. Bounded: the cache starts over past
    `max_series` series, so a gateway inventing sensor ids cannot grow it without limit.
    """

    def __init__(self, max_series: int = 100_000) -> None:
        self.max_series = max_series
        self._prefix: dict[tuple[str, str, str, str, str, str], str] = {}

    def __call__(self, r: Reading, origin: str, site: str) -> str:
        v = r.value
        if r.issued is not None or type(v) is not float or not math.isfinite(v):
            return reading_line(r, origin, site)  # forecasts (issue-time tag), ints, errors: the slow path
        key = (r.quantity, r.sensor, origin, site, r.source, r.quality)
        prefix = self._prefix.get(key)
        if prefix is None:
            if len(self._prefix) >= self.max_series:
                self._prefix.clear()
            prefix = self._prefix[key] = reading_line(r, origin, site).rsplit(" ", 2)[0]
        return f"{prefix} value={v!r},seq={r.seq}i {round(r.time * 1e9)}"


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
    ) -> None:
        self.engine = engine
        self.state = engine.initial_state()
        self.sensor_sites = sensor_sites
        self.store = store
        self.dispatcher = dispatcher
        self.clock = clock
        self.sites = sites  # partition: the sites this hub decides; None means all
        self.dedupe = Deduper()
        self.lines = ReadingLines()
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self._unknown_logged: set[str] = set()

    def owns(self, sensor: str) -> bool:
        if self.sites is None:
            return True
        site = self.sensor_sites.get(sensor)
        return site is not None and site in self.sites

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
            site = self.sensor_sites.get(r.sensor, "")
            if not site:
                self._unknown(r, batch.origin)
            fresh.append(r)
            lines.append(self.lines(r, batch.origin, site))
        if not fresh:
            return []
        self.counts["readings"] += len(fresh)
        if self.store is not None:
            self.store.put(lines)
        return self.decide(fresh)

    def decide(self, readings: Sequence[Reading]) -> list[Transition]:
        with self.lock:
            self.state, transitions = self.engine.evaluate(self.state, readings, self.clock())
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
