"""The hub's rows as InfluxDB line protocol: readings (each series' tags escaped once), maintenance windows, notices."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from edge.wire import Reading
from hub.influx import line
from hub.rules.text import local_time


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reading_line(r: Reading, origin: str, site: str) -> str:
    tags = {"sensor": r.sensor, "site": site, "origin": origin, "source": r.source, "quality": r.quality}
    if r.issued is not None:
        tags["issued"] = iso(r.issued)
    return line(r.quantity, tags, {"value": r.value, "seq": r.seq}, r.time)


class ReadingLines:
    """reading_line() with each series' measurement and tags escaped once, not once per reading.

    Formatting the tags was the largest per-reading cost on the ingest thread (bench/e2e.py profile,
    docs/performance.md); the text is identical to reading_line's. Bounded: the cache starts over past
    `max_series` series, so a gateway inventing sensor ids cannot grow it without limit.
    """

    def __init__(self, max_series: int = 100_000) -> None:
        self.max_series = max_series
        self._prefix: dict[tuple[str, str, str, str, str, str], str] = {}

    def __call__(self, r: Reading, origin: str, site: str) -> str:
        v = r.value
        if r.issued is not None or type(v) is not float or not math.isfinite(v):
            return reading_line(r, origin, site)  # forecasts (issue-time tag), ints, errors: the slow path
        key = (r.quantity, r.sensor, origin, site, r.source, r.quality)
        prefix = self._prefix.get(key)
        if prefix is None:
            if len(self._prefix) >= self.max_series:
                self._prefix.clear()
            prefix = self._prefix[key] = reading_line(r, origin, site).rsplit(" ", 2)[0]
        return f"{prefix} value={v!r},seq={r.seq}i {round(r.time * 1e9)}"


def window_lines(sensor: str, site: str, start: float, until: float, who: str, now: float) -> list[str]:
    """A sensor maintenance window opened, moved or closed (until <= now): the `maintenance_window` point
    start-up reads back (hub/history.py), and the annotation that shows it on the hazard-point dashboard."""
    end = max(until, now)
    text = f"{sensor} 维护至 {local_time(end)}（{who}）" if until > now else f"{sensor} 维护结束（{who}）"
    fields = {"start": start, "until": end, "who": who}
    return [
        line("maintenance_window", {"sensor": sensor, "site": site}, fields, now),
        line(
            "annotation",
            {"site": site, "kind": "maintenance_window"},
            {"title": "传感器维护", "text": text},
            now,
        ),
    ]


def notice_line(origin: str, kind: str, detail: str, now: float) -> str:
    """A hub finding about a gateway (a new outbox, a shared id, a clock corrected): the Gateways
    dashboard's notices table (docs/schema.md, hub_notice)."""
    return line("hub_notice", {"origin": origin, "kind": kind}, {"n": 1, "detail": detail}, now)


def warning_line(
    site: str, event: str, action: str, headline: str, source: str, level: int, at: float
) -> str:
    """An official warning that came, changed or ended (a CAP feed event) as a dashboard annotation."""
    fields = {"title": f"{event} {action}", "text": f"{headline} ({source})", "level_num": level}
    return line("annotation", {"site": site, "kind": "warning"}, fields, at)
