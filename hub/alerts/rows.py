"""The dispatcher's InfluxDB rows (alert, delivery, ack, escalation, evacuation) and a writer that never blocks."""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from typing import Protocol

from hub.influx import InfluxClient, InfluxError, line
from hub.rules.model import Level

log = logging.getLogger(__name__)

STATE_NAMES = {0: "inactive", 1: "pending", 2: "firing", 3: "resolved"}


class RowSink(Protocol):
    """Where rows go, one line-protocol row per call. put() must return at once (hub/app.py adapts
    the hub's Store; RowWriter below serves a dispatcher running without one)."""

    def put(self, row: str) -> None: ...


class RowWriter:
    """Rows kept in memory and flushed by one thread; InfluxDB down means retry later, never block."""

    def __init__(self, client: InfluxClient, max_rows: int = 200_000, batch: int = 5000) -> None:
        self.client = client
        self.max_rows = max_rows
        self.batch = batch
        self._rows: deque[str] = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._down = False
        self.written = 0
        self.dropped = 0

    def put(self, row: str) -> None:
        with self._cond:
            if len(self._rows) >= self.max_rows:
                self._rows.popleft()  # bounded memory: lose the oldest record, never an alert
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.error("alert rows overflow dropped=%d max_rows=%d", self.dropped, self.max_rows)
            self._rows.append(row)
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._rows)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="alert-rows", daemon=True)
        self._thread.start()

    def stop(self, flush_timeout: float = 5.0) -> None:
        """Flush what can be flushed within the timeout, then stop."""
        self._stop.set()
        with self._cond:
            self._cond.notify()
        if self._thread:
            self._thread.join(flush_timeout + 1)
        if self._rows:
            log.warning("alert rows unflushed at stop rows=%d", len(self._rows))

    def flush(self) -> bool:
        """Write one batch now; True when something was written or nothing was waiting."""
        with self._cond:
            chunk = [self._rows[i] for i in range(min(self.batch, len(self._rows)))]
        if not chunk:
            return True
        try:
            self.client.write(chunk)
        except InfluxError as exc:
            if exc.recoverable:
                if not self._down:
                    log.warning("alert rows influx down rows=%d error=%s", len(self._rows), exc)
                    self._down = True
                return False
            log.error("alert rows rejected by influx rows=%d error=%s", len(chunk), exc)
        if self._down:
            log.info("alert rows influx back rows=%d", len(self._rows))
            self._down = False
        with self._cond:
            for _ in range(len(chunk)):
                self._rows.popleft()
        self.written += len(chunk)
        return True

    def _run(self) -> None:
        backoff = 0.5
        while True:
            with self._cond:
                if not self._rows and not self._stop.is_set():
                    self._cond.wait(0.5)
            if self._stop.is_set() and not self._rows:
                return
            if self.flush():
                backoff = 0.5
            else:
                if self._stop.wait(backoff):
                    return
                backoff = min(backoff * 2, 30.0)


class Stamper:
    """Row times: event time plus a few microseconds, so rows of one series at one instant don't overwrite.

    InfluxDB keeps one point per series and timestamp; ten villagers' `delivery` rows share both.
    Microseconds, because float seconds near 1.7e9 cannot carry nanoseconds.
    """

    def __init__(self) -> None:
        self._n = itertools.count()

    def __call__(self, at: float) -> float:
        return at + (next(self._n) % 1_000_000) * 1e-6

    @staticmethod
    def for_delivery(at: float, delivery_id: int, attempts: int) -> float:
        """Stable per delivery and attempt, so a restart's rows never land on an earlier row's time."""
        return at + ((delivery_id % 100_000) * 10 + min(attempts, 9)) * 1e-6


def level_key(episode: str, level: int, since: float) -> str:
    """One standing level of one episode: what an acknowledgement answers.

    The dispatcher wants a fresh ack for each level an episode reaches (hub/alerts/episodes.py counts
    acks given since `level_since`), so the key names the episode, the level and when it began: an ack
    of blue, or of last week's storm, never matches today's red (the overview's 当前预警 joins on it).
    """
    return f"{episode}@{Level(level).label}#{since:.3f}"


def alert_row(alert_id: str, site: str, rule: str, to_level: Level, from_level: Level, state: int,
              hazard: str, value: float | None, message: str, at: float, *, episode: str, key: str,
              site_level: int) -> str:  # fmt: skip
    """`episode` and `key` (level_key) are empty when no episode stands (a pending row of an idle rule).

    `site_level` is the highest level standing at the site after this transition, over every rule: the
    site timeline reads it directly, as InfluxQL cannot carry each rule's level in from before a range.
    """
    fields: dict[str, object] = {"level_num": int(to_level), "message": message, "alert_id": alert_id,
                                 "site_level": int(site_level)}  # fmt: skip
    if episode:
        fields["episode"] = episode
    if key:
        fields["level_key"] = key
    if value is not None:
        fields["value"] = float(value)
    tags = {"site": site, "rule": rule, "level": to_level.label, "from_level": from_level.label,
            "state": STATE_NAMES.get(state, str(state)), "hazard": hazard}  # fmt: skip
    return line("alert", tags, fields, at)


def delivery_row(channel_type: str, state: str, audience: str, site: str, level: int, alert_id: str,
                 masked: str, at: float) -> str:  # fmt: skip
    tags = {"channel": channel_type, "state": state, "audience": audience, "site": site,
            "level": Level(level).label}  # fmt: skip
    return line("delivery", tags, {"alert_id": alert_id, "recipient": masked, "n": 1}, at)


def ack_row(site: str, via: str, alert_id: str, masked_who: str, at: float, *, episode: str, level: Level,
            key: str) -> str:  # fmt: skip
    """An ack of the level standing when it was given: `key` is that level's level_key."""
    fields = {"alert_id": alert_id, "who": masked_who, "n": 1, "episode": episode, "level_key": key}
    return line("ack", {"site": site, "via": via, "level": level.label}, fields, at)


def escalation_row(site: str, alert_id: str, at: float, to: str = "town") -> str:
    return line("escalation", {"site": site, "to": to}, {"alert_id": alert_id, "n": 1}, at)


def evacuation_row(site: str, grid: str, alert_id: str, done: int, total: int, at: float, *,
                   episode: str) -> str:  # fmt: skip
    """`episode`: the alert episode the report counts for, so a new storm does not inherit the last one's."""
    fields = {"evacuated": done, "total": total, "alert_id": alert_id, "episode": episode}
    return line("evacuation", {"site": site, "grid": grid}, fields, at)
