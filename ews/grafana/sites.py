"""The Fengshan example deployment as the dashboards and the report see it: hazard points and gateways."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True, slots=True)
class Site:
    """One hazard point (隐患点): id as stored in the `site` tag, Chinese name, position, grids, gateway."""

    id: str
    name: str
    hazard: str
    lat: float
    lon: float
    grids: tuple[str, ...]
    gateway: str


# Shared ids from the Fengshan example deployment (HELPERS.md); coordinates are approximate.
FENGSHAN: tuple[Site, ...] = (
    Site("fs-hp01", "凤山村后山滑坡隐患点", "landslide", 24.6012, 112.5521, ("fs-g1", "fs-g2"), "fs-gw01"),
    Site("fs-hp02", "凤山河山洪沟", "flash_flood", 24.5958, 112.5603, ("fs-g2", "fs-g3"), "fs-gw02"),
    Site("fs-hp03", "凤山小学后坡崩塌点", "collapse", 24.5987, 112.5488, ("fs-g4",), "fs-gw03"),
)

HAZARD_ZH = {"landslide": "滑坡", "flash_flood": "山洪", "collapse": "崩塌", "debris_flow": "泥石流"}


def site_names(sites: tuple[Site, ...]) -> dict[str, str]:
    return {s.id: s.name for s in sites}


def find_site(sites: tuple[Site, ...], site_id: str) -> Site:
    for s in sites:
        if s.id == site_id:
            return s
    known = ", ".join(s.id for s in sites)
    raise KeyError(f"unknown site {site_id!r}; known sites: {known}")


def gazetteer(sites: tuple[Site, ...]) -> list[dict[str, object]]:
    """Grafana Geomap lookup gazetteer (key/name/latitude/longitude), served from Grafana's public dir."""
    return [{"key": s.id, "name": s.name, "latitude": s.lat, "longitude": s.lon} for s in sites]


def load_deployment(directory: Path) -> tuple[Site, ...]:
    """Sites from a deployment directory: `rules/*.yaml` (each repeats its `sites:`) and
    `gateways/*.yaml` (`id` and `site`). Errors name the file and the entry."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted((directory / "rules").glob("*.yaml")):
        doc = _yaml(path)
        for i, spec in enumerate(doc.get("sites") or []):
            where = f"{path}: sites[{i}]"
            try:
                entry = {k: spec[k] for k in ("id", "name", "lat", "lon", "hazard")}
            except (KeyError, TypeError) as exc:
                raise ValueError(f"{where}: missing {exc}") from None
            entry["grids"] = tuple(spec.get("grids") or ())
            if entry["id"] in found and found[entry["id"]] != entry:
                raise ValueError(f"{where}: site {entry['id']} differs from its copy in another rule file")
            found[entry["id"]] = entry
    if not found:
        raise ValueError(f"{directory}/rules: no sites found in *.yaml")
    gateways: dict[str, str] = {}
    for path in sorted((directory / "gateways").glob("*.yaml")):
        doc = _yaml(path)
        if "id" in doc and "site" in doc:
            gateways[str(doc["site"])] = str(doc["id"])
    return tuple(
        Site(
            e["id"],
            e["name"],
            e["hazard"],
            float(e["lat"]),
            float(e["lon"]),
            e["grids"],
            gateways.get(e["id"], ""),
        )
        for e in found.values()
    )


def _yaml(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a mapping at the top")
    return doc
