"""Figures from raw records: latency percentiles, loss and duplicates, InfluxDB lag, CPU share."""

from __future__ import annotations

import math
import os
from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

Key = tuple[str, str, int]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..1); NaN when empty."""
    if not sorted_values:
        return math.nan
    k = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]


DECIDED = "bench/decision/"  # topic prefix of the hub-side decision tee


def paths(
    probes: Sequence[tuple[Any, ...]], received: Sequence[tuple[float, Key | None, str]]
) -> dict[str, Any]:
    """join() for each path: `delivered` (ews/v1/alert, the dispatcher's message) and `decided` (tee)."""
    delivered = [r for r in received if not r[2].startswith(DECIDED)]
    decided = [r for r in received if r[2].startswith(DECIDED)]
    out = join(probes, delivered)
    if decided:
        out["decided"] = join(probes, decided)
    return out


def join(
    probes: Sequence[tuple[Any, ...]], received: Sequence[tuple[float, Key | None, str]]
) -> dict[str, Any]:
    """Match each probe reading (key, sent) with the alert message it caused (arrival, key).

    loss: probes whose alert never arrived. duplicates: alert messages for a key already received.
    unexpected: alert messages that match no probe (a wrong alert: the second-worst bug).
    """
    sent: dict[Key, float] = {}
    for key, t in probes:
        sent[tuple(key)] = t  # type: ignore[index]
    seen: set[Key] = set()
    lat: list[float] = []
    duplicates = unexpected = 0
    for arrival, key, _topic in received:
        if key is None or key not in sent:
            unexpected += 1
            continue
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        lat.append((arrival - sent[key]) * 1000.0)
    lat.sort()
    return {
        "alerts": len(sent),
        "received": len(seen),
        "loss": len(sent) - len(seen),
        "duplicates": duplicates,
        "unexpected": unexpected,
        "latency_ms": latency_figures(lat),
    }


def latency_figures(lat_ms: Sequence[float]) -> dict[str, float | int]:
    return {
        "n": len(lat_ms),
        "p50": round(percentile(lat_ms, 0.50), 3),
        "p99": round(percentile(lat_ms, 0.99), 3),
        "p99_9": round(percentile(lat_ms, 0.999), 3),
        "max": round(lat_ms[-1], 3) if lat_ms else math.nan,
    }


def influx_lag(timeline: Sequence[tuple[float, int]], samples: Sequence[tuple[float, int]]) -> float:
    """Longest time (s) any reading was published and not yet queryable in InfluxDB, as sampled.

    timeline: (monotonic after publish, readings published so far); samples: (monotonic when the count
    query was sent, readings of the step InfluxDB returned). At each sample the oldest missing reading
    is number count+1; its age is the sample time minus when it was published.
    """
    times = [t for t, _ in timeline]
    counts = [c for _, c in timeline]
    worst = 0.0
    for tq, got in samples:
        j = bisect_left(counts, got + 1)  # first publish that included reading got+1
        if j < len(counts) and times[j] <= tq:
            worst = max(worst, tq - times[j])
    return worst


def cpu_share(before: dict[str, Any], after: dict[str, Any]) -> float:
    """Hub process CPU time over wall time between two stats snapshots (1.0 = one core)."""
    wall = after["wall"] - before["wall"]
    return round((after["cpu_s"] - before["cpu_s"]) / wall, 3) if wall > 0 else math.nan


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), seconds, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
