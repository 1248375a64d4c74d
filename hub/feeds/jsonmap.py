"""Generic JSON feed: a JSONPath-like mapping config turns a county platform's JSON into readings, no code."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import requests
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edge.wire import Reading
from hub.feeds.base import (
    FeedConfigBase,
    FeedError,
    ParseResult,
    Point,
    finite,
    http_get,
    issue_time,
    load_json,
)

_TOKEN = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]|\[\*\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


def compile_path(path: str) -> tuple[str | int | None, ...]:
    """`$.data.items[*].rain['1h']` → steps: str key, int index, None for [*]. ValueError names the spot."""
    if not path.startswith("$"):
        raise ValueError(f"path {path!r} must start with '$'")
    steps: list[str | int | None] = []
    pos = 1
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m:
            raise ValueError(f"path {path!r}: cannot read from position {pos}: {path[pos:]!r}")
        key, index, q1, q2 = m.groups()
        if key is not None or q1 is not None or q2 is not None:
            steps.append(key if key is not None else q1 if q1 is not None else q2)
        elif index is not None:
            steps.append(int(index))
        else:
            steps.append(None)
        pos = m.end()
    return tuple(steps)


def select(doc: Any, steps: Sequence[str | int | None]) -> list[Any]:
    """All values the steps reach; missing keys reach nothing (the caller decides if that is an error)."""
    current = [doc]
    for step in steps:
        nxt: list[Any] = []
        for value in current:
            if step is None and isinstance(value, list):
                nxt.extend(value)
            elif isinstance(value, list) and isinstance(step, int):
                if -len(value) <= step < len(value):
                    nxt.append(value[step])
            elif isinstance(value, dict) and isinstance(step, str) and step in value:
                nxt.append(value[step])
        current = nxt
    return current


class ValueMap(BaseModel):
    """One quantity taken from each item."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quantity: str = Field(description="Stored quantity, e.g. rain_mm, water_level_m")
    path: str = Field(description="Path inside the item, e.g. $.rain1h")
    scale: float = Field(default=1.0, description="value = raw * scale + offset (unit conversion)")
    offset: float = Field(default=0.0, description="Added after scaling")


class JsonMapConfig(FeedConfigBase):
    """Any JSON endpoint: where the items are, and where site, time and values sit inside each item."""

    kind: Literal["json"] = Field(description="Feed kind")
    url: str = Field(description="Endpoint URL")
    params: dict[str, str] = Field(default_factory=dict, description="Query parameters")
    api_key_header: str | None = Field(
        default=None, description="Send the API key in this header (else `apikey` param)"
    )
    items: str = Field(default="$[*]", description="Path to the list of items, e.g. $.data.list[*]")
    site: str | None = Field(
        default=None, description="Path to the item's station/site id; None: `fixed_site`"
    )
    fixed_site: str | None = Field(default=None, description="Every item belongs to this hazard point")
    site_map: dict[str, str] = Field(default_factory=dict, description="Their station id → our hazard point")
    time: str = Field(description="Path to the item's (valid) time")
    time_format: str = Field(
        default="iso8601", description="iso8601, epoch_s, epoch_ms or a strptime pattern"
    )
    utc_offset_hours: float = Field(
        default=8.0, ge=-14, le=14, description="Offset of times without one (China Standard Time: 8)"
    )
    issued: str | None = Field(
        default=None, description="Path to the issue time (forecasts); same format as time"
    )
    source: Literal["sensor", "forecast", "warning"] = Field(default="forecast", description="Reading source")
    values: list[ValueMap] = Field(min_length=1, description="Quantities to take from each item")
    max_age_s: float | None = Field(
        default=None,
        gt=0,
        description="Stale feed when older than this: the newest issue time (forecast, needs `issued`), "
        "else the newest item time",
    )

    @field_validator("items", "site", "time", "issued")
    @classmethod
    def _paths_compile(cls, v: str | None) -> str | None:
        if v is not None:
            compile_path(v)
        return v

    @model_validator(mode="after")
    def _site_given(self) -> JsonMapConfig:
        if (self.site is None) == (self.fixed_site is None):
            raise ValueError(f"feed {self.name}: give exactly one of `site` (a path) or `fixed_site`")
        if self.source == "forecast" and self.max_age_s is not None and self.issued is None:
            # Valid times of a forecast lie ahead even when the product stopped being re-issued days ago;
            # only the issue time tells its age. Refused rather than a check that can never fire.
            raise ValueError(
                f"feed {self.name}: max_age_s on a forecast needs `issued` (the path to the issue time)"
            )
        return self

    @field_validator("values")
    @classmethod
    def _value_paths_compile(cls, v: list[ValueMap]) -> list[ValueMap]:
        for m in v:
            compile_path(m.path)
        return v


