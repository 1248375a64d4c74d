"""Hazard point dashboard (隐患点详情): one site's rain windows, deformation, hydrology and alert levels."""

from __future__ import annotations

from ews.grafana import fields as F
from ews.grafana import panels as P
from ews.grafana import templating as T
from ews.grafana.panels import FIRM, LOOKBACK, USABLE
from ews.grafana.sites import Site
from ews.grafana.thresholds import DEFAULT_V0_MM_PER_DAY, RAIN_WINDOWS, SENSOR_LIMITS, WINDOW_HOURS

UID = "ews-hazard"
SITE = "\"site\" = '$site'"
SENSOR = "\"source\" = 'sensor'"
RAIN = f"{SENSOR} AND {USABLE}"  # rain the rules count (panels.USABLE)
DEG_PER_RAD = 57.29578


def _rolling(key: str) -> P.Json:
    """Rolling window sum as moving_average × n over 10 min buckets; the query starts one window early
    so the line is complete from the left edge of the range."""
    limits = RAIN_WINDOWS[key]
    hours = WINDOW_HOURS[key]
    n = hours * 6
    q = (
        f'SELECT moving_average(sum("value"), {n}) * {n} FROM "rain_mm" WHERE {SITE} AND {RAIN} '
        f"AND time >= ${{__from}}ms - {hours}h AND time <= ${{__to}}ms GROUP BY time(10m) fill(0)"
    )
    return P.timeseries(
        f"滑动{limits.title}",
        f"Rolling {key} rain at the site; dashed lines: flash-flood critical rainfall "
        f"(blue {limits.blue}, yellow {limits.yellow}, orange {limits.orange}, red {limits.red} mm).",
        [P.target(q, alias=f"{key} 雨量")],
        unit="mm",
        limits=limits,
    )


def _series(title: str, desc: str, q: str, unit: str, limit_key: str | None = None) -> P.Json:
    return P.timeseries(
        title,
        desc,
        [P.target(q, alias="$tag_sensor")],
        unit=unit,
        limits=SENSOR_LIMITS[limit_key] if limit_key else None,
    )


def _per_sensor(quantity: str) -> str:
    """Mean of one quantity at the site per sensor and dashboard interval."""
    return (
        f'SELECT mean("value") FROM "{quantity}" WHERE {SITE} AND {SENSOR} AND $timeFilter '
        'GROUP BY time($__interval), "sensor" fill(none)'
    )


def _deformation(b: P.Board) -> None:
    for quantity, zh, en, unit, rate_key in (
        ("disp_mm", "GNSS位移", "GNSS displacement", "lengthmm", "disp_rate"),
        ("crack_mm", "裂缝宽度", "crack opening", "lengthmm", "crack_rate"),
        ("tilt_deg", "倾角", "tilt", "degree", "tilt_rate"),
    ):
        src = f'"{quantity}"'
        value = _per_sensor(quantity)
        rate = (
            f'SELECT derivative(mean("value"), 1d) FROM {src} WHERE {SITE} AND {SENSOR} AND $timeFilter '
            'GROUP BY time(1h), "sensor" fill(none)'
        )
        lim = SENSOR_LIMITS[rate_key]
        b.add(_series(zh, f"{en.capitalize()} at the site, per sensor.", value, unit), w=8, h=8)
        b.add(
            _series(
                f"{zh}速率",
                f"{en.capitalize()} velocity from hourly means, per day; dashed lines are the rule levels "
                f"(blue {lim.blue}, yellow {lim.yellow}, orange {lim.orange}, red {lim.red} {lim.unit}).",
                rate,
                unit,
                rate_key,
            ),
            w=8,
            h=8,
        )
        if quantity == "disp_mm":
            tangent = (
                f'SELECT atan(derivative(mean("value"), 1d) / $v0) * {DEG_PER_RAD} FROM {src} '
                f'WHERE {SITE} AND {SENSOR} AND $timeFilter GROUP BY time(1h), "sensor" fill(none)'
            )
            t = SENSOR_LIMITS["tangent"]
            b.add(
                _series(
                    "改进切线角",
                    "Improved tangent angle α = arctan(v / v0) of the displacement curve, v0 = the "
                    "constant-velocity rate in the v0 variable (mm/d). 45° is steady creep; levels at "
                    f"{t.blue}/{t.yellow}/{t.orange}/{t.red}° mark the acceleration stages.",
                    tangent,
                    "degree",
                    "tangent",
                ),
                w=8,
                h=8,
            )


