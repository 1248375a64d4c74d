"""Village overview dashboard (凤山村预警总览): map, active alerts, rain vs thresholds, forecasts, health."""

from __future__ import annotations

from ews.grafana import fields as F
from ews.grafana import health
from ews.grafana import panels as P
from ews.grafana import templating as T
from ews.grafana.panels import FIRM, USABLE
from ews.grafana.sites import Site, site_names
from ews.grafana.thresholds import RAIN_WINDOWS, WINDOW_HOURS

UID = "ews-overview"
# "Current" state looks back from the end of the picked range, not from the wall clock, so the same
# dashboard replays a past storm when the officer picks its time range.
RECENT = "time <= ${__to}ms AND time > ${__to}ms - 30d"
GAZETTEER = "public/gazetteer/fengshan-sites.json"


def _geomap(sites: tuple[Site, ...]) -> P.Json:
    level = (
        'SELECT max("level") AS "level" FROM (SELECT last("level_num") AS "level" FROM "alert" '
        f'WHERE {FIRM} AND {RECENT} GROUP BY "site", "rule") GROUP BY "site"'
    )
    rain = (
        f'SELECT sum("value") AS "rain_1h" FROM "rain_mm" WHERE "source" = \'sensor\' AND {USABLE} '
        'AND time > ${__to}ms - 1h AND time <= ${__to}ms GROUP BY "site"'
    )
    p = P.panel(
        "geomap",
        "隐患点预警等级分布",
        "Hazard points coloured by their current warning level (highest level over all rules, last 30 days "
        "of transitions up to the end of the time range), with the last hour's rain. Positions come from "
        f"the gazetteer {GAZETTEER} installed with the Grafana provisioning.",
        [P.target(level, "A", "table"), P.target(rain, "B", "table")],
        thresholds=F.level_thresholds(),
        mappings=F.level_mappings(),
        transformations=[P.join_by("site")],
    )
    lat = sum(s.lat for s in sites) / len(sites)
    lon = sum(s.lon for s in sites) / len(sites)
    p["options"] = {
        "view": {"id": "coords", "lat": round(lat, 4), "lon": round(lon, 4), "zoom": 14},
        "controls": {"showZoom": True, "mouseWheelZoom": True, "showScale": True},
        "basemap": {"type": "default", "name": "底图"},
        "layers": [
            {
                "type": "markers",
                "name": "隐患点",
                "location": {"mode": "lookup", "lookup": "site", "gazetteer": GAZETTEER},
                "config": {
                    "style": {
                        "color": {"field": "level", "fixed": "green"},
                        "size": {"fixed": 16},
                        "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
                        "text": {"field": "site", "mode": "field"},
                        "textConfig": {"fontSize": 12, "offsetY": -18, "textAlign": "center"},
                    },
                    "showLegend": True,
                },
                "tooltip": True,
            }
        ],
        "tooltip": {"mode": "details"},
    }
    p["fieldConfig"]["overrides"] = [F.names_column("site", site_names(sites))]
    return p


def _active_alerts(sites: tuple[Site, ...]) -> P.Json:
    last_per_rule = (
        'SELECT * FROM (SELECT "level_num", "message", "alert_id", "level_key" FROM "alert" '
        f'WHERE {FIRM} AND {RECENT} GROUP BY "site", "rule" ORDER BY time DESC LIMIT 1) '
        'WHERE "level_num" > 0 GROUP BY "site", "rule" ORDER BY time DESC'
    )
    # Joined on level_key (episode, level and since when), not alert_id (site/rule): an ack given at blue,
    # or in last week's storm, must not show today's unacknowledged red as acknowledged.
    acks = f'SELECT "level_key", "who", "via" FROM "ack" WHERE {RECENT}'
    renames = {
        "Time": "触发时间",
        "site": "隐患点",
        "rule": "规则",
        "level_num": "等级",
        "message": "内容",
        "who": "确认人",
        "via": "确认方式",
    }
    return P.table(
        "当前预警",
        "Active alerts: the latest transition of each rule and site whose level is above none, with its "
        "age (time since it fired) and who acknowledged it at its current level in this episode. 未确认 = "
        "nobody has acknowledged this level yet (an ack of a lower level does not count, as for the "
        "escalation to the town).",
        [P.target(last_per_rule, "A", "table"), P.target(acks, "B", "table")],
        transformations=[
            P.join_by("level_key"),
            {
                "id": "filterByValue",
                "options": {
                    "type": "include",
                    "match": "any",
                    "filters": [
                        {
                            "fieldName": "level_num",
                            "config": {"id": "greaterOrEqual", "options": {"value": 1}},
                        }
                    ],
                },
            },
            P.organize(renames, exclude=("Time 2", "level_key")),
        ],
        overrides=[
            F.age_column("触发时间"),
            F.coloured_column("等级", F.level_mappings(), "color-background"),
            F.names_column("隐患点", site_names(sites)),
            F.coloured_column("确认人", [F.null_text("未确认", "red")]),
        ],
    )


