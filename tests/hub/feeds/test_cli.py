"""`ews feeds fetch` and `ews cap show` end to end through ews.cli.main, against a loopback HTTP server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from ews.cli import main
from tests.hub.feeds.helpers import DATA, NOW, body

SITES = """
sites:
  - {id: fs-hp01, lat: 24.6012, lon: 112.5521}
  - {id: fs-hp02, lat: 24.5958, lon: 112.5603}
"""


def write_config(tmp_path: Path, server: HTTPServer) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        f"""
feeds:
  - kind: openmeteo
    name: om
    base_url: {server.url_for("/v1/forecast")}
    model: cma_grapes_global
  - kind: cap
    name: gd-cap
    url: {server.url_for("/cap/cap/red-update.xml")}
{SITES}""",
        encoding="utf-8",
    )
    return path


def lines(out: str) -> list[dict]:
    return [json.loads(x) for x in out.splitlines() if x.strip()]


def test_feeds_fetch_prints_what_would_be_stored(
    httpserver: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    httpserver.expect_request("/v1/forecast").respond_with_data(body("openmeteo-forecast-2pts.json"))
    cfg = write_config(tmp_path, httpserver)
    assert main(["feeds", "fetch", "om", "--config", str(cfg), "--now", str(NOW)]) == 0
    rows = lines(capsys.readouterr().out)
    rain = [r for r in rows if r["quantity"] == "rain_mm"]
    assert len(rain) == 22
    assert rain[0]["issued_utc"] == "2024-06-16T02:00:00+00:00" and rain[0]["source"] == "forecast"
    assert rows[-1]["quantity"] == "feed_ok" and rows[-1]["value"] == 1.0


def test_feeds_fetch_single_cap_url_prints_levels_and_events(
    httpserver: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    httpserver.expect_request("/cap/cap/red-update.xml").respond_with_data(
        body("gd-yangshan-rainstorm-red-update.cap.xml")
    )
    cfg = write_config(tmp_path, httpserver)
    now = 1718508660.0  # 11:31 CST, a minute after the update was sent
    assert main(["feeds", "fetch", "gd-cap", "--config", str(cfg), "--now", str(now)]) == 0
    rows = lines(capsys.readouterr().out)
    levels = {r["sensor"]: r["value"] for r in rows if r.get("quantity") == "warning_level"}
    assert levels == {"gd-cap@fs-hp01": 3.0, "gd-cap@fs-hp02": 4.0}
    events = [r for r in rows if r["type"] == "event"]
    assert {(e["site"], e["level"], e["event"]) for e in events} == {
        ("fs-hp01", 3, "暴雨橙色预警"),
        ("fs-hp02", 4, "暴雨红色预警"),
    }


def test_feeds_fetch_failure_and_config_errors(
    httpserver: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    httpserver.expect_request("/v1/forecast").respond_with_data("oops", status=502)
    cfg = write_config(tmp_path, httpserver)
    assert main(["feeds", "fetch", "om", "--config", str(cfg)]) == 1
    captured = capsys.readouterr()
    assert "om failed: server: HTTP 502" in captured.err
    assert lines(captured.out)[-1]["value"] == 0.0  # feed_ok 0 is what the hub would store
    assert main(["feeds", "fetch", "nope", "--config", str(cfg)]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("feeds:\n  - {kind: radar, name: r}\n", encoding="utf-8")
    assert main(["feeds", "fetch", "r", "--config", str(bad)]) == 2
    assert "feeds[0]: feed 'r': unknown kind 'radar'" in capsys.readouterr().err


def test_cap_show_file_url_invalid_and_index(
    httpserver: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cap", "show", str(DATA / "is-imo-wind-yellow.cap.xml")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_valid"] and doc["identifier"].startswith("is-IMO-")
    assert [i["language"] for i in doc["info"]] == ["is-IS", "en-US"]
    assert doc["info"][1]["expires"] == "2021-09-13T10:00:00+00:00"

    httpserver.expect_request("/x.xml").respond_with_data(body("tw-wra-reservoir.cap.xml"))
    assert main(["cap", "show", httpserver.url_for("/x.xml")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["info"][0]["areas"][0]["geocodes"] == [{"name": "Taiwan_Geocode_100", "value": "1000512"}]

    bad = tmp_path / "bad.xml"
    bad.write_bytes(body("tw-wra-reservoir.cap.xml").replace(b"<scope>Public</scope>", b""))
    assert main(["cap", "show", str(bad)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert not doc["schema_valid"] and "scope" in doc["schema_errors"][0]

    assert main(["cap", "show", str(DATA / "atom-index.xml")]) == 0
    entries = lines(capsys.readouterr().out)
    assert [e["entry"].rsplit("/", 1)[-1] for e in entries] == ["red-update.xml", "orange.xml"]

    assert main(["cap", "show", str(tmp_path / "missing.xml")]) == 2
