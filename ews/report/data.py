"""Read one storm's rows from InfluxDB (InfluxQL over hub.influx) into plain series for the report."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ews.grafana.panels import USABLE  # rain the rules count: no bad or maintenance readings
from ews.grafana.sites import Site
from ews.grafana.thresholds import WINDOW_HOURS
from hub.influx import InfluxClient

STEP_S = 600  # rain is summed into 10-min buckets; rolling windows are built from those
DEFORMATION = ("disp_mm", "crack_mm", "tilt_deg")
HYDRO = ("soil_moisture_pct", "water_level_m")

Series = list[tuple[int, float]]


@dataclass
class SiteData:
    site: Site
    rain: Series = field(default_factory=list)  # 10-min buckets from `start - 24h` to `end`
    windows: dict[str, Series] = field(default_factory=dict)  # rolling sums, 1h/3h/6h/24h, in range
    sensors: dict[str, dict[str, Series]] = field(default_factory=dict)  # quantity → sensor → series
    levels: Series = field(default_factory=list)  # (time, highest level over rules) at each transition
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def total_rain(self, start: int) -> float:
        return sum(v for t, v in self.rain if t > start)

    def peak(self, key: str) -> float:
        return max((v for _, v in self.windows.get(key, [])), default=0.0)

    def max_level(self) -> int:
        return int(max((v for _, v in self.levels), default=0))

    def first_alert(self) -> int | None:
        return next((t for t, v in self.levels if v > 0), None)


@dataclass
class StormData:
    start: int
    end: int
    sites: list[SiteData]
    deliveries: dict[tuple[str, str], int] = field(default_factory=dict)  # (channel, state) → count
    deliveries_by_site: dict[tuple[str, str], int] = field(default_factory=dict)  # (site, state) → count
    acks: list[dict[str, Any]] = field(default_factory=list)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    evacuation: dict[str, Series] = field(default_factory=dict)  # grid → evacuated over time
    evac_total: dict[str, int] = field(default_factory=dict)
    drones: list[dict[str, Any]] = field(default_factory=list)


def _q(site_id: str) -> str:
    return site_id.replace("\\", "\\\\").replace("'", "\\'")


def _rows(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flatten InfluxDB series into dict rows, tags merged in."""
    out = []
    for s in series:
        cols = s["columns"]
        for values in s["values"]:
            out.append({**s.get("tags", {}), **dict(zip(cols, values, strict=True))})
    return out


def rolling(buckets: Series, hours: int, start: int) -> Series:
    """Rolling sums over `hours`, evaluated at each 10-min bucket end from `start` on; O(n)."""
    n = hours * 3600 // STEP_S
    out, acc = [], 0.0
    for i, (t, v) in enumerate(buckets):
        acc += v
        if i >= n:
            acc -= buckets[i - n][1]
        if t >= start:
            out.append((t, round(acc, 3)))
    return out


def fetch(client: InfluxClient, sites: tuple[Site, ...], start: int, end: int) -> StormData:
    span = f"time > {start}s AND time <= {end}s"
    data = StormData(start, end, [])
    for site in sites:
        sd = SiteData(site)
        sid = _q(site.id)
        q = (
            f'SELECT sum("value") FROM "rain_mm" WHERE "site" = \'{sid}\' AND "source" = \'sensor\' '
            f"AND {USABLE} AND time > {start - 86400}s AND time <= {end}s GROUP BY time(10m) fill(0)"
        )
        # InfluxDB labels a bucket by its start; the rain fell by the bucket's end.
        sd.rain = [(int(r["time"]) + STEP_S, float(r["sum"] or 0.0)) for r in _rows(client.query(q))]
        sd.windows = {key: rolling(sd.rain, h, start) for key, h in WINDOW_HOURS.items()}
        for quantity in DEFORMATION + HYDRO:
            q = (
                f'SELECT mean("value") FROM "{quantity}" WHERE "site" = \'{sid}\' AND "source" = \'sensor\' '
                f'AND {span} GROUP BY time(10m), "sensor" fill(none)'
            )
            per_sensor: dict[str, Series] = defaultdict(list)
            for r in _rows(client.query(q)):
                per_sensor[r["sensor"]].append((int(r["time"]), float(r["mean"])))
            if per_sensor:
                sd.sensors[quantity] = dict(per_sensor)
        q = (
            'SELECT "level_num", "rule", "level", "from_level", "state", "message", "alert_id" FROM "alert" '
            f"WHERE \"site\" = '{sid}' AND {span}"
        )
        sd.alerts = _rows(client.query(q))
        current: dict[str, int] = {}
        for r in sd.alerts:
            if r["state"] == "pending":  # waiting out its hold: the firing level still stands
                continue
            current[r["rule"]] = int(r["level_num"])
            sd.levels.append((int(r["time"]), float(max(current.values()))))
        data.sites.append(sd)
    names = "|".join(_q(s.id) for s in sites)
    in_sites = f'"site" =~ /^({names})$/'
    q = f'SELECT sum("n") FROM "delivery" WHERE {in_sites} AND {span} GROUP BY "channel", "state", "site"'
    for s in client.query(q):
        tags, n = s["tags"], int(s["values"][0][1])
        key = (tags["channel"], tags["state"])
        data.deliveries[key] = data.deliveries.get(key, 0) + n
        skey = (tags["site"], tags["state"])
        data.deliveries_by_site[skey] = data.deliveries_by_site.get(skey, 0) + n
    data.acks = _rows(
        client.query(f'SELECT "alert_id", "who", "via", "site" FROM "ack" WHERE {in_sites} AND {span}')
    )
    data.escalations = _rows(
        client.query(f'SELECT "alert_id", "to", "site" FROM "escalation" WHERE {in_sites} AND {span}')
    )
    q = f'SELECT "evacuated", "total", "grid" FROM "evacuation" WHERE {in_sites} AND {span}'
    for r in _rows(client.query(q)):
        data.evacuation.setdefault(r["grid"], []).append((int(r["time"]), float(r["evacuated"])))
        data.evac_total[r["grid"]] = int(r["total"])
    data.drones = _rows(
        client.query(
            f'SELECT "site", "state", "plan", "alert_id" FROM "drone_dispatch" WHERE {in_sites} AND {span}'
        )
    )
    return data
