"""The dispatcher's rows for the demo storm: alert transitions from the critical-rainfall table, then
deliveries, acknowledgements, an escalation, evacuation per grid, drone dispatches and the audit trail."""

from __future__ import annotations

import random

from ews.grafana.sites import FENGSHAN
from ews.grafana.thresholds import RAIN_WINDOWS, WINDOW_HOURS
from hub.influx import line

LEVEL_NUM = {"none": 0, "blue": 1, "yellow": 2, "orange": 3, "red": 4}
GRID_PEOPLE = {"fs-g1": 42, "fs-g2": 35, "fs-g3": 28, "fs-g4": 120}
PHONES = ["138****5678", "139****0417", "137****2290", "150****8812", "186****3306"]
TOWN = ["135****7001"]
NO_ACK_SITE = "fs-hp03"  # nobody answers at the school slope: the alert goes up to the town


def rain_levels(rain: list[tuple[int, float]]) -> list[tuple[int, str, float]]:
    """(time, level, 1h rain) at each 10-min step: the highest level any window reaches."""
    out = []
    for i, (t, _) in enumerate(rain):
        level, worst = "none", 0
        for key, limits in RAIN_WINDOWS.items():
            n = WINDOW_HOURS[key] * 6
            total = sum(v for _, v in rain[max(0, i - n + 1) : i + 1])
            lv = limits.level_of(total)
            if LEVEL_NUM[lv] > worst:
                level, worst = lv, LEVEL_NUM[lv]
        out.append((t, level, sum(v for _, v in rain[max(0, i - 5) : i + 1])))
    return out


def _transitions(site: str, rain: list[tuple[int, float]]) -> list[tuple[int, str, str, float]]:
    """(time, from, to, value) whenever the level changes, held 30 min before it may drop (hysteresis)."""
    out, cur, since = [], "none", 0
    for t, lv, r1 in rain_levels(rain):
        up = LEVEL_NUM[lv] > LEVEL_NUM[cur]
        down = LEVEL_NUM[lv] < LEVEL_NUM[cur] and t - since >= 1800
        if up or down:
            out.append((t, cur, lv, r1))
            cur, since = lv, t
    return out


def alert_rows(rain: dict[str, list[tuple[int, float]]], start: int, rng: random.Random) -> list[str]:
    rows = [
        line(
            "command_audit",
            {"verb": "test", "who": "town-duty"},
            {"topic": "ews/v1/cmd/test", "payload": '{"site": "fs-hp01"}'},
            start + 600,
        )
    ]
    for site in FENGSHAN:
        episode, acked, evac_started = "", False, False
        for t, frm, to, value in _transitions(site.id, rain[site.id]):
            if frm == "none":
                episode, acked = f"{site.id}:rain-critical:{t}", False
                rows.append(_pending(site.id, "rain-critical", to, episode, value, t - 300, site.hazard))
            state = "resolved" if to == "none" else "firing"
            msg = (
                f"{site.name} 降雨达{to}级 1小时雨量{value:.1f}毫米"
                if to != "none"
                else f"{site.name} 预警解除"
            )
            tags = {
                "site": site.id,
                "rule": "rain-critical",
                "level": to,
                "from_level": frm,
                "state": state,
                "hazard": site.hazard,
            }
            rows.append(
                line(
                    "alert",
                    tags,
                    {"level_num": LEVEL_NUM[to], "value": value, "message": msg, "alert_id": episode},
                    t,
                )
            )
            rows.append(
                line(
                    "annotation",
                    {"site": site.id, "kind": "alert"},
                    {"title": f"{to} 预警", "text": msg, "level_num": LEVEL_NUM[to]},
                    t,
                )
            )
            rows += _deliveries(site.id, episode, to, t, rng)
            if to != "none" and not acked and site.id != NO_ACK_SITE:
                acked = True
                rows += _ack(site.id, episode, t + rng.randint(300, 1200), rng)
            if to in ("yellow", "orange") and site.id == NO_ACK_SITE and LEVEL_NUM[to] > LEVEL_NUM[frm]:
                rows += [
                    line(
                        "escalation", {"site": site.id, "to": "town"}, {"alert_id": episode, "n": 1}, t + 1800
                    ),
                    line(
                        "annotation",
                        {"site": site.id, "kind": "escalation"},
                        {
                            "title": "升级到镇",
                            "text": f"{episode} 30分钟无人确认",
                            "level_num": LEVEL_NUM[to],
                        },
                        t + 1800,
                    ),
                ]
            if LEVEL_NUM[to] >= 3 and not evac_started:
                evac_started = True
                rows += _evacuation(site.id, site.grids, episode, t, rng)
                rows += _drone(site.id, episode, t)
    # A slope sensor starts a tilt alert near the end that is still waiting out its hold: not yet a level.
    end = start + 48 * 3600
    rows.append(
        _pending("fs-hp03", "tilt-rate", "blue", f"fs-hp03:tilt-rate:{end}", 0.06, end - 600, "collapse")
    )
    return rows


