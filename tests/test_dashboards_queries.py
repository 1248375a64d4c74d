"""Every dashboard query, with Grafana's macros expanded, runs against real influxd holding the demo storm.

No Grafana server can be installed here, so the dashboards are tested the way Grafana would use them:
the InfluxDB datasource interpolates `$timeFilter`, `$__interval`, `${__to}` and template variables, then
sends raw InfluxQL to /query. The storm (tests/data/storm.py) produces every measurement of docs/schema.md,
so every panel and annotation query must answer without error and with at least one series.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ews.cli import main
from ews.grafana.check import Query, iter_queries
from ews.grafana.macros import Context, expand
from ews.grafana.runner import Outcome, assignments, run, variable_choices
from ews.grafana.sites import FENGSHAN
from ews.servers import Influxd
from hub.influx import InfluxClient, InfluxConfig
from tests.data import storm as storm_data

DASHBOARDS = Path(__file__).resolve().parent.parent / "dashboards"
SITES = [s.id for s in FENGSHAN]
GATEWAYS = [s.gateway for s in FENGSHAN]


@pytest.fixture(scope="module")
def stormdb(influxd_session: Influxd) -> Iterator[tuple[InfluxClient, storm_data.Storm]]:
    client = InfluxClient(InfluxConfig.model_validate({"url": influxd_session.url, "database": "dash_storm"}))
    yield client, storm_data.load(client)
    client.query('DROP DATABASE "dash_storm"', db=False)


def _dash(name: str) -> dict[str, Any]:
    return json.loads((DASHBOARDS / name).read_text(encoding="utf-8"))


def _latest_issue(client: InfluxClient, dash: dict[str, Any], to_ms: int) -> str:
    """Resolve $issued as an officer watching live at `to` sees it: the newest issue not after `to`.
    (The variable sorts newest first; live, no issue is newer than now. The replayed storm holds later
    issues too, so the test picks the one an officer would have had.)"""
    q = next(v["query"] for v in dash["templating"]["list"] if v["name"] == "issued")
    values = [row[1] for s in client.query(q) for row in s["values"]]
    stamps = sorted(v for v in values if storm_data.iso_to_epoch(v) * 1000 <= to_ms)
    assert stamps, f"no forecast issued before {to_ms}"
    return stamps[-1]


def run_all(client: InfluxClient, name: str, from_s: int, to_s: int) -> dict[str, list[Outcome]]:
    """Query location → its outcome under each variable assignment (each site, all sites, …)."""
    dash = _dash(name)
    choices = variable_choices(client, dash)
    if "issued" in choices:
        choices["issued"] = [_latest_issue(client, dash, to_s * 1000)]
    out: dict[str, list[Outcome]] = {}
    for variables in assignments(choices):
        for o in run(client, dash, from_s * 1000, to_s * 1000, variables):
            out.setdefault(o.where, []).append(o)
    return out


def _errors(results: dict[str, list[Outcome]]) -> list[str]:
    return [f"{o.where}: {o.error}" for runs in results.values() for o in runs if o.error]


def _empty(results: dict[str, list[Outcome]]) -> list[str]:
    return [where for where, runs in results.items() if not any(o.series for o in runs)]


@pytest.mark.parametrize("name", sorted(p.name for p in DASHBOARDS.glob("*.json")))
def test_every_query_answers_with_data_mid_storm(stormdb: tuple[InfluxClient, Any], name: str) -> None:
    client, storm = stormdb
    to = storm.start + 30 * 3600  # 30 h in: red everywhere, evacuation under way, forecasts ahead
    results = run_all(client, name, storm.start, to)
    assert len(results) >= 10, f"{name}: too few queries found"
    assert _errors(results) == []
    assert _empty(results) == [], f"{name}: queries with no data"


def _single(
    client: InfluxClient, name: str, where_part: str, from_s: int, to_s: int, **variables: Any
) -> Any:
    dash = _dash(name)
    q: Query = next(q for q in iter_queries(dash) if where_part in q.where)
    return client.query(expand(q.text, Context(from_s * 1000, to_s * 1000, variables=variables), q.where))


def test_map_and_active_alerts_show_red_at_the_peak_and_clear_after(
    stormdb: tuple[InfluxClient, Any],
) -> None:
    client, storm = stormdb
    peak = storm.start + 30 * 3600
    name = "village-overview.json"
    levels = _single(client, name, "隐患点预警等级分布' query A", storm.start, peak)
    assert {s["tags"]["site"]: s["values"][0][1] for s in levels} == dict.fromkeys(SITES, 4)
    active = _single(client, name, "'当前预警' query A", storm.start, peak)
    assert sorted(s["tags"]["site"] for s in active) == SITES
    # After the storm every rule has resolved; the tilt rule still pending at fs-hp03 is not a level yet.
    after = storm.end
    assert _single(client, name, "'当前预警' query A", storm.start, after) == []
    levels = _single(client, name, "隐患点预警等级分布' query A", storm.start, after)
    assert {s["tags"]["site"]: s["values"][0][1] for s in levels} == dict.fromkeys(SITES, 0)


def test_rain_windows_against_the_critical_table(stormdb: tuple[InfluxClient, Any]) -> None:
    client, storm = stormdb
    at = storm.start + 30 * 3600
    day = _single(client, "village-overview.json", "'近24小时雨量'", storm.start, at)
    totals = {s["tags"]["site"]: s["values"][0][1] for s in day}
    # The storm's promise: more than 200 mm in 24 h at every hazard point (the red 24 h threshold).
    assert min(totals.values()) > 200, totals
    expected = {
        site: sum(v for t, v in series if at - 86400 < t <= at) for site, series in storm.rain.items()
    }
    assert totals == pytest.approx(expected)


def test_forecast_panels_use_the_chosen_issue(stormdb: tuple[InfluxClient, Any]) -> None:
    client, storm = stormdb
    at = storm.start + 18 * 3600
    dash = _dash("village-overview.json")
    issued = _latest_issue(client, dash, at * 1000)
    rows = _single(client, "village-overview.json", "'未来6小时预报雨量'", storm.start, at, issued=issued)
    assert sorted(s["tags"]["site"] for s in rows) == SITES
    assert all(s["values"][0][1] > 60 for s in rows)  # the core is forecast to arrive within 6 h


def test_cli_check_runs_every_query_against_a_live_database(
    stormdb: tuple[InfluxClient, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    client, _ = stormdb
    argv = [
        "dashboards",
        "check",
        "--dir",
        str(DASHBOARDS),
        "--influx-url",
        client.cfg.url,
        "--db",
        "dash_storm",
    ]
    # The storm lies in the past: a range reaching back over it gives data, but no query may error.
    assert main([*argv, "--hours", "20000"]) == 0
    out = capsys.readouterr().out
    total = sum(len(list(iter_queries(_dash(p.name)))) for p in DASHBOARDS.glob("*.json"))
    assert f"{total} queries run against {client.cfg.url}/dash_storm" in out
    assert "4 dashboards checked, 0 problems" in out


def test_cli_check_reports_an_unreachable_database(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "dashboards",
        "check",
        "--dir",
        str(DASHBOARDS),
        "--influx-url",
        "http://127.0.0.1:9",
        "--hours",
        "1",
    ]
    assert main(argv) == 1
    assert "influx http://127.0.0.1:9/query: ConnectionError" in capsys.readouterr().err
