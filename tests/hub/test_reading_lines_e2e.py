"""ReadingLines (the per-series cache of line-protocol tags) writes exactly what reading_line writes.

Readings are built here to cover what reaches the pipeline: plain sensor readings, suspect quality, ids
that need escaping (space, comma, equals sign, Chinese), ints, negative and tiny floats, forecasts with an
issue time (the uncached path) and a non-finite value (must fail as reading_line fails).
"""

from __future__ import annotations

import math

import pytest

from edge.wire import Reading
from hub.reading_lines import ReadingLines, reading_line

READINGS = [
    Reading("fs-hp01-rg1", "rain_mm", 0.5, 1_782_000_000.0, 1),
    Reading("fs-hp01-rg1", "rain_mm", 12.25, 1_782_000_300.123456, 2),
    Reading("fs-hp01-cr1", "crack_mm", -0.001, 1_782_000_000.5, 7, "suspect"),
    Reading("gauge 1,a=b", "water level", 3.0, 1_782_000_001.0, 9),
    Reading("凤山-雨量计", "rain_mm", 1e-7, 1_782_000_002.0, 10),
    Reading("fs-gw01-health", "battery_v", 12, 1_782_000_003.0, 11, source="health"),  # type: ignore[arg-type]
    Reading(
        "openmeteo@fs-hp01", "rain_mm", 4.2, 1_782_003_600.0, 0, source="forecast", issued=1_782_000_000.0
    ),
    Reading("fs-hp02-wl1", "water_level_m", 1.75, 1_782_000_004.0, 0),
]


def test_cached_lines_equal_reading_line() -> None:
    lines = ReadingLines()
    for _ in range(2):  # the second pass is served from the cache
        for r in READINGS:
            assert lines(r, "fs-gw01", "fs-hp01") == reading_line(r, "fs-gw01", "fs-hp01")
    assert lines(READINGS[0], "other-gw", "") == reading_line(READINGS[0], "other-gw", "")


def test_cache_is_bounded_and_still_correct_after_starting_over() -> None:
    lines = ReadingLines(max_series=3)
    for i in range(10):
        r = Reading(f"s{i}", "rain_mm", float(i), 1_782_000_000.0 + i, i + 1)
        assert lines(r, "gw", "site") == reading_line(r, "gw", "site")
        assert len(lines._prefix) <= 3


def test_non_finite_value_fails_like_reading_line() -> None:
    r = Reading("s", "rain_mm", math.inf, 1_782_000_000.0, 1)
    with pytest.raises(ValueError):
        reading_line(r, "gw", "site")
    with pytest.raises(ValueError):
        ReadingLines()(r, "gw", "site")
