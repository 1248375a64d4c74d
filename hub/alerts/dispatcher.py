"""The dispatcher shell: transitions in (never blocking), routed deliveries out through one worker per channel."""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from hub.alerts import episodes
from hub.alerts import messages as m
from hub.alerts.directory import Directory, Role, mask_phone
from hub.alerts.replies import parse_reply
from hub.alerts.responder import Responder
from hub.alerts.routing import Planned, eta_s, plan
from hub.alerts.rows import RowSink, Stamper, alert_row, delivery_row, escalation_row
from hub.alerts.settings import DispatchSettings
from hub.alerts.state import FAILED, INFLIGHT, PENDING, SENT, AlertRow, Delivery, StateStore
from hub.alerts.worker import Channel, ChannelWorker, Priority, RetryPolicy
from hub.channels.base import Notification
from hub.rules.model import Level, Transition

log = logging.getLogger(__name__)


def delivery_key(d: Delivery) -> str:
    """Stable id of one delivery, sent along as an idempotency key (Aliyun OutId, webhook header)."""
    raw = f"{d.episode}|{d.notice}|{d.recipient_id}|{d.channel}"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def _masked(address: str, audience: str) -> str:
    return mask_phone(address) if audience not in ("record", "zone", "drone_team") else address


class Dispatcher:
    """Routes, dedupes, persists, delivers, retries, fails over and escalates. Time is passed in."""

    def __init__(
        self,
        settings: DispatchSettings,
        directory: Directory,
        channels: Mapping[str, Channel],
        state: StateStore,
        rows: RowSink,
        channel_types: Mapping[str, str] | None = None,
    ) -> None:
        missing = (settings.policy.channel_names() | set(settings.failover.values())) - set(channels)
        if missing:
            raise ValueError(f"alerts: routing names channels that are not configured: {sorted(missing)}")
        self.settings = settings
        self.directory = directory
        self.channels = dict(channels)
        self.state = state
        self.rows = rows
        self.types = {n: (channel_types or {}).get(n, n) for n in channels}
        self._intake: queue.Queue[Transition] = queue.Queue(settings.intake_queue)
        self._overflow: dict[str, Transition] = {}  # latest transition per alert when the queue is full
        self._lock = threading.RLock()  # alert read-modify-write: intake, tick and replies
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        retry = RetryPolicy(settings.retry_attempts, settings.retry_base_s, settings.retry_max_s)
        self.workers = {
            name: ChannelWorker(
                name, chan, interval_s=settings.rate_limits.get(name, 0.0), retry=retry,
                fetch=self._fetch, report=self._report,
                refill=lambda name=name: self._pending_for(name),  # type: ignore[misc]
                queue_size=settings.channel_queue,
            )
            for name, chan in self.channels.items()
        }  # fmt: skip
        self.stamp = Stamper()
        self.counts: dict[str, int] = {}
        self.per_channel: dict[str, dict[str, int]] = {n: {} for n in channels}
        self.responder = Responder(self)

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        for chan in self.channels.values():
            if hasattr(chan, "start"):
                chan.start()
        resumed = self.state.unfinished()
        for d in resumed:
            if d.status == INFLIGHT:
                # Killed while sending: we cannot know if it left. Resend with the same idempotency key
                # (a missed evacuation SMS is worse than a repeated one); the gateway can drop the repeat.
                log.warning("delivery resumed after crash mid-send channel=%s delivery=%d", d.channel, d.id)
            self._offer(d)
        if resumed:
            log.info("dispatcher resumed deliveries n=%d", len(resumed))
        for w in self.workers.values():
            w.start()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="alert-intake", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        for w in self.workers.values():
            w.signal_stop()
        if self._thread:
            self._thread.join(5)
        for w in self.workers.values():
            w.stop()
        for chan in self.channels.values():
            if hasattr(chan, "close"):
                chan.close()

    # ---- intake ----------------------------------------------------------------------------------
    def submit(self, transitions: Iterable[Transition]) -> None:
        """Never blocks: the ingest path calls this. On overflow only the latest per alert is kept."""
        for t in transitions:
            try:
                self._intake.put_nowait(t)
            except queue.Full:
                with self._lock:
                    if not self._overflow:
                        log.error("alert intake full size=%d: coalescing per alert", self._intake.maxsize)
                    self._overflow[t.alert_id] = t
                    self._count("intake_coalesced")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                t = self._intake.get(timeout=0.2)
            except queue.Empty:
                with self._lock:
                    pending, self._overflow = list(self._overflow.values()), {}
                for t in pending:
                    self._safe_process(t)
                continue
            self._safe_process(t)

    def _safe_process(self, t: Transition) -> None:
        try:
            self.process(t)
        except Exception:  # one bad transition must not stop alerting for everyone else
            log.exception("transition failed alert=%s level=%s", t.alert_id, t.to_level.label)
            self._count("errors")

    def process(self, t: Transition) -> list[int]:
        """Fold one transition into the alert state and queue its deliveries (the intake thread's job)."""
        site = self.directory.site(t.site)
        hazard = site.hazard if site else ""
        row = alert_row(t.alert_id, t.site, t.rule, t.to_level, t.from_level, int(t.state), hazard, t.value,
                        t.message, t.at)  # fmt: skip
        self.rows.put([row])
        self._count("transitions")
        with self._lock:
            before = self.state.alert(t.alert_id)
            after, notice, why = episodes.fold(before, t)
            if notice is None:
                self._count("suppressed_repeats" if before and before.active else "ignored")
                log.debug("transition tells no one alert=%s why=%s", t.alert_id, why)
                if after is not None and after != before:
                    self.state.put_alert(after)
                return []
            ids = self._commit(after if notice.kind != m.TEST else None, notice, t.at)
        return ids

    def _commit(self, after: AlertRow | None, notice: m.Notice, now: float) -> list[int]:
        planned = plan(notice, self.directory, self.settings.policy)
        kept, muted = self._filter(notice, planned)
        dels = [(notice.episode, notice.key, notice.alert_id, int(notice.level), notice.site, p, None)
                for p in kept]  # fmt: skip
        ids = self.state.commit(
            after, (notice.episode, notice.key, notice.kind, int(notice.level), notice.at), dels, now
        )
        if ids is None:
            self._count("duplicates")
            log.info("duplicate notice alert=%s notice=%s", notice.alert_id, notice.key)
            return []
        for p in muted:
            self._row(p.channel, "suppressed", p.audience, notice.site, int(notice.level), notice.alert_id,
                      _masked(p.address, p.audience), self.stamp(notice.at))  # fmt: skip
        for did in ids:
            d = self.state.delivery(did)
            if d is not None:
                self._offer(d)
        rates = self.settings.rate_limits
        log.info(
            "dispatch planned alert=%s kind=%s level=%s deliveries=%d suppressed=%d eta_s=%.0f",
            notice.alert_id, notice.kind, notice.level.label, len(ids), len(muted), eta_s(kept, rates),
        )  # fmt: skip
        return ids

    def _filter(self, n: m.Notice, planned: list[Planned]) -> tuple[list[Planned], list[Planned]]:
        """Silences mute people (records still go out); maintenance windows keep only officers."""
        if n.kind in (m.ESCALATION, m.TEST):
            return planned, []
        silenced = self.state.silenced(n.site, n.rule, n.at)
        maint = self.settings.in_maintenance(n.site, n.at)
        kept, muted = [], []
        for p in planned:
            person = p.audience != "record"
            if person and (silenced or (maint and p.audience != Role.OFFICER.value)):
                muted.append(p)
            else:
                kept.append(p)
        return kept, muted

    # ---- delivery --------------------------------------------------------------------------------
    def _priority(self, d: Delivery) -> Priority:
        # Most severe first, then the plan's order: officers, grid workers, then villagers nearest first.
        return (-d.level, d.rank[0], d.rank[1], d.rank[2], d.id)

    def _offer(self, d: Delivery) -> None:
        self.workers[d.channel].offer(self._priority(d), d.id)

    def _pending_for(self, channel: str) -> list[tuple[Priority, int]]:
        return [(self._priority(d), d.id) for d in self.state.unfinished() if d.channel == channel]

    def _fetch(self, did: int) -> tuple[Notification, int] | None:
        d = self.state.delivery(did)
        if d is None or d.status not in (PENDING, INFLIGHT):
            return None
        self.state.mark(did, INFLIGHT)
        extra = {
            **d.extra,
            "delivery_id": delivery_key(d),
            "audience": d.audience,
            "recipient_id": d.recipient_id,
        }
        n = Notification(d.alert_id, d.address, d.text, Level(d.level).label, d.site, extra)
        return n, d.attempts

    def _report(self, did: int, result: str, detail: str, attempts: int) -> None:
        d = self.state.delivery(did)
        if d is None:
            return
        who = _masked(d.address, d.audience)
        at = float(d.extra.get("at") or 0.0)
        if result == "sent":
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
            self._failover(d)
        self._row(d.channel, {"sent": "sent", "retry": "retry"}.get(result, "failed"), d.audience, d.site,
                  d.level, d.alert_id, who, Stamper.for_delivery(at, did, attempts))  # fmt: skip
        with self._lock:
            per = self.per_channel.setdefault(d.channel, {})
            key = {"sent": "sent", "retry": "retried"}.get(result, "failed")
            per[key] = per.get(key, 0) + 1

    def _failover(self, d: Delivery) -> None:
        nxt = self.settings.failover.get(d.channel)
        if not nxt:
            return
        p = Planned(nxt, d.recipient_id, d.address, d.audience, d.text, d.rank, d.extra)
        ids = self.state.commit(None, None, [(d.episode, d.notice, d.alert_id, d.level, d.site, p, d.channel)],
                                float(d.extra.get("at") or 0.0))  # fmt: skip
        for did in ids or []:
            nd = self.state.delivery(did)
            if nd is not None:
                log.warning("delivery failover from=%s to=%s alert=%s", d.channel, nxt, d.alert_id)
                self._offer(nd)

    def _row(self, channel: str, state: str, audience: str, site: str, level: int, alert_id: str,
             who: str, at: float) -> None:  # fmt: skip
        self.rows.put(
            [delivery_row(self.types.get(channel, channel), state, audience, site, level, alert_id, who, at)]
        )

    # ---- timers, commands, replies ---------------------------------------------------------------
    def tick(self, now: float) -> int:
        """Escalate alerts at orange or above that nobody acknowledged in time; returns how many."""
        s = self.settings
        n = 0
        with self._lock:
            for a in self.state.active_alerts():
                notice = episodes.escalation_due(
                    a, now, Level.parse(s.escalate_min_level), s.escalate_after_min * 60
                )
                if notice is None:
                    continue
                after = AlertRow(**{**_asdict(a), "escalated_level": a.level})
                ids = self._commit(after, notice, now)
                self.rows.put([escalation_row(a.site, a.alert_id, self.stamp(now))])
                self._count("escalations")
                log.warning("alert escalated to town alert=%s level=%s unacked_min=%d deliveries=%d",
                            a.alert_id, Level(a.level).label, notice.unacked_min, len(ids))  # fmt: skip
                n += 1
        return n

    def handle_command(self, verb: str, payload: dict[str, Any], who: str, now: float) -> dict[str, Any]:
        """MQTT operator commands: ack, silence, test, evac. Returns a result for the command's reply."""
        return self.responder.command(verb, payload, who, now)

    def handle_sms(self, sender: str, text: str, now: float) -> dict[str, Any]:
        """An inbound SMS: an acknowledgement ("1", "收到") or an evacuation report ("撤离 12/15")."""
        return self.responder.sms(sender, parse_reply(text), now)

    def _count(self, key: str, k: int = 1) -> None:
        with self._lock:
            self.counts[key] = self.counts.get(key, 0) + k

    def stats(self) -> dict[str, Any]:
        with self._lock:
            chans = {
                name: {k: self.per_channel.get(name, {}).get(k, 0) for k in ("sent", "failed", "retried")}
                for name in self.channels
            }
            out: dict[str, Any] = {"channels": chans}
            for k in ("escalations", "acks", "evacuation_reports", "transitions", "duplicates",
                      "suppressed_repeats", "intake_coalesced", "errors"):  # fmt: skip
                out[k] = self.counts.get(k, 0)
        out["queued"] = {name: w.depth() for name, w in self.workers.items()}
        return out


def _asdict(a: AlertRow) -> dict[str, Any]:
    return {f: getattr(a, f) for f in a.__dataclass_fields__}
