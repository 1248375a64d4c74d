"""River discharge forecast in the Open-Meteo flood API form (GloFAS daily `river_discharge`, m³/s)."""

from __future__ import annotations

from typing import Literal

import requests
from pydantic import Field

from hub.feeds.base import FeedConfigBase, FeedError, ParseResult, Point, http_get, issue_time, load_json
from hub.feeds.openmeteo_json import parse_series, request_params

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


def parse(
    body: bytes, points: tuple[Point, ...], now: float, cfg: FloodConfig, source: str = ""
) -> ParseResult:
    """Pure: a flood response → discharge readings. A daily value is valid at the end of its UTC day."""
    result = parse_series(
        load_json(body, source),
        points,
        feed=cfg.name,
        section="daily",
        variables=variables(cfg),
        model=cfg.model,
        now=now,
        issued=issue_time(now, cfg.issue_round_s),
        source=source,
        valid_shift_s=DAY_S,
    )
    if points and not result.readings and not result.skipped:
        raise FeedError("stale", "discharge forecast has no day ending after now", source)
    return result


class FloodFeed:
    """One multi-location request per poll."""

    def __init__(self, config: FloodConfig) -> None:
        self.config = config

    def poll(self, session: requests.Session, points: tuple[Point, ...], now: float) -> ParseResult:
        points = self.config.select(points)
        if not points:
            return ParseResult(notes=["no sites to watch"])
        cfg = self.config
        params = request_params(
            points,
            "daily",
            list(variables(cfg)),
            model=cfg.model,
            api_key=cfg.api_key(),
            extra={"forecast_days": cfg.forecast_days},
        )
        body = http_get(session, cfg.base_url, params=params, timeout=cfg.timeout_s, now=now)
        return parse(body, points, now, cfg, cfg.base_url)
