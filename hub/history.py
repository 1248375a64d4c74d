"""Read back what a hub start-up needs from InfluxDB: recent readings, forecasts ahead, maintenance windows."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from edge.wire import Reading, to_ms
from hub.clocks import TOLERANCE_S
from hub.influx import InfluxClient

log = logging.getLogger(__name__)

# Feeds forecast up to a few days ahead; no rule sums further (forecast_sum's horizon is in hours).
FORECAST_AHEAD_S = 7 * 86400.0


def _epoch(value: object) -> float:
    """A stored time as the reading's own event time: a point's time (integer nanoseconds, queries ask
    for epoch=ns) or an RFC 3339 tag (`issued`).

    Readings carry millisecond times (edge.wire.to_ms) and are written in nanoseconds, a few hundred
    off the exact millisecond after float rounding: rounded back, they are the live reading's float
    exactly. Asked in seconds, InfluxDB truncated them, and a reload that merged stored readings with
    the ones the engine held counted each reading of the last hours twice."""
    if isinstance(value, int):
        return ((value + 500_000) // 1_000_000) / 1000.0
    return to_ms(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp())


def load_history(client: InfluxClient, needed: dict[tuple[str, str], float], now: float) -> list[Reading]:
    """One query per quantity over the longest window any rule needs for it; readings sorted by time.

    Up to TOLERANCE_S after `now`: a gauge whose clock runs a little fast (within NTP's slack the hub
    does not correct, hub/clocks.py) stores readings stamped ahead, which the live windows counted."""
    longest: dict[str, float] = defaultdict(float)
    sensors: dict[str, set[str]] = defaultdict(set)
    for (sensor, quantity), seconds in needed.items():
        longest[quantity] = max(longest[quantity], seconds)
        sensors[quantity].add(sensor)
    out: list[Reading] = []
    for quantity, seconds in longest.items():
        q = (
            f'SELECT "value", "seq" FROM "{quantity}" WHERE {_span(now - seconds, now + TOLERANCE_S)} '
            f'GROUP BY "sensor", "source", "quality", "issued"'
        )
        out += _readings(client, q, quantity, sensors[quantity])
    out.sort(key=lambda r: r.time)
    log.info("history loaded readings=%d quantities=%d", len(out), len(longest))
    return out


def load_forecasts(
    client: InfluxClient, needed: set[tuple[str, str]], now: float, ahead_s: float = FORECAST_AHEAD_S
) -> list[Reading]:
    """The stored forecasts valid after `now` for each (site, quantity) a rule reads: feeds publish them
    as sensor "{feed}@{site}". Without them a forecast rule fell at start-up until the feed's first
    poll answered, and for as long as the feed was down."""
    sites: dict[str, set[str]] = defaultdict(set)
    for site, quantity in needed:
        sites[quantity].add(site)
    out: list[Reading] = []
    for quantity, wanted in sites.items():
        q = (
            f'SELECT "value", "seq" FROM "{quantity}" WHERE "source" = \'forecast\' AND '
            f'{_span(now, now + ahead_s)} GROUP BY "sensor", "source", "quality", "issued"'
        )
        out += _readings(client, q, quantity, wanted, by_site=True)
    log.info("forecasts loaded readings=%d quantities=%d", len(out), len(sites))
    return out


def load_maintenance(
    client: InfluxClient, now: float, ended_s: float = 0.0, back_s: float = 30 * 86400.0
) -> list[tuple[str, float, float, str]]:
    """(sensor, start, end, who) of every sensor maintenance window still open at `now` or ended less
    than `ended_s` before it: the newest `maintenance_window` point of each sensor (Pipeline.maintain
    writes one per open, move or close)."""
    q = (
        'SELECT last("start"), last("until"), last("who") FROM "maintenance_window" '
        f'WHERE {_span(now - back_s, now)} GROUP BY "sensor"'
    )
    out = []
    for series in client.query(q):
        sensor = series.get("tags", {}).get("sensor", "")
        for _, start, until, who in series["values"]:
            if sensor and until is not None and float(until) > now - ended_s:
                out.append((sensor, float(start if start is not None else now), float(until), str(who or "")))
    return out


def _span(start: float, end: float) -> str:
    return f"time > {int(start * 1e9)} AND time <= {int(end * 1e9)}"


def _readings(
    client: InfluxClient, q: str, quantity: str, keep: set[str], by_site: bool = False
) -> list[Reading]:
    """The query's points as readings, of the sensors in `keep` (by_site: of "{feed}@{site}" with the
    site in `keep`)."""
    out: list[Reading] = []
    for series in client.query(q, epoch="ns"):
        tags = series.get("tags", {})
        sensor = tags.get("sensor", "")
        if (sensor.rpartition("@")[2] if by_site else sensor) not in keep:
            continue
        issued = _epoch(tags["issued"]) if tags.get("issued") else None
        for t, value, seq in series["values"]:
            if value is None:
                continue
            out.append(
                Reading(
                    sensor,
                    quantity,
                    float(value),
                    _epoch(t),
                    int(seq or 0),
                    tags.get("quality") or "good",
                    tags.get("source") or "sensor",
                    issued,
                )
            )
    return out
