"""Gateways dashboard (网关状态): last seen, link state, backlog and drops, health and autonomy events."""

from __future__ import annotations

from ews.grafana import fields as F
from ews.grafana import panels as P
from ews.grafana import templating as T
from ews.grafana.health import GATEWAY_OWN
from ews.grafana.sites import Site

UID = "ews-gateways"
GWS = '"gateway" =~ /^$gateway$/'
ORIGINS = '"origin" =~ /^$gateway$/'
OWN = f"{ORIGINS} AND {GATEWAY_OWN}"  # the gateway's own health readings, not its nodes' (health.py)


def build(sites: tuple[Site, ...]) -> P.Json:
    b = P.Board(
        UID,
        "网关状态",
        "Gateways: last seen, link state, store-and-forward backlog and drops, battery/signal/disk/CPU, "
        "local autonomy (siren relay) events and readings the hub rejected.",
    )
    pairs = [(f"{s.gateway} {s.name}", s.gateway) for s in sites]
    b.variables.append(T.custom_var("gateway", "网关", pairs, multi=True))
    b.annotations.append(
        T.annotation(
            "本地自主",
            f'SELECT "reason", "gateway", "site" FROM "autonomy" WHERE {GWS} AND $timeFilter',
            "orange",
            title="gateway",
            text="reason",
            tags="site",
        )
    )
    names = {s.gateway: f"{s.gateway} {s.name}" for s in sites}
    b.row("链路 Link")
    seen = (
        f'SELECT last("value") AS "battery_v" FROM "battery_v" WHERE {OWN} '
        'AND time > ${__to}ms - 7d AND time <= ${__to}ms GROUP BY "origin"'
    )
    # The hub writes gateway_status (online) from the retained status/last will; the backlog comes from
    # the gateway's own outbox_depth health reading.
    status = (
        'SELECT last("online") AS "online" FROM "gateway_status" '
        f'WHERE {GWS} AND time <= ${{__to}}ms AND time > ${{__to}}ms - 30d GROUP BY "gateway"'
    )
    backlog = (
        f'SELECT last("value") AS "outbox_depth" FROM "outbox_depth" WHERE {OWN} '
        'AND time > ${__to}ms - 7d AND time <= ${__to}ms GROUP BY "origin"'
    )
    b.add(
        P.table(
            "网关最后上报",
            "Last seen (time of the last health reading), link state from the retained status (在线/离线), "
            "and the outbox backlog the gateway last reported.",
            [P.target(seen, "A", "table"), P.target(status, "B", "table"), P.target(backlog, "C", "table")],
            transformations=[
                P.organize({"origin": "gateway"}),
                P.join_by("gateway"),
                P.organize(
                    {
                        "Time 1": "最后上报",
                        "gateway": "网关",
                        "battery_v": "电池(V)",
                        "online": "链路",
                        "outbox_depth": "积压",
                    },
                    exclude=("Time 2", "Time 3"),
                ),
            ],
            overrides=[
                F.age_column("最后上报"),
                F.coloured_column("链路", F.up_down_mappings("在线", "离线"), "color-background"),
                F.names_column("网关", names),
            ],
        ),
        w=12,
        h=7,
    )
    online = (
        f'SELECT last("online") FROM "gateway_status" WHERE {GWS} AND $timeFilter '
        'GROUP BY time($__interval), "gateway" fill(previous)'
    )
    b.add(
        P.state_timeline(
            "链路状态",
            "Online/offline over time from the gateway's retained status and MQTT last will.",
            [P.target(online, alias="$tag_gateway")],
            mappings=F.up_down_mappings("在线", "离线"),
            thresholds=F.up_down_thresholds(),
            overrides=F.name_overrides(names),
        ),
        w=12,
        h=7,
    )
    b.row("积压与健康 Backlog and health")
    for title, quantity, unit, desc in (
        (
            "待发积压",
            "outbox_depth",
            "short",
            "Readings waiting in the outbox; it grows while the link is down.",
        ),
        (
            "丢弃读数(累计)",
            "outbox_dropped",
            "short",
            "Readings the outbox dropped (full disk or over capacity), running total reported by the gateway.",
        ),
        ("电池电压", "battery_v", "volt", "Battery voltage."),
        ("信号强度", "signal_dbm", "dBm", "Cellular/LoRa signal strength."),
        ("磁盘剩余", "disk_free_pct", "percent", "Free space on the gateway's SD card."),
        ("CPU温度", "cpu_temp_c", "celsius", "CPU temperature of the gateway."),
    ):
        q = (
            f'SELECT max("value") FROM "{quantity}" WHERE {OWN} AND $timeFilter '
            'GROUP BY time($__interval), "origin" fill(none)'
        )
        b.add(
            P.timeseries(
                title, desc, [P.target(q, alias="$tag_origin")], unit=unit, overrides=F.name_overrides(names)
            ),
            w=8,
            h=7,
        )
    b.row("本地自主与拒收 Autonomy and rejected readings")
    autonomy = P.newest("autonomy", ("gateway", "site", "relay_on", "reason"), GWS)
    b.add(
        P.query_table(
            "本地自主事件",
            "Local autonomy: the gateway drove its on-site siren/relay itself because the hub was out of reach.",
            autonomy,
        ),
        w=12,
        h=8,
    )
    rejected = 'SELECT sum("n") AS "n" FROM "rejected" WHERE $timeFilter GROUP BY "origin", "reason"'
    b.add(
        P.query_table(
            "拒收读数",
            "Readings or payloads the hub rejected (bad payload, unknown sensor, wrong topic), by origin and "
            "reason.",
            rejected,
        ),
        w=12,
        h=8,
    )
    # What the hub found about a gateway and wrote down for the county's technicians, who do not read
    # the hub's log (hub/pipeline.py, hub_notice): each is a reason to visit or to check a config.
    notices = P.newest("hub_notice", ("origin", "kind", "detail"), ORIGINS)
    b.add(
        P.query_table(
            "网关提示",
            "What the hub noticed about a gateway: a new outbox (sequence numbers start again: a new SD card "
            "or a reinstalled gateway), two gateways sending under one id, a gateway or sensor clock the "
            "hub had to correct (the site's officers also get a maintenance alert), a gateway clock that "
            "NTP set (the gateway moved the readings waiting in its outbox).",
            notices,
            overrides=[F.names_column("origin", names), F.names_column("kind", NOTICE_ZH)],
        ),
        w=24,
        h=7,
    )
    return b.to_json()


NOTICE_ZH = {
    "new_outbox": "新存储(序号重置)",
    "shared_id": "网关编号重复",
    "clock": "时钟校正",
    "clock_step": "网关时钟校准",
}
