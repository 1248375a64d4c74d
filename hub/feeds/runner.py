"""Polls each feed on an APScheduler 3 job and publishes its readings plus feed health as wire batches."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import requests
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from edge.wire import Batch, Reading, encode_batch, feed_topic
from hub.feeds.base import Feed, FeedError, FeedEvent, ParseResult, Point, as_points

log = logging.getLogger(__name__)

Publish = Callable[[Batch], None]


@dataclass
class FeedStatus:
    """Counters and the current failure episode of one feed (read by `ews feeds` and health checks)."""

    polls: int = 0
    ok_polls: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # by error kind, whole-poll and partial
    failing: str | None = None  # kind of the current whole-poll failure episode
    partial: set[tuple[str, str]] = field(default_factory=set)  # (kind, source) of parts now failing
    consecutive_failures: int = 0
    last_ok: float | None = None
    last_error: str = ""
    not_before: float = 0.0  # Retry-After: no request before this time
    published: int = 0
    skipped: int = 0
    publish_failures: int = 0
    notes: tuple[str, ...] = ()
    last_seq: int = 0
    started: float | None = None  # time.monotonic() when the running poll began; None when idle
    stalled: bool = False  # a later poll found this one still running past config.max_poll_s()


class FeedRunner:
    """Owns the feeds, their schedule and their health. `poll(name)` is one complete, never-raising poll."""

    def __init__(
        self,
        feeds: Sequence[Feed],
        points: Iterable[Any],
        publish: Publish,
        *,
        on_event: Callable[[FeedEvent], None] | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        batch_size: int = 500,
    ) -> None:
        self.feeds = {f.config.name: f for f in feeds}
        self.status = {name: FeedStatus() for name in self.feeds}
        self._points = as_points(points)
        self._publish = publish
        self._on_event = on_event
        self._session = session or requests.Session()
        self._clock = clock
        self._batch_size = batch_size
        self._scheduler: BackgroundScheduler | None = None
        self._lock = threading.Lock()
        self._seq_lock = threading.Lock()  # a stalled-poll report may publish while the poll itself does
        # The retry job and the regular job are separate APScheduler jobs: this keeps them from overlapping.
        self._busy = {name: threading.Lock() for name in self.feeds}

    def set_points(self, points: Iterable[Any]) -> None:
        """Replace the watched sites (the rule set was reloaded)."""
        pts = as_points(points)
        with self._lock:
            self._points = pts

    # ---- one poll ---------------------------------------------------------------------------
    def poll(self, name: str) -> ParseResult | None:
        """Fetch and parse one feed now, publish readings and feed_ok; None if the poll failed."""
        if not self._busy[name].acquire(blocking=False):
            self._still_running(name)
            return None
        st = self.status[name]
        st.started = started = time.monotonic()
        try:
            return self._poll(name)
        finally:
            if st.stalled:
                log.info("feed stall ended feed=%s after_s=%.0f", name, time.monotonic() - started)
            st.started, st.stalled = None, False
            self._busy[name].release()

    def _still_running(self, name: str) -> None:
        """The previous poll has not finished: if it ran past what a healthy poll takes, say so."""
        st, started = self.status[name], self.status[name].started
        running = 0.0 if started is None else time.monotonic() - started
        if running <= self.feeds[name].config.max_poll_s():
            # A retry and the regular run may just meet; the running poll reports for both.
            log.debug("feed poll skipped feed=%s reason=still running for %.0f s", name, running)
            return
        # Silence would look like a healthy but quiet feed: publish feed_ok 0 on every poll it blocks.
        st.failures["stalled"] += 1
        st.last_error = f"stalled: previous poll running for {running:.0f} s"
        if not st.stalled:
            log.warning("feed stalled feed=%s running_s=%.0f", name, running)
            st.stalled = True
        self._send(name, [], False, self._clock())

    def _poll(self, name: str) -> ParseResult | None:
        feed, st, now = self.feeds[name], self.status[name], self._clock()
        with self._lock:
            points: tuple[Point, ...] = self._points
        st.polls += 1
        if now < st.not_before:
            log.debug("feed backing off feed=%s until=%.0f", name, st.not_before)
            self._held(name, feed, points, now)
            return None
        try:
            result = feed.poll(self._session, points, now)
        except FeedError as exc:
            self._failed(name, exc, now)
            self._send(name, [], False, now)
            return None
        except Exception as exc:  # a bug or an unforeseen body shape must not kill the schedule
            log.exception("feed crashed feed=%s", name)
            self._failed(name, FeedError("malformed", f"{exc.__class__.__name__}: {exc}", name), now)
            self._send(name, [], False, now)
            return None
        self._partial(name, result.errors)
        if st.failing is not None:
            log.info("feed recovered feed=%s after_failures=%d", name, st.consecutive_failures)
        st.failing, st.consecutive_failures, st.last_ok = None, 0, now
        st.ok_polls += 1
        st.skipped += result.skipped
        if tuple(result.notes) != st.notes:  # say it when it changes, not every poll
            st.notes = tuple(result.notes)
            for note in result.notes:
                log.info("feed note feed=%s note=%s", name, note)
        self._send(name, result.readings, not result.errors, now)
        self._events(name, result.events)
        return result

    def _held(self, name: str, feed: Feed, points: tuple[Point, ...], now: float) -> None:
        """During a Retry-After: no request, feed_ok 0, and what the feed still knows (CAP warning levels)."""
        held = getattr(feed, "held", None)
        result = ParseResult()
        if held is not None:
            try:
                result = held(points, now)
            except Exception:  # a bug here must not silence feed_ok as well
                log.exception("feed held state failed feed=%s", name)
        self._send(name, result.readings, False, now)
        self._events(name, result.events)

    def _events(self, name: str, events: list[FeedEvent]) -> None:
        for event in events:
            log.info(
                "warning event feed=%s site=%s action=%s level=%d id=%s sender=%s event=%s",
                name, event.site, event.action, event.level, event.identifier, event.sender, event.event,
            )  # fmt: skip
            if self._on_event is not None:
                try:
                    self._on_event(event)
                except Exception:
                    log.exception("event handler failed feed=%s id=%s", name, event.identifier)

    def _failed(self, name: str, exc: FeedError, now: float) -> None:
        st = self.status[name]
        st.failures[exc.kind] += 1
        st.consecutive_failures += 1
        st.last_error = f"{exc.kind}: {exc}"
        if st.failing != exc.kind:  # log once per failure episode (and when its kind changes)
            log.warning("feed failed feed=%s kind=%s source=%s error=%s", name, exc.kind, exc.source, exc)
            st.failing = exc.kind
        cfg = self.feeds[name].config
        if exc.retry_after is not None:
            st.not_before = now + min(exc.retry_after, cfg.max_retry_after_s)
        self._schedule_retry(name, cfg.interval_s, exc.retry_after)

    def _partial(self, name: str, errors: list[FeedError]) -> None:
        st = self.status[name]
        now_failing = {(e.kind, e.source) for e in errors}
        cfg = self.feeds[name].config
        for exc in errors:
            st.failures[exc.kind] += 1
            if exc.retry_after is not None:
                st.not_before = max(
                    st.not_before, self._clock() + min(exc.retry_after, cfg.max_retry_after_s)
                )
            if (exc.kind, exc.source) not in st.partial:
                log.warning(
                    "feed part failed feed=%s kind=%s source=%s error=%s", name, exc.kind, exc.source, exc
                )
        for kind, source in st.partial - now_failing:
            log.info("feed part recovered feed=%s kind=%s source=%s", name, kind, source)
        st.partial = now_failing

    def _send(self, name: str, readings: list[Reading], ok: bool, now: float) -> None:
        """Publish readings and the feed_ok health reading, in batches, with increasing seq numbers."""
        st = self.status[name]
        rows = [*readings, Reading(name, "feed_ok", 1.0 if ok else 0.0, now, source="health")]
        # seq rises across restarts too: it starts from the poll time (1e5 readings per second of room).
        with self._seq_lock:
            seq = max(st.last_seq + 1, int(now) * 100_000)
            st.last_seq = seq + len(rows) - 1
        stamped = [
            Reading(r.sensor, r.quantity, r.value, r.time, seq + i, r.quality, r.source, r.issued)
            for i, r in enumerate(rows)
        ]
        for start in range(0, len(stamped), self._batch_size):
            batch = Batch(name, tuple(stamped[start : start + self._batch_size]), now)
            try:
                self._publish(batch)
                st.published += len(batch.readings)
            except Exception as exc:
                st.publish_failures += 1
                log.warning(
                    "feed publish failed feed=%s readings=%d error=%s", name, len(batch.readings), exc
                )

    # ---- schedule ---------------------------------------------------------------------------
    def start(self) -> None:
        """One job per feed: no overlap, missed runs coalesced after downtime, jitter; first poll now."""
        sched = BackgroundScheduler(timezone=UTC)
        first = datetime.now(UTC)
        for name, feed in self.feeds.items():
            cfg = feed.config
            sched.add_job(
                self.poll,
                IntervalTrigger(seconds=cfg.interval_s, jitter=cfg.jitter_s or None),
                args=[name],
                id=f"feed:{name}",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, int(cfg.interval_s)),
                next_run_time=first,
            )
        sched.start()
        self._scheduler = sched
        log.info("feeds started feeds=%s sites=%d", ",".join(self.feeds) or "-", len(self._points))

    def _schedule_retry(self, name: str, interval_s: float, retry_after: float | None) -> None:
        # A failed poll is retried sooner than the full interval (a 30-min forecast feed should not stay
        # dark for 30 min after one 503), but never sooner than the server's Retry-After.
        sched = self._scheduler
        if sched is None or not sched.running:
            return
        cfg = self.feeds[name].config
        delay = min(interval_s / 4, 120.0)
        if retry_after is not None:
            delay = max(delay, min(retry_after, cfg.max_retry_after_s))
        if delay >= interval_s:
            return  # the regular run comes first anyway
        sched.add_job(
            self.poll,
            "date",
            run_date=datetime.now(UTC) + timedelta(seconds=delay),
            args=[name],
            id=f"feed:{name}:retry",
            replace_existing=True,
            max_instances=1,
        )

    @property
    def scheduler(self) -> BackgroundScheduler | None:
        return self._scheduler

    def stop(self, wait: bool = True) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
        self._scheduler = None


def mqtt_publisher(client: mqtt.Client, qos: int = 1) -> Publish:
    """The hub's publish callback: feed batches go to ews/v1/feed/{feed}/readings like gateway batches."""

    def publish(batch: Batch) -> None:
        info = client.publish(feed_topic(batch.origin), encode_batch(batch), qos=qos)
        # NO_CONN: paho keeps QoS>0 messages queued and sends them after reconnecting.
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            raise RuntimeError(
                f"mqtt publish to {feed_topic(batch.origin)} failed: {mqtt.error_string(info.rc)}"
            )

    return publish