def build(sites: tuple[Site, ...]) -> P.Json:
    b = P.Board(
        UID,
        "隐患点详情",
        "One hazard point: rain and its windows, deformation with velocity and tangent angle, soil "
        "moisture and water level, each rule's thresholds and the alert annotations.",
    )
    b.variables += [
        T.custom_var("site", "隐患点", [(s.name, s.id) for s in sites]),
        T.textbox_var("v0", "等速变形速率 v0 (mm/d)", f"{DEFAULT_V0_MM_PER_DAY:g}"),
        {
            **T.query_var("issued", "预报批次", 'SHOW TAG VALUES FROM "rain_mm" WITH KEY = "issued"'),
            "sort": 2,
        },
    ]
    b.annotations += [
        T.annotation(
            "预警",
            f'SELECT "message", "level", "rule" FROM "alert" WHERE {SITE} AND $timeFilter',
            "red",
            title="level",
            text="message",
            tags="rule",
        ),
        T.annotation(
            "事件",
            f'SELECT "title", "text", "kind" FROM "annotation" WHERE {SITE} AND $timeFilter',
            "orange",
            title="title",
            text="text",
            tags="kind",
        ),
    ]
    b.row("雨量 Rain")
    hourly = (
        f'SELECT sum("value") FROM "rain_mm" WHERE {SITE} AND {RAIN} AND $timeFilter '
        "GROUP BY time(1h) fill(null)"  # an hour with no reading is an empty bar, not a dry hour
    )
    b.add(
        P.timeseries(
            "逐小时雨量",
            "Hourly rain at the site (bars) with the 1 h critical rainfall levels; an hour with no reading "
            "(gauge or gateway down) has no bar.",
            [P.target(hourly, alias="小时雨量")],
            unit="mm",
            limits=RAIN_WINDOWS["1h"],
            bars=True,
        ),
        w=12,
        h=8,
    )
    cumulative = (
        f'SELECT cumulative_sum(sum("value")) FROM "rain_mm" WHERE {SITE} AND {RAIN} AND $timeFilter '
        "GROUP BY time($__interval) fill(0)"
    )
    b.add(
        P.timeseries(
            "过程累计雨量",
            "Rain accumulated at the site since the start of the time range.",
            [P.target(cumulative, alias="过程累计")],
            unit="mm",
        ),
        w=12,
        h=8,
    )
    forecast = (
        f'SELECT sum("value") AS "预报雨量" FROM "rain_mm" WHERE {SITE} AND "source" = \'forecast\' '
        "AND \"issued\" = '$issued' AND time > ${__to}ms AND time <= ${__to}ms + 24h GROUP BY time(1h) fill(none)"
    )
    b.add(
        P.barchart(
            "未来24小时逐时预报",
            "Hourly forecast rain for the next 24 h after the end of the range, from the issue chosen in "
            "预报批次 (newest first); bars coloured by the 1 h critical rainfall.",
            [P.target(forecast, fmt="table")],
            unit="mm",
            thresholds=F.threshold_steps(RAIN_WINDOWS["1h"]),
        ),
        w=12,
        h=8,
    )
    for key in RAIN_WINDOWS:
        b.add(_rolling(key), w=6, h=7)
    b.row("变形 Deformation")
    _deformation(b)
    b.row("土壤与水位 Soil and water")
    soil = _per_sensor("soil_moisture_pct")
    water = _per_sensor("water_level_m")
    b.add(_series("土壤含水率", "Volumetric soil moisture, %.", soil, "percent", "soil_moisture"), w=12, h=8)
    b.add(
        _series("沟道水位", "Gully water level above the gauge datum, m.", water, "lengthm", "water_level"),
        w=12,
        h=8,
    )
    b.row("预警 Alerts")
    # The transitions themselves, from LOOKBACK before the range: a state timeline holds each value until
    # the next, so a level set before the range shows from its left edge (fill(previous) over $timeFilter
    # cannot carry it in, and would show nothing there).
    levels = (
        f'SELECT "level_num" FROM "alert" WHERE {SITE} AND {FIRM} '
        f'AND time > ${{__from}}ms - {LOOKBACK} AND time <= ${{__to}}ms GROUP BY "rule"'
    )
    b.add(
        P.state_timeline(
            "各规则预警等级",
            "Warning level per rule at this site over time (0 none … 4 red), including a level set before "
            f"the range (transitions looked up {LOOKBACK} back). Empty: no transition known.",
            [P.target(levels, alias="$tag_rule")],
            mappings=F.level_mappings(null_is_none=False),
            thresholds=F.level_thresholds(),
        ),
        w=12,
        h=8,
    )
    transitions = P.newest("alert", ("rule", "from_level", "level", "state", "value", "message"), SITE)
    b.add(
        P.query_table(
            "预警记录",
            "Every rule transition at this site, newest first: from level, to level, state and the value "
            "that crossed.",
            transitions,
        ),
        w=12,
        h=8,
    )
    return b.to_json()
