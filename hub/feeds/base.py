"""What every feed shares: base config, the points it watches, parse results, errors and the HTTP GET."""

from __future__ import annotations

import email.utils
import json
import math
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
import urllib3
from pydantic import BaseModel, ConfigDict, Field, field_validator

from edge.wire import Reading, WireError, check_name

# Why a poll failed. Each kind is counted and logged once per failure episode by the runner.
ERROR_KINDS = (
    "timeout",
    "connection",
    "rate_limited",
    "server",
    "http",
    "malformed",
    "schema",
    "stale",
    "config",
    "stalled",
)


class FeedError(Exception):
    """A poll failed; `kind` is one of ERROR_KINDS and `source` names the URL or file it came from."""

    def __init__(self, kind: str, message: str, source: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.source = source
        self.retry_after = retry_after  # seconds to wait before the next request (429, 503)


@dataclass(frozen=True, slots=True)
class Point:
    """A hazard point to watch, from the rule set's site inventory."""

    site: str
    lat: float
    lon: float


def as_points(items: Iterable[Any]) -> tuple[Point, ...]:
    """Accept Points, (site, lat, lon) tuples, mappings or objects with site/id, lat and lon."""
    out: list[Point] = []
    for item in items:
        if isinstance(item, Point):
            out.append(item)
        elif isinstance(item, tuple | list) and len(item) == 3:
            out.append(Point(str(item[0]), float(item[1]), float(item[2])))
        elif isinstance(item, Mapping):
            out.append(Point(str(item.get("site", item.get("id"))), float(item["lat"]), float(item["lon"])))
        else:
            site = getattr(item, "site", None) or item.id
            out.append(Point(str(site), float(item.lat), float(item.lon)))
    for p in out:
        if not (-90 <= p.lat <= 90 and -180 <= p.lon <= 180):
            raise ValueError(f"site {p.site}: coordinates out of range ({p.lat}, {p.lon})")
    return tuple(out)


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """A change of an official warning over one site (kept for the record, the log and `ews feeds fetch`)."""

    feed: str
    site: str
    action: str  # "issued", "updated", "cancelled", "expired"
    level: int  # 0 none, 1 blue, 2 yellow, 3 orange, 4 red
    time: float
    identifier: str
    sender: str
    event: str
    headline: str = ""
    sent: float | None = None
    expires: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"type": "event", **{k: getattr(self, k) for k in self.__dataclass_fields__}}


@dataclass
class ParseResult:
    """What one poll produced. `skipped` counts values left out (nulls, out of range); notes say why."""

    readings: list[Reading] = field(default_factory=list)
    events: list[FeedEvent] = field(default_factory=list)
    skipped: int = 0
    notes: list[str] = field(default_factory=list)
    # Partial failures: the poll produced data but some part failed (one CAP message of an index).
    errors: list[FeedError] = field(default_factory=list)


