"""The dispatcher's front door: a bounded queue the ingest path can always put to without waiting."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable

from hub.rules.model import Transition

log = logging.getLogger(__name__)


class Intake:
    """Bounded queue plus one thread. When full, only the latest transition per alert is kept
    (memory stays bounded by the number of alerts, and no alert is forgotten), in arrival order."""

    def __init__(self, handle: Callable[[list[Transition]], None], size: int, batch: int = 100) -> None:
        self._handle = handle
        self.batch = batch  # transitions handled together: one state transaction for a whole storm burst
        self._q: queue.Queue[Transition] = queue.Queue(size)
        self._overflow: dict[str, Transition] = {}  # insertion-ordered: oldest alert first
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self.coalesced = 0

    def submit(self, transitions: Iterable[Transition]) -> None:
        for t in transitions:
            with self._lock:
                if not self._overflow:
                    try:
                        self._q.put_nowait(t)
                        self._idle.clear()
                        continue
                    except queue.Full:
                        log.error("alert intake full size=%d: coalescing per alert", self._q.maxsize)
                # Once overflowing, everything newer waits behind the queue so order is kept.
                self._overflow.pop(t.alert_id, None)
                self._overflow[t.alert_id] = t
                self._idle.clear()
                self.coalesced += 1

    def empty(self) -> bool:
        with self._lock:
            return self._q.empty() and not self._overflow and self._idle.is_set()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="alert-intake", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            self._drain()

    def _drain(self) -> None:
        """At stop, what still waits is decided too: folded into the state store, whose pending deliveries
        the next start sends. Dropped here, a test alert, a clock alert or a range alert was lost for good
        (a restart re-derives only what the windows rebuild)."""
        left: list[Transition] = []
        while True:
            try:
                left.append(self._q.get_nowait())
            except queue.Empty:
                break
        with self._lock:
            left += self._overflow.values()
            self._overflow = {}
        for i in range(0, len(left), self.batch):
            self._safe(left[i : i + self.batch])
        if left:
            log.info("alert intake drained at stop transitions=%d", len(left))

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                first = self._q.get(timeout=0.1)
            except queue.Empty:
                with self._lock:
                    pending, self._overflow = list(self._overflow.values()), {}
                    if not pending:
                        self._idle.set()
                for i in range(0, len(pending), self.batch):
                    self._safe(pending[i : i + self.batch])
                continue
            batch = [first]
            while len(batch) < self.batch:
                try:
                    batch.append(self._q.get_nowait())
                except queue.Empty:
                    break
            self._safe(batch)

    def _safe(self, batch: list[Transition]) -> None:
        try:
            self._handle(batch)
        except Exception:  # the batch failed as a whole (its transaction rolled back): try one by one
            if len(batch) == 1:
                t = batch[0]
                log.exception("transition failed alert=%s level=%s", t.alert_id, t.to_level.label)
                return
            for t in batch:
                self._safe([t])
