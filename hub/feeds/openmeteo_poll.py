"""The poll every Open-Meteo feed shares: its points, one multi-location GET, parse, reject stale data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import requests

from hub.feeds.base import FeedError, ParseResult, Point, http_get, issue_time, load_json
from hub.feeds.openmeteo_json import parse_series, request_params


class OpenMeteoConfig(Protocol):
    """The config fields the shared poll reads (each feed's pydantic model has them with its own defaults)."""

    @property
    def name(self) -> str: ...
    @property
    def base_url(self) -> str: ...
    @property
    def model(self) -> str | None: ...
    @property
    def issue_round_s(self) -> float: ...
    @property
    def timeout_s(self) -> float: ...
    def api_key(self) -> str | None: ...
    def select(self, points: Iterable[Point]) -> tuple[Point, ...]: ...


@dataclass(frozen=True, slots=True)
class Series:
    """What one Open-Meteo feed asks for and how its rows are read."""

    section: str  # "hourly" or "daily"
    variables: Mapping[str, str]  # Open-Meteo variable → stored quantity
    extra: Mapping[str, str | int]  # further query parameters (forecast_hours, forecast_days)
    stale: str  # the error when no row lies after now
    valid_shift_s: float = 0.0  # daily rows are valid at the end of their day


def parse_checked(
    body: bytes, points: tuple[Point, ...], now: float, cfg: OpenMeteoConfig, series: Series, source: str
) -> ParseResult:
    """Pure: a response → readings; a response with nothing after `now` for any point is a stale error."""
    result = parse_series(
        load_json(body, source),
        points,
        feed=cfg.name,
        section=series.section,
        variables=series.variables,
        model=cfg.model,
        now=now,
        issued=issue_time(now, cfg.issue_round_s),
        source=source,
        valid_shift_s=series.valid_shift_s,
    )
    if points and not result.readings and not result.skipped:
        raise FeedError("stale", series.stale, source)
    return result


C = TypeVar("C", bound=OpenMeteoConfig)


class OpenMeteoFeed(Generic[C]):
    """One multi-location request per poll. Subclasses say what to ask for; `parse` may add checks."""

    def __init__(self, config: C) -> None:
        self.config = config

    def series(self) -> Series:
        raise NotImplementedError

    def parse(self, body: bytes, points: tuple[Point, ...], now: float, source: str) -> ParseResult:
        return parse_checked(body, points, now, self.config, self.series(), source)

    def request(self, points: tuple[Point, ...]) -> dict[str, str]:
        s = self.series()
        return request_params(
            points,
            s.section,
            list(s.variables),
            model=self.config.model,
            api_key=self.config.api_key(),
            extra=s.extra,
        )

    def poll(self, session: requests.Session, points: tuple[Point, ...], now: float) -> ParseResult:
        points = self.config.select(points)
        if not points:
            return ParseResult(notes=["no sites to watch"])
        url = self.config.base_url
        body = http_get(session, url, params=self.request(points), timeout=self.config.timeout_s, now=now)
        return self.parse(body, points, now, url)
