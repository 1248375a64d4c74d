"""Typed, closed config for one gateway, loaded from YAML with errors naming file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge.autonomy import AutonomyConfig
from edge.clock import ClockConfig
from edge.health import HealthConfig
from edge.mqttlink import MqttConfig
from edge.publisher import PublishConfig
from edge.sensors.base import SensorConfig
from edge.sensors.registry import SENSOR_KINDS
from edge.wire import WireError, check_name


class ConfigError(ValueError):
    """A gateway config that cannot be used; the message names the file and the field."""


class OutboxConfig(BaseModel):
    """The on-disk store-and-forward queue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path = Field(description="SQLite file; relative paths are relative to the config file")
    max_readings: int = Field(
        default=1_000_000,
        ge=100,
        description="Bound on stored readings (~100 bytes each); when full the oldest routine ones go",
    )


def _sensor_errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(sensor)'}: {e['msg']}" for e in exc.errors())


class GatewayConfig(BaseModel):
    """Everything one gateway needs; each component receives only its own slice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Gateway id, e.g. fs-gw01; also its MQTT topic prefix segment")
    site: str | None = Field(default=None, description="Hazard point the gateway stands at, e.g. fs-hp01")
    mqtt: MqttConfig = Field(description="The hub's broker")
    outbox: OutboxConfig = Field(description="Store-and-forward queue on disk")
    publish: PublishConfig = Field(default_factory=PublishConfig, description="Batching and reconnecting")
    sensors: list[SensorConfig] = Field(
        default_factory=list, description="Sensors, each validated by the config model of its `kind`"
    )
    autonomy: AutonomyConfig = Field(default_factory=AutonomyConfig, description="Local siren rules")
    health: HealthConfig = Field(default_factory=HealthConfig, description="Gateway health readings")
    clock: ClockConfig = Field(default_factory=ClockConfig, description="When event times are suspect")

    @field_validator("id")
    @classmethod
    def _id_is_topic_segment(cls, v: str) -> str:
        try:
            return check_name(v, "gateway id")
        except WireError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("sensors", mode="before")
    @classmethod
    def _sensors_by_kind(cls, raw: Any) -> Any:
        if not isinstance(raw, list):
            return raw
        built: list[Any] = []
        for i, item in enumerate(raw):
            if isinstance(item, SensorConfig):
                built.append(item)
                continue
            if not isinstance(item, dict):
                raise ValueError(f"sensor #{i}: expected a mapping with kind, id, site, got {item!r:.60}")
            name = f"sensor #{i} ({item.get('id', 'no id')})"
            kind = item.get("kind")
            if kind not in SENSOR_KINDS:
                known = ", ".join(sorted(SENSOR_KINDS)) or "none registered"
                raise ValueError(f"{name}: unknown kind {kind!r}; known kinds: {known}")
            try:
                built.append(SENSOR_KINDS[kind].model_validate(item))
            except ValidationError as exc:
                raise ValueError(f"{name} kind {kind}: {_sensor_errors(exc)}") from None
        return built

    @model_validator(mode="after")
    def _unique_sensor_ids(self) -> GatewayConfig:
        seen: set[str] = set()
        for s in self.sensors:
            if s.id in seen:
                raise ValueError(f"sensor id {s.id} appears twice")
            seen.add(s.id)
        return self


def _format(exc: ValidationError, where: str) -> str:
    lines = [f"{where}: invalid gateway config:"]
    for e in exc.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"  {loc}: {msg}")
    return "\n".join(lines)


def gateway_config_from_dict(
    doc: Any, where: str = "<config>", base_dir: Path | None = None
) -> GatewayConfig:
    """Validate a parsed document; relative outbox paths are resolved against base_dir."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: a gateway config must be a mapping, got {type(doc).__name__}")
    try:
        cfg = GatewayConfig.model_validate(doc)
    except ValidationError as exc:
        raise ConfigError(_format(exc, where)) from None
    if base_dir is not None and not cfg.outbox.path.is_absolute():
        outbox = cfg.outbox.model_copy(update={"path": base_dir / cfg.outbox.path})
        cfg = cfg.model_copy(update={"outbox": outbox})
    return cfg


def load_gateway_config(path: Path | str) -> GatewayConfig:
    """Read and validate a gateway YAML file; ConfigError names the file, line or field at fault."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}{at}: not valid YAML: {problem}") from None
    return gateway_config_from_dict(doc, str(path), path.parent)
