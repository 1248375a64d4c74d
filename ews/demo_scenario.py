"""The demo's compressed typhoon storm over the three Fengshan hazard points (pure: no clock, no I/O)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

HOUR = 3600.0

# Hourly rain (mm) of a landfalling typhoon's outer band, a lull, then the eyewall band, shaped on
# Guangdong gauge records of typhoons such as Mangkhut (2018): hourly peaks of 40–80 mm and 24-hour
# totals over 200 mm at the wettest points. The landslide slope (hp01) takes the heaviest core; the
# school slope (hp03) stays below red (6 h ≈ 140 mm: orange).
HOURLY_RAIN_MM: dict[str, list[float]] = {
    "fs-hp01": [1, 2, 4, 7, 9, 6, 3, 2, 5, 10, 16, 24, 35, 52, 78, 66, 44, 27, 15, 8, 5, 3, 2, 1, 1, 0],
    "fs-hp02": [0, 1, 3, 5, 8, 6, 2, 1, 4, 8, 14, 21, 30, 44, 61, 52, 35, 20, 11, 6, 3, 2, 1, 1, 0, 0],
    "fs-hp03": [0, 1, 2, 3, 4, 3, 2, 1, 2, 4, 7, 11, 16, 24, 40, 30, 19, 11, 6, 3, 2, 1, 0, 0, 0, 0],
}


@dataclass(frozen=True)
class RainProfile:
    """Cumulative rain as a function of storm time, linear within each hour."""

    hourly: tuple[float, ...]

    def __post_init__(self) -> None:
        cum = [0.0]
        for mm in self.hourly:
            cum.append(cum[-1] + mm)
        object.__setattr__(self, "_cum", tuple(cum))

    @property
    def hours(self) -> float:
        return float(len(self.hourly))

    @property
    def total(self) -> float:
        return float(sum(self.hourly))

    def cumulative(self, t: float) -> float:
        """Rain (mm) fallen from storm start to `t` seconds after it."""
        cum: tuple[float, ...] = self._cum  # type: ignore[attr-defined]
        h = max(0.0, min(t / HOUR, self.hours))
        i = min(int(h), len(self.hourly) - 1) if self.hourly else 0
        return cum[i] + (h - i) * self.hourly[i] if h < self.hours else cum[-1]

    def max_window(self, hours: int) -> float:
        return max(sum(self.hourly[i : i + hours]) for i in range(max(1, len(self.hourly) - hours + 1)))


def profiles() -> dict[str, RainProfile]:
    return {site: RainProfile(tuple(v)) for site, v in HOURLY_RAIN_MM.items()}


@dataclass(frozen=True)
class Ramp:
    """A slope quantity that creeps, then accelerates as rain soaks in: piecewise-linear in storm time."""

    points: tuple[tuple[float, float], ...]  # (hours into the storm, value)

    def at(self, t: float) -> float:
        h = t / HOUR
        xs = [p[0] for p in self.points]
        i = bisect.bisect_right(xs, h)
        if i == 0:
            return self.points[0][1]
        if i == len(self.points):
            return self.points[-1][1]
        (x0, y0), (x1, y1) = self.points[i - 1], self.points[i]
        return y0 + (y1 - y0) * (h - x0) / (x1 - x0)


# Slope and stream sensors follow the rain with a lag (soil takes hours to saturate).
SLOPE: dict[tuple[str, str], Ramp] = {
    ("fs-hp01-cr1", "crack_mm"): Ramp(
        ((0, 12.0), (10, 12.3), (14, 14.0), (17, 19.5), (20, 22.0), (26, 22.6))
    ),
    ("fs-hp01-gn1", "disp_mm"): Ramp(((0, 0.0), (10, 1.0), (14, 6.0), (17, 21.0), (20, 28.0), (26, 29.0))),
    ("fs-hp01-sm1", "soil_moisture_pct"): Ramp(((0, 28.0), (6, 34.0), (12, 41.0), (15, 47.0), (26, 45.0))),
    ("fs-hp02-wl1", "water_level_m"): Ramp(((0, 0.6), (10, 0.9), (14, 1.9), (16, 2.6), (20, 1.8), (26, 1.0))),
    ("fs-hp03-tl1", "tilt_deg"): Ramp(((0, 0.10), (12, 0.12), (16, 0.35), (20, 0.48), (26, 0.50))),
}
