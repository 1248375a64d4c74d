"""Reporting periods as recorded: each series' median gap, and declared sensors that report far less often than declared."""

from __future__ import annotations

import statistics
from collections.abc import Iterable

from edge.wire import Reading
from hub.rules.ruleset import RuleSet

# A gauge that reports every 10 minutes with a late reading now and then keeps a median gap of 10
# minutes; one declared at 5 minutes while reporting every 10 is off by 2x. 1.5 sits between the two.
SLOW = 1.5


def median_gaps(readings: Iterable[Reading]) -> dict[tuple[str, str], float | None]:
    """(sensor, quantity) -> the median gap between its readings in the record (None: one reading)."""
    times: dict[tuple[str, str], list[float]] = {}
    for r in readings:
        times.setdefault((r.sensor, r.quantity), []).append(r.time)
    out: dict[tuple[str, str], float | None] = {}
    for key, ts in times.items():
        ts.sort()
        gaps = [b - a for a, b in zip(ts, ts[1:], strict=False) if b > a]
        out[key] = statistics.median(gaps) if gaps else None
    return out


def slow_sensors(rs: RuleSet, gaps: dict[tuple[str, str], float | None]) -> list[tuple[str, float, float]]:
    """Declared sensors whose record reports far less often than their period_s says: (sensor, period,
    median gap). A level falls only while every input has reported within its period, and staleness
    counts in periods, so with such a period levels are held longer than meant and the sensor is
    called stale."""
    out = []
    for (sid, _q), gap in gaps.items():
        sensor = rs.sensors.get(sid)
        if sensor is not None and sensor.declared and gap is not None and gap > SLOW * sensor.period_s:
            out.append((sid, sensor.period_s, gap))
    return out


def slow_warning(sid: str, period: float, gap: float) -> str:
    """The one log line for a sensor slower than declared (replay and the hub's start-up say the same)."""
    return (
        f"sensor period too short sensor={sid} period_s={period:g} median_gap_s={gap:g}: levels are "
        "held longer than meant and staleness fires; declare the real period"
    )
