"""The alert state's SQLite schema and the rows it keeps: alerts (AlertRow) and deliveries (Delivery)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS alert (
  alert_id TEXT PRIMARY KEY, site TEXT NOT NULL, rule TEXT NOT NULL, episode TEXT NOT NULL,
  started REAL NOT NULL, level INTEGER NOT NULL, max_level INTEGER NOT NULL, state INTEGER NOT NULL,
  level_since REAL NOT NULL, last_at REAL NOT NULL, kind TEXT NOT NULL,
  acked_by TEXT, acked_at REAL, escalated_level INTEGER NOT NULL DEFAULT 0, active INTEGER NOT NULL,
  acked_level INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS notice (
  episode TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL, level INTEGER NOT NULL, at REAL NOT NULL,
  PRIMARY KEY (episode, key)
);
CREATE TABLE IF NOT EXISTS delivery (
  id INTEGER PRIMARY KEY, episode TEXT NOT NULL, notice TEXT NOT NULL, alert_id TEXT NOT NULL,
  channel TEXT NOT NULL, recipient_id TEXT NOT NULL, address TEXT NOT NULL, audience TEXT NOT NULL,
  level INTEGER NOT NULL, site TEXT NOT NULL, text TEXT NOT NULL, extra TEXT NOT NULL, rank TEXT NOT NULL,
  status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, receipt TEXT, error TEXT, via TEXT,
  created REAL NOT NULL,
  UNIQUE (episode, notice, recipient_id, channel)
);
CREATE INDEX IF NOT EXISTS delivery_status ON delivery (status, channel);
CREATE INDEX IF NOT EXISTS alert_site ON alert (site, active);
CREATE INDEX IF NOT EXISTS delivery_recipient ON delivery (recipient_id, created);
CREATE TABLE IF NOT EXISTS evacuation (
  episode TEXT NOT NULL, grid TEXT NOT NULL, alert_id TEXT NOT NULL, evacuated INTEGER NOT NULL,
  total INTEGER NOT NULL, who TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (episode, grid)
);
CREATE TABLE IF NOT EXISTS silence (
  id INTEGER PRIMARY KEY, site TEXT NOT NULL, rule TEXT NOT NULL, until REAL NOT NULL, who TEXT NOT NULL
);
"""

PENDING, INFLIGHT, SENT, FAILED = "pending", "inflight", "sent", "failed"


@dataclass(frozen=True, slots=True)
class AlertRow:
    """The standing state of one alert (site/rule) and its current episode."""

    alert_id: str
    site: str
    rule: str
    episode: str
    started: float
    level: int
    max_level: int
    state: int
    level_since: float  # event time the current level was reached (escalation timer)
    last_at: float
    kind: str  # alert, maintenance or test
    acked_by: str | None = None
    acked_at: float | None = None
    escalated_level: int = 0
    active: int = 1
    # The highest level acknowledged in this episode: it covers every level below it, so a step down
    # (red to orange) asks no one again and starts no escalation clock.
    acked_level: int = 0


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    episode: str
    notice: str
    alert_id: str
    channel: str
    recipient_id: str
    address: str
    audience: str
    level: int
    site: str
    text: str
    extra: dict[str, str]
    rank: tuple[int, float, str]
    status: str
    attempts: int
    via: str | None


ALERT_FIELDS = list(AlertRow.__dataclass_fields__)
ALERT_COLS = ", ".join(ALERT_FIELDS)
# Columns added since the first release, for state files written before them: (table, column, definition).
MIGRATIONS = [("alert", "acked_level", "INTEGER NOT NULL DEFAULT 0")]
DELIVERY_COLS = (
    "id, episode, notice, alert_id, channel, recipient_id, address, audience, level, site, text, extra,"
    " rank, status, attempts, via"
)


def delivery_of(r: tuple[Any, ...]) -> Delivery:
    rank = json.loads(r[12])
    did, episode, notice, alert_id, channel, rid, address, audience, level, site, text = r[:11]
    return Delivery(
        did, episode, notice, alert_id, channel, rid, address, audience, level, site, text,
        json.loads(r[11]), (int(rank[0]), float(rank[1]), str(rank[2])), r[13], r[14], r[15],
    )  # fmt: skip
