"""Alert and delivery state in SQLite (WAL, fsync on commit): what was sent to whom survives a restart."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from hub.alerts.routing import Planned
from hub.alerts.tables import (
    ALERT_COLS,
    ALERT_FIELDS,
    DELIVERY_COLS,
    INFLIGHT,
    MIGRATIONS,
    PENDING,
    SCHEMA,
    AlertRow,
    Delivery,
    delivery_of,
)


class StateStore:
    """Thread-safe: one connection behind a lock (the dispatcher's threads each touch it briefly)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()  # re-entrant: commit() runs inside batch()
        self._db: sqlite3.Connection | None = None
        self._deferred: list[tuple[str, int | None, str | None, int]] = []
        self._defer_lock = threading.Lock()  # not the store lock: queuing a mark never waits for a commit
        # Silences in memory (loaded once, appended by add_silence): a storm asks for each transition,
        # and this store is the only writer of its file.
        self._silences: list[tuple[str, str, float]] | None = None
        self._in_batch = False  # inside batch(): a failure rolls the whole batch back, no savepoint needed

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)  # phone numbers inside: owner only
        os.close(fd)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # a 'sent' mark must survive a power cut
        db.executescript(SCHEMA)
        # CREATE TABLE IF NOT EXISTS leaves a table from an older release as it was: add the new columns.
        for table, column, definition in MIGRATIONS:
            if column not in {r[1] for r in db.execute(f"PRAGMA table_info({table})")}:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        self._db = db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _q(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self._db is None:
            raise RuntimeError(f"state store {self.path} is not open")
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction (one fsync) around several commit() calls: an alert storm costs one disk sync."""
        if self._db is None:
            raise RuntimeError(f"state store {self.path} is not open")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._in_batch = True
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            finally:
                self._in_batch = False
            self._db.execute("COMMIT")

    # ---- alerts and notices ------------------------------------------------------------------
    def alert(self, alert_id: str) -> AlertRow | None:
        rows = self._q(f"SELECT {ALERT_COLS} FROM alert WHERE alert_id=?", (alert_id,))
        return AlertRow(*rows[0]) if rows else None

    def site_level(self, site: str, but: str) -> int:
        """The highest level standing at a site over its active alerts other than `but` (0 if none)."""
        rows = self._q("SELECT max(level) FROM alert WHERE site=? AND active=1 AND alert_id!=?", (site, but))
        return int(rows[0][0] or 0)

    def active_alerts(self) -> list[AlertRow]:
        return [AlertRow(*r) for r in self._q(f"SELECT {ALERT_COLS} FROM alert WHERE active=1")]

    def put_alert(self, a: AlertRow) -> None:
        vals = tuple(getattr(a, c) for c in ALERT_FIELDS)
        self._q(f"INSERT OR REPLACE INTO alert ({ALERT_COLS}) VALUES ({','.join('?' * len(vals))})", vals)

    def commit(self, alert: AlertRow | None, notice: tuple[str, str, str, int, float] | None,
               deliveries: Sequence[tuple[str, str, str, int, str, Planned, str | None]],
               now: float) -> list[Delivery] | None:  # fmt: skip
        """Store an alert's new state, the notice and its deliveries in ONE transaction.

        notice is (episode, key, kind, level, at); None when there is nothing new to tell. Returns the
        newly inserted deliveries, or None when the notice was already recorded (a duplicate).
        Deliveries are (episode, notice key, alert id, level, site, planned, failed-over-from).
        """
        if self._db is None:
            raise RuntimeError(f"state store {self.path} is not open")
        new: list[Delivery] = []
        with self._lock:
            db = self._db
            # A transaction of its own; inside batch() the batch's transaction is enough: any failure
            # rolls the whole batch back and the intake retries its transitions one by one.
            own = not self._in_batch
            if own:
                db.execute("SAVEPOINT notice")
            try:
                if notice is not None:
                    cur = db.execute("INSERT OR IGNORE INTO notice VALUES (?,?,?,?,?)", notice)
                    if cur.rowcount != 1:  # a duplicate: nothing was written
                        if own:
                            db.execute("RELEASE notice")
                        return None
                if alert is not None:
                    vals = tuple(getattr(alert, c) for c in ALERT_FIELDS)
                    db.execute(
                        f"INSERT OR REPLACE INTO alert ({ALERT_COLS}) VALUES ({','.join('?' * len(vals))})",
                        vals,
                    )
                for episode, key, alert_id, level, site, p, via in deliveries:
                    cur = db.execute(
                        "INSERT OR IGNORE INTO delivery (episode, notice, alert_id, channel, recipient_id,"
                        " address, audience, level, site, text, extra, rank, status, created, via)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (episode, key, alert_id, p.channel, p.recipient_id, p.address, p.audience,
                         level, site, p.text, json.dumps(p.extra, ensure_ascii=False),
                         json.dumps(list(p.rank)), PENDING, now, via),
                    )  # fmt: skip
                    if cur.rowcount == 1 and cur.lastrowid is not None:
                        new.append(Delivery(cur.lastrowid, episode, key, alert_id, p.channel, p.recipient_id,
                                            p.address, p.audience, level, site, p.text, p.extra, p.rank,
                                            PENDING, 0, via))  # fmt: skip
                if own:
                    db.execute("RELEASE notice")
            except BaseException:
                if own:
                    db.execute("ROLLBACK TO notice")
                    db.execute("RELEASE notice")
                raise
        return new

    def delivery(self, did: int) -> Delivery | None:
        rows = self._q(f"SELECT {DELIVERY_COLS} FROM delivery WHERE id=?", (did,))
        return delivery_of(rows[0]) if rows else None

    def unfinished(self) -> list[Delivery]:
        """Pending and in-flight deliveries, oldest first: what a restart must still send."""
        rows = self._q(
            f"SELECT {DELIVERY_COLS} FROM delivery WHERE status IN (?,?) ORDER BY id", (PENDING, INFLIGHT)
        )
        return [delivery_of(r) for r in rows]

    def mark(self, did: int, status: str, *, attempts: int | None = None, receipt: str | None = None,
             error: str | None = None) -> None:  # fmt: skip
        self._q(
            "UPDATE delivery SET status=?, attempts=COALESCE(?, attempts), receipt=COALESCE(?, receipt),"
            " error=COALESCE(?, error) WHERE id=?",
            (status, attempts, receipt, error, did),
        )

    def mark_later(
        self, did: int, status: str, attempts: int | None = None, receipt: str | None = None
    ) -> None:
        """Queue a mark for flush_marks(): for idempotent record channels, where a lost mark means a
        harmless resend after a crash and a disk sync per message would throttle an alert storm."""
        with self._defer_lock:
            self._deferred.append((status, attempts, receipt, did))

    def flush_marks(self) -> int:
        with self._lock:  # store lock first, so marks land in the order they were queued
            with self._defer_lock:
                todo, self._deferred = self._deferred, []
            if todo and self._db is not None:
                try:
                    with self.batch():
                        self._db.executemany(
                            "UPDATE delivery SET status=?, attempts=COALESCE(?, attempts),"
                            " receipt=COALESCE(?, receipt) WHERE id=?",
                            todo,
                        )
                except sqlite3.Error:
                    with self._defer_lock:
                        self._deferred = todo + self._deferred  # keep them for the next flush
                    raise
        return len(todo)

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for chan, status, n in self._q("SELECT channel, status, count(*) FROM delivery GROUP BY 1, 2"):
            out.setdefault(chan, {})[status] = n
        return out

    def told(self, episode: str) -> set[str]:
        """Recipients (people, speaker zones, teams) with any delivery in this episode, whatever its state."""
        return {
            r for (r,) in self._q("SELECT DISTINCT recipient_id FROM delivery WHERE episode=?", (episode,))
        }

    def recent_alert_for(self, recipient_id: str) -> str | None:
        """The alert most recently sent to this person that is still active (what a bare "1" acknowledges)."""
        rows = self._q(
            "SELECT d.alert_id FROM delivery d JOIN alert a ON a.alert_id=d.alert_id AND a.episode=d.episode"
            " WHERE d.recipient_id=? AND a.active=1 ORDER BY a.level DESC, d.id DESC LIMIT 1",
            (recipient_id,),
        )
        return str(rows[0][0]) if rows else None

    # ---- evacuation and silences -------------------------------------------------------------
    def put_evacuation(self, episode: str, grid: str, alert_id: str, done: int, total: int, who: str,
                       at: float) -> None:  # fmt: skip
        self._q(
            "INSERT OR REPLACE INTO evacuation VALUES (?,?,?,?,?,?,?)",
            (episode, grid, alert_id, done, total, who, at),
        )

    def evacuation(self, episode: str) -> dict[str, tuple[int, int]]:
        rows = self._q("SELECT grid, evacuated, total FROM evacuation WHERE episode=?", (episode,))
        return {g: (d, t) for g, d, t in rows}

    def add_silence(self, site: str, rule: str, until: float, who: str) -> None:
        with self._lock:
            self._q("INSERT INTO silence (site, rule, until, who) VALUES (?,?,?,?)", (site, rule, until, who))
            if self._silences is not None:
                self._silences.append((site, rule, until))

    def silenced(self, site: str, rule: str, now: float) -> bool:
        with self._lock:
            if self._silences is None:
                self._silences = [
                    (s, r, float(u)) for s, r, u in self._q("SELECT site, rule, until FROM silence")
                ]
            return any(u > now and s in (site, "*") and r in (rule, "*") for s, r, u in self._silences)
