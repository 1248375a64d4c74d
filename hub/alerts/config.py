"""The hub's `alerts` config slice and the one place a Dispatcher is composed from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.alerts.directory import Directory
from hub.alerts.dispatcher import Dispatcher
from hub.alerts.rows import RowSink
from hub.alerts.settings import DispatchSettings
from hub.alerts.state import StateStore
from hub.channels.registry import CHANNEL_KINDS

# Channel kind -> the `channel` tag of `delivery` rows (docs/schema.md).
CHANNEL_TYPES = {
    "sms_modem": "sms",
    "sms_aliyun": "sms",
    "sms_webhook": "sms",
    "broadcast": "broadcast",
    "drone": "drone",
    "cap": "cap",
    "console": "console",
    "mqtt_alert": "mqtt",
    "annotation": "annotation",
}


class AlertsConfig(BaseModel):
    """Everything the dispatcher needs: where its state lives, who is who, channels and policy."""

    model_config = ConfigDict(extra="forbid")

    state_path: Path = Field(Path("var/alerts.sqlite"), description="SQLite delivery state (mode 0600)")
    directory: Directory = Field(default_factory=Directory, description="Sites, grids and recipients")
    dispatch: DispatchSettings = Field(
        default_factory=lambda: DispatchSettings.model_validate({}), description="Routing and delivery"
    )
    channels: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Channel name -> channel config with its `kind`"
    )

    @model_validator(mode="after")
    def _check(self) -> AlertsConfig:
        for name, raw in self.channels.items():
            kind = raw.get("kind")
            if kind not in CHANNEL_KINDS:
                raise ValueError(
                    f"channel {name!r}: unknown kind {kind!r}; known: {', '.join(sorted(CHANNEL_KINDS))}"
                )
            CHANNEL_KINDS[kind].model_validate(raw)  # raises with the channel's field errors
        wanted = self.dispatch.policy.channel_names() | set(self.dispatch.failover.values())
        missing = wanted - set(self.channels)
        if missing:
            raise ValueError(f"dispatch names channels that are not configured: {sorted(missing)}")
        for site_id in self.dispatch.policy.sites:
            if self.directory.site(site_id) is None:
                raise ValueError(f"dispatch.policy.sites: unknown site {site_id!r}")
        return self

    def channel_configs(self) -> dict[str, BaseModel]:
        return {n: CHANNEL_KINDS[raw["kind"]].model_validate(raw) for n, raw in self.channels.items()}


def load(path: Path) -> AlertsConfig:
    """Read an alerts YAML file; errors name the file."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return AlertsConfig.model_validate(raw)
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None


def build_dispatcher(cfg: AlertsConfig, rows: RowSink) -> Dispatcher:
    """Compose the dispatcher: open the state store, build each channel, wire them (does not start)."""
    built = cfg.channel_configs()
    channels = {name: c.build() for name, c in built.items()}  # type: ignore[attr-defined]
    types = {name: CHANNEL_TYPES.get(str(cfg.channels[name]["kind"]), name) for name in built}
    state = StateStore(cfg.state_path)
    state.open()
    return Dispatcher(cfg.dispatch, cfg.directory, channels, state, rows, types)
