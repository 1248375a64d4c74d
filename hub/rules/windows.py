"""Event-time windows: one sorted series per (sensor, quantity), O(1)-amortized sliding aggregates over it."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import deque

from mypy_extensions import mypyc_attr

NAN = math.nan


class Series:
    """The readings of one (sensor, quantity) sorted by event time; one value per time (last write wins).

    Last write wins matches InfluxDB, which keeps one point per series and timestamp, so windows rebuilt
    from the store at start-up equal the windows the live engine had. Every window over this series
    shares the two lists; readings older than the longest window are trimmed in amortized O(1).
    """

    __slots__ = (
        "times",
        "values",
        "windows",
        "ok",
        "trim_at",
        "key",
        "store",
        "seen",
        "changed_at",
        "last_v",
        "flags",
        "inc",
        "deps",
        "checked",
        "tv",
        "ooo",
        "nan",
        "gpos",
        "gate_never",
        "gate_inc",
        "gate_tv",
        "gate_until",
        "gate_ooo",
        "gate_epoch",
    )

    def __init__(self, key: tuple[str, str]) -> None:
        self.key = key
        self.times: list[float] = []
        self.values: list[float] = []
        self.windows: list[Window] = []
        self.ok = True  # False while data health excludes this sensor from rules
        self.trim_at = 256
        self.store = False  # keep readings only when some rule reads this series
        self.seen = -math.inf  # newest event time received (staleness)
        self.changed_at = -math.inf  # event time the value last changed (stuck detection)
        self.last_v = math.nan
        self.flags: set[str] = set()  # active data-health problems: stale, stuck, range
        # Running total of what readings added (new values, upward corrections): no window sum can
        # have risen by more since any moment. Infinite once a value < 0 or NaN arrives (guards.py).
        self.inc = 0.0
        self.deps: tuple[int, ...] = ()  # rules that read this series (set by the engine)
        self.checked = False  # a stuck or range check looks at every reading
        # Upward variation in arrival order (each rise of the newest value, summed) and a count of
        # readings that landed before the newest or corrected a value: slope guards' budget (slopes.py).
        self.tv = 0.0
        self.ooo = 0
        self.nan = False  # a NaN value arrived (min/max deques are then not trusted by slopes.py)
        # The gate (gates.py): while inc, tv, event time and late readings stay within these, in this
        # health epoch, no rule on this series can fire, and a reading wakes none of them.
        self.gpos: tuple[tuple[int, int], ...] = ()
        self.gate_never = False
        self.gate_inc = -math.inf
        self.gate_tv = -math.inf
        self.gate_until = -math.inf
        self.gate_ooo = -1
        self.gate_epoch = -1

    def add(self, t: float, v: float) -> bool:
        """Insert one reading; False if it is an exact duplicate (nothing changed)."""
        times = self.times
        if v >= 0.0:
            self.inc += v
        else:
            self.inc = math.inf
            if v != v:
                self.nan = True
        if not times or t > times[-1]:
            values = self.values
            if values:
                d = v - values[-1]
                if not d <= 0.0:  # rises only (NaN included, which turns slope guards off for good)
                    self.tv += d
            times.append(t)
            values.append(v)
            for w in self.windows:
                if w.plain:
                    w.total += v  # Window.appended without the call: the hot path
                else:
                    w.appended(t, v)
            if len(times) > self.trim_at:
                self.trim()
            return True
        i = bisect_left(times, t)
        if times[i] == t:
            old = self.values[i]
            if old == v:
                return False
            self.values[i] = v
            self.ooo += 1
            for w in self.windows:
                w.changed(i, v - old)
            return True
        self.ooo += 1
        times.insert(i, t)
        self.values.insert(i, v)
        for w in self.windows:
            w.inserted(i, v)
        return True

    def last(self) -> float:
        return self.values[-1] if self.values else NAN

    def trim(self) -> None:
        """Drop readings every window has evicted (keep the newest, for last())."""
        n = len(self.times)
        cut = min((w.start for w in self.windows), default=n - 1)
        cut = min(cut, n - 1)
        if cut > n // 2:
            del self.times[:cut]
            del self.values[:cut]
            for w in self.windows:
                w.start -= cut
        self.trim_at = max(256, 2 * len(self.times))


# Compiled with mypyc (hub/rules/native.py), a class only interpreted code may subclass needs this.
@mypyc_attr(allow_interpreted_subclasses=True)
class Window:
    """Aggregates of one series over (now - length, now]; evicted lazily when read, O(1) amortized.

    sum/count/mean/delta/rate come from a running total and the window's first index; min and max
    (only when a rule asks for them) from monotonic deques of (time, value). A late reading inside the
    window adds to the total; one before the window's start only shifts the index. Min/max deques are
    rebuilt after a late reading or a corrected value, which is rare (an outbox backlog) and bounded.
    """

    __slots__ = ("series", "times", "values", "length", "start", "total", "minq", "maxq", "plain")

    def __init__(self, series: Series, length: float, minmax: bool = False) -> None:
        self.series = series
        self.times = series.times
        self.values = series.values
        self.length = length
        self.start = 0
        self.total = 0.0
        self.minq: deque[tuple[float, float]] | None = deque() if minmax else None
        self.maxq: deque[tuple[float, float]] | None = deque() if minmax else None
        self.plain = not minmax and type(self).appended is Window.appended  # only a running total
        series.windows.append(self)
        for t, v in zip(series.times, series.values, strict=True):
            self.appended(t, v)

    # -- updates from the series --
    def appended(self, t: float, v: float) -> None:
        self.total += v
        minq = self.minq
        if minq is not None:
            maxq = self.maxq
            assert maxq is not None
            while minq and minq[-1][1] >= v:
                minq.pop()
            minq.append((t, v))
            while maxq and maxq[-1][1] <= v:
                maxq.pop()
            maxq.append((t, v))

    def inserted(self, i: int, v: float) -> None:
        if i < self.start:
            self.start += 1  # older than anything in the window: it was already evicted
            return
        self.total += v
        if self.minq is not None:
            self._rebuild()

    def changed(self, i: int, dv: float) -> None:
        if i >= self.start:
            self.total += dv
            if self.minq is not None:
                self._rebuild()

    def _rebuild(self) -> None:
        assert self.minq is not None and self.maxq is not None
        self.minq.clear()
        self.maxq.clear()
        total = self.total
        for t, v in zip(self.times[self.start :], self.values[self.start :], strict=True):
            self.appended(t, v)
        self.total = total

    def evict(self, now: float) -> None:
        cut = now - self.length
        times = self.times
        s = self.start
        n = len(times)
        if s < n and times[s] <= cut:
            values = self.values
            total = self.total
            while s < n and times[s] <= cut:
                total -= values[s]
                s += 1
            self.start = s
            # An empty window restarts at exactly zero, so float rounding never accumulates.
            self.total = total if s < n else 0.0
            if self.minq is not None:
                assert self.maxq is not None
                while self.minq and self.minq[0][0] <= cut:
                    self.minq.popleft()
                while self.maxq and self.maxq[0][0] <= cut:
                    self.maxq.popleft()

    # -- aggregates at event time `now` --
    def sum(self, now: float) -> float:
        s = self.start
        if s < len(self.times) and self.times[s] <= now - self.length:
            self.evict(now)
        return self.total

    def count(self, now: float) -> float:
        self.evict(now)
        return float(len(self.times) - self.start)

    def mean(self, now: float) -> float:
        self.evict(now)
        n = len(self.times) - self.start
        return self.total / n if n else NAN

    def min(self, now: float) -> float:
        self.evict(now)
        return self.minq[0][1] if self.minq else NAN

    def max(self, now: float) -> float:
        self.evict(now)
        return self.maxq[0][1] if self.maxq else NAN

    def delta(self, now: float) -> float:
        """Newest minus oldest value in the window (e.g. displacement gained)."""
        self.evict(now)
        s = self.start
        return self.values[-1] - self.values[s] if s < len(self.values) else NAN

    def rate(self, now: float) -> float:
        """delta per hour between the window's oldest and newest readings."""
        self.evict(now)
        s = self.start
        if s >= len(self.values):
            return NAN
        span = self.times[-1] - self.times[s]
        return (self.values[-1] - self.values[s]) * 3600.0 / span if span > 0 else NAN

    def points(self, now: float) -> tuple[list[float], list[float]]:
        """The window's readings (for the few functions that need a fit, e.g. inverse velocity)."""
        self.evict(now)
        return self.times[self.start :], self.values[self.start :]


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
