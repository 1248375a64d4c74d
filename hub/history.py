"""Read back recent readings from InfluxDB so the engine can rebuild its windows at hub start-up."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from edge.wire import Reading
from hub.influx import InfluxClient

log = logging.getLogger(__name__)


def _epoch(value: object) -> float:
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def load_history(client: InfluxClient, needed: dict[tuple[str, str], float], now: float) -> list[Reading]:
    """One query per quantity over the longest window any rule needs for it; readings sorted by time."""
    longest: dict[str, float] = defaultdict(float)
    sensors: dict[str, set[str]] = defaultdict(set)
    for (sensor, quantity), seconds in needed.items():
        longest[quantity] = max(longest[quantity], seconds)
        sensors[quantity].add(sensor)
    out: list[Reading] = []
    for quantity, seconds in longest.items():
        start_ns = int((now - seconds) * 1e9)
        end_ns = int(now * 1e9)
        q = (
            f'SELECT "value", "seq" FROM "{quantity}" WHERE time > {start_ns} AND time <= {end_ns} '
            f'GROUP BY "sensor", "source", "quality", "issued"'
        )
        for series in client.query(q):
            tags = series.get("tags", {})
            sensor = tags.get("sensor", "")
            if sensor not in sensors[quantity]:
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
    out.sort(key=lambda r: r.time)
    log.info("history loaded readings=%d quantities=%d", len(out), len(longest))
    return out
