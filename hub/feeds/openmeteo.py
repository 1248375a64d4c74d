"""Precipitation forecast in the Open-Meteo forecast API form: hourly rain (mm) and its probability per site."""

from __future__ import annotations

from typing import Literal

import requests
from pydantic import Field

from hub.feeds.base import FeedConfigBase, FeedError, ParseResult, Point, http_get, issue_time, load_json
from hub.feeds.openmeteo_json import parse_series, request_params

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


def parse(
    body: bytes, points: tuple[Point, ...], now: float, cfg: ForecastConfig, source: str = ""
) -> ParseResult:
    """Pure: a forecast response for `points` (in request order) → rain_mm readings valid after `now`."""
    variables = VARIABLES if cfg.probability else {"precipitation": "rain_mm"}
    result = parse_series(
        load_json(body, source),
        points,
        feed=cfg.name,
        section="hourly",
        variables=variables,
        model=cfg.model,
        now=now,
        issued=issue_time(now, cfg.issue_round_s),
        source=source,
    )
    if points and not result.readings and not result.skipped:
        raise FeedError("stale", "forecast has no hour after now", source)
    # A negative amount is a broken upstream, not dry weather: drop and count it.
    bad = [r for r in result.readings if r.quantity == "rain_mm" and r.value < 0]
    if bad:
        result.readings = [r for r in result.readings if r not in bad]
        result.skipped += len(bad)
        result.notes.append(f"{len(bad)} negative precipitation values dropped")
    return result


class ForecastFeed:
    """Fetches one multi-location request per poll and parses it."""

    def __init__(self, config: ForecastConfig) -> None:
        self.config = config

    def request(self, points: tuple[Point, ...]) -> dict[str, str]:
        variables = list(VARIABLES) if self.config.probability else ["precipitation"]
        extra = {"forecast_hours": self.config.forecast_hours}
        return request_params(
            points, "hourly", variables, model=self.config.model, api_key=self.config.api_key(), extra=extra
        )

    def poll(self, session: requests.Session, points: tuple[Point, ...], now: float) -> ParseResult:
        points = self.config.select(points)
        if not points:
            return ParseResult(notes=["no sites to watch"])
        url = self.config.base_url
        body = http_get(session, url, params=self.request(points), timeout=self.config.timeout_s, now=now)
        return parse(body, points, now, self.config, url)
