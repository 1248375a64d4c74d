"""The hub's typed, closed config, validated once at start; each component receives only its slice."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.mqttlink import MqttConfig
from hub.alerts.config import AlertsConfig
from hub.feeds.registry import FeedConfig, check_unique_names
from hub.influx import InfluxConfig
from hub.store import StoreConfig


class ConfigError(ValueError):
    """Invalid config; the message names the file and the field."""


class HubConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hub_id: str = Field("hub", description="MQTT client id stem; one per hub process (partition)")
    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="Broker the hub subscribes to")
    influx: InfluxConfig = Field(default_factory=InfluxConfig, description="InfluxDB v1 HTTP API")
    store: StoreConfig = Field(default_factory=StoreConfig, description="Write batching and disk spill")
    rules: list[Path] = Field(description="Rule files (YAML), relative to this config file")
    alerts: AlertsConfig = Field(
        description="Recipients, routing and channels; in a file, a path string names a separate YAML file",
    )
    feeds: list[FeedConfig] = Field(default_factory=list, description="Forecast and warning feeds, by kind")
    sites: list[str] | None = Field(None, description="Sites this hub decides (partitioning); all if absent")
    gateway_sensors: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Gateway id -> sensor id patterns (fnmatch) it may report; gateways not listed are not checked",
    )
    store_unassigned: bool = Field(
        True, description="With `sites`: also store site-less readings (gateway health); true on one hub only"
    )
    inbound_poll_s: float = Field(
        15.0, gt=0, description="Seconds between reads of incoming SMS (acknowledgements, evacuation reports)"
    )
    tick_s: float = Field(1.0, gt=0, description="Seconds between time-driven evaluations (hold, staleness)")
    rebuild_on_start: bool = Field(True, description="Rebuild rule windows from InfluxDB at start-up")
    history_wait_s: float = Field(
        60.0,
        ge=0,
        description="How long start-up waits for InfluxDB to answer (it may still be loading after a power "
        "cut); past it the hub decides at once and rebuilds its windows as soon as InfluxDB answers",
    )


def format_validation_error(source: str, exc: ValidationError) -> str:
    lines = [f"{source}: invalid config"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)


def load_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def load_hub_config(path: Path) -> HubConfig:
    doc = load_yaml(path)
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    if isinstance(doc.get("alerts"), str):
        # The directory of people (phone numbers) usually lives in its own, more private file.
        alerts_path = path.parent / doc["alerts"]
        alerts_doc = load_yaml(alerts_path)
        if not isinstance(alerts_doc, dict):
            raise ConfigError(f"{alerts_path}: the top level must be a mapping")
        alerts_doc.setdefault("state_path", "alerts.sqlite")
        state = Path(alerts_doc["state_path"])
        alerts_doc["state_path"] = str(state if state.is_absolute() else alerts_path.parent / state)
        doc = {**doc, "alerts": alerts_doc}
    try:
        cfg = HubConfig.model_validate(doc)
        check_unique_names(list(cfg.feeds))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(str(path), exc)) from None
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    base = path.parent
    rules = [p if p.is_absolute() else base / p for p in cfg.rules]
    state = cfg.alerts.state_path
    alerts = cfg.alerts.model_copy(update={"state_path": state if state.is_absolute() else base / state})
    store = cfg.store
    if not store.spill_dir.is_absolute():
        store = store.model_copy(update={"spill_dir": base / store.spill_dir})
    return cfg.model_copy(update={"rules": rules, "alerts": alerts, "store": store})
