"""The dispatcher's rows for the demo storm: alert transitions from the critical-rainfall table, then
deliveries, acknowledgements, an escalation, evacuation per grid, drone dispatches and the audit trail."""

from __future__ import annotations

import random

from ews.grafana.sites import FENGSHAN
from ews.grafana.thresholds import RAIN_WINDOWS, WINDOW_HOURS
from hub.alerts.rows import ack_row, alert_row, evacuation_row, level_key
from hub.influx import line
from hub.rules.model import Level

LEVEL_NUM = {"none": 0, "blue": 1, "yellow": 2, "orange": 3, "red": 4}
GRID_PEOPLE = {"fs-g1": 42, "fs-g2": 35, "fs-g3": 28, "fs-g4": 120}
PHONES = ["138****5678", "139****0417", "137****2290", "150****8812", "186****3306"]
TOWN = ["135****7001"]
NO_ACK_SITE = "fs-hp03"  # nobody answers at the school slope: the alert goes up to the town
RED_ACK_SITE = "fs-hp01"  # the only site whose officer acknowledges red itself
WATER_SITE = "fs-hp02"  # the gully's water-level rule goes blue under the rain rule's red
WATER_BLUE = (int(20.5 * 3600), 26 * 3600)  # seconds into the storm: blue fires, then clears
PREVIOUS_STORM_DAYS = 5


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


def _site_events(site_id: str, rain: list[tuple[int, float]]) -> list[tuple[int, str, str, str, float]]:
    """(time, rule, from, to, value) of the site's rules, in time order. At fs-hp02 the gully's water-level
    rule also goes blue an hour after the rain peak, under the standing red: the site stays red."""
    events = [(t, "rain-critical", frm, to, v) for t, frm, to, v in _transitions(site_id, rain)]
    if site_id == WATER_SITE:
        start = rain[0][0] - 600
        events += [(start + WATER_BLUE[0], "water-level", "none", "blue", 2.1),
                   (start + WATER_BLUE[1], "water-level", "blue", "none", 1.2)]  # fmt: skip
    return sorted(events)


def alert_rows(rain: dict[str, list[tuple[int, float]]], start: int, rng: random.Random) -> list[str]:
    """The dispatcher's rows, written with its own row builders (hub/alerts/rows.py): alert_id site/rule,
    episode, level_key and site_level as the dispatcher derives them."""
    rows = [
        line(
            "command_audit",
            {"verb": "test", "who": "town-duty"},
            {"topic": "ews/v1/cmd/test", "payload": '{"site": "fs-hp01"}'},
            start + 600,
        )
    ]
    rows += _previous_storm(start - PREVIOUS_STORM_DAYS * 86400)
    for site in FENGSHAN:
        standing: dict[str, tuple[str, str, float]] = {}  # rule -> (episode, level, since)
        acked, evac_started = False, False
        for t, rule, frm, to, value in _site_events(site.id, rain[site.id]):
            alert_id = f"{site.id}/{rule}"
            if frm == "none":
                episode = f"{alert_id}#{t:.0f}"
                site_level = max((LEVEL_NUM[lv] for _, lv, _ in standing.values()), default=0)
                rows.append(
                    alert_row(
                        alert_id,
                        site.id,
                        rule,
                        Level.parse(to),
                        Level.NONE,
                        1,
                        site.hazard,
                        value,
                        "",
                        t - 300,
                        episode="",
                        key="",
                        site_level=site_level,
                    )  # fmt: skip
                )
            else:
                episode = standing[rule][0]
            if to == "none":
                standing.pop(rule)
                key = ""
            else:
                standing[rule] = (episode, to, float(t))
                key = level_key(episode, LEVEL_NUM[to], float(t))
            site_level = max((LEVEL_NUM[lv] for _, lv, _ in standing.values()), default=0)
            msg = (
                f"{site.name} {rule} 达{to}级 {value:.1f}" if to != "none" else f"{site.name} {rule} 预警解除"
            )
            rows.append(
                alert_row(
                    alert_id,
                    site.id,
                    rule,
                    Level.parse(to),
                    Level.parse(frm),
                    3 if to == "none" else 2,
                    site.hazard,
                    value,
                    msg,
                    t,
                    episode=episode,
                    key=key,
                    site_level=site_level,
                )  # fmt: skip
            )
            rows.append(
                line(
                    "annotation",
                    {"site": site.id, "kind": "alert"},
                    {"title": f"{to} 预警", "text": msg, "level_num": LEVEL_NUM[to]},
                    t,
                )
            )
            if rule != "rain-critical":
                continue
            rows += _deliveries(site.id, alert_id, to, t, rng)
            if to != "none" and not acked and site.id != NO_ACK_SITE:
                acked = True  # acknowledged at the first level only: the higher levels stand unacknowledged
                rows += _ack(site.id, alert_id, episode, to, key, t + rng.randint(300, 1200), rng)
            if to == "red" and site.id == RED_ACK_SITE:  # here the officer acknowledges red again
                rows += _ack(site.id, alert_id, episode, to, key, t + 240, rng)
            if to in ("yellow", "orange") and site.id == NO_ACK_SITE and LEVEL_NUM[to] > LEVEL_NUM[frm]:
                rows += [
                    line(
                        "escalation",
                        {"site": site.id, "to": "town"},
                        {"alert_id": alert_id, "n": 1},
                        t + 1800,
                    ),
                    line(
                        "annotation",
                        {"site": site.id, "kind": "escalation"},
                        {
                            "title": "升级到镇",
                            "text": f"{alert_id} 30分钟无人确认",
                            "level_num": LEVEL_NUM[to],
                        },
                        t + 1800,
                    ),
                ]
            if LEVEL_NUM[to] >= 3 and not evac_started:
                evac_started = True
                rows += _evacuation(site.id, site.grids, alert_id, episode, t, rng)
                rows += _drone(site.id, alert_id, t)
    # A slope sensor starts a tilt alert near the end that is still waiting out its hold: not yet a level.
    end = start + 48 * 3600
    rows.append(
        alert_row(
            "fs-hp03/tilt-rate",
            "fs-hp03",
            "tilt-rate",
            Level.BLUE,
            Level.NONE,
            1,
            "collapse",
            0.06,
            "",
            end - 600,
            episode="",
            key="",
            site_level=0,
        )  # fmt: skip
    )
    return rows