# Times outside this range are a broken source (or a unit mix-up: ms read as s), never real data.
TIME_RANGE = (946684800.0, 4102444800.0)  # 2000-01-01 .. 2100-01-01 UTC


def parse_time(raw: Any, fmt: str, offset_h: float) -> float:
    t = _parse_time(raw, fmt, offset_h)
    if not TIME_RANGE[0] <= t <= TIME_RANGE[1]:
        raise ValueError(f"time {raw!r} is outside 2000–2100")
    return t


def _parse_time(raw: Any, fmt: str, offset_h: float) -> float:
    if fmt == "epoch_s" or fmt == "epoch_ms":
        value = finite(raw)
        if value is None:
            raise ValueError(f"not a number: {raw!r}")
        return value / 1000.0 if fmt == "epoch_ms" else value
    if not isinstance(raw, str):
        raise ValueError(f"not a string: {raw!r}")
    dt = (
        datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if fmt == "iso8601"
        else datetime.strptime(raw, fmt)
    )
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone(timedelta(hours=offset_h)))
    return dt.timestamp()


def _one(item: Any, path: str) -> Any:
    found = select(item, compile_path(path))
    return found[0] if found else None


def parse(
    body: bytes, points: Sequence[Point], now: float, cfg: JsonMapConfig, source: str = ""
) -> ParseResult:
    """Pure: the body → readings for known sites. Items that do not fit are skipped, counted and noted."""
    doc = load_json(body, source)
    known = {p.site for p in points}
    items = select(doc, compile_path(cfg.items))
    result = ParseResult()
    if not items:
        raise FeedError("malformed", f"no items at {cfg.items}", source)
    forecast = cfg.source == "forecast"
    newest = newest_issue = None
    dated = 0  # items of known sites with a good time, past ones included
    for i, item in enumerate(items):
        raw_site = cfg.fixed_site if cfg.site is None else _one(item, cfg.site)
        site = cfg.site_map.get(str(raw_site), str(raw_site)) if raw_site is not None else None
        if site not in known:
            result.skipped += 1
            result.notes.append(f"item {i}: site {raw_site!r} is not a known hazard point")
            continue
        try:
            t = parse_time(_one(item, cfg.time), cfg.time_format, cfg.utc_offset_hours)
            issued = (
                parse_time(_one(item, cfg.issued), cfg.time_format, cfg.utc_offset_hours)
                if cfg.issued
                else issue_time(now, 3600)  # no issue time in the body: the poll hour stands in
            )
        except ValueError as exc:
            result.skipped += 1
            result.notes.append(f"item {i} ({site}): bad time: {exc}")
            continue
        dated += 1
        newest = t if newest is None else max(newest, t)
        newest_issue = issued if newest_issue is None else max(newest_issue, issued)
        if forecast and t <= now:
            continue  # the past is observed by sensors, not forecast
        for vm in cfg.values:
            value = finite(_one(item, vm.path))
            if value is not None:
                value = finite(value * vm.scale + vm.offset)  # a huge raw value may overflow to inf
            if value is None:
                result.skipped += 1
                continue
            result.readings.append(
                Reading(
                    f"{cfg.name}@{site}",
                    vm.quantity,
                    value,
                    t,
                    source=cfg.source,
                    issued=issued if forecast else None,
                )
            )
    # A forecast's age is its issue time's: its valid times lie ahead even when it is days old.
    age_of, what = (newest_issue, "newest issue") if forecast else (newest, "newest item")
    if cfg.max_age_s is not None and age_of is not None and now - age_of > cfg.max_age_s:
        raise FeedError("stale", f"{what} is {now - age_of:.0f} s old (max {cfg.max_age_s:.0f})", source)
    if forecast and newest is not None and newest <= now:
        raise FeedError("stale", f"no valid time after now among {dated} item(s)", source)
    return result


class JsonMapFeed:
    """One GET per poll; the mapping does the rest."""

    def __init__(self, config: JsonMapConfig) -> None:
        self.config = config

    def poll(self, session: requests.Session, points: tuple[Point, ...], now: float) -> ParseResult:
        cfg = self.config
        params, headers = dict(cfg.params), {}
        key = cfg.api_key()
        if key and cfg.api_key_header:
            headers[cfg.api_key_header] = key
        elif key:
            params["apikey"] = key
        body = http_get(session, cfg.url, params=params, headers=headers, timeout=cfg.timeout_s, now=now)
        return parse(body, cfg.select(points), now, cfg, cfg.url)
