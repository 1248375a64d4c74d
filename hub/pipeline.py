"""The one decision loop: readings → store queue + rule engine → transitions → dispatcher."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from edge.wire import CLOCK_STEP, Batch, Reading
from hub.clock_alerts import ClockAlerts, span_zh
from hub.clocks import Clocks
from hub.dedupe import Deduper, Notice
from hub.reading_lines import ReadingLines, iso, notice_line, window_lines
from hub.rules.health import alert_rule
from hub.rules.model import Transition
from hub.rules.periods import median_gaps, slow_sensors, slow_warning
from hub.rules.restart import held_readings, told_levels
from hub.rules.silences import MAINTENANCE, Silence

log = logging.getLogger(__name__)

LATE_S = 7 * 86400.0  # how long after a window ends its late readings are still recognised


class TransitionSink(Protocol):
    """The dispatcher as the pipeline sees it: submit() must not block."""

    def submit(self, transitions: list[Transition]) -> None: ...


class LineSink(Protocol):
    def put(self, lines: list[str]) -> None: ...


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
        self.lines = ReadingLines()
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self._unknown_logged: set[str] = set()
        self.clocks = Clocks()  # each origin's clock, as its batches show it (ingest thread only)
        self.clock_alerts = ClockAlerts()  # officers are told of a clock the hub corrects
        self.last_decision = 0.0
        # sensor -> (start, end, who) of its newest maintenance window; kept a week after it ends, for
        # readings taken in it that arrive late (a gateway the technician powered off sends them later).
        self.maintenance: dict[str, tuple[float, float, str]] = {}

    def swap_engine(self, engine: Any, history: list[Reading], sensor_sites: dict[str, str]) -> int:
        """Replace the rule set (SIGHUP). The new engine starts where the running one stands: the levels
        people were told, windows rebuilt from stored `history` plus every reading the running engine
        holds (the store may not have written the newest; those that came in while the history was
        read are among them). Starting from level 0 instead, an alert whose evidence sat in its
        hysteresis band or clear_for time stepped down (or was never cleared) on a reload. Returns
        the number of readings the new windows were rebuilt from."""
        with self.lock:
            levels = told_levels(self.engine.rules, self.state)
            self.sensor_sites = sensor_sites  # what this partition owns, by the new files' sites
            readings = [*self._owned(history), *held_readings(self.state)]
            state, transitions = self._rebuilt(engine, engine.initial_state(), readings, levels, "reload")
            self.engine, self.state = engine, state
        self._submit(transitions)
        return len(readings)

    def maintain(
        self, sensor: str, until: float, who: str, record: bool = True, start: float | None = None
    ) -> None:
        """Open, move the end of, or (until <= now) close a maintenance window on one sensor (hub
        clock). Its readings are stored with quality `maintenance` and stay out of the rules, now and
        in every rebuild from the store: the technician may be tipping the bucket to test it, and a
        silenced rule would not stop test rain from raising the site's other rules, now or later in
        the 72 h sums. Its health alerts are not emitted. A reading counts as taken in the window when
        its event time falls in it, or after its start while it is open. With `record`, the window is
        written to the store as a `maintenance_window` point, which start-up reads back (hub/history.py)
        with its `start`."""
        now = self.clock()
        with self.lock:
            old = self.maintenance.get(sensor)
            if start is None:  # moving the end of an open window keeps its start
                start = old[0] if old is not None and now < old[1] else now
            self.maintenance = {k: w for k, w in self.maintenance.items() if w[1] > now - LATE_S}
            if until > now:
                self.maintenance[sensor] = (start, until, who)
                self.state = self.engine.silence(self.state, _window(sensor, start, until, who), now)
            else:
                if old is not None and now < old[1]:
                    self.maintenance[sensor] = (old[0], now, who)
                self.state = self.engine.unsilence(self.state, _window_id(sensor), now)
        if record and self.store is not None:
            self.store.put(window_lines(sensor, self.site_of(sensor), start, until, who, now))
        log.warning("sensor maintenance sensor=%s until=%s who=%s", sensor, iso(max(until, now)), who)

    def recall(self, sensor: str, start: float, end: float, who: str) -> None:
        """A window that closed before a restart (read back from the store): readings taken in it that
        arrive late are still test readings, for a week after it ended."""
        with self.lock:
            if end > self.clock() - LATE_S and sensor not in self.maintenance:
                self.maintenance[sensor] = (start, end, who)

    def decides(self, site: str, rule: str) -> bool:
        """Whether the running rules still decide the alert (site, rule): one of the rules at the site,
        or a health check on one of its sensors (alert `{check}.{sensor}`). The dispatcher closes by
        hand only alerts they do not (Responder.close)."""
        engine = self.engine
        if (site, rule) in engine.index or self.clock_alerts.decides(site, rule):
            return True
        h, sensors = engine.health, engine.ruleset.sensors
        return any(
            alert_rule(entry[0].id, sid) == rule and sensors[sid].site == site
            for table in (h.stale, h.range, h.stuck)
            for (sid, _), entry in table.items()
        )

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
        now = self.clock()
        readings, moved = self.clocks.correct(batch, now)
        notices: list[Notice] = []
        if moved:
            notices += self._clocks_moved(batch, moved, now)
        for r in readings:
            if not self.owns(r.sensor):
                self.counts["not_owned"] += 1
                continue
            if not self.dedupe.first_time(batch.origin, r.seq, batch.stream):
                self.counts["duplicate"] += 1
                continue
            site = self.site_of(r.sensor)
            if not site and r.source != "health":
                self._unknown(r, batch.origin)
            if self.maintenance and r.sensor in self.maintenance:
                start, end, _ = self.maintenance[r.sensor]
                # Taken since the window opened, and before it closed or while it is still open (a
                # gateway clock running ahead). Taken before it opened, it is real data: an outbox
                # backlog that the technician's visit brought in, maybe the storm's rain.
                if start <= r.time and (r.time < end or now < end):
                    r = r._replace(quality=MAINTENANCE)
                    self.counts["maintenance_readings"] += 1
            if r.quantity == CLOCK_STEP and r.source == "health":  # the gateway says its clock was set
                way = "慢" if r.value > 0 else "快"
                notices.append((batch.origin, "clock_step", f"网关时钟原来{way}{span_zh(r.value)}，已校准"))
            fresh.append(r)
            lines.append(self.lines(r, batch.origin, site))
        notices += self.dedupe.notices
        self.dedupe.notices.clear()
        if notices and self.store is not None:  # for the Gateways dashboard (docs/schema.md, hub_notice)
            self.store.put([notice_line(*n, now) for n in notices])
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
        with self.lock:  # clock alerts are raised on the ingest thread, cleared here on the ticker's
            cleared = self.clock_alerts.quiet(self.clock())
        self._submit(cleared)
        return self.decide(())

    def _clocks_moved(self, batch: Batch, moved: list[tuple[str, float]], now: float) -> list[Notice]:
        """Count the corrections; a clock's first raises an officers' maintenance alert at its site
        (a gateway's: the site of its readings), in the partition that decides that site, and a
        notice for the Gateways dashboard."""
        at = next((s for r in batch.readings if (s := self.site_of(r.sensor))), "")
        sites = self.engine.ruleset.sites
        notices: list[Notice] = []
        for who, off_s in moved:
            self.counts["clock_ahead" if off_s > 0 else "clock_behind"] += 1
            site = self.site_of(who) or at
            if site in sites and (self.sites is None or site in self.sites):
                with self.lock:
                    raised = self.clock_alerts.moved(who, site, sites[site].name, off_s, now)
                if raised is not None:
                    self._submit([raised])
                    notices.append((batch.origin, "clock", raised.message))
        return notices

    def warm_up(
        self, readings: Iterable[Reading], levels: dict[tuple[str, str], tuple[Any, float]] | None = None
    ) -> int:
        """Start-up: put back the alert levels people were told before the restart, then rebuild the
        windows from stored history and evaluate once now. Only real changes since then come out (the
        engine ignores readings it has seen, so broker redeliveries after the restart do not count twice)."""
        history = self._owned(readings)
        with self.lock:
            self.state, transitions = self._rebuilt(self.engine, self.state, history, levels, "start-up")
        self._submit(transitions)
        return len(history)

    def _owned(self, readings: Iterable[Reading]) -> list[Reading]:
        return [r for r in readings if self.owns(r.sensor)]

    def _rebuilt(
        self,
        engine: Any,
        state: Any,
        history: list[Reading],
        levels: dict[tuple[str, str], tuple[Any, float]] | None,
        when: str,
    ) -> tuple[Any, list[Transition]]:
        now = self.clock()
        for sensor, (start, until, who) in self.maintenance.items():  # a new engine's state holds none yet
            if until > now:
                state = engine.silence(state, _window(sensor, start, until, who), now)
        if levels:
            state = engine.restore(state, levels)
            for site, rule in sorted(k for k in levels if k not in engine.index):
                # Left standing: its alert told people of danger, and only a person can say it is
                # over (an automatic all-clear would rest on no evidence). Officers close it by hand.
                self.counts["alert_rule_gone"] += 1
                log.warning(
                    "%s: alert left standing, its rule is gone site=%s rule=%s level=%s: once the "
                    "danger is over, close it: ews/v1/cmd/close {\"who\": …, \"site\": \"%s\", "
                    "\"rule\": \"%s\"}",
                    when, site, rule, levels[(site, rule)][0].label, site, rule,
                )  # fmt: skip
        state, transitions = engine.rebuild(state, history, now)
        # The history shows each sensor's real reporting interval: say which declared periods it
        # contradicts (such a period holds levels and flags the sensor stale; rules.md, Step-down).
        for sid, period, gap in slow_sensors(engine.ruleset, median_gaps(history)):
            self.counts["period_too_short"] += 1
            log.warning("%s %s", when, slow_warning(sid, period, gap))
        return state, transitions

    def _submit(self, transitions: list[Transition]) -> None:
        if transitions:
            self.counts["transitions"] += len(transitions)
            self.dispatcher.submit(transitions)

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


def _window(sensor: str, start: float, end: float, who: str) -> Silence:
    """A sensor's maintenance window as an engine silence; one per sensor (a new one replaces it)."""
    return Silence(_window_id(sensor), start, end, sensor=sensor, by=who)


def _window_id(sensor: str) -> str:
    return f"maintenance:{sensor}"
