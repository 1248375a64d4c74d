"""One channel's delivery thread: a bounded priority queue, a rate limit, retries with backoff."""

from __future__ import annotations

import heapq
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from hub.channels.base import ChannelError, Notification

log = logging.getLogger(__name__)

Priority = tuple[Any, ...]


class Channel(Protocol):
    def send(self, n: Notification) -> str: ...


# A record channel may also offer send_many(notifications) -> [receipt | ChannelError], one result per
# notification in order: many messages in flight at once (MQTT QoS 1 with PUBACKs confirmed together).
SendMany = Callable[[list[Notification]], list["str | ChannelError"]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Recoverable errors are retried `attempts` times in all, waiting base·2^k seconds (capped at max_s)."""

    attempts: int = 5
    base_s: float = 1.0
    max_s: float = 60.0
    # A channel nothing fails over to keeps trying this much longer, at max_s: a cell tower or the
    # internet down for minutes in a typhoon must delay a warning, not lose it.
    keep_s: float = 0.0

    def limit(self, last_resort: bool) -> int:
        """Attempts before a delivery fails for good."""
        return self.attempts + (int(self.keep_s // self.max_s) if last_resort else 0)

    def delay(self, attempt: int) -> float:
        return float(min(self.max_s, self.base_s * 2 ** max(0, attempt - 1)))


class ChannelWorker:
    """Sends one channel's deliveries in priority order; the dispatcher owns what results mean.

    fetch(did) returns (Notification, attempts so far) or None when the delivery is gone or done.
    report(did, result, detail, attempts) is called with result sent, retry or failed.
    refill() returns [(priority, did)] still pending in the state store, used after a queue overflow.
    ordered=True retries recoverable errors in place, without limit, so nothing overtakes a failed send.
    """

    def __init__(
        self,
        name: str,
        channel: Channel,
        *,
        interval_s: float,
        retry: RetryPolicy,
        fetch: Callable[[int], tuple[Notification, int] | None],
        report: Callable[[int, str, str, int], None],
        refill: Callable[[], list[tuple[Priority, int]]],
        queue_size: int = 10_000,
        ordered: bool = False,
        burst: int = 500,
        last_resort: bool = False,
    ) -> None:
        self.name = name
        self.channel = channel
        self.interval_s = interval_s
        self.retry = retry
        self.ordered = ordered  # FIFO, retried in place: for record channels whose order is meaning
        self.limit = retry.limit(last_resort)  # no failover after this channel: retry for retry.keep_s
        self._fetch, self._report, self._refill = fetch, report, refill
        self._q: queue.PriorityQueue[tuple[Priority, int]] = queue.PriorityQueue(queue_size)
        self._later: list[tuple[float, Priority, int]] = []  # (monotonic due, priority, did) retries
        self._known: set[int] = set()  # queued, waiting for retry or being sent
        # Final outcomes (sent, failed) the state store refused (a full or failing disk), written again
        # before the next delivery; their ids stay known meanwhile, so a refill cannot send them twice.
        self._unrecorded: list[tuple[int, str, str, int]] = []
        self._lock = threading.Lock()
        self._overflow = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_send = 0.0
        self.busy = False
        # Ordered channels with send_many and no rate limit send what is already waiting together.
        many = getattr(channel, "send_many", None)
        self._send_many: SendMany | None = many if ordered and interval_s <= 0 and burst > 1 else None
        self.burst = burst

    def offer(self, priority: Priority, did: int) -> None:
        """Queue a delivery without blocking; on overflow it stays pending in SQLite and is refilled."""
        with self._lock:
            if did in self._known:
                return
            try:
                self._q.put_nowait((priority, did))
            except queue.Full:
                if not self._overflow:
                    log.warning("channel queue full channel=%s size=%d", self.name, self._q.maxsize)
                self._overflow = True
                return
            self._known.add(did)

    def depth(self) -> int:
        return self._q.qsize() + len(self._later)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"channel-{self.name}", daemon=True)
        self._thread.start()

    def signal_stop(self) -> None:
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def _next(self) -> tuple[Priority, int] | None:
        now = time.monotonic()
        if self._later and self._later[0][0] <= now:
            _, prio, did = heapq.heappop(self._later)
            return prio, did
        wait = min(0.2, max(0.0, self._later[0][0] - now)) if self._later else 0.2
        try:
            if self._stop.is_set():
                return None
            return self._q.get(timeout=wait)
        except queue.Empty:
            if self._overflow and self._q.empty():
                with self._lock:
                    self._overflow = False
                for prio, did in self._refill():
                    self.offer(prio, did)
            return None

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._unrecorded:
                self._record_again()
            item = self._next()
            if item is None:
                continue
            prio, did = item
            # Rate limit: a GSM modem manages about one SMS every few seconds; an HTTP gateway has a QPS cap.
            wait = self._last_send + self.interval_s - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                return
            dids = self._drain(did) if self._send_many is not None else [did]
            try:
                if self._send_many is not None:
                    self._deliver_many(dids)
                else:
                    self._deliver(prio, did)
            except Exception:
                # Nothing else sends this channel's warnings: the thread must outlive any bug here. The
                # deliveries are tried again (a duplicate SMS is better than a warning never sent).
                log.exception("channel worker error channel=%s deliveries=%d", self.name, len(dids))
                due = time.monotonic() + self.retry.delay(2)
                for d in dids:
                    heapq.heappush(self._later, (due, prio, d))

    def _record(self, did: int, result: str, detail: str, attempts: int) -> bool:
        """Report an outcome; False when the state store failed. A final one is kept to be written again."""
        try:
            self._report(did, result, detail, attempts)
        except Exception:
            log.exception(
                "delivery outcome not recorded channel=%s delivery=%d result=%s", self.name, did, result
            )
            if result != "retry":  # a lost retry count is harmless; a lost "sent" would send it again
                self._unrecorded.append((did, result, detail, attempts))
            return False
        if result != "retry":
            with self._lock:
                self._known.discard(did)
        return True

    def _record_again(self) -> None:
        todo, self._unrecorded = self._unrecorded, []
        for k, outcome in enumerate(todo):
            if not self._record(*outcome):
                self._unrecorded += todo[k + 1 :]
                self._stop.wait(1.0)  # the disk is still failing: do not spin
                return

    def _drain(self, first: int) -> list[int]:
        """The first delivery and whatever else is already queued (never waits to fill a burst)."""
        dids = [first]
        while len(dids) < self.burst:
            try:
                dids.append(self._q.get_nowait()[1])
            except queue.Empty:
                break
        return dids

    def _fetch_or_forget(self, did: int) -> tuple[Notification, int] | None:
        """The delivery's notification and attempts so far; None (and forgotten) if it is gone or done.
        A store that cannot be read raises: _run tries the delivery again later, it is never dropped."""
        got = self._fetch(did)
        if got is None:
            with self._lock:
                self._known.discard(did)
        return got

    def _deliver_many(self, dids: list[int]) -> None:
        """Ordered burst: all sent together; from the first recoverable failure on, the rest is sent
        again in order after a backoff (a retained state must never be overtaken by an older one)."""
        assert self._send_many is not None
        attempts: dict[int, int] = {}
        while dids and not self._stop.is_set():
            todo: list[tuple[int, Notification, int]] = []
            for did in dids:
                got = self._fetch_or_forget(did)
                if got is None:
                    continue
                n, before = got
                attempts[did] = max(attempts.get(did, 0), before) + 1
                todo.append((did, n, attempts[did]))
            if not todo:
                return
            self.busy = True
            self._last_send = time.monotonic()
            try:
                results = self._send_many([n for _, n, _ in todo])
            except Exception as exc:  # a channel bug: every one of them failed the same way
                log.exception("channel crashed channel=%s deliveries=%d", self.name, len(todo))
                results = [ChannelError(f"{exc.__class__.__name__}: {exc}", recoverable=False)] * len(todo)
            finally:
                self.busy = False
            if len(results) != len(todo):  # a channel bug; never lose track of a delivery over it
                log.error("channel answered wrong count channel=%s sent=%d results=%d",
                          self.name, len(todo), len(results))  # fmt: skip
                results = [ChannelError("channel gave no result", recoverable=True)] * len(todo)
            dids = []
            for i, ((did, _, tries), res) in enumerate(zip(todo, results, strict=True)):
                if not isinstance(res, ChannelError):
                    self._record(did, "sent", str(res), tries)
                elif not res.recoverable:
                    self._failed((), did, tries, str(res), False)
                else:
                    self._record(did, "retry", str(res), tries)
                    dids = [d for d, _, _ in todo[i:]]  # this one and everything after it, in order
                    delay = self.retry.delay(tries)
                    if self._stop.wait(delay):
                        return  # still pending in SQLite: the next start resumes them
                    break

    def _deliver(self, prio: Priority, did: int) -> None:
        while True:
            got = self._fetch_or_forget(did)
            if got is None:
                return
            n, attempts = got
            attempts += 1
            self.busy = True
            self._last_send = time.monotonic()
            try:
                receipt = self.channel.send(n)
            except ChannelError as exc:
                error, recoverable = str(exc), exc.recoverable
            except Exception as exc:  # a channel bug must not kill the thread; treat like a hard failure
                log.exception("channel crashed channel=%s delivery=%d", self.name, did)
                error, recoverable = f"{exc.__class__.__name__}: {exc}", False
            else:
                # Record the outcome before forgetting the id, so a refill cannot queue it again.
                self._record(did, "sent", str(receipt), attempts)
                return
            finally:
                self.busy = False
            if not (self.ordered and recoverable):
                self._failed(prio, did, attempts, error, recoverable)
                return
            # Ordered channels (retained alert state, CAP references) must not overtake themselves:
            # retry this one in place, however long the broker or disk is away.
            self._record(did, "retry", error, attempts)
            if self._stop.wait(self.retry.delay(attempts)):
                return  # still pending in SQLite: the next start resumes it

    def _failed(self, prio: Priority, did: int, attempts: int, error: str, recoverable: bool) -> None:
        if recoverable and attempts < self.limit:
            delay = self.retry.delay(attempts)
            heapq.heappush(self._later, (time.monotonic() + delay, prio, did))
            self._record(did, "retry", error, attempts)
            return
        self._record(did, "failed", error, attempts)
