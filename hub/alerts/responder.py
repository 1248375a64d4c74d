"""What people send back: acknowledgements, evacuation progress, silences and test alerts (SMS or MQTT)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from hub.alerts import messages as m
from hub.alerts.directory import URGENCY, Recipient, Role, mask_address, mask_phone
from hub.alerts.replies import Reply
from hub.alerts.routing import Planned
from hub.alerts.rows import ack_row, evacuation_row, level_key
from hub.alerts.tables import AlertRow
from hub.rules.model import AlertState, Level, Transition

if TYPE_CHECKING:
    from hub.alerts.dispatcher import Dispatcher

log = logging.getLogger(__name__)


MAX_SILENCE_MIN = 1440.0  # a day: a silence is for a known nuisance, renewed if it must last longer
# The roles whose messages ask "回复1确认": their reply acknowledges an alert for the village.
ACKERS = (Role.OFFICER, Role.TOWN_OFFICER, Role.GRID_WORKER)


def _err(msg: str) -> dict[str, Any]:
    return {"ok": False, "error": msg}


class Responder:
    """Turns replies and commands into state changes and record notices; the dispatcher delegates here."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.d = dispatcher
        self._helped: dict[str, float] = {}  # recipient id -> when they were last sent the help text

    # ---- entry points ----------------------------------------------------------------------------
    def command(self, verb: str, payload: dict[str, Any], who: str, now: float) -> dict[str, Any]:
        try:
            if verb == "ack":
                alert_id = self._resolve_alert(payload.get("alert_id") or payload.get("site"))
                if alert_id is None:
                    return _err(f"ack from {who}: no active alert matches {payload!r:.80}")
                return self.ack(alert_id, who, mask_address(who), "mqtt", now)
            if verb == "silence":
                if "sensor" in payload:  # without site and rule it would silence every alert
                    return _err(
                        "a sensor's maintenance window is the hub's (hub/app.py), not the dispatcher's"
                    )
                if "site" not in payload and "rule" not in payload:  # an empty payload: not "mute all"
                    return _err(f'silence from {who}: name a site or a rule ("*" for every one)')
                minutes = float(payload.get("minutes", 60))
                if not 0 < minutes <= MAX_SILENCE_MIN:  # 1e999 is inf in JSON: muted for ever, no undo
                    return _err(
                        f"silence from {who}: minutes must be above 0 and at most {MAX_SILENCE_MIN:.0f}"
                    )
                site, rule = str(payload.get("site", "*")), str(payload.get("rule", "*"))
                self.d.state.add_silence(site, rule, now + minutes * 60, who)
                log.warning("alerts silenced site=%s rule=%s minutes=%.0f who=%s", site, rule, minutes, who)
                return {"ok": True, "until": now + minutes * 60}
            if verb == "test":
                return self.test(
                    str(payload["site"]), Level.parse(str(payload.get("level", "blue"))), who, now
                )
            if verb == "close":
                alert_id = payload.get("alert_id") or f"{payload['site']}/{payload['rule']}"
                return self.close(str(alert_id), who, now)
            if verb == "evac":
                alert_id = self._resolve_alert(payload.get("alert_id") or payload.get("site"))
                return self.evacuation(
                    alert_id, str(payload["grid"]), int(payload["evacuated"]),
                    None if payload.get("total") is None else int(payload["total"]), who, "mqtt", now,
                )  # fmt: skip
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            return _err(f"command {verb} from {who}: bad payload: {exc.__class__.__name__}: {exc}")
        return _err(f"unknown command {verb!r}; use ack, silence, test, evac or close")

    def sms(self, sender: str, reply: Reply, now: float) -> dict[str, Any]:
        r = self.d.directory.by_phone(sender)
        if r is None:
            log.warning("sms from unknown sender sender=%s kind=%s", mask_phone(sender), reply.kind)
            return _err(f"unknown sender {mask_phone(sender)}")
        if reply.kind == "ack" and r.role not in ACKERS:
            # A villager's polite "收到" must not stand for the duty officer's: it would stop the
            # escalation to the town. Counted and logged, and no receipt (hundreds may reply in a storm).
            self.d._count("replies_ignored")
            log.info("reply not an acknowledgement sender=%s role=%s", mask_phone(sender), r.role.value)
            return _err(f"ack from {r.name}: only officers and grid workers acknowledge alerts")
        if reply.kind == "ack":
            alert_id = self._resolve_alert(reply.target) if reply.target else None
            alert_id = alert_id or self.d.state.recent_alert_for(r.id)
            if alert_id is None:
                res = _err(f"ack from {r.name}: no active alert was sent to them")
            else:
                res = self.ack(alert_id, r.name, mask_phone(sender), "sms", now)
        elif reply.kind == "evac":
            res = self._sms_evacuation(r, reply, sender, now)
        else:
            log.info("sms not understood sender=%s error=%s", mask_phone(sender), reply.error)
            res = _err(reply.error)
        self._receipt(r, reply, res, now)
        return res

    # ---- actions ---------------------------------------------------------------------------------
    def ack(self, alert_id: str, name: str, masked: str, via: str, now: float) -> dict[str, Any]:
        with self.d._lock:
            a = self.d.state.alert(alert_id)
            if a is None or not a.active:
                return _err(f"alert {alert_id} is not active")
            if now < a.level_since:
                # Sent before the standing level began (a "1" for yellow read after orange came): it
                # does not acknowledge this level (docs/alerts.md), and the sender is asked again.
                self.d._count("stale_acks")
                log.info("ack predates the standing level alert=%s who=%s level=%s early_s=%.0f",
                         alert_id, masked, Level(a.level).label, a.level_since - now)  # fmt: skip
                return {"ok": False, "stale": True, "alert_id": alert_id, "level": a.level,
                        "error": f"ack from {name} was sent before {alert_id} reached its level"}  # fmt: skip
            first = a.acked_level < a.level and (a.acked_at is None or a.acked_at < a.level_since)
            # acked_at/by name the latest acknowledgement: one handled late never moves them back.
            newer = a.acked_at is None or now >= a.acked_at
            self.d.state.put_alert(replace(a, acked_level=max(a.acked_level, a.level),
                                           acked_by=name if newer else a.acked_by,
                                           acked_at=now if newer else a.acked_at))  # fmt: skip
            key = level_key(a.episode, a.level, a.level_since)
            self.d.rows.put(ack_row(a.site, via, alert_id, masked, self.d.stamp(now), episode=a.episode,
                                    level=Level(a.level), key=key))  # fmt: skip
            self.d._count("acks")
            log.info("alert acknowledged alert=%s who=%s via=%s first=%s", alert_id, masked, via, first)
            if first:  # one record per level acknowledged; more "1"s from others are counted, not shown
                self.d._commit_and_offer(
                    None, self._record(m.ACK, a, f"ack:{a.level}:{now:.3f}", now, name, ""), now
                )
        return {"ok": True, "alert_id": alert_id, "first": first}

    def evacuation(self, alert_id: str | None, grid: str, done: int, total: int | None, who: str, via: str,
                   now: float) -> dict[str, Any]:  # fmt: skip
        if self.d.directory.grid(grid) is None:
            return _err(f"evacuation report from {who}: unknown grid {grid!r}")
        alert_id = alert_id or self._alert_for_grid(grid)
        if alert_id is None:
            return _err(f"evacuation report from {who}: no active alert covers grid {grid}")
        g = self.d.directory.grid(grid)
        total = total if total is not None else (g.households if g else 0)
        if total <= 0 or done < 0 or done > total:
            return _err(f"evacuation report from {who}: {done}/{total} households is not a valid count")
        with self.d._lock:
            a = self.d.state.alert(alert_id)
            if a is None or not a.active:
                return _err(f"alert {alert_id} is not active")
            self.d.state.put_evacuation(a.episode, grid, alert_id, done, total, who, now)
            self.d.rows.put(
                evacuation_row(a.site, grid, alert_id, done, total, self.d.stamp(now), episode=a.episode)
            )
            self.d._count("evacuation_reports")
            progress = self.d.state.evacuation(a.episode)
            text = "，".join(f"{self._grid_name(k)} {v[0]}/{v[1]}户" for k, v in sorted(progress.items()))
            key = f"evac:{grid}:{done}/{total}:{now:.3f}"
            self.d._commit_and_offer(None, self._record(m.EVACUATION, a, key, now, who, text), now)
        log.info(
            "evacuation progress alert=%s grid=%s done=%d total=%d via=%s", alert_id, grid, done, total, via
        )
        return {"ok": True, "alert_id": alert_id, "grid": grid, "evacuated": done, "total": total}

    def close(self, alert_id: str, who: str, now: float) -> dict[str, Any]:
        """End by hand an alert no rule decides any more (a reload removed its rule or its sensor).

        It ends as a cleared alert does: everyone told about the episode gets the all-clear, and the
        record names who closed it. An alert the rules still decide is refused: it ends when its
        evidence does, and closing it by hand would tell villagers the danger is over on no evidence."""
        with self.d._lock:
            a = self.d.state.alert(alert_id)
            if a is None or not a.active:
                return _err(f"close from {who}: alert {alert_id} is not active")
            if self.d.decides(a.site, a.rule):
                return _err(
                    f"close from {who}: the rules still decide alert {alert_id}; it ends when its "
                    "evidence falls, acknowledge it instead"
                )
            t = Transition(a.rule, a.site, now, Level(a.level), Level.NONE, AlertState.RESOLVED,
                           labels={"closed_by": who}, message=f"{who}人工解除（规则已不再判定此预警）")  # fmt: skip
            self.d.process(t)
            self.d._count("closed_by_hand")
        log.warning("alert closed by hand alert=%s level=%s who=%s", alert_id, Level(a.level).label, who)
        return {"ok": True, "alert_id": alert_id}

    def test(self, site: str, level: Level, who: str, now: float) -> dict[str, Any]:
        if self.d.directory.site(site) is None:
            return _err(f"test from {who}: unknown site {site!r}")
        if level == Level.NONE:
            return _err("test needs a level: blue, yellow, orange or red")
        t = Transition("test", site, now, Level.NONE, level, AlertState.FIRING, labels={"test": "true"},
                       message=f"{who}发起的系统测试")  # fmt: skip
        self.d.submit([t])
        return {"ok": True, "alert_id": t.alert_id}

    # ---- helpers ---------------------------------------------------------------------------------
    def _receipt(self, r: Recipient, reply: Reply, res: dict[str, Any], now: float) -> None:
        """Tell a known sender what the hub understood, so nobody wonders whether their reply arrived."""
        chans = self.d.settings.policy.person_channels.get(r.role, [])
        if not chans or not r.phone:
            return
        if res.get("ok") and reply.kind == "evac":
            done, total = res["evacuated"], res["total"]
            more = "，谢谢。" if done >= total else f"。全部转移后请回复“撤离 {total}/{total}”。"
            text = f"{m.PREFIX}已记录{self._grid_name(res['grid'])}转移{done}/{total}户{more}"
        elif res.get("ok"):
            text = f"{m.PREFIX}已收到您的确认，谢谢。"
        elif res.get("stale"):  # not rate-limited: one per level change, and the town waits on the answer
            text = f"{m.PREFIX}您的回复早于当前的{m.level_text(Level(res['level']))}，请再回复“1”确认。"
        else:
            # At most one help text per person per hour: an auto-responder must not start an SMS loop.
            if now - self._helped.get(r.id, float("-inf")) < 3600:
                return
            self._helped[r.id] = now
            if r.role in ACKERS:
                text = (
                    f"{m.PREFIX}未能处理您的回复：请回复“1”确认预警，或“撤离 已转移户数/总户数”报告转移进度。"
                )
            else:  # nothing a villager sends changes an alert: tell them where danger is reported
                text = f"{m.PREFIX}本号码只发送预警，无需回复。发现险情请立即报告村干部或网格员。"
        alert_id = str(res.get("alert_id") or f"{r.id}/reply")
        episode, key = f"receipt#{r.id}", f"receipt:{now:.3f}:{reply.kind}:{len(text)}"
        planned = Planned(chans[0], r.id, r.phone, r.role.value, text, (URGENCY[r.role], 0.0, r.id),
                          {"kind": "receipt", "at": repr(float(now)), "recipient_name": r.name})  # fmt: skip
        new = self.d.state.commit(None, (episode, key, "receipt", 0, now),
                                  [(episode, key, alert_id, 0, alert_id.split("/")[0], planned, None)], now)  # fmt: skip
        for d in new or []:
            self.d.book.offer(d)

    def _sms_evacuation(self, r: Recipient, reply: Reply, sender: str, now: float) -> dict[str, Any]:
        if r.role not in (Role.GRID_WORKER, Role.OFFICER):
            return _err(f"evacuation report from {r.name}: only grid workers and officers report")
        grid = reply.target if reply.target and self.d.directory.grid(reply.target) else None
        alert_id = None if grid else self._resolve_alert(reply.target) if reply.target else None
        if grid is None:
            if len(r.grids) != 1:
                return _err(
                    f"evacuation report from {r.name}: name the grid, e.g. 撤离 {r.grids[0] if r.grids else 'fs-g1'} 12/15"
                )
            grid = r.grids[0]
        assert reply.evacuated is not None
        return self.evacuation(alert_id, grid, reply.evacuated, reply.total, r.name, "sms", now)

    def _resolve_alert(self, ref: Any) -> str | None:
        """An alert id, or a site id meaning its most severe active alert."""
        if not ref:
            return None
        ref = str(ref)
        active = self.d.state.active_alerts()
        if any(a.alert_id == ref for a in active):
            return ref
        on_site = sorted((a for a in active if a.site == ref), key=lambda a: -a.level)
        return on_site[0].alert_id if on_site else None

    def _alert_for_grid(self, grid: str) -> str | None:
        best: AlertRow | None = None
        for a in self.d.state.active_alerts():
            site = self.d.directory.site(a.site)
            if site and grid in site.grids and a.kind == m.ALERT and (best is None or a.level > best.level):
                best = a
        return best.alert_id if best else None

    def _grid_name(self, gid: str) -> str:
        g = self.d.directory.grid(gid)
        return g.name if g and g.name else gid

    def _record(self, kind: str, a: AlertRow, key: str, now: float, who: str, message: str) -> m.Notice:
        level = Level(a.level)
        return m.Notice(kind, a.alert_id, a.episode, key, a.site, a.rule, level, level, now, level,
                        message=message, who=who)  # fmt: skip
