"""The hub's typed, closed config, validated once at start; each component receives only its slice."""

from __future__ import annotations

import os
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


# deploy/systemd/ews-hub.service runs the hub here (WorkingDirectory=) and lets it write nothing else
# (ProtectSystem=strict, ReadWritePaths=); /etc/ews, where the config lives, is read-only to it.
STATE_DIR = Path("/var/lib/ews")
DEFAULT_STATE_PATH = STATE_DIR / "alerts.sqlite"  # beside StoreConfig's default spill_dir


def in_workdir(path: Path) -> Path:
    """A path the hub writes (alerts.state_path, store.spill_dir), made absolute. A relative one is
    relative to the working directory, /var/lib/ews under systemd, never to the config file's directory:
    that is read-only to the service, and state resolved there crash-looped the hub."""
    return path if path.is_absolute() else Path.cwd() / path


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
    alerts = doc.get("alerts")
    if isinstance(alerts, str):
        # The directory of people (phone numbers) usually lives in its own, more private file.
        alerts_path = path.parent / alerts
        alerts = load_yaml(alerts_path)
        if not isinstance(alerts, dict):
            raise ConfigError(f"{alerts_path}: the top level must be a mapping")
    if isinstance(alerts, dict):
        # Not AlertsConfig's own default (var/alerts.sqlite, for `ews alerts` in a checkout): the hub's
        # state goes where the service may write it.
        doc = {**doc, "alerts": {"state_path": str(DEFAULT_STATE_PATH), **alerts}}
    try:
        cfg = HubConfig.model_validate(doc)
        check_unique_names(list(cfg.feeds))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(str(path), exc)) from None
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    base = path.parent  # files the hub only reads are relative to the config file
    rules = [p if p.is_absolute() else base / p for p in cfg.rules]
    alerts = cfg.alerts.model_copy(update={"state_path": in_workdir(cfg.alerts.state_path)})
    store = cfg.store.model_copy(update={"spill_dir": in_workdir(cfg.store.spill_dir)})
    return cfg.model_copy(update={"rules": rules, "alerts": alerts, "store": store})


def written_paths(cfg: HubConfig) -> list[tuple[str, Path, Path | None]]:
    """(config key, directory the hub creates and writes, file in it that must be writable or None)."""
    state = cfg.alerts.state_path
    return [("alerts.state_path", state.parent, state), ("store.spill_dir", cfg.store.spill_dir, None)]


def write_problem(directory: Path, file: Path | None = None) -> str | None:
    """Why this process could not create `directory` (as mkdir(parents=True) does) and files in it, or
    write `file`; None when it can. Judged with this process's user and groups: run it as the service's."""
    probe = str(directory)
    while not os.path.exists(probe):  # False also when a parent cannot be searched: judged further up
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    what = "write in" if probe == str(directory) else f"create {directory} in"
    if not os.path.isdir(probe):
        return f"cannot {what} {probe}: not a directory"
    if os.statvfs(probe).f_flag & os.ST_RDONLY:
        return f"cannot {what} {probe}: read-only file system"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"cannot {what} {probe}: permission denied for uid {os.geteuid()}"
    if file is not None and os.path.lexists(file) and not os.access(file, os.R_OK | os.W_OK):
        return f"cannot write {file}: permission denied for uid {os.geteuid()} (made by another user?)"
    return None


def outside_state_dir(path: Path) -> bool:
    return path != STATE_DIR and STATE_DIR not in path.parents
