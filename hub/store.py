"""Batched InfluxDB writer on its own thread: never blocks ingest, spills to disk while InfluxDB is down."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from hub.influx import InfluxClient, InfluxError

log = logging.getLogger(__name__)


class StoreConfig(BaseModel):
    """How readings and events are batched into InfluxDB writes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_points: int = Field(5000, ge=1, description="Write when this many points wait")
    flush_interval_s: float = Field(0.2, gt=0, description="...or when the oldest waiting point is this old")
    spill_dir: Path = Field(
        Path("/var/lib/ews/spill"), description="Where points wait on disk while InfluxDB is down"
    )
    max_memory_points: int = Field(
        200_000, ge=1000, description="Points kept in memory before spilling to disk"
    )
    retry_s: float = Field(2.0, gt=0, description="Seconds between write attempts while InfluxDB is down")


class Store:
    """put() appends line-protocol lines (cheap, any thread); a writer thread batches them to /write.

    While InfluxDB is unreachable, batches go to numbered spill files (fsync'd) and are replayed in order
    when it answers again, so a long outage loses nothing and does not grow memory without bound.
    """

    def __init__(self, client: InfluxClient, cfg: StoreConfig) -> None:
        self.client = client
        self.cfg = cfg
        self._pending: deque[str] = deque()
        self._cv = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._down = False
        self.written = 0
        self.rejected = 0
        self.spilled = 0

    # -- any thread ------------------------------------------------------------------------------
    def put(self, lines: list[str]) -> None:
        with self._cv:
            self._pending.extend(lines)
            if len(self._pending) >= self.cfg.batch_points:
                self._cv.notify()

    def backlog(self) -> int:
        with self._cv:
            pending = len(self._pending)
        return pending + sum(1 for _ in self._spill_files())

    def spill_waiting(self) -> bool:
        """Spilled points (written while InfluxDB was down) are not yet in InfluxDB."""
        return any(True for _ in self._spill_files())

    def start(self) -> None:
        self.cfg.spill_dir.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Flush what is waiting (to InfluxDB, or to disk if it is down) and stop."""
        with self._cv:
            self._stop = True
            self._cv.notify()
        if self._thread:
            self._thread.join(timeout)
        with self._cv:
            rest = list(self._pending)
            self._pending.clear()
        if rest:
            self._spill(rest)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything put so far is written (tests, demo, shutdown). False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cv:
                self._cv.notify()
                empty = not self._pending
            if empty and not self.spill_waiting() and not self._busy:
                return True
            time.sleep(0.02)
        return False

    # -- writer thread ---------------------------------------------------------------------------
    _busy = False

    def _take(self) -> list[str]:
        with self._cv:
            if not self._pending and not self._stop:
                self._cv.wait(self.cfg.flush_interval_s)
            n = min(len(self._pending), self.cfg.batch_points)
            batch = [self._pending.popleft() for _ in range(n)]
            self._busy = bool(batch)
            return batch

    def _run(self) -> None:
        while True:
            if self._stop:
                return
            if self._down:
                self._spill_overflow()
                time.sleep(self.cfg.retry_s)
            self._replay_spill()
            batch = self._take()
            if batch:
                try:
                    if self._down:
                        self._spill(batch)
                    else:
                        self._write(batch)
                except Exception:  # a bug must not kill the writer; keep the points for forensics
                    log.exception(
                        "store writer failed points=%d; kept in %s/*.bad", len(batch), self.cfg.spill_dir
                    )
                    self._keep_bad(batch)
                finally:
                    self._busy = False

    def _write(self, batch: list[str]) -> bool:
        try:
            self.client.write(batch)
        except InfluxError as exc:
            if exc.recoverable:
                if not self._down:
                    log.warning(
                        "influx down url=%s error=%s; spilling to %s",
                        self.client.cfg.url,
                        exc,
                        self.cfg.spill_dir,
                    )
                self._down = True
                self._spill(batch)
                return False
            # 400: InfluxDB 1.x writes the valid points of a batch and names the bad one ("partial write").
            self.rejected += 1
            log.error("influx rejected points count=%d error=%s", len(batch), exc)
            return True
        if self._down:
            log.info("influx back url=%s", self.client.cfg.url)
        self._down = False
        self.written += len(batch)
        return True

    # -- spill files ---------------------------------------------------------------------------
    def _spill_files(self) -> list[Path]:
        if not self.cfg.spill_dir.exists():
            return []
        return sorted(self.cfg.spill_dir.glob("*.lp"))

    def _spill(self, batch: list[str]) -> None:
        self.cfg.spill_dir.mkdir(parents=True, exist_ok=True)
        name = self.cfg.spill_dir / f"{time.time_ns():020d}-{threading.get_ident() % 10000:04d}.lp"
        with open(name, "w", encoding="utf-8") as f:
            f.write("\n".join(batch))
            f.flush()
            os.fsync(f.fileno())
        self.spilled += len(batch)

    def _keep_bad(self, batch: list[str]) -> None:
        self.rejected += 1
        with contextlib.suppress(OSError):
            path = self.cfg.spill_dir / f"{time.time_ns():020d}.bad"
            path.write_text("\n".join(map(str, batch)), encoding="utf-8")

    def _spill_overflow(self) -> None:
        with self._cv:
            if len(self._pending) < self.cfg.max_memory_points:
                return
            batch = list(self._pending)
            self._pending.clear()
        self._spill(batch)

    def _replay_spill(self) -> None:
        for path in self._spill_files():
            lines = path.read_text(encoding="utf-8").splitlines()
            self._busy = True
            ok = self._write_spilled(lines)
            self._busy = False
            if not ok:
                return
            path.unlink()

    def _write_spilled(self, lines: list[str]) -> bool:
        try:
            for i in range(0, len(lines), self.cfg.batch_points):
                self.client.write(lines[i : i + self.cfg.batch_points])
        except InfluxError as exc:
            if exc.recoverable:
                self._down = True
                return False
            self.rejected += 1
            log.error("influx rejected spilled points error=%s", exc)
        self._down = False
        self.written += len(lines)
        return True