class FeedConfigBase(BaseModel):
    """Fields every feed has. Subclasses add `kind` and their own settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Feed name: MQTT topic segment, sensor prefix `{name}@{site}`, origin tag")
    interval_s: float = Field(default=1800, ge=10, description="Poll interval, seconds")
    jitter_s: float = Field(
        default=30, ge=0, description="Random delay added to each poll, seconds (spreads load)"
    )
    timeout_s: float = Field(
        default=15,
        gt=0,
        le=300,
        description="Time for one whole HTTP request (connect, headers, body), seconds",
    )
    api_key_env: str | None = Field(
        default=None, description="Environment variable holding the API key, if any"
    )
    sites: list[str] | None = Field(
        default=None, description="Only these hazard points (default: all known sites)"
    )
    max_retry_after_s: float = Field(
        default=3600,
        ge=0,
        description="Cap on a server's Retry-After, so a bad header cannot mute a feed for days",
    )

    @field_validator("name")
    @classmethod
    def _name_is_topic_segment(cls, v: str) -> str:
        try:
            check_name(v, "feed name")
        except WireError as exc:
            raise ValueError(str(exc)) from None
        if "@" in v:
            raise ValueError(f"feed name {v!r} must not contain '@' (used in sensor ids)")
        return v

    def api_key(self) -> str | None:
        """The key from the environment; a named but unset variable is a config error, not a silent None."""
        if not self.api_key_env:
            return None
        value = os.environ.get(self.api_key_env)
        if not value:
            raise FeedError("config", f"feed {self.name}: environment variable {self.api_key_env} is not set")
        return value

    def select(self, points: Iterable[Point]) -> tuple[Point, ...]:
        pts = tuple(points)
        return pts if self.sites is None else tuple(p for p in pts if p.site in self.sites)

    def max_poll_s(self) -> float:
        """Longest a healthy poll can run: one request's deadline plus the last read's own timeout."""
        return 2 * self.timeout_s


class Feed(Protocol):
    """A feed the runner can poll: one fetch-and-parse, I/O included. State between polls is its own.

    A feed that holds state may also offer `held(points, now) -> ParseResult`: what it still knows at
    `now` without a request. The runner publishes that during a Retry-After backoff (CAP warning levels).
    """

    @property
    def config(self) -> FeedConfigBase: ...

    def poll(self, session: requests.Session, points: tuple[Point, ...], now: float) -> ParseResult: ...


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def http_get(
    session: requests.Session,
    url: str,
    *,
    timeout: float,
    now: float,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    max_bytes: int = 20_000_000,
    deadline: float | None = None,
) -> bytes:
    """GET a body within `timeout` (and `deadline`, time.monotonic()) for the whole request; every failure
    becomes a FeedError with its kind and the URL as source."""
    # requests' timeout bounds each socket read, not the request: a server dripping a byte every few
    # seconds would hold the poll for ever. So stream the body and check an overall deadline between reads.
    end = time.monotonic() + timeout if deadline is None else min(deadline, time.monotonic() + timeout)
    left = end - time.monotonic()
    if left <= 0:
        raise FeedError("timeout", "poll time budget spent before this request", url)
    try:
        resp = session.get(url, params=params, headers=headers, timeout=(left, left), stream=True)
    except requests.Timeout as exc:
        raise FeedError("timeout", f"no answer within {left:.1f} s: {exc}", url) from None
    except requests.RequestException as exc:
        raise FeedError("connection", f"{exc.__class__.__name__}: {exc}", url) from None
    try:
        source = resp.url or url
        if resp.status_code >= 400:
            try:  # the start of the error text, for the log; the status alone decides
                text = _read(resp, 300, end, source, truncate=True).decode("utf-8", "replace")
            except FeedError:
                text = ""
            wait = parse_retry_after(resp.headers.get("Retry-After"), now)
            if resp.status_code == 429:
                raise FeedError("rate_limited", f"HTTP 429, retry after {wait} s", source, wait)
            if resp.status_code >= 500:
                raise FeedError("server", f"HTTP {resp.status_code}: {text[:200]!r}", source, wait)
            raise FeedError("http", f"HTTP {resp.status_code}: {text!r}", source)
        return _read(resp, max_bytes, end, source)
    finally:
        resp.close()


def _read(resp: requests.Response, max_bytes: int, end: float, source: str, truncate: bool = False) -> bytes:
    """The body, read as it arrives: past `max_bytes` stop (truncate or FeedError), past `end` FeedError."""
    length = resp.headers.get("Content-Length", "")
    if not truncate and length.isdigit() and int(length) > max_bytes:
        raise FeedError("malformed", f"body of {length} bytes exceeds {max_bytes}", source)
    parts: list[bytes] = []
    size = 0
    try:
        for chunk in resp.iter_content(65536):
            parts.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                if truncate:
                    break
                raise FeedError("malformed", f"body exceeds {max_bytes} bytes (stopped reading)", source)
            if time.monotonic() > end:
                raise FeedError(
                    "timeout", f"body not complete within the deadline ({size} bytes read)", source
                )
    except requests.RequestException as exc:
        # A read timeout inside the body surfaces as ConnectionError(ReadTimeoutError).
        cause = exc.args[0] if exc.args else None
        timed_out = isinstance(exc, requests.Timeout) or isinstance(
            cause, urllib3.exceptions.ReadTimeoutError
        )
        kind = "timeout" if timed_out else "connection"
        raise FeedError(kind, f"reading the body: {exc.__class__.__name__}: {exc}", source) from None
    return b"".join(parts)[:max_bytes] if truncate else b"".join(parts)


def load_json(body: bytes, source: str) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FeedError("malformed", f"not JSON: {exc}; body starts {body[:80]!r}", source) from None


def finite(value: Any) -> float | None:
    """A JSON number as a finite float, or None (null, NaN, bool, string)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def issue_time(now: float, round_s: float) -> float:
    """The issue time to tag a poll's forecast with, rounded down so repeated polls overwrite, not pile up."""
    return math.floor(now / round_s) * round_s if round_s > 0 else now
