"""Lint the dashboards and the Grafana provisioning: generated JSON is what is committed, `ews dashboards
check` passes on it and catches each class of mistake; provisioning YAML has the shape Grafana reads."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ews.cli import main
from ews.grafana.check import check_dashboard, check_dir, load, walk_panels
from ews.grafana.generate import GAZETTEER_FILE, render, stale
from ews.grafana.sites import FENGSHAN, gazetteer

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = ROOT / "dashboards"
GRAFANA = ROOT / "deploy" / "grafana"


def _dash(name: str = "hazard-point.json") -> dict[str, Any]:
    return json.loads((DASHBOARDS / name).read_text(encoding="utf-8"))


def test_committed_dashboards_are_what_the_generator_makes() -> None:
    assert sorted(p.name for p in DASHBOARDS.glob("*.json")) == sorted(render())
    assert stale(DASHBOARDS) == [], "run `ews dashboards generate` and commit the result"
    assert json.loads((GRAFANA / "gazetteer" / GAZETTEER_FILE).read_text(encoding="utf-8")) == gazetteer(
        FENGSHAN
    )


def test_check_passes_on_the_repo_and_through_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert [str(p) for p in check_dir(DASHBOARDS)] == []
    assert main(["dashboards", "check", "--dir", str(DASHBOARDS), "--generated"]) == 0
    assert "4 dashboards checked, 0 problems" in capsys.readouterr().out


def test_labels_are_chinese_and_descriptions_english() -> None:
    han = re.compile(r"[\u4e00-\u9fff]")
    for path in DASHBOARDS.glob("*.json"):
        dash = load(path)
        assert han.search(dash["title"]), path
        for p in walk_panels(dash["panels"]):
            assert han.search(p["title"]), f"{path}: panel {p['id']} title {p['title']!r}"
            if p["type"] != "row":
                assert re.search(r"[A-Za-z]{4,}", p["description"]), f"{path}: panel {p['id']} needs English"


def _problems(dash: dict[str, Any]) -> list[str]:
    return [f"{p.where}: {p.message}" for p in check_dashboard(dash, "x.json")]


def test_check_catches_duplicate_ids_wrong_datasource_and_variables() -> None:
    dash = _dash()
    panels = dash["panels"]
    panels[5]["id"] = panels[4]["id"]
    panels[6]["targets"][0]["datasource"] = {"type": "influxdb", "uid": "someone-elses"}
    panels[7]["targets"][0]["query"] += " AND \"sensor\" = '$sensor'"
    dash["templating"]["list"].append({"name": "unused", "type": "custom", "query": "a,b"})
    problems = _problems(dash)
    assert any(f"duplicate panel id {panels[4]['id']}" in p for p in problems), problems
    assert any("someone-elses" in p for p in problems)
    assert any("$sensor is used but not defined" in p for p in problems)
    assert any("$unused is defined but no query uses it" in p for p in problems)


def test_check_catches_nested_row_ids_and_bad_grid() -> None:
    dash = _dash("gateways.json")
    inner = copy.deepcopy(dash["panels"][1])
    dash["panels"][0]["panels"] = [inner]  # a collapsed row keeps its panels inside it
    dash["panels"][2]["gridPos"]["x"] = 20
    problems = _problems(dash)
    assert any("duplicate panel id" in p for p in problems)
    assert any("outside the 24-column grid" in p for p in problems)


def test_invalid_json_names_file_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{\n  "uid": "x",\n  "panels": [,]\n}\n', encoding="utf-8")
    problems = [str(p) for p in check_dir(tmp_path)]
    assert len(problems) == 1 and "broken.json:3:" in problems[0] and "invalid JSON" in problems[0]
    assert main(["dashboards", "check", "--dir", str(tmp_path)]) == 1


def test_datasource_provisioning_yaml() -> None:
    for path in (
        GRAFANA / "provisioning" / "datasources" / "ews-influxdb.yaml",
        GRAFANA / "datasource-influxdb-token.yaml",
    ):
        text = path.read_text(encoding="utf-8")
        doc = yaml.safe_load(text)
        assert doc["apiVersion"] == 1
        (ds,) = doc["datasources"]
        assert ds["uid"] == "ews-influx" and ds["type"] == "influxdb" and ds["access"] == "proxy"
        assert ds["jsonData"]["dbName"] == "ews" and ds["jsonData"]["version"] == "InfluxQL"
        # Every secret comes from grafana-server's environment; none is written in the file.
        secrets = list(ds.get("secureJsonData", {}).values()) + ([ds["user"]] if "user" in ds else [])
        assert secrets and all(re.search(r"\$\{EWS_[A-Z_]+\}", str(s)) for s in secrets), path
    token = yaml.safe_load((GRAFANA / "datasource-influxdb-token.yaml").read_text())["datasources"][0]
    assert token["jsonData"]["httpHeaderName1"] == "Authorization"
    assert token["secureJsonData"]["httpHeaderValue1"] == "Token ${EWS_INFLUX_READ_TOKEN}"
    assert "password" not in token.get("secureJsonData", {})


def test_dashboard_provider_yaml() -> None:
    doc = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "ews.yaml").read_text(encoding="utf-8"))
    assert doc["apiVersion"] == 1
    (provider,) = doc["providers"]
    assert provider["type"] == "file" and provider["folder"] == "凤山预警" and provider["folderUid"] == "ews"
    assert Path(provider["options"]["path"]).is_absolute()
    assert provider["allowUiUpdates"] is False


def test_env_example_holds_no_values_for_secrets() -> None:
    for line in (GRAFANA / "grafana-server.env.example").read_text().splitlines():
        if line and not line.startswith("#") and ("PASSWORD" in line or "TOKEN" in line):
            assert line.endswith("="), line


def test_sites_thresholds_and_gateways_agree_with_the_deployment() -> None:
    """The dashboards draw the same sites and critical-rainfall table the rule engine alerts on."""
    from ews.grafana.thresholds import RAIN_WINDOWS

    deploy = ROOT / "deploy" / "fengshan"
    rules = yaml.safe_load((deploy / "rules" / "flash_flood.yaml").read_text(encoding="utf-8"))
    by_id = {s["id"]: s for s in rules["sites"]}
    for site in FENGSHAN:
        spec = by_id[site.id]
        assert (spec["name"], spec["lat"], spec["lon"], spec["hazard"]) == (
            site.name,
            site.lat,
            site.lon,
            site.hazard,
        )
        assert tuple(spec["grids"]) == site.grids
    (flood,) = [r for r in rules["rules"] if "rain_24h" in (r.get("thresholds") or {})]
    for key, limits in RAIN_WINDOWS.items():
        assert flood["thresholds"][f"rain_{key}"] == [limits.blue, limits.yellow, limits.orange, limits.red]
    for site in FENGSHAN:
        gw = yaml.safe_load((deploy / "gateways" / f"{site.gateway}.yaml").read_text(encoding="utf-8"))
        assert gw["site"] == site.id


def test_sites_load_from_the_deployment_directory(tmp_path: Path) -> None:
    from ews.grafana.sites import load_deployment

    assert load_deployment(ROOT / "deploy" / "fengshan") == FENGSHAN
    # Generating from the deployment gives the committed dashboards byte for byte.
    out = tmp_path / "dash"
    assert (
        main(
            [
                "dashboards",
                "generate",
                "--out",
                str(out),
                "--gazetteer",
                "",
                "--deployment",
                str(ROOT / "deploy" / "fengshan"),
            ]
        )
        == 0
    )
    assert stale(out) == []
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.yaml").write_text("sites:\n  - {id: x1, name: 某点}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"a.yaml: sites\[0\]: missing 'lat'"):
        load_deployment(tmp_path)
