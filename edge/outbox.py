"""Durable store-and-forward queue (SQLite WAL, fsync'd): add with gateway seq, take a batch, ack, count."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from edge.clock import Frame, restamped
from edge.wire import Reading

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: never reused, even after every row is acked
    sensor TEXT NOT NULL,
    quantity TEXT NOT NULL,
    value REAL NOT NULL,
    time REAL NOT NULL,
    quality TEXT NOT NULL,
    source TEXT NOT NULL,
    issued REAL,
    routine INTEGER NOT NULL,  -- 1: may be dropped when full; 0: an event (local alarm) kept until acked
    boot TEXT,  -- the gateway clock's frame when it stamped the reading (edge.clock.Frame); NULL when
    clock_off REAL  -- another clock did (an RTU's, a GNSS receiver's)
);
CREATE INDEX IF NOT EXISTS readings_by_series ON readings (sensor, quantity, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('dropped', 0);
-- This file's sequence numbers, as the hub tells them apart: a new outbox starts again from 1.
INSERT OR IGNORE INTO meta (key, value) VALUES ('stream', (random() & 9223372036854775807) | 1);
"""
_COLUMNS = "seq, sensor, quantity, value, time, quality, source, issued, boot, clock_off"


class OutboxError(RuntimeError):
    """The outbox file cannot be opened, read or written (disk full, bad path, corrupt database)."""


def _row_to_reading(row: tuple[object, ...], now: Frame | None) -> Reading:
    seq, sensor, quantity, value, time, quality, source, issued, boot, clock_off = row
    t, q = float(time), str(quality)  # type: ignore[arg-type]
    if now is not None and boot is not None:
        t, q = restamped(t, q, Frame(str(boot), float(clock_off)), now)  # type: ignore[arg-type]
    return Reading(
        str(sensor),
        str(quantity),
        float(value),  # type: ignore[arg-type]
        t,
        int(seq),  # type: ignore[call-overload]
        q,
        str(source),
        None if issued is None else float(issued),  # type: ignore[arg-type]
    )


