"""A loaded rule set: sites, sensors, compiled rule instances (one per rule and site) and health checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.rules.compiler import Plan
from hub.rules.model import Level

HAZARD_ZH = {
    "landslide": "滑坡",
    "flash_flood": "山洪",
    "collapse": "崩塌",
    "debris_flow": "泥石流",
    "flood": "洪水",
    "waterlogging": "内涝",
    "sensor": "监测设备",
}


class RuleError(ValueError):
    """A rule file that cannot be loaded; the message names the file, the rule and the field."""


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    name: str
    lat: float
    lon: float
    hazard: str
    grids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Sensor:
    id: str
    site: str
    quantity: str
    period_s: float
    declared: bool = True  # False when inferred (ews replay)


LevelsFn = Callable[[list[Any], float, int], tuple[int, int]]
ValueFn = Callable[[list[Any], float], Any]


@dataclass(slots=True)
class Rule:
    """One rule instantiated at one site. `levels(W, now, current)` gives (raw, held) levels:
    raw is the highest level whose trigger holds now; held is the highest level at or below
    `current` that the hysteresis/clear conditions still support (computed only when raw < current)."""

    id: str
    site: str
    hazard: str
    file: str
    levels: LevelsFn
    deps: tuple[tuple[str, str], ...]  # (sensor, quantity) series of its inputs (data health)
    reads: tuple[tuple[str, str], ...] = ()  # the series its expressions read: their readings wake it
    forecast_deps: tuple[tuple[str, str], ...] = ()  # (site, quantity)
    values: Mapping[str, ValueFn] = field(default_factory=dict)
    value: ValueFn | None = None
    extend: Callable[[list[Any], float, int], bool] | None = None
    for_s: float = 0.0
    min_time_s: float = 0.0
    clear_for_s: float = 0.0
    validity_s: float = 0.0
    audience: Mapping[int, str] = field(default_factory=dict)
    actions: Mapping[int, str] = field(default_factory=dict)
    messages: Mapping[int, str] = field(default_factory=dict)
    message_clear: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    slots: tuple[int, ...] = ()  # plan slots the rule reads (what `ews rules check` reports)
    # While quiet, the rule cannot fire before the positive increments of these series total
    # headroom(W, now) (hub/rules/guards.py); None when the rule is not built from window sums.
    headroom: ValueFn | None = None
    guard_keys: tuple[tuple[str, str], ...] = ()
    # Or, for rules on one window's delta or rate: (kind, window slot, raw threshold) (slopes.py);
    # guard_keys is then that window's series.
    slope: tuple[str, int, float] | None = None


@dataclass(frozen=True, slots=True)
class HealthRule:
    """Data-health check: kind stale (no data for periods × period_s), stuck or range."""

    id: str
    kind: str
    file: str
    level: Level
    periods: float = 3.0
    quantities: frozenset[str] | None = None  # None: every quantity (stale only)
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    stuck_s: Mapping[str, float] = field(default_factory=dict)
    message: str = ""


@dataclass(slots=True)
class RuleSet:
    sites: dict[str, Site]
    sensors: dict[str, Sensor]
    rules: list[Rule]
    health: list[HealthRule]
    plan: Plan
    files: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)  # rules that load but may misbehave (lint.py)
    _by_site: dict[str, list[Sensor]] = field(default_factory=dict)

    def sensors_at(self, site: str) -> list[Sensor]:
        """Sensors of one site in declaration order (indexed on first use; sensors are fixed by then)."""
        if not self._by_site:
            for s in self.sensors.values():
                self._by_site.setdefault(s.site, []).append(s)
        return self._by_site.get(site, [])

    def sensor_site(self, sensor: str) -> str | None:
        s = self.sensors.get(sensor)
        return s.site if s else None
