"""Marine forecast in the Open-Meteo marine API form: wave and swell height and sea level (typhoon landfall)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hub.feeds.base import FeedConfigBase, ParseResult, Point
from hub.feeds.openmeteo_poll import OpenMeteoFeed, Series, parse_checked

VARIABLES = {
    "wave_height": "wave_height_m",
    "swell_wave_height": "swell_wave_height_m",
    "sea_level_height_msl": "sea_level_height_msl_m",
}


class MarineConfig(FeedConfigBase):
    """Hourly sea state at coastal points. Land points come back as nulls and yield no readings."""

    kind: Literal["marine"] = Field(description="Feed kind")
    base_url: str = Field(
        default="https://marine-api.open-meteo.com/v1/marine", description="Marine API endpoint URL"
    )
    model: str | None = Field(default=None, description="Wave model; None = provider best match")
    forecast_hours: int = Field(default=72, ge=1, le=384, description="Hours ahead to request")
    variables: dict[str, str] = Field(
        default_factory=lambda: dict(VARIABLES), description="Open-Meteo hourly variable → stored quantity"
    )
    issue_round_s: float = Field(
        default=3600, ge=0, description="Issue time = poll time rounded down to this"
    )


def series(cfg: MarineConfig) -> Series:
    return Series(
        "hourly",
        cfg.variables,
        {"forecast_hours": cfg.forecast_hours},
        "marine forecast has no hour after now",
    )


def parse(
    body: bytes, points: tuple[Point, ...], now: float, cfg: MarineConfig, source: str = ""
) -> ParseResult:
    """Pure: a marine response → readings. All-null sites (land) are noted, not errors."""
    return parse_checked(body, points, now, cfg, series(cfg), source)


class MarineFeed(OpenMeteoFeed[MarineConfig]):
    """One multi-location request per poll."""

    def series(self) -> Series:
        return series(self.config)
