"""Alerts and evacuation dashboard (预警与转移): timeline, deliveries, acks, escalations, evacuation, drones."""

from __future__ import annotations

from ews.grafana import fields as F
from ews.grafana import panels as P
from ews.grafana import templating as T
from ews.grafana.panels import FIRM, LOOKBACK
from ews.grafana.sites import Site, site_names
from ews.grafana.thresholds import CHANNEL_ZH, STATE_ZH

UID = "ews-alerts"
SITES = '"site" =~ /^$site$/'
GRID_ZH = "网格"
RECENT = "time <= ${__to}ms AND time > ${__to}ms - 30d"  # as the overview's "current" panels


def _counts(b: P.Board) -> None:
    for title, q, desc in (
        (
            "触发预警",
            f'SELECT count("level_num") FROM "alert" WHERE {SITES} AND "state" = \'firing\' AND $timeFilter',
            "Alert transitions into firing in the range.",
        ),
        (
            "已发通知",
            f'SELECT sum("n") FROM "delivery" WHERE {SITES} AND "state" = \'sent\' AND $timeFilter',
            "Notifications sent on every channel.",
        ),
        (
            "发送失败",
            f'SELECT sum("n") FROM "delivery" WHERE {SITES} AND "state" = \'failed\' AND $timeFilter',
            "Notifications that failed for good (after retries).",
        ),
        (
            "已确认",
            f'SELECT count(distinct("alert_id")) FROM "ack" WHERE {SITES} AND $timeFilter',
            "Alerts acknowledged by an officer (by SMS reply or the app).",
        ),
        (
            "升级到镇",
            f'SELECT sum("n") FROM "escalation" WHERE {SITES} AND $timeFilter',
            "Alerts escalated from the village to the town because nobody acknowledged them in time.",
        ),
        (
            "无人机派出",
            f'SELECT count("plan") FROM "drone_dispatch" WHERE {SITES} AND $timeFilter',
            "Drone missions planned or uploaded.",
        ),
    ):
        b.add(P.stat(title, desc, [P.target(q, alias=title)]), w=4, h=4)


def _evacuation_progress() -> P.Json:
    """Each grid's newest report, shown only while the alert episode it counts for still stands.

    Reports carry their episode; an inner join with the standing alerts' episodes drops last storm's
    40/40, so a grid under a new episode shows no progress until its grid worker reports."""
    standing = (
        'SELECT * FROM (SELECT "level_num", "episode" FROM "alert" '
        f'WHERE {SITES} AND {FIRM} AND {RECENT} GROUP BY "site", "rule" ORDER BY time DESC LIMIT 1) '
        'WHERE "level_num" > 0 ORDER BY time DESC'
    )
    newest = (
        'SELECT "evacuated" / "total" * 100 AS "progress", "episode" FROM "evacuation" '
        f'WHERE {SITES} AND {RECENT} GROUP BY "grid" ORDER BY time DESC LIMIT 1'
    )
    p = P.bargauge(
        "各网格转移进度",
        "Share of registered residents evacuated per grid (网格), from the grid workers' newest report "
        "under an alert that still stands; a grid under a new alert has no bar until its first report, "
        "and a report from an earlier storm never shows.",
        [P.target(standing, "A", "table"), P.target(newest, "B", "table")],
        unit="percent",
        minmax=(0, 100),
        thresholds={
            "mode": "absolute",
            "steps": [
                {"color": "red", "value": None},
                {"color": "orange", "value": 50},
                {"color": "yellow", "value": 80},
                {"color": "green", "value": 100},
            ],
        },
        transformations=[
            P.join_by("episode", mode="inner"),
            P.organize({}, exclude=("Time 1", "Time 2", "level_num", "episode")),
        ],
    )
    # One bar per joined row, named by its grid (the row's only string column).
    p["options"]["reduceOptions"] = {"calcs": ["lastNotNull"], "fields": "/^progress$/", "values": True}
    return p