def _pending(site: str, rule: str, level: str, alert_id: str, value: float, t: int, hazard: str) -> str:
    tags = {
        "site": site,
        "rule": rule,
        "level": level,
        "from_level": "none",
        "state": "pending",
        "hazard": hazard,
    }
    fields = {"level_num": LEVEL_NUM[level], "value": value, "message": "", "alert_id": alert_id}
    return line("alert", tags, fields, t)


def _deliveries(site: str, alert_id: str, level: str, t: int, rng: random.Random) -> list[str]:
    rows = []
    recipients = PHONES[:2] if level in ("none", "blue") else PHONES
    for k, who in enumerate(recipients):
        state = "sent"
        if level == "red" and k == 3:
            rows.append(_delivery("sms", "retry", "villagers", site, level, alert_id, who, t + 5))
        if level == "orange" and k == 4 and site == "fs-hp02":
            state = "failed"
        rows.append(
            _delivery(
                "sms", state, "officers" if k < 2 else "villagers", site, level, alert_id, who, t + 10 + k
            )
        )
    if level in ("yellow", "orange", "red"):
        rows.append(_delivery("broadcast", "sent", "villagers", site, level, alert_id, "loudspeaker", t + 3))
        rows.append(_delivery("console", "sent", "officers", site, level, alert_id, "console", t + 1))
    if level in ("orange", "red"):
        rows.append(_delivery("cap", "sent", "public", site, level, alert_id, "cap", t + 20))
    if level == "blue":  # a repeat within the hold is suppressed, not resent
        rows.append(_delivery("sms", "suppressed", "officers", site, level, alert_id, PHONES[0], t + 600))
    return rows


def _delivery(
    channel: str, state: str, audience: str, site: str, level: str, alert_id: str, who: str, t: int
) -> str:
    tags = {"channel": channel, "state": state, "audience": audience, "site": site, "level": level}
    return line("delivery", tags, {"alert_id": alert_id, "recipient": who, "n": 1}, t)


def _ack(site: str, alert_id: str, t: int, rng: random.Random) -> list[str]:
    via = "sms" if rng.random() < 0.5 else "mqtt"
    who = PHONES[0] if via == "sms" else "village-duty"
    rows = [
        line("ack", {"site": site, "via": via}, {"alert_id": alert_id, "who": who, "n": 1}, t),
        line(
            "annotation",
            {"site": site, "kind": "ack"},
            {"title": "已确认", "text": f"{who} 通过 {via} 确认 {alert_id}", "level_num": 0},
            t,
        ),
    ]
    if via == "mqtt":
        rows.append(
            line(
                "command_audit",
                {"verb": "ack", "who": who},
                {"topic": "ews/v1/cmd/ack", "payload": f'{{"alert_id": "{alert_id}"}}'},
                t,
            )
        )
    return rows


def _evacuation(site: str, grids: tuple[str, ...], alert_id: str, t: int, rng: random.Random) -> list[str]:
    rows = []
    for grid in grids:
        total, done = GRID_PEOPLE[grid], 0
        goal = total if grid != "fs-g3" else total - 2  # two elderly residents refuse to leave
        for step in range(1, 19):
            done = min(goal, done + rng.randint(3, 12))
            rows.append(
                line(
                    "evacuation",
                    {"site": site, "grid": grid},
                    {"evacuated": done, "total": total, "alert_id": alert_id},
                    t + step * 600,
                )
            )
            if done == goal:
                break
        rows.append(
            line(
                "annotation",
                {"site": site, "kind": "evacuation"},
                {"title": f"{grid} 转移 {done}/{total}", "text": alert_id, "level_num": 3},
                t + 600,
            )
        )
    return rows


def _drone(site: str, alert_id: str, t: int) -> list[str]:
    plan = f"{site}-{t}.plan"
    return [
        line(
            "drone_dispatch", {"site": site, "state": "planned"}, {"alert_id": alert_id, "plan": plan}, t + 30
        ),
        line(
            "drone_dispatch",
            {"site": site, "state": "uploaded"},
            {"alert_id": alert_id, "plan": plan},
            t + 90,
        ),
        line(
            "delivery",
            {"channel": "drone", "state": "sent", "audience": "drone_team", "site": site, "level": "orange"},
            {"alert_id": alert_id, "recipient": "drone-team", "n": 1},
            t + 90,
        ),
        line(
            "annotation",
            {"site": site, "kind": "drone"},
            {"title": "无人机已派出", "text": plan, "level_num": 3},
            t + 90,
        ),
    ]