def _rain_gauge(title: str, description: str, query: str, key: str, sites: tuple[Site, ...]) -> P.Json:
    """Rain per site against the `key` window's critical rainfall."""
    limits = RAIN_WINDOWS[key]
    return P.bargauge(
        title,
        description,
        [P.target(query, alias="$tag_site")],
        unit="mm",
        thresholds=F.threshold_steps(limits),
        overrides=F.name_overrides(site_names(sites)),
        decimals=1,
        minmax=(0, limits.red * 1.25),
    )


def _rain_window(key: str, sites: tuple[Site, ...]) -> P.Json:
    limits = RAIN_WINDOWS[key]
    hours = WINDOW_HOURS[key]
    q = (
        f'SELECT sum("value") FROM "rain_mm" WHERE "source" = \'sensor\' AND {USABLE} '
        f'AND time > ${{__to}}ms - {hours}h AND time <= ${{__to}}ms GROUP BY "site"'
    )
    return _rain_gauge(
        f"近{limits.title}",
        f"Rain over the last {key} per site against the flash-flood critical rainfall: blue ≥ {limits.blue}, "
        f"yellow ≥ {limits.yellow}, orange ≥ {limits.orange}, red ≥ {limits.red} mm.",
        q,
        key,
        sites,
    )


def _forecast(key: str, sites: tuple[Site, ...]) -> P.Json:
    hours = WINDOW_HOURS[key]
    q = (
        'SELECT sum("value") FROM "rain_mm" WHERE "source" = \'forecast\' AND "issued" = \'$issued\' '
        f'AND time > ${{__to}}ms AND time <= ${{__to}}ms + {hours}h GROUP BY "site"'
    )
    return _rain_gauge(
        f"未来{hours}小时预报雨量",
        f"Forecast rain for the next {hours} h from the forecast issued at $issued (pick the issue in the "
        f"预报批次 variable), against the {key} critical rainfall.",
        q,
        key,
        sites,
    )


def build(sites: tuple[Site, ...]) -> P.Json:
    b = P.Board(
        UID,
        "凤山村预警总览",
        "Village overview: where the danger is, why, who has been told; rain against critical rainfall, "
        "forecasts and official warnings, sensor and gateway health.",
    )
    b.variables.append(
        {
            **T.query_var(
                "issued", "预报批次", 'SHOW TAG VALUES FROM "rain_mm" WITH KEY = "issued"', multi=False
            ),
            "sort": 2,  # newest issue first, so the default is the latest forecast
        }
    )
    b.annotations.append(ALERT_ANNOTATION)
    b.row("态势 Situation")
    b.add(_geomap(sites), w=12, h=12)
    b.add(_active_alerts(sites), w=12, h=12)
    b.row("雨量与临界雨量 Rain vs critical rainfall")
    for key in RAIN_WINDOWS:
        b.add(_rain_window(key, sites), w=6, h=7)
    # fill(null): an hour with no reading (a dead gauge, a gateway down) is an empty bar, not a dry hour.
    hourly = (
        f'SELECT sum("value") FROM "rain_mm" WHERE "source" = \'sensor\' AND {USABLE} AND $timeFilter '
        'GROUP BY time(1h), "site" fill(null)'
    )
    b.add(
        P.timeseries(
            "逐小时雨量",
            "Hourly rain per site; dashed lines are the 1 h critical rainfall levels. An hour with no "
            "reading (gauge or gateway down) has no bar: it is not a dry hour.",
            [P.target(hourly, alias="$tag_site")],
            unit="mm",
            limits=RAIN_WINDOWS["1h"],
            bars=True,
            overrides=F.name_overrides(site_names(sites)),
        ),
        w=12,
        h=8,
    )
    b.add(_forecast("6h", sites), w=6, h=8)
    b.add(_forecast("24h", sites), w=6, h=8)
    warning = (
        'SELECT last("value") FROM "warning_level" WHERE "source" = \'warning\' '
        'AND time > ${__to}ms - 24h AND time <= ${__to}ms GROUP BY "site"'
    )
    b.add(
        P.stat(
            "气象预警信号",
            "Official warnings in force over each site (CAP feeds): 0 none … 4 red, last value in 24 h.",
            [P.target(warning, alias="$tag_site")],
            mappings=F.level_mappings(),
            thresholds=F.level_thresholds(),
            overrides=F.name_overrides(site_names(sites)),
        ),
        w=12,
        h=5,
    )
    feeds = (
        'SELECT last("value") FROM "feed_ok" WHERE "source" = \'health\' '
        'AND time > ${__to}ms - 6h AND time <= ${__to}ms GROUP BY "sensor"'
    )
    b.add(
        P.stat(
            "预报/预警数据源",
            "Forecast and warning feed health: 1 the last fetch worked, 0 it failed.",
            [P.target(feeds, alias="$tag_sensor")],
            mappings=F.up_down_mappings("正常", "故障"),
            thresholds=F.up_down_thresholds(),
        ),
        w=12,
        h=5,
    )
    b.row("设备健康 Sensor and gateway health")
    health.add_panels(b, sites, RECENT)
    return b.to_json()


ALERT_ANNOTATION = T.annotation(
    "预警",
    'SELECT "message", "level", "rule", "site" FROM "alert" WHERE $timeFilter',
    "red",
    title="level",
    text="message",
    tags="site,rule",
)
