"""The Fengshan example deployment as the dashboards and the report see it: hazard points and gateways."""

from __future__ import annotations

from dataclasses import dataclass


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
