"""Precipitation forecast in the Open-Meteo forecast API form: hourly rain (mm) and its probability per site."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hub.feeds.base import FeedConfigBase, ParseResult, Point
from hub.feeds.openmeteo_poll import OpenMeteoFeed, Series, parse_checked

# Open-Meteo variable → our quantity. `precipitation` is the sum over the preceding hour, so the row's
# time is already the end of the hour: the valid time HELPERS.md asks for.
VARIABLES = {"precipitation": "rain_mm", "precipitation_probability": "rain_prob_pct"}


class ForecastConfig(FeedConfigBase):
    """Hourly precipitation forecast for each hazard point (Open-Meteo or a self-hosted mirror)."""

    kind: Literal["openmeteo"] = Field(description="Feed kind")
    base_url: str = Field(
        default="https://api.open-meteo.com/v1/forecast", description="Forecast endpoint URL"
    )
    model: str | None = Field(
        default="cma_grapes_global",
        description="Weather model (e.g. cma_grapes_global); None = Open-Meteo best match",
    )
    forecast_hours: int = Field(default=48, ge=1, le=384, description="Hours ahead to request")
    issue_round_s: float = Field(
        default=3600,
        ge=0,
        description="Issue time = poll time rounded down to this; polls within it overwrite",
    )
    probability: bool = Field(
        default=True, description="Also store precipitation_probability as rain_prob_pct"
    )


def series(cfg: ForecastConfig) -> Series:
    variables = VARIABLES if cfg.probability else {"precipitation": "rain_mm"}
    return Series(
        "hourly", variables, {"forecast_hours": cfg.forecast_hours}, "forecast has no hour after now"
    )


def parse(
    body: bytes, points: tuple[Point, ...], now: float, cfg: ForecastConfig, source: str = ""
) -> ParseResult:
    """Pure: a forecast response for `points` (in request order) → rain_mm readings valid after `now`."""
    result = parse_checked(body, points, now, cfg, series(cfg), source)
    # A negative amount is a broken upstream, not dry weather: drop and count it.
    bad = [r for r in result.readings if r.quantity == "rain_mm" and r.value < 0]
    if bad:
        result.readings = [r for r in result.readings if r not in bad]
        result.skipped += len(bad)
        result.notes.append(f"{len(bad)} negative precipitation values dropped")
    return result


class ForecastFeed(OpenMeteoFeed[ForecastConfig]):
    """Fetches one multi-location request per poll and parses it."""

    def series(self) -> Series:
        return series(self.config)

    def parse(self, body: bytes, points: tuple[Point, ...], now: float, source: str) -> ParseResult:
        return parse(body, points, now, self.config, source)
