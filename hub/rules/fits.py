"""Inverse-velocity window: a running least-squares fit of 1/v against time, O(1) amortized per reading."""

from __future__ import annotations

import math
from collections import deque

from hub.rules.functions import fit_result
from hub.rules.vecs import ROW
from hub.rules.windows import Series, Window


class InverseVelocityWindow(Window):
    """Fukuzono points (midpoint time, 1/v) for consecutive readings both inside the window.

    Keeps the regression sums Σx, Σy, Σxx, Σxy, Σyy so a fit costs O(1) instead of a rescan. x is in
    hours from an origin that moves forward whenever the points have all been replaced, so the sums
    never grow large enough to lose precision; a late or corrected reading rebuilds from the series.
    """

    __slots__ = ("pts", "sx", "sy", "sxx", "sxy", "syy", "origin", "turnover", "ymag")

    def __init__(self, series: Series, length: float) -> None:
        self.pts: deque[tuple[float, float, float]] = deque()  # (earlier reading time, x, y)
        self.sx = self.sy = self.sxx = self.sxy = self.syy = 0.0
        self.origin = series.rows[0] if series.n else 0.0
        self.turnover = 0
        self.ymag = 0.0  # Σy² of every point added since the last refit, evicted ones included
        super().__init__(series, length)
        self._refit()  # the base class replayed existing readings one by one; pair them properly

    def _add_pair(self, t0: float, v0: float, t1: float, v1: float) -> None:
        if t1 <= t0:
            return
        vel = (v1 - v0) * 3600.0 / (t1 - t0)
        if vel <= 0:
            return  # no 1/v for a reading that did not move forward
        if not self.pts:
            # Nothing in the sums: start them afresh from this point. A window is built over an empty
            # series (start-up, reload), so its first origin was 0: x in hours since 1970 made every
            # failure time look further than HORIZON_S and cost the sums their precision for days.
            self.sx = self.sy = self.sxx = self.sxy = self.syy = self.ymag = 0.0
            self.turnover = 0
            self.origin = t0
        x, y = ((t0 + t1) / 2.0 - self.origin) / 3600.0, 1.0 / vel
        self.pts.append((t0, x, y))
        self.sx += x
        self.sy += y
        self.sxx += x * x
        self.sxy += x * y
        self.syy += y * y
        self.ymag += y * y

    def appended(self, t: float, v: float) -> None:
        ser = self.series
        n = ser.n
        if n >= 2:  # the row before the one just appended
            self._add_pair(ser.rows[ROW * n - 2 * ROW], ser.rows[ROW * n - 2 * ROW + 1], t, v)

    def inserted(self, i: int) -> None:
        super().inserted(i)
        self._refit()

    def changed(self, i: int) -> None:
        self._refit()

    def _refit(self) -> None:
        self.pts.clear()
        self.sx = self.sy = self.sxx = self.sxy = self.syy = self.ymag = 0.0
        self.turnover = 0
        rows, n, s = self.series.rows, self.series.n, self.start
        if s < n:
            self.origin = rows[ROW * s]
        for k in range(s + 1, n):
            self._add_pair(rows[ROW * k - ROW], rows[ROW * k - ROW + 1], rows[ROW * k], rows[ROW * k + 1])

    def evict(self, now: float) -> None:
        super().evict(now)
        cut = now - self.length
        pts = self.pts
        while pts and pts[0][0] <= cut:
            _, x, y = pts.popleft()
            self.sx -= x
            self.sy -= y
            self.sxx -= x * x
            self.sxy -= x * y
            self.syy -= y * y
            self.turnover += 1
        if self.turnover > len(pts) + 16:
            self._refit()  # every point replaced since the last refit: rebase, drop rounding drift

    def fit(self, now: float) -> tuple[float, float]:
        """(predicted failure time in epoch seconds or inf, R²); same contract as inverse_velocity_fit."""
        self.evict(now)
        n = len(self.pts)
        if n < 3:
            return math.inf, math.nan
        mx, my = self.sx / n, self.sy / n
        if self.turnover and self.syy - n * my * my <= 1e-9 * self.ymag:
            # Near-constant 1/v (steady creep). Evicted points leave rounding in the running sums in
            # proportion to their own size, which can pose as spread where the window has none:
            # sum the window afresh to decide, as the batch fit does. Rare, and O(window) when it is.
            self._refit()
            n = len(self.pts)
            if n < 3:
                return math.inf, math.nan
            mx, my = self.sx / n, self.sy / n
        return fit_result(
            n,
            mx * 3600.0,
            my,
            (self.sxx - n * mx * mx) * 3600.0**2,
            (self.sxy - n * mx * my) * 3600.0,
            self.syy - n * my * my,
            self.origin,
        )
