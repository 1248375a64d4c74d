"""The dispatcher's own settings: routing policy, escalation, retries, failover, rate limits, windows."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.alerts.routing import RoutingPolicy
from hub.rules.model import Level


class MaintenanceWindow(BaseModel):
    """Site work (sensor replacement, calibration): alerts from the site reach officers only meanwhile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: str = Field(description="Site id, or * for every site")
    start: float = Field(description="Start, UTC epoch seconds")
    end: float = Field(description="End, UTC epoch seconds")
    reason: str = Field("", description="Why, for the log")


class DispatchSettings(BaseModel):
    """How the dispatcher routes, retries, fails over and escalates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: RoutingPolicy = Field(
        default_factory=lambda: RoutingPolicy.model_validate({}), description="Who hears what"
    )
    escalate_min_level: str = Field("orange", description="Lowest level that escalates when unacknowledged")
    escalate_after_min: float = Field(
        15.0, gt=0, description="Minutes without acknowledgement before escalating"
    )
    retry_attempts: int = Field(5, ge=1, description="Attempts per delivery for recoverable errors")
    retry_base_s: float = Field(1.0, gt=0, description="First retry delay; doubles each attempt")
    retry_max_s: float = Field(60.0, gt=0, description="Longest retry delay")
    retry_keep_s: float = Field(
        6 * 3600.0, ge=0, description="A channel with no failover keeps retrying recoverable errors this long"
    )
    failover: dict[str, str] = Field(
        default_factory=dict,
        description="Channel -> next channel when it fails for good (sms_modem: sms_http)",
    )
    rate_limits: dict[str, float] = Field(
        default_factory=dict, description="Channel -> minimum seconds between sends (GSM modem: about 3)"
    )
    maintenance_windows: list[MaintenanceWindow] = Field(
        default_factory=list, description="Windows when a site's alerts go to officers only"
    )
    inbound_poll_s: float | None = Field(
        None,
        gt=0,
        description="Read inbound SMS (modem) every N s from the dispatcher's own thread; none: the hub "
        "process does it (hub/app.py), as it does in `ews hub`",
    )
    intake_queue: int = Field(10_000, ge=10, description="Transitions waiting for routing")
    intake_batch: int = Field(
        1000,
        ge=1,
        description="Most waiting transitions folded into ONE SQLite transaction (one disk sync); an "
        "alert storm of 1,000 costs one commit. 1 commits each transition on its own",
    )
    channel_queue: int = Field(
        10_000, ge=10, description="Deliveries queued per channel (more wait in SQLite)"
    )

    @field_validator("escalate_min_level")
    @classmethod
    def _level(cls, v: str) -> str:
        Level.parse(v)
        return v

    def in_maintenance(self, site: str, at: float) -> bool:
        return any(w.site in (site, "*") and w.start <= at < w.end for w in self.maintenance_windows)
