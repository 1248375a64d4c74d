"""`ews dashboards push` against a local HTTP server that checks each request's shape.

This is a recorded-contract test: no Grafana server can be installed here, so pytest-httpserver plays
Grafana's HTTP API with the paths, methods and JSON bodies documented for Grafana 10/11
(GET /api/folders/:uid, POST /api/folders, GET /api/datasources/name/:name, POST /api/dashboards/db)
and the answers Grafana returns. grafana-client itself is real and talks real HTTP to it.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from ews.cli import main
from ews.grafana.check import walk_panels
from ews.grafana.push import PushError, PushTarget, push

DASHBOARDS = Path(__file__).resolve().parent.parent / "dashboards"
TOKEN = "glsa_" + secrets.token_hex(12)  # made per run: no token-shaped literal in the repo


def _uids(dash: dict[str, Any]) -> set[str]:
    found = set()
    for p in walk_panels(dash["panels"]):
        for ds in [p.get("datasource"), *(t.get("datasource") for t in p.get("targets", []))]:
            if isinstance(ds, dict) and ds.get("type") == "influxdb":
                found.add(ds["uid"])
    for a in dash["annotations"]["list"]:
        if a.get("datasource", {}).get("type") == "influxdb":
            found.add(a["datasource"]["uid"])
    return found


class FakeGrafana:
    """Records dashboards posted and checks the auth header and body on every call."""

    def __init__(self, server: HTTPServer, folder_exists: bool) -> None:
        self.posted: list[dict[str, Any]] = []
        self.folders: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.folder_exists = folder_exists
        server.expect_request("/api/folders/ews", method="GET").respond_with_handler(self.get_folder)
        server.expect_request("/api/folders", method="POST").respond_with_handler(self.create_folder)
        server.expect_request("/api/dashboards/db", method="POST").respond_with_handler(self.post_dashboard)
        server.expect_request("/api/datasources/name/Village InfluxDB", method="GET").respond_with_json(
            {"id": 7, "uid": "P951FEA4DE68E13C5", "name": "Village InfluxDB", "type": "influxdb"}
        )

    def _auth(self, request: Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.errors.append(
                f"{request.path}: Authorization header {request.headers.get('Authorization')!r}"
            )

    def get_folder(self, request: Request) -> Response:
        self._auth(request)
        if self.folder_exists or self.folders:
            return Response(
                json.dumps({"id": 3, "uid": "ews", "title": "凤山预警"}), 200, content_type="application/json"
            )
        return Response(json.dumps({"message": "folder not found"}), 404, content_type="application/json")

    def create_folder(self, request: Request) -> Response:
        self._auth(request)
        body = request.get_json()
        if set(body) != {"title", "uid"}:
            self.errors.append(f"create folder body {body}")
        self.folders.append(body)
        return Response(json.dumps({"id": 3, **body, "version": 1}), 200, content_type="application/json")

    def post_dashboard(self, request: Request) -> Response:
        self._auth(request)
        body = request.get_json()
        dash = body.get("dashboard", {})
        if body.get("folderUid") != "ews" or not isinstance(body.get("overwrite"), bool):
            self.errors.append(f"dashboard body keys {sorted(body)} folderUid={body.get('folderUid')}")
        if "id" in dash or not dash.get("uid") or not dash.get("panels"):
            self.errors.append(f"dashboard {dash.get('uid')}: needs uid and panels, no numeric id")
        self.posted.append(body)
        uid = dash.get("uid")
        answer = {"id": len(self.posted), "uid": uid, "url": f"/d/{uid}/x", "status": "success", "version": 1}
        return Response(json.dumps(answer), 200, content_type="application/json")


def test_push_creates_the_folder_and_uploads_every_dashboard(httpserver: HTTPServer) -> None:
    fake = FakeGrafana(httpserver, folder_exists=False)
    files = sorted(DASHBOARDS.glob("*.json"))
    results = push(files, PushTarget(httpserver.url_for("/"), TOKEN))
    assert fake.errors == []
    assert fake.folders == [{"title": "凤山预警", "uid": "ews"}]
    assert [b["dashboard"]["uid"] for b in fake.posted] == [json.loads(f.read_text())["uid"] for f in files]
    assert all(b["overwrite"] is True for b in fake.posted)
    assert [r["url"] for r in results] == [f"/d/{b['dashboard']['uid']}/x" for b in fake.posted]
    # Unmapped: the repo's datasource uid goes up unchanged, and the Chinese titles survive the trip.
    assert all(_uids(b["dashboard"]) == {"ews-influx"} for b in fake.posted)
    assert {b["dashboard"]["title"] for b in fake.posted} >= {"凤山村预警总览", "隐患点详情"}


def test_push_maps_the_datasource_uid_by_name_through_the_cli(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeGrafana(httpserver, folder_exists=True)
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    url = httpserver.url_for("/").rstrip("/")
    rc = main(
        [
            "dashboards",
            "push",
            "--url",
            url,
            "--datasource-name",
            "Village InfluxDB",
            "--dir",
            str(DASHBOARDS),
        ]
    )
    assert rc == 0
    assert fake.errors == [] and fake.folders == []  # the folder existed: not created again
    assert len(fake.posted) == 4
    assert all(_uids(b["dashboard"]) == {"P951FEA4DE68E13C5"} for b in fake.posted)
    # The variables' datasource moved too, so the site/issue drop-downs keep working.
    for b in fake.posted:
        for v in b["dashboard"]["templating"]["list"]:
            if v["type"] == "query":
                assert v["datasource"]["uid"] == "P951FEA4DE68E13C5"


def test_explicit_map_and_no_overwrite(httpserver: HTTPServer) -> None:
    fake = FakeGrafana(httpserver, folder_exists=True)
    files = [DASHBOARDS / "gateways.json"]
    target = PushTarget(httpserver.url_for("/"), TOKEN, overwrite=False)
    push(files, target, mapping={"ews-influx": "abc123"})
    assert fake.errors == []
    assert fake.posted[0]["overwrite"] is False
    assert _uids(fake.posted[0]["dashboard"]) == {"abc123"}


def test_a_refusal_names_the_dashboard_and_status(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/folders/ews").respond_with_json({"uid": "ews"})
    httpserver.expect_request("/api/dashboards/db", method="POST").respond_with_json(
        {"message": "A dashboard with the same uid already exists", "status": "name-exists"}, status=412
    )
    with pytest.raises(PushError, match=r"gateways.json \(uid ews-gateways\): HTTP 412"):
        push([DASHBOARDS / "gateways.json"], PushTarget(httpserver.url_for("/"), TOKEN, overwrite=False))


def test_cli_without_a_token_says_how_to_give_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GRAFANA_TOKEN", raising=False)
    assert main(["dashboards", "push", "--url", "http://127.0.0.1:9"]) == 2
    assert "GRAFANA_TOKEN" in capsys.readouterr().err
