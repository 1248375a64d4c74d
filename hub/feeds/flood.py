"""River discharge forecast in the Open-Meteo flood API form (GloFAS daily `river_discharge`, m³/s)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hub.feeds.base import FeedConfigBase, ParseResult, Point
from hub.feeds.openmeteo_poll import OpenMeteoFeed, Series, parse_checked

DAY_S = 86400.0


class FloodConfig(FeedConfigBase):
    """Daily river discharge at each hazard point's nearest river cell."""

    kind: Literal["flood"] = Field(description="Feed kind")
    base_url: str = Field(
        default="https://flood-api.open-meteo.com/v1/flood", description="Flood API endpoint URL"
    )
    model: str | None = Field(
        default=None, description="Flood model (e.g. seamless_v4); None = provider default"
    )
    forecast_days: int = Field(default=7, ge=1, le=210, description="Days ahead to request")
    with_max: bool = Field(
        default=True, description="Also store the ensemble maximum as river_discharge_max_m3s"
    )
    issue_round_s: float = Field(
        default=DAY_S / 4, ge=0, description="Issue time = poll time rounded down to this (GloFAS runs daily)"
    )
    interval_s: float = Field(default=21600, ge=10, description="Poll interval, seconds")


def variables(cfg: FloodConfig) -> dict[str, str]:
    names = {"river_discharge": "river_discharge_m3s"}
    if cfg.with_max:
        names["river_discharge_max"] = "river_discharge_max_m3s"
    return names


def series(cfg: FloodConfig) -> Series:
    return Series(
        "daily",
        variables(cfg),
        {"forecast_days": cfg.forecast_days},
        "discharge forecast has no day ending after now",
        valid_shift_s=DAY_S,
    )


def parse(
    body: bytes, points: tuple[Point, ...], now: float, cfg: FloodConfig, source: str = ""
) -> ParseResult:
    """Pure: a flood response → discharge readings. A daily value is valid at the end of its UTC day."""
    return parse_checked(body, points, now, cfg, series(cfg), source)


class FloodFeed(OpenMeteoFeed[FloodConfig]):
    """One multi-location request per poll."""

    def series(self) -> Series:
        return series(self.config)
