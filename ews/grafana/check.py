"""Validate dashboard JSON: parseable, datasource uids, unique panel ids, variables defined and used."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ews.grafana.macros import BUILTINS, variables_in
from ews.grafana.panels import DS_TYPE, DS_UID, GRID_WIDTH

KNOWN_PANELS = frozenset(
    {
        "row",
        "timeseries",
        "table",
        "stat",
        "bargauge",
        "gauge",
        "geomap",
        "state-timeline",
        "text",
        "barchart",
    }
)
KNOWN_TRANSFORMS = frozenset(
    {"joinByField", "filterByValue", "organize", "merge", "calculateField", "sortBy"}
)
ALIAS_PATTERNS = ("tag_", "m", "measurement", "col")


@dataclass(frozen=True)
class Problem:
    file: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.message}"


def load(path: Path) -> dict[str, Any]:
    """Parse one dashboard file; a syntax error names the file, line and column."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a dashboard must be a JSON object")
    return data


def walk_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def _ds_ok(ds: Any, allowed: frozenset[str]) -> bool:
    return isinstance(ds, dict) and ds.get("type") == DS_TYPE and ds.get("uid") in allowed


def _alias_var(name: str) -> bool:
    return name.startswith("tag_") or name in ALIAS_PATTERNS


def check_dashboard(
    dash: dict[str, Any], file: str, allowed_uids: frozenset[str] = frozenset({DS_UID})
) -> list[Problem]:
    problems: list[Problem] = []

    def bad(where: str, msg: str) -> None:
        problems.append(Problem(file, where, msg))

    for key in ("uid", "title", "schemaVersion", "panels"):
        if key not in dash:
            bad("dashboard", f"missing {key!r}")
    defined = {v.get("name", "") for v in dash.get("templating", {}).get("list", [])}
    used: set[str] = set()
    seen_ids: dict[int, str] = {}
    for p in walk_panels(dash.get("panels", [])):
        where = f"panel {p.get('id')} {p.get('title', '')!r}"
        pid = p.get("id")
        if not isinstance(pid, int):
            bad(where, "panel id must be an integer")
        elif pid in seen_ids:
            bad(where, f"duplicate panel id {pid} (also {seen_ids[pid]})")
        else:
            seen_ids[pid] = where
        kind = p.get("type")
        if kind not in KNOWN_PANELS:
            bad(where, f"unknown panel type {kind!r}")
        pos = p.get("gridPos", {})
        if pos.get("x", 0) + pos.get("w", 0) > GRID_WIDTH or pos.get("w", 0) <= 0 or pos.get("h", 0) <= 0:
            bad(where, f"gridPos {pos} outside the {GRID_WIDTH}-column grid")
        for t in p.get("transformations", []):
            if t.get("id") not in KNOWN_TRANSFORMS:
                bad(where, f"unknown transformation {t.get('id')!r}")
        targets = p.get("targets", [])
        if kind in ("row", "text"):
            continue
        if not _ds_ok(p.get("datasource"), allowed_uids):
            bad(where, f"datasource {p.get('datasource')} is not one of {sorted(allowed_uids)}")
        if not targets:
            bad(where, "panel has no queries")
        refs = [t.get("refId") for t in targets]
        if len(refs) != len(set(refs)):
            bad(where, f"duplicate refId in {refs}")
        for t in targets:
            twhere = f"{where} query {t.get('refId')}"
            if not _ds_ok(t.get("datasource"), allowed_uids):
                bad(twhere, f"datasource {t.get('datasource')} is not one of {sorted(allowed_uids)}")
            if not t.get("rawQuery") or not str(t.get("query", "")).strip():
                bad(twhere, "expected a raw InfluxQL query")
            used |= variables_in(str(t.get("query", "")))
            used |= {v for v in variables_in(str(t.get("alias", ""))) if not _alias_var(v)}
        used |= variables_in(str(p.get("title", "")))
    for a in dash.get("annotations", {}).get("list", []):
        if a.get("builtIn"):
            continue
        where = f"annotation {a.get('name')!r}"
        if not _ds_ok(a.get("datasource"), allowed_uids):
            bad(where, f"datasource {a.get('datasource')} is not one of {sorted(allowed_uids)}")
        if not str(a.get("query", "")).strip():
            bad(where, "annotation has no query")
        used |= variables_in(str(a.get("query", "")))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            if not _ds_ok(v.get("datasource"), allowed_uids):
                bad(f"variable {v.get('name')}", f"datasource {v.get('datasource')} not allowed")
            used |= variables_in(str(v.get("query", "")))
    for name in sorted(used - defined - BUILTINS):
        bad("variables", f"${name} is used but not defined")
    for name in sorted(defined - used):
        bad("variables", f"${name} is defined but no query uses it")
    return problems


def check_dir(directory: Path, allowed_uids: frozenset[str] = frozenset({DS_UID})) -> list[Problem]:
    files = sorted(directory.glob("*.json"))
    if not files:
        return [Problem(str(directory), "dashboards", "no *.json dashboards found")]
    problems: list[Problem] = []
    uids: dict[str, str] = {}
    for path in files:
        try:
            dash = load(path)
        except ValueError as exc:
            problems.append(Problem(str(path), "json", str(exc)))
            continue
        problems += check_dashboard(dash, str(path), allowed_uids)
        uid = str(dash.get("uid"))
        if uid in uids:
            problems.append(Problem(str(path), "dashboard", f"uid {uid!r} also used by {uids[uid]}"))
        uids[uid] = str(path)
    return problems


@dataclass(frozen=True)
class Query:
    """One InfluxQL query of a dashboard: where it sits, its text, and the panel's data-point budget."""

    where: str
    text: str
    max_data_points: int = 1000


def iter_queries(dash: dict[str, Any]) -> Iterator[Query]:
    """Every panel query, annotation query and query variable of a dashboard."""
    for p in walk_panels(dash.get("panels", [])):
        for t in p.get("targets", []):
            where = f"{dash.get('uid')} panel {p.get('id')} {p.get('title', '')!r} query {t.get('refId')}"
            yield Query(where, str(t.get("query", "")), int(p.get("maxDataPoints", 1000)))
    for a in dash.get("annotations", {}).get("list", []):
        if not a.get("builtIn"):
            yield Query(f"{dash.get('uid')} annotation {a.get('name')!r}", str(a.get("query", "")))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            yield Query(f"{dash.get('uid')} variable {v.get('name')}", str(v.get("query", "")))
