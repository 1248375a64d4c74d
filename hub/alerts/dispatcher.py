"""The dispatcher shell: transitions in (never blocking), routed deliveries out through one worker per channel."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from hub.alerts import episodes
from hub.alerts import messages as m
from hub.alerts.delivery import DeliveryBook
from hub.alerts.directory import Directory, Role, mask_address
from hub.alerts.inbound import InboundPoller
from hub.alerts.intake import Intake
from hub.alerts.replies import parse_reply
from hub.alerts.responder import Responder
from hub.alerts.routing import Planned, eta_s, plan
from hub.alerts.rows import RowSink, Stamper, alert_row, escalation_row, level_key
from hub.alerts.settings import DispatchSettings
from hub.alerts.state import StateStore
from hub.alerts.tables import INFLIGHT, AlertRow, Delivery
from hub.alerts.worker import Channel, ChannelWorker, RetryPolicy
from hub.rules.model import Level, Transition

log = logging.getLogger(__name__)


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
        self.intake = Intake(self._process_counted, settings.intake_queue, settings.intake_batch)
        self._lock = threading.RLock()  # alert read-modify-write: intake, tick and replies
        self._mem = threading.Lock()  # counters: never held long
        self.stamp = Stamper()
        types = {n: (channel_types or {}).get(n, n) for n in channels}
        self.book = DeliveryBook(state, rows, types, settings.failover)
        retry = RetryPolicy(
            settings.retry_attempts, settings.retry_base_s, settings.retry_max_s, settings.retry_keep_s
        )
        self.workers = {
            name: ChannelWorker(
                name, chan, interval_s=settings.rate_limits.get(name, 0.0), retry=retry,
                fetch=self.book.fetch, report=self.book.report,
                refill=lambda name=name: self.book.pending_for(name),  # type: ignore[misc]
                queue_size=settings.channel_queue, ordered=name in settings.policy.record_channels,
                last_resort=name not in settings.failover,
            )
            for name, chan in self.channels.items()
        }  # fmt: skip
        self.book.workers = self.workers
        self._unknown_sites: set[str] = set()
        self._last_now: float | None = None  # the hub's clock as last passed in (the demo compresses time)
        self._inbound: InboundPoller | None = None
        self._marks_stop = threading.Event()
        self._marks: threading.Thread | None = None
        self.counts: dict[str, int] = {}
        # Whether the running rules still decide an alert (site, rule): the hub sets this from its
        # engine. An alert they decide ends when its evidence does, so `close` refuses it; with no
        # engine to ask (a dispatcher on its own), every alert counts as decided.
        self.decides: Callable[[str, str], bool] = lambda site, rule: True
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
            self.book.offer(d)
        if resumed:
            log.info("dispatcher resumed deliveries n=%d", len(resumed))
        for w in self.workers.values():
            w.start()
        self.intake.start()
        self._marks_stop.clear()
        self._marks = threading.Thread(target=self._flush_marks, name="alert-marks", daemon=True)
        self._marks.start()
        if self.settings.inbound_poll_s is not None:  # a dispatcher on its own reads its replies itself
            self._inbound = InboundPoller(
                self.channels, self.handle_sms, self._now, self.settings.inbound_poll_s, self._marks_stop
            )
            self._inbound.start()

    def stop(self) -> None:
        for w in self.workers.values():
            w.signal_stop()
        self.intake.stop()
        for w in self.workers.values():
            w.stop()
        self._marks_stop.set()
        for t in (self._marks, self._inbound.thread if self._inbound else None):
            if t:
                t.join(5)
        self.state.flush_marks()
        for chan in self.channels.values():
            if hasattr(chan, "close"):
                chan.close()

    def _now(self) -> float:
        return self._last_now if self._last_now is not None else time.time()

    def _flush_marks(self) -> None:
        while not self._marks_stop.wait(0.05):
            try:
                self.state.flush_marks()
            except Exception:  # a full disk must not stop the flusher; marks stay queued and retry
                log.exception("delivery marks flush failed")

    # ---- intake ----------------------------------------------------------------------------------
    def submit(self, transitions: Iterable[Transition]) -> None:
        """Never blocks: the ingest path calls this. On overflow only the latest per alert is kept."""
        self.intake.submit(transitions)

    def idle(self) -> bool:
        """Nothing waiting anywhere: intake drained, no queued or in-flight delivery (tests, demo end)."""
        busy = any(w.depth() or w.busy for w in self.workers.values())
        self.state.flush_marks()
        return self.intake.empty() and not busy and not self.state.unfinished()

    def _process_counted(self, batch: list[Transition]) -> None:
        try:
            self.process_batch(batch)
        except Exception:
            self._count("errors")
            raise

    def process(self, t: Transition) -> list[int]:
        """Handle one transition now, on the caller's thread; returns the new delivery ids."""
        return self.process_batch([t])

    def process_batch(self, batch: list[Transition]) -> list[int]:
        """Fold transitions into alert state in ONE transaction, then queue their deliveries.

        Deliveries are handed to the channels only after the commit, so nothing is sent that a crash
        could make the state forget.
        """
        new: list[Delivery] = []
        with self._lock, self.state.batch():
            for t in batch:
                new += self._fold(t)
        for d in new:
            self.book.offer(d)
        return [d.id for d in new]

    def _fold(self, t: Transition) -> list[Delivery]:
        site = self.directory.site(t.site)
        if site is None and t.site not in self._unknown_sites:
            self._unknown_sites.add(t.site)  # route anyway (a missed alert is worse) but say so once
            log.error("alert for a site missing from the directory site=%s rule=%s", t.site, t.rule)
        hazard = site.hazard if site else ""
        self._count("transitions")
        with self._lock:
            before = self.state.alert(t.alert_id)
            after, notice, why = episodes.fold(before, t)
            # The row carries what the fold decided: its episode and standing level (acks join on them).
            standing = after if after is not None and after.active else None
            others = self.state.site_level(t.site, t.alert_id)
            row = alert_row(
                t.alert_id, t.site, t.rule, t.to_level, t.from_level, int(t.state), hazard, t.value, t.message,
                t.at, episode=notice.episode if notice else standing.episode if standing else "",
                key=level_key(standing.episode, standing.level, standing.level_since) if standing else "",
                site_level=max(others, standing.level if standing else 0),
            )  # fmt: skip
            self.rows.put(row)
            if notice is None:
                self._count("suppressed_repeats" if before and before.active else "ignored")
                log.debug("transition tells no one alert=%s why=%s", t.alert_id, why)
                if after is not None and after != before:
                    self.state.put_alert(after)
                return []
            return self._commit(after if notice.kind != m.TEST else None, notice, t.at)

    def _commit_and_offer(self, after: AlertRow | None, notice: m.Notice, now: float) -> list[Delivery]:
        new = self._commit(after, notice, now)  # its own transaction when not inside batch()
        for d in new:
            self.book.offer(d)
        return new

    def _commit(self, after: AlertRow | None, notice: m.Notice, now: float) -> list[Delivery]:
        """Store the notice and its deliveries; the caller offers them to the channels once committed."""
        planned = plan(notice, self.directory, self.settings.policy)
        kept, muted = self._filter(notice, planned)
        dels = [(notice.episode, notice.key, notice.alert_id, int(notice.level), notice.site, p, None)
                for p in kept]  # fmt: skip
        new = self.state.commit(
            after, (notice.episode, notice.key, notice.kind, int(notice.level), notice.at), dels, now
        )
        if new is None:
            self._count("duplicates")
            log.info("duplicate notice alert=%s notice=%s", notice.alert_id, notice.key)
            return []
        for p in muted:
            self.book.row(p.channel, "suppressed", p.audience, notice.site, int(notice.level), notice.alert_id,
                          mask_address(p.address), self.stamp(notice.at))  # fmt: skip
        rates = self.settings.rate_limits
        log.info(
            "dispatch planned alert=%s kind=%s level=%s deliveries=%d suppressed=%d eta_s=%.0f",
            notice.alert_id, notice.kind, notice.level.label, len(new), len(muted), eta_s(kept, rates),
        )  # fmt: skip
        return new

    def _filter(self, n: m.Notice, planned: list[Planned]) -> tuple[list[Planned], list[Planned]]:
        """Silences mute people (records still go out); maintenance windows keep only officers.

        A clear or de-escalation goes to exactly those who were told about this episode.
        """
        if n.kind in (m.ESCALATION, m.TEST):
            return planned, []
        if n.kind in (m.DOWN, m.CLEAR, m.MAINTENANCE_CLEAR):
            told = self.state.told(n.episode)
            planned = [p for p in planned if p.audience == "record" or p.recipient_id in told]
        # As in the engine (hub/rules/silences.py): a step up to red is never silenced.
        red = n.kind == m.ALERT and n.level == Level.RED
        silenced = not red and self.state.silenced(n.site, n.rule, n.at)
        maint = self.settings.in_maintenance(n.site, n.at)
        kept, muted = [], []
        for p in planned:
            person = p.audience != "record"
            if person and (silenced or (maint and p.audience != Role.OFFICER.value)):
                muted.append(p)
            else:
                kept.append(p)
        return kept, muted

    # ---- timers, commands, replies ---------------------------------------------------------------
    def tick(self, now: float) -> int:
        """Escalate alerts at orange or above that nobody acknowledged in time; returns how many."""
        self._last_now = now
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
                ids = self._commit_and_offer(after, notice, now)
                self.rows.put(escalation_row(a.site, a.alert_id, self.stamp(now)))
                self._count("escalations")
                log.warning("alert escalated to town alert=%s level=%s unacked_min=%d deliveries=%d",
                            a.alert_id, Level(a.level).label, notice.unacked_min, len(ids))  # fmt: skip
                n += 1
        return n

    def handle_command(self, verb: str, payload: dict[str, Any], who: str, now: float) -> dict[str, Any]:
        """MQTT operator commands: ack, silence, test, evac, close. Returns a result for the command's reply."""
        self._last_now = now
        return self.responder.command(verb, payload, who, now)

    def handle_sms(self, sender: str, text: str, now: float) -> dict[str, Any]:
        """An inbound SMS: an acknowledgement ("1", "收到") or an evacuation report ("撤离 12/15")."""
        return self.responder.sms(sender, parse_reply(text), now)

    def _count(self, key: str, k: int = 1) -> None:
        with self._mem:
            self.counts[key] = self.counts.get(key, 0) + k

    def stats(self) -> dict[str, Any]:
        with self._mem:
            chans = {
                name: {
                    k: self.book.per_channel.get(name, {}).get(k, 0) for k in ("sent", "failed", "retried")
                }
                for name in self.channels
            }
            out: dict[str, Any] = {"channels": chans, "intake_coalesced": self.intake.coalesced}
            for k in ("escalations", "acks", "evacuation_reports", "transitions", "duplicates",
                      "suppressed_repeats", "errors", "closed_by_hand", "replies_ignored", "stale_acks"):  # fmt: skip
                out[k] = self.counts.get(k, 0)
        out["queued"] = {name: w.depth() for name, w in self.workers.items()}
        return out


def _asdict(a: AlertRow) -> dict[str, Any]:
    return {f: getattr(a, f) for f in a.__dataclass_fields__}
