"""Pure reading of the Open-Meteo JSON shape shared by its forecast, flood and marine APIs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from edge.wire import Reading
from hub.feeds.base import FeedError, ParseResult, Point, finite


def request_params(
    points: Sequence[Point],
    section: str,
    variables: Sequence[str],
    *,
    model: str | None,
    api_key: str | None,
    extra: Mapping[str, str | int],
) -> dict[str, str]:
    """Query parameters for one request covering every point (Open-Meteo takes comma-separated lists)."""
    params = {
        "latitude": ",".join(f"{p.lat:.4f}" for p in points),
        "longitude": ",".join(f"{p.lon:.4f}" for p in points),
        section: ",".join(variables),
        # Unix time in UTC: no local-time or DST ambiguity in what we store.
        "timeformat": "unixtime",
        "timezone": "GMT",
        **{k: str(v) for k, v in extra.items()},
    }
    if model:
        params["models"] = model
    if api_key:
        params["apikey"] = api_key
    return params


def _locations(doc: Any, n: int, source: str) -> list[Mapping[str, Any]]:
    if isinstance(doc, Mapping) and doc.get("error"):
        raise FeedError("malformed", f"Open-Meteo error: {doc.get('reason')!r}", source)
    docs = doc if isinstance(doc, list) else [doc]
    if len(docs) != n or not all(isinstance(d, Mapping) for d in docs):
        raise FeedError("malformed", f"expected {n} location object(s), got {type(doc).__name__}", source)
    ids = [d.get("location_id") for d in docs]
    if all(type(i) is int for i in ids):
        if sorted(ids) != list(range(n)):  # type: ignore[type-var]
            raise FeedError(
                "malformed", f"location_id values {ids} do not match {n} requested points", source
            )
        docs = sorted(docs, key=lambda d: int(d["location_id"]))
    return docs


def _epoch(value: Any, offset_s: float, where: str, source: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise FeedError("malformed", f"{where}: bad time {value!r}", source) from None
        try:
            if dt.tzinfo is None:  # Open-Meteo ISO times are local to utc_offset_seconds
                dt = dt.replace(tzinfo=timezone(timedelta(seconds=offset_s)))
            return dt.timestamp()
        except (ValueError, OverflowError) as exc:
            raise FeedError(
                "malformed", f"{where}: bad time {value!r} (offset {offset_s}): {exc}", source
            ) from None
    raise FeedError("malformed", f"{where}: bad time {value!r}", source)


def _column(block: Mapping[str, Any], var: str, model: str | None) -> Any:
    # With one model the key is plain; with several Open-Meteo suffixes it: precipitation_cma_grapes_global.
    if var in block:
        return block[var]
    if model and f"{var}_{model}" in block:
        return block[f"{var}_{model}"]
    return None


def parse_series(
    doc: Any,
    points: Sequence[Point],
    *,
    feed: str,
    section: str,
    variables: Mapping[str, str],
    model: str | None,
    now: float,
    issued: float,
    source: str,
    valid_shift_s: float = 0.0,
) -> ParseResult:
    """Readings `{feed}@{site}` for each variable → quantity, valid after `now`, tagged with `issued`.

    `valid_shift_s` moves a row's time to the end of its interval (daily rows: +86400). Null values
    are skipped and counted; a site whose values are all null gets a note (land points in marine).
    """
    result = ParseResult()
    for i, (point, loc) in enumerate(zip(points, _locations(doc, len(points), source), strict=True)):
        where = f"location {i} ({point.site})"
        block = loc.get(section)
        if not isinstance(block, Mapping):
            raise FeedError("malformed", f"{where}: no '{section}' object", source)
        offset = finite(loc.get("utc_offset_seconds")) or 0.0
        raw_times = block.get("time")
        if not isinstance(raw_times, list):
            raise FeedError("malformed", f"{where}: '{section}.time' is not a list", source)
        times = [_epoch(t, offset, where, source) + valid_shift_s for t in raw_times]
        site_values = 0
        for var, quantity in variables.items():
            column = _column(block, var, model)
            if not isinstance(column, list) or len(column) != len(times):
                raise FeedError("malformed", f"{where}: '{section}.{var}' missing or wrong length", source)
            for t, raw in zip(times, column, strict=True):
                if t <= now:
                    continue  # the past is observed by sensors, not forecast
                value = finite(raw)
                if value is None:
                    result.skipped += 1
                    continue
                site_values += 1
                result.readings.append(
                    Reading(f"{feed}@{point.site}", quantity, value, t, source="forecast", issued=issued)
                )
        if site_values == 0:
            result.notes.append(f"{where}: no values after now (all null: a land point for marine data?)")
    return result
