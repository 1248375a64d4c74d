"""Sensor and gateway health panels for the village overview: stale sensors, battery, signal, backlog."""

from __future__ import annotations

from ews.grafana import fields as F
from ews.grafana import panels as P
from ews.grafana.sites import Site, site_names

# A gateway's own health readings come from its sensor "{gateway}-health" (edge/health.py). Battery and
# signal of a LoRa node or an SL651 station arrive under the same origin: without this a crack meter's
# 3.4 V cell would show as the gateway's 12 V pack.
GATEWAY_OWN = '"sensor" =~ /-health$/'
SENSOR_QUANTITIES = "rain_mm|crack_mm|disp_mm|tilt_deg|tilt_x_deg|tilt_y_deg|soil_moisture_pct|water_level_m"


def add_panels(board: P.Board, sites: tuple[Site, ...], recent: str) -> None:
    """Stale sensors, gateway battery/signal/backlog gauges and link state, onto the overview."""
    last_seen = (
        f'SELECT last("value") AS "last_value" FROM /^({SENSOR_QUANTITIES})$/ WHERE "source" = \'sensor\' '
        'AND time > ${__to}ms - 7d AND time <= ${__to}ms GROUP BY "sensor", "site"'
    )
    fresh = (
        f'SELECT count("value") AS "n_30m" FROM /^({SENSOR_QUANTITIES})$/ WHERE "source" = \'sensor\' '
        'AND time > ${__to}ms - 30m AND time <= ${__to}ms GROUP BY "sensor"'
    )
    board.add(
        P.table(
            "传感器最后上报",
            "Sensors with the time of their last reading (7 days back) and how many readings arrived in the "
            "last 30 minutes; 失联 (stale) means none.",
            [P.target(last_seen, "A", "table"), P.target(fresh, "B", "table")],
            transformations=[
                P.join_by("sensor"),
                P.organize(
                    {
                        "Time": "最后上报",
                        "sensor": "传感器",
                        "site": "隐患点",
                        "last_value": "最新值",
                        "n_30m": "30分钟读数",
                    },
                    exclude=("Time 2",),
                ),
            ],
            overrides=[
                F.age_column("最后上报"),
                F.coloured_column("30分钟读数", [F.null_text("失联 stale", "red")]),
                F.names_column("隐患点", site_names(sites)),
            ],
        ),
        w=12,
        h=10,
    )
    gw_names = {s.gateway: f"{s.gateway} {s.name}" for s in sites}
    for title, quantity, unit, steps, desc in GATEWAY_GAUGES:
        q = (
            f'SELECT last("value") FROM "{quantity}" WHERE {GATEWAY_OWN} '
            'AND time > ${__to}ms - 1h AND time <= ${__to}ms GROUP BY "origin"'
        )
        board.add(
            P.bargauge(
                title,
                desc,
                [P.target(q, alias="$tag_origin")],
                unit=unit,
                thresholds={"mode": "absolute", "steps": steps},
                overrides=F.name_overrides(gw_names),
            ),
            w=4,
            h=5,
        )
    online = f'SELECT last("online") FROM "gateway_status" WHERE {recent} GROUP BY "gateway"'
    board.add(
        P.stat(
            "网关在线",
            "Gateway link state from its retained MQTT status and last will (1 online, 0 offline).",
            [P.target(online, alias="$tag_gateway")],
            mappings=F.up_down_mappings("在线", "离线"),
            thresholds=F.up_down_thresholds(),
            overrides=F.name_overrides(gw_names),
        ),
        w=4,
        h=5,
    )


GATEWAY_GAUGES: list[tuple[str, str, str, list[P.Json], str]] = [
    (
        "网关电池电压",
        "battery_v",
        "volt",
        [
            {"color": "red", "value": None},
            {"color": "orange", "value": 11.5},
            {"color": "yellow", "value": 11.9},
            {"color": "green", "value": 12.2},
        ],
        "Gateway battery voltage (12 V lead-acid/LiFePO4 pack), last value in the last hour.",
    ),
    (
        "网关信号强度",
        "signal_dbm",
        "dBm",
        [
            {"color": "red", "value": None},
            {"color": "orange", "value": -105},
            {"color": "yellow", "value": -95},
            {"color": "green", "value": -85},
        ],
        "Cellular/LoRa signal strength at the gateway, dBm.",
    ),
    (
        "网关待发积压",
        "outbox_depth",
        "short",
        [
            {"color": "green", "value": None},
            {"color": "yellow", "value": 100},
            {"color": "orange", "value": 1000},
            {"color": "red", "value": 10000},
        ],
        "Readings waiting in the gateway's store-and-forward outbox (backlog when the link is down).",
    ),
]
