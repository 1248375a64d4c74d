"""Build the four dashboards and the Geomap gazetteer, write them as stable JSON, or compare with files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ews.grafana import alerts, gateways, hazard, overview
from ews.grafana.sites import FENGSHAN, Site, gazetteer

# File name → builder; the file names are what deploy/grafana's dashboard provider loads.
BOARDS: dict[str, Callable[[tuple[Site, ...]], dict[str, Any]]] = {
    "village-overview.json": overview.build,
    "hazard-point.json": hazard.build,
    "alerts-evacuation.json": alerts.build,
    "gateways.json": gateways.build,
}
GAZETTEER_FILE = "fengshan-sites.json"


def dumps(obj: Any) -> str:
    """Stable, diff-friendly JSON with Chinese kept readable."""
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"


def render(sites: tuple[Site, ...] = FENGSHAN) -> dict[str, str]:
    return {name: dumps(build(sites)) for name, build in BOARDS.items()}


def write(out_dir: Path, gazetteer_dir: Path | None, sites: tuple[Site, ...] = FENGSHAN) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render(sites).items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    if gazetteer_dir is not None:
        gazetteer_dir.mkdir(parents=True, exist_ok=True)
        path = gazetteer_dir / GAZETTEER_FILE
        path.write_text(dumps(gazetteer(sites)), encoding="utf-8")
        written.append(path)
    return written


def stale(out_dir: Path, sites: tuple[Site, ...] = FENGSHAN) -> list[str]:
    """Names of dashboard files that differ from what the generator makes now (missing counts)."""
    bad = []
    for name, text in render(sites).items():
        path = out_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            bad.append(name)
    return bad