def _previous_storm(t0: int) -> list[str]:
    """Days before: fs-hp01 orange, acknowledged, fs-g1 evacuated 42/42, resolved. Nothing of it may
    count for the new storm (acks join on level_key; evacuation progress on the standing episode)."""
    aid, site, hazard = "fs-hp01/rain-critical", "fs-hp01", "landslide"
    episode = f"{aid}#{t0}"
    key = level_key(episode, LEVEL_NUM["orange"], float(t0))
    return [
        alert_row(
            aid,
            site,
            "rain-critical",
            Level.ORANGE,
            Level.NONE,
            2,
            hazard,
            62.0,
            "上次降雨 橙色",
            t0,
            episode=episode,
            key=key,
            site_level=3,
        ),  # fmt: skip
        ack_row(site, "sms", aid, PHONES[0], t0 + 300, episode=episode, level=Level.ORANGE, key=key),
        evacuation_row(site, "fs-g1", aid, 42, 42, t0 + 3600, episode=episode),
        alert_row(
            aid,
            site,
            "rain-critical",
            Level.NONE,
            Level.ORANGE,
            3,
            hazard,
            3.0,
            "上次降雨 解除",
            t0 + 4 * 3600,
            episode=episode,
            key="",
            site_level=0,
        ),  # fmt: skip
    ]


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


def _ack(
    site: str, alert_id: str, episode: str, level: str, key: str, t: int, rng: random.Random
) -> list[str]:
    via = "sms" if rng.random() < 0.5 else "mqtt"
    who = PHONES[0] if via == "sms" else "village-duty"
    rows = [
        ack_row(site, via, alert_id, who, t, episode=episode, level=Level.parse(level), key=key),
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


def _evacuation(
    site: str, grids: tuple[str, ...], alert_id: str, episode: str, t: int, rng: random.Random
) -> list[str]:
    rows = []
    for grid in grids:
        total, done = GRID_PEOPLE[grid], 0
        goal = total if grid != "fs-g3" else total - 2  # two elderly residents refuse to leave
        for step in range(1, 19):
            done = min(goal, done + rng.randint(3, 12))
            rows.append(evacuation_row(site, grid, alert_id, done, total, t + step * 600, episode=episode))
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
