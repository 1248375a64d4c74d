"""Marine forecast in the Open-Meteo marine API form: wave and swell height and sea level (typhoon landfall)."""

from __future__ import annotations

from typing import Literal

import requests
from pydantic import Field

from hub.feeds.base import FeedConfigBase, FeedError, ParseResult, Point, http_get, issue_time, load_json
from hub.feeds.openmeteo_json import parse_series, request_params

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


def parse(
    body: bytes, points: tuple[Point, ...], now: float, cfg: MarineConfig, source: str = ""
) -> ParseResult:
    """Pure: a marine response → readings. All-null sites (land) are noted, not errors."""
    result = parse_series(
        load_json(body, source),
        points,
        feed=cfg.name,
        section="hourly",
        variables=cfg.variables,
        model=cfg.model,
        now=now,
        issued=issue_time(now, cfg.issue_round_s),
        source=source,
    )
    if points and not result.readings and not result.skipped:
        raise FeedError("stale", "marine forecast has no hour after now", source)
    return result


class MarineFeed:
    """One multi-location request per poll."""

    def __init__(self, config: MarineConfig) -> None:
        self.config = config

    def poll(self, session: requests.Session, points: tuple[Point, ...], now: float) -> ParseResult:
        points = self.config.select(points)
        if not points:
            return ParseResult(notes=["no sites to watch"])
        cfg = self.config
        params = request_params(
            points,
            "hourly",
            list(cfg.variables),
            model=cfg.model,
            api_key=cfg.api_key(),
            extra={"forecast_hours": cfg.forecast_hours},
        )
        body = http_get(session, cfg.base_url, params=params, timeout=cfg.timeout_s, now=now)
        return parse(body, points, now, cfg, cfg.base_url)