class Outbox:
    """A bounded, durable queue of readings waiting for the broker's PUBACK.

    Transactional like Telegraf's buffer: `take_batch` hands readings out and remembers them as in
    flight; `ack` deletes them for good; `release` puts in-flight readings back (link lost). Every
    `add` is committed with synchronous=FULL, so it is on disk when `add` returns, and survives a
    power cut. Thread-safe: sensors add from their own threads while the publisher takes and acks.
    """

    def __init__(self, path: Path | str, max_readings: int = 1_000_000) -> None:
        if max_readings < 1:
            raise ValueError("outbox max_readings must be at least 1")
        self.path = Path(path)
        self.max_readings = max_readings
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._in_flight: set[int] = set()
        self._cursor = 0  # highest seq handed out in backlog (seq) order since the last release
        self._dropped_by_sensor: Counter[str] = Counter()
        self._full = False
        self._db = self._open()
        self._count = int(self._db.execute("SELECT COUNT(*) FROM readings").fetchone()[0])
        self._dropped = int(self._db.execute("SELECT value FROM meta WHERE key='dropped'").fetchone()[0])
        # Random, made with the file: batches carry it (wire.Batch.stream) so that the hub knows a new
        # outbox's sequence numbers from the old one's.
        self.stream = int(self._db.execute("SELECT value FROM meta WHERE key='stream'").fetchone()[0])

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: fsync the WAL on every commit, so an accepted reading survives a power cut.
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            have = {str(r[1]) for r in db.execute("PRAGMA table_info(readings)")}
            for col, kind in (("boot", "TEXT"), ("clock_off", "REAL")):
                if col not in have:  # an outbox written before clock frames were kept (NULL: left as is)
                    db.execute(f"ALTER TABLE readings ADD COLUMN {col} {kind}")
        except (OSError, sqlite3.Error) as exc:
            raise OutboxError(f"outbox {self.path}: cannot open: {exc}") from exc
        return db

    # ---- writing -----------------------------------------------------------------------------

    def add(
        self,
        readings: Sequence[Reading],
        routine: bool = True,
        frames: Sequence[Frame | None] | None = None,
    ) -> list[Reading]:
        """Store readings durably; return them with their gateway seq assigned (strictly increasing).

        `frames` (one per reading): the gateway clock's frame for readings it stamped, so that
        `take_batch` can move them if the clock is set before they are sent (edge.clock.restamped).
        When the outbox is over its bound, the oldest routine readings are dropped, never the newest
        reading of a sensor's quantity and never a non-routine (event) reading.
        """
        if not readings:
            return []
        fr = list(frames) if frames is not None else [None] * len(readings)
        rows = [
            (r.sensor, r.quantity, r.value, r.time, r.quality, r.source, r.issued, int(routine),
             f.boot if f else None, f.offset if f else None)
            for r, f in zip(readings, fr, strict=True)
        ]  # fmt: skip
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                seqs: list[int] = []
                for row in rows:
                    cur = self._db.execute(
                        "INSERT INTO readings (sensor, quantity, value, time, quality, source, issued,"
                        " routine, boot, clock_off) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        row,
                    )
                    seqs.append(int(cur.lastrowid or 0))
                excess = self._count + len(rows) - self.max_readings
                dropped = self._drop_oldest(excess) if excess > 0 else []
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise OutboxError(f"outbox {self.path}: cannot store {len(rows)} readings: {exc}") from exc
            self._count += len(rows) - len(dropped)
            if dropped:
                self._dropped += len(dropped)
                self._dropped_by_sensor.update(dropped)
                log.warning(
                    "outbox full dropped=%d total_dropped=%d max=%d",
                    len(dropped),
                    self._dropped,
                    self.max_readings,
                )
            self._ready.notify_all()
        return [r._replace(seq=s) for r, s in zip(readings, seqs, strict=True)]

    def _drop_oldest(self, n: int) -> list[str]:
        """Delete up to n oldest routine rows that are not the newest of their series (in a transaction)."""
        cur = self._db.execute(
            "DELETE FROM readings WHERE seq IN ("
            " SELECT r.seq FROM readings r WHERE r.routine = 1 AND r.seq < ("
            "  SELECT MAX(n.seq) FROM readings n WHERE n.sensor = r.sensor AND n.quantity = r.quantity)"
            " ORDER BY r.seq LIMIT ?) RETURNING seq, sensor",
            (n,),
        )
        rows = cur.fetchall()
        if rows:
            self._db.execute("UPDATE meta SET value = value + ? WHERE key = 'dropped'", (len(rows),))
            self._in_flight.difference_update(int(r[0]) for r in rows)
        elif n > 0:
            log.warning(
                "outbox over bound and nothing droppable count=%d max=%d", self._count, self.max_readings
            )
        return [str(r[1]) for r in rows]

    def _rollback(self) -> None:
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # no transaction open: nothing to undo

    # ---- reading -----------------------------------------------------------------------------

    def take_batch(self, n: int, fresh_first: bool = False, frame: Frame | None = None) -> list[Reading]:
        """Hand out up to n readings not yet in flight and mark them in flight.

        Backlog order is seq order (the order the gateway accepted them, i.e. time order). With
        `fresh_first`, the newest reading of each sensor quantity comes out instead, newest first.
        With `frame` (the gateway clock's now), readings stamped before a step of that clock are moved
        by the step (edge.clock.restamped).
        """
        with self._lock:
            cursor = self._cursor
            try:
                if fresh_first:
                    rows = self._db.execute(
                        f"SELECT {_COLUMNS} FROM readings WHERE seq IN ("
                        " SELECT MAX(seq) FROM readings GROUP BY sensor, quantity) ORDER BY seq DESC"
                    ).fetchall()
                    rows = [r for r in rows if r[0] not in self._in_flight][:n]
                else:
                    rows = []
                    while len(rows) < n:
                        chunk = self._db.execute(
                            f"SELECT {_COLUMNS} FROM readings WHERE seq > ? ORDER BY seq LIMIT ?",
                            (cursor, n - len(rows)),
                        ).fetchall()
                        if not chunk:
                            break
                        cursor = int(chunk[-1][0])  # type: ignore[call-overload]
                        rows += [r for r in chunk if r[0] not in self._in_flight]
            except sqlite3.Error as exc:
                # Nothing is handed out (the cursor stays), so the next try takes the same readings.
                raise OutboxError(f"outbox {self.path}: cannot read: {exc}") from exc
            self._cursor = cursor
            self._in_flight.update(int(r[0]) for r in rows)  # type: ignore[call-overload]
        return [_row_to_reading(r, frame) for r in rows]

    def wait(self, timeout: float) -> bool:
        """Block until readings not yet in flight may be waiting (or timeout); True if there may be."""
        with self._lock:
            if self._count > len(self._in_flight):
                return True
            return self._ready.wait(timeout)

    def ack(self, seqs: Iterable[int]) -> int:
        """The broker has the readings: delete them. Returns how many were still stored."""
        ids = list(seqs)
        if not ids:
            return 0
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                deleted = 0
                for i in range(0, len(ids), 500):  # keep under SQLite's bound-parameter limit
                    part = ids[i : i + 500]
                    marks = ",".join("?" * len(part))
                    deleted += self._db.execute(f"DELETE FROM readings WHERE seq IN ({marks})", part).rowcount
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise OutboxError(f"outbox {self.path}: cannot ack: {exc}") from exc
            self._count -= deleted
            self._in_flight.difference_update(ids)
            if self._full and self._count < 0.9 * self.max_readings:
                self._full = False
                log.info("outbox below bound again count=%d total_dropped=%d", self._count, self._dropped)
        return deleted

    def release(self, seqs: Iterable[int] | None = None) -> None:
        """Put in-flight readings back (all of them when seqs is None): they will be taken again."""
        with self._lock:
            if seqs is None:
                self._in_flight.clear()
                self._cursor = 0
            else:
                ids = set(seqs)
                self._in_flight -= ids
                if ids:
                    self._cursor = min(self._cursor, min(ids) - 1)
            self._ready.notify_all()

    def count(self) -> int:
        """Readings stored and not yet acked (in flight included)."""
        with self._lock:
            return self._count

    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    @property
    def dropped(self) -> int:
        """Readings dropped because the outbox was full, over the outbox's whole life."""
        with self._lock:
            return self._dropped

    def dropped_by_sensor(self) -> dict[str, int]:
        """Drops per sensor since this process opened the outbox."""
        with self._lock:
            return dict(self._dropped_by_sensor)

    def last_seq(self) -> int:
        """The highest seq ever assigned (0 when none), persisted across restarts."""
        with self._lock:
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'readings'").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error as exc:
                log.warning("outbox close failed path=%s error=%s", self.path, exc)
