"""Batched InfluxDB writer on its own thread: never blocks ingest, spills to disk while InfluxDB is down."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections import deque
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from hub.influx import InfluxClient, InfluxError, escape_unencodable

log = logging.getLogger(__name__)

WHOLE = re.compile(r" \d{19}$")  # a point ends in its nanosecond time (19 digits from 2001 to 2286)
DROPPED = re.compile(r"partial write: (?!unable to parse).*dropped=(\d+)")  # 1.x names how many it dropped


class StoreConfig(BaseModel):
    """How readings and events are batched into InfluxDB writes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_points: int = Field(5000, ge=1, description="Write when this many points wait")
    flush_interval_s: float = Field(0.2, gt=0, description="...or when the oldest waiting point is this old")
    spill_dir: Path = Field(
        Path("/var/lib/ews/spill"), description="Where points wait while InfluxDB is down"
    )
    max_memory_points: int = Field(200_000, ge=1000, description="Points kept in memory before spilling")
    retry_s: float = Field(2.0, gt=0, description="Seconds between write attempts while InfluxDB is down")
    max_bad_mb: float = Field(100.0, ge=0, description="Disk for points InfluxDB refused (spill_dir/*.bad)")


class Store:
    """put() appends line-protocol lines (cheap, any thread); a writer thread batches them to /write.

    While InfluxDB is unreachable, batches go to numbered spill files (fsync'd) and are replayed in order
    when it answers again, so a long outage loses nothing and does not grow memory without bound (while
    the disk refuses them too, they stay in memory). Counts: `written` points InfluxDB surely took,
    `rejected` writes it refused, `spilled` points, `escaped` lines, `torn` cut lines in spill files."""

    def __init__(self, client: InfluxClient, cfg: StoreConfig) -> None:
        self.client = client
        self.cfg = cfg
        self._pending: deque[str] = deque()
        self._cv = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._down = False
        self._disk_ok = True
        self.written = self.rejected = self.spilled = self.escaped = self.torn = 0

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

    def alive(self) -> bool:
        """The writer thread runs (the hub's watchdog check)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self.cfg.spill_dir.mkdir(parents=True, exist_ok=True)
        for tmp in self.cfg.spill_dir.glob("*.tmp"):  # a power cut mid-spill: those points were only there
            log.warning("spill file cut mid-write file=%s: its whole lines are replayed", tmp)
            tmp.rename(tmp.with_suffix(""))
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
        if rest and not self._spill(rest):
            log.error("store stopped unable to spill: points lost=%d", len(rest))

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
        while not self._stop:
            try:
                self._step()
            except Exception:  # a bug must not kill the writer (its batch was kept); don't spin on it either
                log.exception("store writer failed; retrying in %.1f s", self.cfg.retry_s)
                time.sleep(self.cfg.retry_s)
            finally:
                self._busy = False

    def _step(self) -> None:
        if self._down:
            self._spill_overflow()
            time.sleep(self.cfg.retry_s)
        self._replay_spill()
        batch = self._take()
        if not batch:
            return
        try:
            if changed := escape_unencodable(batch):  # the line names its source (measurement, tags)
                self.escaped += len(changed)
                log.warning(
                    "store escaped lone surrogates n=%d first=%.150a", len(changed), batch[changed[0]]
                )
            if self._down and self.spill_waiting():  # the replay of the oldest file just probed it
                self._write_later(batch)
            else:
                self._write(batch)
        except Exception:
            log.exception("store writer failed points=%d; keeping them in %s", len(batch), self.cfg.spill_dir)
            self.rejected += 1
            if not self._keep_bad(batch):
                log.error("store points lost=%d: neither written nor kept", len(batch))

    def _write(self, batch: list[str]) -> None:
        try:
            self.client.write(batch)
        except InfluxError as exc:
            if exc.recoverable:
                self._unavailable(exc)
                self._write_later(batch)
                return
            self._reject(batch, exc, "live")
        else:
            self.written += len(batch)
        self._answered()

    def _answered(self) -> None:
        if self._down:
            log.info("influx back url=%s", self.client.cfg.url)
        self._down = False

    def _unavailable(self, exc: InfluxError) -> None:
        """InfluxDB did not take a write it may take later: down, database missing, or credentials refused."""
        if not self._down:
            log.warning("influx write failed url=%s error=%s; points wait", self.client.cfg.url, exc)
        self._down = True
        if exc.database_missing:  # a wiped data dir, or influxd was not up when the hub started
            db = self.client.cfg.database
            try:
                self.client.create_database()
                log.warning("influx database %s was missing: created; rerun deploy/influxdb/apply.py", db)
            except InfluxError as err:
                log.warning("influx database %s missing, not created: %s", db, err)

    def _reject(self, lines: list[str], exc: InfluxError, source: str) -> None:
        """HTTP 400. InfluxDB 1.x writes the good points of a batch and drops the bad ones ("partial write:
        ... dropped=N"; one it cannot parse is not in N), so only those counted points are known written."""
        self.rejected += 1
        if m := DROPPED.search(str(exc)):
            self.written += max(0, len(lines) - int(m[1]))
        kept = self._keep_bad(lines)
        log.error("influx rejected points source=%s count=%d kept=%s error=%s", source, len(lines), kept, exc)

    def _write_later(self, batch: list[str]) -> None:
        """Keep a batch InfluxDB did not take: on disk, or back in memory (first in line) if the disk refuses."""
        if not self._spill(batch):
            with self._cv:
                self._pending.extendleft(reversed(batch))

    # -- spill files ---------------------------------------------------------------------------
    def _spill_files(self) -> list[Path]:
        return sorted(self.cfg.spill_dir.glob("*.lp")) if self.cfg.spill_dir.exists() else []

    def _spill(self, batch: list[str], suffix: str = ".lp") -> bool:
        name = self.cfg.spill_dir / f"{time.time_ns():020d}-{threading.get_ident() % 10000:04d}{suffix}"
        if ok := self._to_disk(batch, name):
            self.spilled += len(batch) if suffix == ".lp" else 0
        return ok

    def _to_disk(self, batch: list[str], path: Path) -> bool:
        """Write a file whole or not at all: a temporary name, fsync, rename, fsync the directory. Each line
        ends in a newline, so a line without one was cut. False (logged once) if the disk refuses."""
        d = self.cfg.spill_dir
        tmp = path.with_name(path.name + ".tmp")
        try:
            d.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as f:
                f.writelines(f"{text}\n" for text in batch)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            fd = os.open(d, os.O_RDONLY)  # the rename itself must survive a power cut
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if self._disk_ok:
                log.error("store cannot write to %s: %s; points stay in memory", d, exc)
            self._disk_ok = False
            return False
        if not self._disk_ok:
            log.info("store writes to %s again", d)
        self._disk_ok = True
        return True

    def _keep_bad(self, batch: list[str]) -> bool:
        """Points InfluxDB refused (or a bug choked on) go to a .bad file for forensics, never replayed."""
        used = 0
        with contextlib.suppress(OSError):  # a file the operator removes meanwhile
            used = sum(p.stat().st_size for p in self.cfg.spill_dir.glob("*.bad"))
        if used > self.cfg.max_bad_mb * 1e6:
            log.error("store keeps no more refused points: *.bad in %s exceed max_bad_mb", self.cfg.spill_dir)
            return False
        return self._spill(batch, ".bad")

    def _spill_overflow(self) -> None:
        """Past max_memory_points, what waits in memory goes to disk, and leaves memory once it is there."""
        with self._cv:
            n = len(self._pending)
            if n < self.cfg.max_memory_points:
                return
            batch = list(self._pending)
        if self._spill(batch):  # only this thread takes from the left: these n are still first
            with self._cv:
                for _ in range(min(n, len(self._pending))):
                    self._pending.popleft()

    def _read_spill(self, path: Path) -> list[str]:
        """A spill file's lines. A power cut mid-write (a .tmp, or a file of an older hub) may have cut
        the last line, even inside a character: skip it, since a point cut in its time lands elsewhere."""
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            log.warning("spill file not UTF-8 file=%s at_byte=%d: replaced with U+FFFD", path, exc.start)
            text = data.decode("utf-8", errors="replace")
        lines = [ln for ln in text.split("\n") if ln]  # not splitlines(): \x1c and \u2028 are data
        if lines and not data.endswith(b"\n") and not WHOLE.search(lines[-1]):
            self.torn += 1
            log.warning("spill file cut line skipped file=%s line=%d %.120a", path, len(lines), lines.pop())
        return lines

    def _replay_spill(self) -> None:
        for path in self._spill_files():
            self._busy = True
            lines = self._read_spill(path)
            if lines and not self._write_spilled(lines, path):  # (an empty file proves nothing of influx)
                return
            path.unlink()

    def _write_spilled(self, lines: list[str], path: Path) -> bool:
        """Write a spill file's lines in chunks; a refused chunk is kept as a live one is, and the rest go on.
        If InfluxDB goes away midway, the file keeps only the lines not yet written."""
        for i in range(0, len(lines), self.cfg.batch_points):
            chunk = lines[i : i + self.cfg.batch_points]
            try:
                self.client.write(chunk)
            except InfluxError as exc:
                if not exc.recoverable:
                    self._reject(chunk, exc, path.name)
                    continue
                self._unavailable(exc)
                if i:
                    self._to_disk(lines[i:], path)
                return False
            self.written += len(chunk)
        self._answered()
        return True