def build(sites: tuple[Site, ...]) -> P.Json:
    b = P.Board(
        UID,
        "预警与转移",
        "Alerts and evacuation: alert timeline, deliveries by channel and state, acknowledgements, "
        "escalations to the town, evacuation progress per grid and drone dispatches.",
        time_from="now-2d",
    )
    b.variables.append(T.custom_var("site", "隐患点", [(s.name, s.id) for s in sites], multi=True))
    b.annotations += [
        T.annotation(
            "预警",
            f'SELECT "message", "level", "site" FROM "alert" WHERE {SITES} AND $timeFilter',
            "red",
            title="level",
            text="message",
            tags="site",
        ),
        T.annotation(
            "确认/升级/转移",
            f'SELECT "title", "text", "kind" FROM "annotation" WHERE {SITES} AND "kind" != \'alert\' '
            "AND $timeFilter",
            "purple",
            title="title",
            text="text",
            tags="kind",
        ),
    ]
    names = site_names(sites)
    b.row("预警 Alerts")
    _counts(b)
    # site_level is the site's highest standing level over all rules, as the dispatcher wrote it with each
    # transition: max(level_num) per interval would drop to blue when a second rule goes blue under a red.
    # Raw transitions from LOOKBACK before the range, so the level standing at its left edge shows too.
    levels = (
        f'SELECT "site_level" FROM "alert" WHERE {SITES} AND {FIRM} '
        f'AND time > ${{__from}}ms - {LOOKBACK} AND time <= ${{__to}}ms GROUP BY "site"'
    )
    b.add(
        P.state_timeline(
            "预警等级时间线",
            "Highest level standing per site over all its rules (0 none … 4 red), including a level set "
            f"before the range (transitions looked up {LOOKBACK} back); empty: no transition known. The "
            "alert annotations mark every transition.",
            [P.target(levels, alias="$tag_site")],
            mappings=F.level_mappings(null_is_none=False),
            thresholds=F.level_thresholds(),
            overrides=F.name_overrides(names),
        ),
        w=24,
        h=6,
    )
    timeline = P.newest(
        "alert", ("site", "rule", "from_level", "level", "state", "message", "alert_id"), SITES, 500
    )
    b.add(
        P.query_table(
            "预警记录",
            "Every alert transition, newest first.",
            timeline,
            overrides=[F.names_column("site", names)],
        ),
        w=24,
        h=8,
    )
    b.row("通知与确认 Deliveries and acknowledgements")
    by_state = f'SELECT sum("n") FROM "delivery" WHERE {SITES} AND $timeFilter GROUP BY "channel", "state"'
    combos = {f"{c} {s}": f"{cz} {sz}" for c, cz in CHANNEL_ZH.items() for s, sz in STATE_ZH.items()}
    b.add(
        P.bargauge(
            "通知：渠道与状态",
            "Notifications by channel (sms, broadcast, drone, cap, console, mqtt) and state "
            "(sent, failed, retry, suppressed).",
            [P.target(by_state, alias="$tag_channel $tag_state")],
            overrides=F.name_overrides(combos),
        ),
        w=8,
        h=9,
    )
    over_time = (
        f'SELECT sum("n") FROM "delivery" WHERE {SITES} AND "state" = \'sent\' AND $timeFilter '
        'GROUP BY time($__interval), "channel" fill(0)'
    )
    b.add(
        P.timeseries(
            "通知发送量",
            "Notifications sent per interval, by channel.",
            [P.target(over_time, alias="$tag_channel")],
            bars=True,
            overrides=F.name_overrides(CHANNEL_ZH),
        ),
        w=8,
        h=9,
    )
    failed = P.newest(
        "delivery",
        ("site", "channel", "state", "audience", "recipient", "alert_id"),
        f'{SITES} AND "state" =~ /^(failed|retry)$/',
    )
    b.add(
        P.query_table("发送失败与重试", "Failed and retried notifications, newest first.", failed),
        w=8,
        h=9,
    )
    acks = P.newest("ack", ("site", "via", "who", "alert_id"), SITES)
    b.add(
        P.query_table("确认记录", "Acknowledgements: who, how and which alert.", acks),
        w=12,
        h=8,
    )
    esc = P.newest("escalation", ("site", "to", "alert_id"), SITES)
    b.add(
        P.query_table("升级记录", "Escalations from the village to the town.", esc),
        w=12,
        h=8,
    )
    b.row("转移与无人机 Evacuation and drones")
    b.add(_evacuation_progress(), w=8, h=8)
    people = (
        f'SELECT last("evacuated") FROM "evacuation" WHERE {SITES} AND $timeFilter '
        'GROUP BY time($__interval), "grid" fill(previous)'
    )
    b.add(
        P.timeseries(
            "已转移人数",
            "People evacuated per grid over time.",
            [P.target(people, alias=f"{GRID_ZH} $tag_grid")],
            unit="short",
            step=True,
        ),
        w=8,
        h=8,
    )
    drones = P.newest("drone_dispatch", ("site", "state", "plan", "alert_id"), SITES, 100)
    b.add(
        P.query_table("无人机派出", "Drone dispatches: mission plan file and its state.", drones),
        w=8,
        h=8,
    )
    audit = P.newest("command_audit", ("verb", "who", "topic", "payload"))
    b.add(
        P.query_table(
            "操作审计", "Commands received by the hub (acknowledge, silence, test) and who sent them.", audit
        ),
        w=24,
        h=7,
    )
    return b.to_json()
