"""Forecast and warning feeds: CAP 1.2, Open-Meteo forecast/flood/marine, generic JSON; see docs/feeds.md."""

from hub.feeds.capschema import validate_cap

__all__ = ["validate_cap"]
