"""Small builders for Grafana dashboard JSON (schema 39) over the InfluxDB datasource with raw InfluxQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ews.grafana.fields import Json, threshold_steps
from ews.grafana.thresholds import Limits

DS_UID = "ews-influx"
DS_TYPE = "influxdb"
SCHEMA_VERSION = 39
GRID_WIDTH = 24
# The dispatcher stores every transition, pending ones too (a rule waiting out its `for` hold). A level
# counts once it fires: level queries skip pending rows so the last firing level stands meanwhile.
FIRM = "\"state\" != 'pending'"
# Rain the rules count: they drop readings marked bad (a Modbus sentinel such as -3276.8) and readings
# taken in the sensor's maintenance window (hub/rules/engine.py). Every rain panel and the report do too,
# or one bad frame turns the last hour's rain negative and a technician's test pour becomes a storm.
USABLE = '"quality" =~ /^(good|suspect)$/'
# How far back a timeline looks for the level standing when the range begins (as the map's "current").
LOOKBACK = "30d"


def ds() -> Json:
    return {"type": DS_TYPE, "uid": DS_UID}


def target(query: str, ref: str = "A", fmt: str = "time_series", alias: str = "") -> Json:
    t: Json = {"refId": ref, "datasource": ds(), "rawQuery": True, "query": query, "resultFormat": fmt}
    if alias:
        t["alias"] = alias
    return t


def newest(measurement: str, columns: Sequence[str], where: str = "", limit: int = 200) -> str:
    """InfluxQL for the newest rows of an event log (alerts, deliveries, acks) in the time range."""
    fields = ", ".join(f'"{c}"' for c in columns)
    cond = f"{where} AND $timeFilter" if where else "$timeFilter"
    return f'SELECT {fields} FROM "{measurement}" WHERE {cond} ORDER BY time DESC LIMIT {limit}'


def join_by(column: str, mode: str = "outer") -> Json:
    """Transformation: join the queries' tables on one column (outer: keep unmatched rows of each)."""
    return {"id": "joinByField", "options": {"byField": column, "mode": mode}}


def organize(renames: dict[str, str], exclude: Sequence[str] = ()) -> Json:
    """Transformation: rename columns and hide the ones in `exclude`."""
    options: Json = {"renameByName": renames}
    if exclude:
        options["excludeByName"] = dict.fromkeys(exclude, True)
    return {"id": "organize", "options": options}


@dataclass
class Board:
    """A dashboard under construction: panels flow left to right, then wrap; ids assigned in order."""

    uid: str
    title: str
    description: str
    tags: list[str] = field(default_factory=lambda: ["ews", "fengshan"])
    time_from: str = "now-24h"
    refresh: str = "1m"
    panels: list[Json] = field(default_factory=list)
    variables: list[Json] = field(default_factory=list)
    annotations: list[Json] = field(default_factory=list)
    _x: int = 0
    _y: int = 0
    _row_h: int = 0

    def row(self, title: str) -> None:
        self._newline()
        self._add({"type": "row", "title": title, "collapsed": False, "panels": []}, GRID_WIDTH, 1)

    def _newline(self) -> None:
        if self._x:
            self._y += self._row_h
            self._x, self._row_h = 0, 0

    def _add(self, panel: Json, w: int, h: int) -> Json:
        if self._x + w > GRID_WIDTH:
            self._newline()
        panel["id"] = len(self.panels) + 1
        panel["gridPos"] = {"h": h, "w": w, "x": self._x, "y": self._y}
        self.panels.append(panel)
        self._x += w
        self._row_h = max(self._row_h, h)
        if panel["type"] == "row":
            self._newline()
        return panel

    def add(self, panel: Json, w: int = 12, h: int = 8) -> Json:
        return self._add(panel, w, h)

    def to_json(self) -> Json:
        builtin = {
            "builtIn": 1,
            "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True,
            "hide": True,
            "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts",
            "type": "dashboard",
        }
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": self.tags,
            "timezone": "browser",
            "editable": True,
            "graphTooltip": 1,
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "refresh": self.refresh,
            "time": {"from": self.time_from, "to": "now"},
            "timepicker": {},
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "weekStart": "",
            "links": [{"type": "dashboards", "tags": ["ews"], "asDropdown": False, "title": "预警系统"}],
            "annotations": {"list": [builtin, *self.annotations]},
            "templating": {"list": self.variables},
            "panels": self.panels,
        }


