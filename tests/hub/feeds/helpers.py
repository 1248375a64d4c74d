"""Shared test data for the feed tests: the Fengshan hazard points and recorded bodies."""

from __future__ import annotations

from pathlib import Path

from hub.feeds.base import Point

DATA = Path(__file__).parents[2] / "data" / "feeds"
# HELPERS.md example deployment.
FENGSHAN = (
    Point("fs-hp01", 24.6012, 112.5521),
    Point("fs-hp02", 24.5958, 112.5603),
    Point("fs-hp03", 24.5987, 112.5488),
)
# The poll time the recorded Open-Meteo bodies and the Yangshan CAP series were made for:
# 2024-06-16T02:20:00Z = 10:20 China Standard Time.
NOW = 1718504400.0


def body(name: str) -> bytes:
    return (DATA / name).read_bytes()
