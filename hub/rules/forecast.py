"""Forecast values of one (site, quantity) by valid time, summed over the hours ahead."""

from __future__ import annotations


class Forecast:
    """Forecast values by valid time for one (site, quantity); the newest issue wins per valid time."""

    __slots__ = ("by_valid",)

    def __init__(self) -> None:
        self.by_valid: dict[float, tuple[float, float]] = {}

    def add(self, valid: float, issued: float, value: float) -> bool:
        old = self.by_valid.get(valid)
        if old is not None and (old[0] > issued or old == (issued, value)):
            return False
        self.by_valid[valid] = (issued, value)
        return True

    def ahead(self, now: float, horizon: float) -> float:
        """Sum of forecast values with valid time in (now, now + horizon]; prunes the past."""
        end = now + horizon
        total = 0.0
        stale: list[float] = []
        for t, (_, v) in self.by_valid.items():
            if now < t <= end:
                total += v
            elif t <= now - 86400.0:
                stale.append(t)
        for t in stale:
            del self.by_valid[t]
        return total
