"""Load rule files (YAML): validate sites, sensors and rules, report errors by file, rule and field."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.rules.build import build_health, build_rule
from hub.rules.compiler import Plan
from hub.rules.lint import unsteady, untold
from hub.rules.ruleset import RuleError, RuleSet, Sensor, Site


class SiteModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, description="Hazard point id, e.g. fs-hp01")
    name: str = Field(min_length=1, description="Chinese name used in messages")
    lat: float = Field(ge=-90, le=90, description="Latitude, WGS84 degrees")
    lon: float = Field(ge=-180, le=180, description="Longitude, WGS84 degrees")
    hazard: str = Field(min_length=1, description="landslide, flash_flood, collapse, debris_flow, flood")
    grids: list[str] = Field(default_factory=list, description="Grid (网格) ids the site's people live in")


class SensorModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, description="Sensor id, as in readings")
    site: str = Field(min_length=1, description="Site id the sensor belongs to")
    quantity: str = Field(min_length=1, description="Quantity it reports, e.g. rain_mm")
    period_s: float = Field(gt=0, description="Nominal reporting period, seconds (staleness = N × this)")


class InputModel(BaseModel):
    """One of: sensor (a single series), sensors or quantity (a group), forecast (a site's forecast)."""

    model_config = ConfigDict(extra="forbid")
    sensor: str | None = Field(None, description="One sensor id: the input is a single series")
    sensors: list[str] | None = Field(None, description="Several sensor ids: the input is a group")
    quantity: str | None = Field(None, description="Quantity; alone, every sensor of it at the site(s)")
    sites: list[str] | None = Field(None, description="With quantity: sites to gather (default the rule's)")
    forecast: str | None = Field(None, description="Forecast quantity for the rule's site, e.g. rain_mm")


class RuleModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    id: str = Field(min_length=1, description="Rule id, unique across files")
    kind: Literal["levels", "stale", "stuck", "range"] = Field("levels", description="Rule or health check")
    description: str = Field("", description="Free text, shown by `ews rules check`")
    source: str = Field("", description="Where the thresholds come from (citation)")
    sites: list[str] | None = Field(None, description="Sites to instantiate the rule at (default all)")
    hazard: str | None = Field(None, description="Hazard label (default the site's)")
    audience: str | dict[str, str] = Field("officers", description="Audience, or per level")
    actions: dict[str, list[str]] = Field(default_factory=dict, description="Actions per level")
    labels: dict[str, str] = Field(default_factory=dict, description="Extra labels for the dispatcher")
    inputs: dict[str, InputModel] = Field(default_factory=dict, description="Named sensors and groups")
    values: dict[str, str] = Field(default_factory=dict, description="Named expressions")
    thresholds: dict[str, list[float | None]] | None = Field(None, description="value -> 4 levels")
    hysteresis: float = Field(0.0, ge=0, lt=1, description="Fraction below a threshold that holds")
    levels: dict[str, str] | None = Field(None, description="Level -> trigger expression")
    clear: dict[str, str] = Field(default_factory=dict, description="Level -> expression ending it")
    extend: str | None = Field(None, description="Expression that extends validity")
    extend_ratio: float | None = Field(None, gt=0, le=1, description="Thresholds: extend if ≥ ratio")
    for_: str | float = Field(0, alias="for", description="Hold time before firing")
    min_time_at_level: str | float = Field(0, description="Minimum time at a level before stepping down")
    clear_for: str | float = Field(0, description="Time the lower level must hold before stepping down")
    validity: str | float | None = Field(None, description="Alert validity (Dynaslope-style)")
    value: str | None = Field(None, description="Expression reported as the transition's value")
    message: str | dict[str, str] = Field("", description="Chinese template, or one per level")
    message_clear: str = Field("", description="Chinese template when the alert ends")
    level: str = Field("blue", description="Health checks: level of the maintenance alert")
    periods: float = Field(3.0, gt=0, description="stale: no data for periods × period_s")
    quantities: list[str] | None = Field(None, description="stale: only these quantities")
    ranges: dict[str, tuple[float, float]] = Field(default_factory=dict, description="range: q -> [lo, hi]")
    durations: dict[str, str | float] = Field(default_factory=dict, description="stuck: q -> duration")


class FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field("", description="Citation for the file's thresholds")
    description: str = Field("", description="Free text")
    sites: list[SiteModel] = Field(default_factory=list, description="Hazard points")
    sensors: list[SensorModel] = Field(default_factory=list, description="Sensors")
    rules: list[dict[str, Any]] = Field(default_factory=list, description="Rules (checked one by one)")


def _fmt(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(top)"
        parts.append(f"field {loc}: {err['msg']}")
    return "; ".join(parts)


def _read(path: Path) -> FileModel:
    try:
        # libyaml's C loader when present: a province-sized rule file parses ~10x faster.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 (a safe loader)
    except OSError as exc:
        raise RuleError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:  # Notepad on an older Chinese Windows saves GBK
        raise RuleError(f"{path}: not UTF-8 text (byte {exc.start}): save the file as UTF-8") from None
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: not valid YAML: {exc}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise RuleError(f"{path}: top level must be a mapping with sites:, sensors:, rules:")
    try:
        return FileModel.model_validate(doc)
    except ValidationError as exc:
        raise RuleError(f"{path}: {_fmt(exc)}") from None


def load_ruleset(paths: Sequence[Path], *, extra_sensors: Iterable[Sensor] = ()) -> RuleSet:
    """Load and compile rule files; sites and sensors may be declared in any of them.

    `extra_sensors` are added where no file declares them (ews replay infers them from its CSV).
    Raises RuleError (a ValueError) naming the file, the rule and the field.
    """
    files = [(Path(p), _read(Path(p))) for p in paths]
    sites: dict[str, Site] = {}
    sensors: dict[str, Sensor] = {}
    seen: dict[str, str] = {}
    for path, fm in files:
        for s in fm.sites:
            site = Site(s.id, s.name, s.lat, s.lon, s.hazard, tuple(s.grids))
            # Each file may repeat the sites and sensors it uses, so it loads on its own; copies must agree.
            if s.id in sites and sites[s.id] != site:
                raise RuleError(f"{path}: site {s.id}: declared differently in {seen['site:' + s.id]}")
            seen.setdefault("site:" + s.id, str(path))
            sites[s.id] = site
    for path, fm in files:
        for m in fm.sensors:
            sensor = Sensor(m.id, m.site, m.quantity, m.period_s)
            if m.id in sensors and sensors[m.id] != sensor:
                raise RuleError(f"{path}: sensor {m.id}: declared differently in {seen['sensor:' + m.id]}")
            if m.site not in sites:
                raise RuleError(f"{path}: sensor {m.id}: field site: unknown site {m.site!r}")
            seen.setdefault("sensor:" + m.id, str(path))
            sensors[m.id] = sensor
    for extra in extra_sensors:
        if extra.id not in sensors:
            if extra.site not in sites:
                raise RuleError(f"inferred sensor {extra.id}: unknown site {extra.site!r}")
            sensors[extra.id] = extra
    plan = Plan()
    rs = RuleSet(sites, sensors, [], [], plan, tuple(str(p) for p, _ in files))
    ids: dict[str, str] = {}
    for path, fm in files:
        for i, raw in enumerate(fm.rules):
            rid = raw.get("id") if isinstance(raw, dict) else None
            where = f"{path}: rule {rid or '#' + str(i + 1)}"
            if not isinstance(raw, dict):
                raise RuleError(f"{where}: a rule must be a mapping")
            try:
                model = RuleModel.model_validate(raw)
            except ValidationError as exc:
                raise RuleError(f"{where}: {_fmt(exc)}") from None
            if model.id in ids:
                raise RuleError(f"{where}: field id: rule id used twice (also in {ids[model.id]})")
            ids[model.id] = str(path)
            if model.kind == "levels":
                built = [
                    build_rule(model, sites[s], rs, where, str(path))
                    for s in _rule_sites(model, sites, where)
                ]
                rs.rules += built
                for check in (unsteady, untold):
                    if (advice := check(model, built[0], where)) is not None:
                        rs.warnings.append(advice)
            else:
                rs.health.append(build_health(model, where, str(path)))
    return rs


def _rule_sites(model: RuleModel, sites: dict[str, Site], where: str) -> list[str]:
    chosen = model.sites if model.sites is not None else list(sites)
    for s in chosen:
        if s not in sites:
            raise RuleError(f"{where}: field sites: unknown site {s!r}")
    if not chosen:
        raise RuleError(f"{where}: field sites: no site to apply the rule to (declare sites:)")
    return chosen
