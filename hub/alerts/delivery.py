"""The book of deliveries in flight: offer to channel workers, hand out for sending, record results, fail over."""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import replace

from hub.alerts.directory import mask_address
from hub.alerts.routing import Planned
from hub.alerts.rows import RowSink, Stamper, delivery_row
from hub.alerts.state import StateStore
from hub.alerts.tables import FAILED, INFLIGHT, PENDING, SENT, Delivery
from hub.alerts.worker import ChannelWorker, Priority
from hub.channels.base import Notification
from hub.rules.model import Level

log = logging.getLogger(__name__)


_NUMBER = re.compile(r"\+?\d[\d -]{5,17}\d")


def scrub(text: str) -> str:
    """Mask phone numbers a gateway may echo in an error, before it reaches a log or the state file."""
    return _NUMBER.sub(lambda mt: mask_address(mt.group(0)), text)


def delivery_key(d: Delivery) -> str:
    """Stable id of one delivery, sent along as an idempotency key (Aliyun OutId, webhook header)."""
    raw = f"{d.episode}|{d.notice}|{d.recipient_id}|{d.channel}"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


class DeliveryBook:
    """Keeps queued deliveries in memory (no SQLite read per send) and their outcome in SQLite and rows."""

    def __init__(self, state: StateStore, rows: RowSink, types: Mapping[str, str],
                 failover_to: Mapping[str, str]) -> None:  # fmt: skip
        self.state = state
        self.rows = rows
        self.types = dict(types)
        self.failover_to = dict(failover_to)
        self.workers: dict[str, ChannelWorker] = {}  # set by the dispatcher once the workers exist
        self._live: dict[int, Delivery] = {}
        self._mem = threading.Lock()
        self.per_channel: dict[str, dict[str, int]] = {n: {} for n in types}

    def priority(self, d: Delivery) -> Priority:
        if self.workers[d.channel].ordered:
            return (0, 0, 0.0, "", d.id)  # record channels: strictly in the order things happened
        # People: most severe first, then the plan's order: officers, grid workers, villagers nearest first.
        return (-d.level, d.rank[0], d.rank[1], d.rank[2], d.id)

    def offer(self, d: Delivery) -> None:
        if d.channel not in self.workers:
            # Left over from before a config change: say so loudly, try the failover chain, never crash.
            log.error("delivery for a channel no longer configured channel=%s alert=%s to=%s",
                      d.channel, d.alert_id, mask_address(d.address))  # fmt: skip
            self.state.mark(d.id, FAILED, error=f"channel {d.channel} not configured")
            self.failover(d)
            return
        with self._mem:
            self._live[d.id] = d  # in memory while queued: no SQLite read per send
        self.workers[d.channel].offer(self.priority(d), d.id)

    def pending_for(self, channel: str) -> list[tuple[Priority, int]]:
        self.state.flush_marks()
        out = []
        for d in self.state.unfinished():
            if d.channel == channel:
                with self._mem:
                    self._live.setdefault(d.id, d)
                out.append((self.priority(d), d.id))
        return out

    def get(self, did: int) -> Delivery | None:
        with self._mem:
            d = self._live.get(did)
        return d if d is not None else self.state.delivery(did)

    def fetch(self, did: int) -> tuple[Notification, int] | None:
        d = self.get(did)
        if d is None or d.status not in (PENDING, INFLIGHT):
            return None
        if not self.workers[d.channel].ordered:
            # People: mark it, so a restart knows this one may have left (record channels are idempotent).
            # The mark only informs a restart: a failing disk must not hold the warning back.
            try:
                self.state.mark(did, INFLIGHT)
            except sqlite3.Error as exc:
                log.error(
                    "delivery not marked in flight channel=%s delivery=%d error=%s", d.channel, did, exc
                )
        extra = {
            **d.extra,
            "delivery_id": delivery_key(d),
            "audience": d.audience,
            "recipient_id": d.recipient_id,
        }
        n = Notification(d.alert_id, d.address, d.text, Level(d.level).label, d.site, extra)
        return n, d.attempts

    def report(self, did: int, result: str, detail: str, attempts: int) -> None:
        d = self.get(did)
        if d is None:
            return
        who = mask_address(d.address)
        detail = scrub(detail)
        at = float(d.extra.get("at") or 0.0)
        if result == "sent":
            if self.workers[d.channel].ordered:  # idempotent record channel: group-commit the mark
                self.state.mark_later(did, SENT, attempts, detail[:200])
            else:
                self.state.mark(did, SENT, attempts=attempts, receipt=detail[:200])
            log.info(
                "delivered channel=%s alert=%s to=%s receipt=%s", d.channel, d.alert_id, who, detail[:60]
            )
        elif result == "retry":
            self.state.mark(did, PENDING, attempts=attempts, error=detail[:300])
            log.warning("delivery retry channel=%s alert=%s to=%s attempt=%d error=%s",
                        d.channel, d.alert_id, who, attempts, detail)  # fmt: skip
        else:
            self.state.mark(did, FAILED, attempts=attempts, error=detail[:300])
            log.error(
                "delivery failed channel=%s alert=%s to=%s error=%s", d.channel, d.alert_id, who, detail
            )
        with self._mem:
            if result == "retry":
                self._live[did] = replace(d, attempts=attempts)
            else:
                self._live.pop(did, None)
            per = self.per_channel.setdefault(d.channel, {})
            key = {"sent": "sent", "retry": "retried"}.get(result, "failed")
            per[key] = per.get(key, 0) + 1
        if result == "failed":
            self.failover(d)
        self.row(d.channel, {"sent": "sent", "retry": "retry"}.get(result, "failed"), d.audience, d.site,
                  d.level, d.alert_id, who, Stamper.for_delivery(at, did, attempts))  # fmt: skip

    def failover(self, d: Delivery) -> None:
        nxt = self.failover_to.get(d.channel)
        if not nxt:
            return
        p = Planned(nxt, d.recipient_id, d.address, d.audience, d.text, d.rank, d.extra)
        new = self.state.commit(None, None, [(d.episode, d.notice, d.alert_id, d.level, d.site, p, d.channel)],
                                float(d.extra.get("at") or 0.0))  # fmt: skip
        for nd in new or []:
            log.warning("delivery failover from=%s to=%s alert=%s", d.channel, nxt, d.alert_id)
            self.offer(nd)

    def row(self, channel: str, state: str, audience: str, site: str, level: int, alert_id: str,
             who: str, at: float) -> None:  # fmt: skip
        kind = self.types.get(channel, channel)
        self.rows.put(delivery_row(kind, state, audience, site, level, alert_id, who, at))
