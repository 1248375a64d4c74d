"""What a real store holds and the dashboards must not be fooled by, run against real influxd.

The storm (tests/data/storm.py) carries the awkward rows on purpose: acks given at a lower level or in a
previous storm, a second rule going blue under a red, a level set before the picked range, a bad Modbus
sentinel and a maintenance reading of rain, a dead gauge, a previous storm's finished evacuation, and a
crack meter's battery under its gateway's origin. Where a panel joins tables in Grafana (joinByField),
the join is done here from the panel's own transformation, so a wrong join column fails too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ews.grafana.check import iter_queries, walk_panels
from ews.grafana.sites import FENGSHAN
from ews.servers import Influxd
from hub.influx import InfluxClient, InfluxConfig
from tests.data import storm as storm_data
from tests.data import storm_alerts
from tests.test_dashboards_queries import DASHBOARDS, _dash, _single

OVERVIEW, ALERTS, HAZARD, GATEWAYS = (
    "village-overview.json",
    "alerts-evacuation.json",
    "hazard-point.json",
    "gateways.json",
)
SITES = [s.id for s in FENGSHAN]
H = 3600


@pytest.fixture(scope="module")
def stormdb(influxd_session: Influxd) -> Iterator[tuple[InfluxClient, storm_data.Storm]]:
    client = InfluxClient(
        InfluxConfig.model_validate({"url": influxd_session.url, "database": "dash_faults"})
    )
    yield client, storm_data.load(client)
    client.query('DROP DATABASE "dash_faults"', db=False)


def _rows(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**s.get("tags", {}), **dict(zip(s["columns"], values, strict=True))}
        for s in series
        for values in s["values"]
    ]


def _panel(name: str, title: str) -> dict[str, Any]:
    return next(p for p in walk_panels(_dash(name)["panels"]) if p.get("title") == title)


def _table(
    client: InfluxClient, name: str, title: str, from_s: int, to_s: int, **variables: Any
) -> list[dict]:
    """The panel's rows as Grafana shows them after its joinByField (inner or outer) on the refIds' tables."""
    panel = _panel(name, title)
    tables = {
        t["refId"]: _rows(_single(client, name, f"{title!r} query {t['refId']}", from_s, to_s, **variables))
        for t in panel["targets"]
    }
    join = next((t["options"] for t in panel.get("transformations", []) if t["id"] == "joinByField"), None)
    if join is None:
        return [r for rows in tables.values() for r in rows]
    first, *others = tables.values()
    key = join["byField"]
    out = []
    for row in first:
        matches = [
            o for rows in others for o in rows if o.get(key) is not None and o.get(key) == row.get(key)
        ]
        if matches:
            out += [{**m, **row} for m in matches]
        elif join.get("mode") != "inner":
            out.append(row)
    return out


def _level_at(series: list[dict[str, Any]], tag: str, at_s: int) -> dict[str, Any]:
    """What a state timeline shows at `at_s` per series: the last value at or before it (None: nothing)."""
    out: dict[str, Any] = {}
    for s in series:
        before = [v for v in s["values"] if v[0] <= at_s]
        out[s["tags"][tag]] = before[-1][1] if before else None
    return out


# ---- 1: an ack counts only for the level standing when it was given, in its own episode ----------------
def test_active_alerts_show_an_ack_only_for_the_current_level_of_the_current_episode(
    stormdb: tuple[InfluxClient, storm_data.Storm],
) -> None:
    client, storm = stormdb
    peak = storm.start + 30 * H
    rows = _table(client, OVERVIEW, "当前预警", storm.start, peak)
    shown = {(r["site"], r["rule"]): (r["level_num"], r.get("who")) for r in rows if r.get("level_num")}
    # fs-hp01's officer acknowledged red; fs-hp02's only blue (and fs-hp01 in the previous storm, same
    # alert_id); nobody answered at fs-hp03. Only fs-hp01 may show who acknowledged.
    assert shown == {
        ("fs-hp01", "rain-critical"): (4, "village-duty"),
        ("fs-hp02", "rain-critical"): (4, None),
        ("fs-hp03", "rain-critical"): (4, None),
    }


# ---- 2: the level timelines carry each rule's level, from before the range too -------------------------
def test_site_timeline_stays_red_when_a_second_rule_goes_blue(
    stormdb: tuple[InfluxClient, storm_data.Storm],
) -> None:
    client, storm = stormdb
    blue_at = storm.start + storm_alerts.WATER_BLUE[0]
    series = _single(client, ALERTS, "'预警等级时间线'", storm.start, blue_at + H, site=["fs-hp02"])
    assert _level_at(series, "site", blue_at + 300) == {"fs-hp02": 4}


def test_timelines_show_the_level_set_before_the_range(
    stormdb: tuple[InfluxClient, storm_data.Storm],
) -> None:
    client, storm = stormdb
    # 25 h to 26 h: no transition at fs-hp02 inside, red (rain) and blue (water level) stand from before.
    start, end = storm.start + 25 * H, storm.start + 26 * H - 600
    site = _single(client, ALERTS, "'预警等级时间线'", start, end, site=SITES)
    assert _level_at(site, "site", start) == {"fs-hp01": 4, "fs-hp02": 4, "fs-hp03": 4}
    rules = _single(client, HAZARD, "'各规则预警等级'", start, end, site="fs-hp02", v0="1", issued="x")
    assert _level_at(rules, "rule", start) == {"rain-critical": 4, "water-level": 1}


def test_timelines_leave_unknown_empty_not_green() -> None:
    for name, title in ((ALERTS, "预警等级时间线"), (HAZARD, "各规则预警等级")):
        mappings = _panel(name, title)["fieldConfig"]["defaults"]["mappings"]
        assert [m["type"] for m in mappings] == ["value"], f"{title}: null must not read as 无预警"
        assert mappings[0]["options"]["0"]["text"] == "无预警"


# ---- 3: rain the rules drop is not rain on any panel; a dead gauge is no dry hour --------------------
def _rain_queries() -> Iterator[tuple[str, str]]:
    for path in sorted(DASHBOARDS.glob("*.json")):
        for q in iter_queries(_dash(path.name)):
            if '"rain_mm"' in q.text and "'forecast'" not in q.text and "SHOW" not in q.text:
                yield path.name, q.where


def test_no_rain_panel_counts_a_bad_or_maintenance_reading(
    stormdb: tuple[InfluxClient, storm_data.Storm],
) -> None:
    client, storm = stormdb
    at = storm.start + 30 * H  # an hour after the bad sentinel and the technician's 50 mm
    wheres = list(_rain_queries())
    assert len(wheres) >= 10  # the map, 4 windows, 2 hourly, cumulative, 4 rolling
    negative = []
    for name, where in wheres:
        for site in SITES:
            for s in _single(client, name, where, storm.start, at, site=site, v0="1", issued="x"):
                values = [v for row in s["values"] for v in row[1:] if isinstance(v, float)]
                if values and min(values) < 0:
                    negative.append(f"{where} {site}: {min(values)}")
    assert negative == []
    for key, hours in (("1h", 1), ("3h", 3), ("6h", 6), ("24h", 24)):
        title = f"近{hours}小时雨量"
        got = {
            s["tags"]["site"]: s["values"][0][1] for s in _single(client, OVERVIEW, title, storm.start, at)
        }
        want = {
            site: sum(v for t, v in rain if at - hours * H < t <= at) for site, rain in storm.rain.items()
        }
        assert got == pytest.approx(want), key
    got = {
        r["site"]: r["rain_1h"]
        for r in _rows(_single(client, OVERVIEW, "隐患点预警等级分布' query B", storm.start, at))
    }
    assert got == pytest.approx({s: sum(v for t, v in r if at - H < t <= at) for s, r in storm.rain.items()})


def test_hourly_rain_leaves_an_hour_without_readings_empty(
    stormdb: tuple[InfluxClient, storm_data.Storm],
) -> None:
    client, storm = stormdb
    sensor, first, last = storm_data.GAUGE_DEAD
    start, end = storm.start + (first - 2) * H, storm.start + (last + 2) * H - 1
    dead = {storm.start + h * H for h in range(first, last)}
    overview = _single(client, OVERVIEW, "'逐小时雨量'", start, end)
    hazard = _single(client, HAZARD, "'逐小时雨量'", start, end, site="fs-hp03", v0="1", issued="x")
    for values in (
        next(s for s in overview if s["tags"]["site"] == "fs-hp03")["values"],
        hazard[0]["values"],
    ):
        by_hour = dict((t, v) for t, v in values)
        assert [t for t, v in by_hour.items() if v is None] == sorted(dead), sensor
        assert all(by_hour[t] == 0 for t in by_hour if t not in dead)  # dry hours around it still read 0


# ---- 4: evacuation progress is the standing episode's, never the previous storm's --------------------
def test_evacuation_progress_starts_empty_with_a_new_episode(
    stormdb: tuple[InfluxClient, storm_data.Storm],
) -> None:
    client, storm = stormdb
    reports = [
        int(row.rsplit(" ", 1)[1]) // 10**9 for row in storm.lines if row.startswith("evacuation,grid=fs-g1,")
    ]
    first_report = min(t for t in reports if t > storm.start)
    # fs-hp01 is under a new alert, and nobody has reported for fs-g1 yet in this storm: its bar must not
    # show the previous storm's 42/42.
    before = _table(client, ALERTS, "各网格转移进度", storm.start, first_report - 60, site=SITES)
    assert "fs-g1" not in {r["grid"] for r in before}
    mid = _table(client, ALERTS, "各网格转移进度", storm.start, storm.start + 30 * H, site=SITES)
    pct = {r["grid"]: r["progress"] for r in mid}
    assert set(pct) == {"fs-g1", "fs-g2", "fs-g3", "fs-g4"}
    assert pct["fs-g1"] == pytest.approx(100.0)
    assert 90 < pct["fs-g3"] < 100  # two residents stayed


# ---- 5: a gateway's gauges show the gateway, not the nodes it relays -------------------------------
def test_gateway_gauges_read_the_gateways_own_health(stormdb: tuple[InfluxClient, storm_data.Storm]) -> None:
    client, storm = stormdb
    # The crack meter reports a minute after each 10-min step, the gateway every 5 min: at 30 h + 2 min
    # the newest battery_v and signal_dbm under fs-gw01's origin are the node's 3.4 V and -118 dBm.
    at = storm.start + 30 * H + 120
    battery = {
        s["tags"]["origin"]: s["values"][0][1] for s in _single(client, OVERVIEW, "网关电池电压", 0, at)
    }
    signal = {
        s["tags"]["origin"]: s["values"][0][1] for s in _single(client, OVERVIEW, "网关信号强度", 0, at)
    }
    assert min(battery.values()) > 11.0, battery
    assert min(signal.values()) > -100, signal
    gws = [s.gateway for s in FENGSHAN]
    seen = _rows(_single(client, GATEWAYS, "'网关最后上报' query A", storm.start, at, gateway=gws))
    assert min(r["battery_v"] for r in seen) > 11.0
    series = _single(client, GATEWAYS, "'电池电压'", storm.start, at, gateway=gws)
    assert min(v for s in series for _, v in s["values"]) > 11.0