def panel(
    kind: str,
    title: str,
    description: str,
    targets: list[Json],
    *,
    unit: str = "",
    thresholds: Json | None = None,
    mappings: list[Json] | None = None,
    overrides: list[Json] | None = None,
    custom: Json | None = None,
    options: Json | None = None,
    transformations: list[Json] | None = None,
    decimals: int | None = None,
    minmax: tuple[float | None, float | None] = (None, None),
) -> Json:
    defaults: Json = {"custom": custom or {}, "mappings": mappings or []}
    defaults["thresholds"] = thresholds or threshold_steps(None)
    defaults["color"] = {"mode": "thresholds"} if thresholds else {"mode": "palette-classic"}
    if unit:
        defaults["unit"] = unit
    if decimals is not None:
        defaults["decimals"] = decimals
    if minmax[0] is not None:
        defaults["min"] = minmax[0]
    if minmax[1] is not None:
        defaults["max"] = minmax[1]
    p: Json = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": ds(),
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {},
    }
    if transformations:
        p["transformations"] = transformations
    return p


def timeseries(
    title: str,
    description: str,
    targets: list[Json],
    *,
    unit: str = "",
    limits: Limits | None = None,
    bars: bool = False,
    overrides: list[Json] | None = None,
    step: bool = False,
) -> Json:
    """A time series; `limits` draws the level thresholds as dashed lines with a faint area."""
    custom: Json = {
        "drawStyle": "bars" if bars else "line",
        "lineWidth": 1 if bars else 2,
        "fillOpacity": 60 if bars else 10,
        "showPoints": "never",
        "spanNulls": True,
        "lineInterpolation": "stepAfter" if step else "linear",
        "thresholdsStyle": {"mode": "dashed+area" if limits else "off"},
    }
    p = panel(
        "timeseries",
        title,
        description,
        targets,
        unit=unit,
        thresholds=threshold_steps(limits, base="transparent") if limits else None,
        overrides=overrides,
        custom=custom,
        options={
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    )
    if limits:
        p["fieldConfig"]["defaults"]["color"] = {"mode": "palette-classic"}
    return p


def table(
    title: str, description: str, targets: list[Json], *, transformations: list[Json] | None = None, **kw: Any
) -> Json:
    return panel(
        "table",
        title,
        description,
        targets,
        transformations=transformations,
        options={"showHeader": True, "cellHeight": "sm", "footer": {"show": False}},
        **kw,
    )


def query_table(title: str, description: str, query: str, **kw: Any) -> Json:
    """A table of one raw InfluxQL query (an event log: alerts, deliveries, acknowledgements)."""
    return table(title, description, [target(query, fmt="table")], **kw)


def stat(title: str, description: str, targets: list[Json], **kw: Any) -> Json:
    opts = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "background",
        "graphMode": "none",
        "justifyMode": "auto",
        "orientation": "auto",
        "textMode": "value_and_name",
    }
    return panel("stat", title, description, targets, options=opts, **kw)


def bargauge(title: str, description: str, targets: list[Json], **kw: Any) -> Json:
    opts = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "orientation": "horizontal",
        "displayMode": "lcd",
        "showUnfilled": True,
        "valueMode": "color",
    }
    return panel("bargauge", title, description, targets, options=opts, **kw)


def barchart(title: str, description: str, targets: list[Json], **kw: Any) -> Json:
    """Bars over a table's time column: unlike a time series it shows hours after the dashboard's `to`."""
    opts = {
        "orientation": "vertical",
        "xField": "Time",
        "xTickLabelRotation": -45,
        "showValue": "auto",
        "barWidth": 0.8,
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "single"},
    }
    return panel("barchart", title, description, targets, options=opts, **kw)


def state_timeline(title: str, description: str, targets: list[Json], **kw: Any) -> Json:
    opts = {
        "mergeValues": True,
        "showValue": "auto",
        "alignValue": "left",
        "rowHeight": 0.9,
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
    }
    return panel("state-timeline", title, description, targets, options=opts, **kw)
