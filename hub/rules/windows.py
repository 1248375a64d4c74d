"""Event-time windows: one sorted series per (sensor, quantity), O(1)-amortized sliding aggregates over it."""

from __future__ import annotations

import math
from typing import Final

from librt.vecs import append, vec
from mypy_extensions import mypyc_attr

from hub.rules.vecs import NAN, ROW, MonoQueue, first_after, first_at_or_after, inserted

INF: Final = math.inf


class Series:
    """The readings of one (sensor, quantity) sorted by event time; one value per time (last write wins).

    Last write wins matches InfluxDB, which keeps one point per series and timestamp, so windows rebuilt
    from the store at start-up equal the windows the live engine had. Each reading is a row of one
    unboxed float vector shared by every window over this series: its time, its value and the prefix
    sum before it, side by side, so appending touches one vector's header and tail, not three. A
    window's sum is `total - cum(start)`, so a new reading updates no sum window at all: windows are
    only touched when a rule reads them. Readings older than every window are trimmed in amortized O(1).
    """

    # fmt: off
    __slots__ = (
        "rows", "total", "windows", "eager", "ok", "trim_at", "key", "store", "seen",
        "changed_at", "last_v", "flags", "inc", "deps", "checked", "tv", "ooo", "nan", "period", "heard",
        "gpos", "gate_never", "gate_inc", "gate_tv", "gate_until", "gate_ooo", "gate_epoch",
    )
    # fmt: on

    def __init__(self, key: tuple[str, str]) -> None:
        # Compiled, the fields are laid out in the order they are first set here: the ones every reading
        # reads or writes come first, so a reading touches four cache lines of the object, not five
        # (docs/performance.md, round 8). The rarely used ones follow.
        self.key = key
        # Row k is rows[ROW*k : ROW*k + 3]: time, value, and the sum of the values before it (cum(k)).
        # The sums and total, the sum of all values, run since the last trim (which rebases them, so
        # their magnitude stays that of the readings kept).
        self.rows = vec[float]()
        self.total = 0.0
        # Running total of what readings added (new values, upward corrections): no window sum can
        # have risen by more since any moment. Infinite once a value < 0 or NaN arrives (guards.py).
        self.inc = 0.0
        # Upward variation in arrival order (each rise of the newest value, summed) and a count of
        # readings that landed before the newest or corrected a value: slope guards' budget (slopes.py).
        self.tv = 0.0
        self.seen = -math.inf  # newest event time received (staleness)
        # When (evaluation time) that newest reading arrived; -inf when it came from the store at
        # start-up. A level falls only on evidence every input has confirmed since (lifecycle.py).
        self.heard = -math.inf
        # The gate (gates.py): while inc, tv, event time and late readings stay within these, in this
        # health epoch, no rule on this series can fire, and a reading wakes none of them.
        self.gate_inc = -math.inf
        self.gate_tv = -math.inf
        self.gate_until = -math.inf
        self.ooo = 0
        self.gate_ooo = -1
        self.gate_epoch = -1
        self.trim_at = 256
        self.eager: list[Window] = []  # windows that keep per-reading state: min/max queues, fits
        self.deps: tuple[int, ...] = ()  # rules that read this series (set by the engine)
        self.checked = False  # a stuck or range check looks at every reading
        self.store = False  # keep readings only when some rule reads this series
        # A NaN or infinite value arrived: prefix sums cannot subtract it out again, so sums rescan
        # the window from then on, and min/max queues are not trusted by slopes.py.
        self.nan = False
        self.windows: list[Window] = []
        self.ok = True  # False while data health excludes this sensor from rules
        # The sensor's nominal reporting period: its newest reading vouches for it until seen + period
        # (lifecycle.inputs_news). Infinite when not declared.
        self.period = math.inf
        self.changed_at = -math.inf  # event time the value last changed (stuck detection)
        self.last_v = math.nan
        self.flags: set[str] = set()  # active data-health problems: stale, stuck, range
        self.gpos: tuple[tuple[int, int], ...] = ()
        self.gate_never = False

    def add(self, t: float, v: float) -> bool:
        """Insert one reading; False if it is an exact duplicate (nothing changed)."""
        if v >= 0.0:
            self.inc += v
            if v == INF:
                self.nan = True
        else:
            self.inc = INF
            if not v > -INF:  # NaN or -inf
                self.nan = True
        rows = self.rows
        n = self.n
        if n == 0 or t > rows[ROW * n - ROW]:
            if n:
                d = v - rows[ROW * n - 2]
                if not d <= 0.0:  # rises only (NaN included, which turns slope guards off for good)
                    self.tv += d
            rows = append(rows, t)
            rows = append(rows, v)
            self.rows = append(rows, self.total)
            self.total += v
            for w in self.eager:
                w.appended(t, v)
            if n >= self.trim_at:
                self.trim()
            return True
        i = first_at_or_after(rows, t, 0, n)
        if rows[ROW * i] == t:
            old = rows[ROW * i + 1]
            if old == v:
                return False
            rows[ROW * i + 1] = v
            dv = v - old
            for k in range(i + 1, n):
                rows[ROW * k + 2] += dv
            self.total += dv
            self.ooo += 1
            for w in self.windows:
                w.changed(i)
            return True
        self.ooo += 1
        rows = self.rows = inserted(rows, i, t, v, rows[ROW * i + 2])
        for k in range(i + 1, n + 1):
            rows[ROW * k + 2] += v
        self.total += v
        for w in self.windows:
            w.inserted(i)
        return True

    @property
    def n(self) -> int:
        """Readings held."""
        return len(self.rows) // ROW

    def last(self) -> float:
        n = self.n
        return self.rows[ROW * n - 2] if n else NAN

    def pairs(self, start: int = 0) -> tuple[list[float], list[float]]:
        """Times and values of the readings from row `start` on (for callers that need them whole)."""
        rows, n = self.rows, self.n
        return [rows[ROW * k] for k in range(start, n)], [rows[ROW * k + 1] for k in range(start, n)]

    def trim(self) -> None:
        """Drop readings every window has evicted (keep the newest, for last()) and rebase the sums."""
        n = self.n
        cut = n - 1
        for w in self.windows:
            if w.start < cut:
                cut = w.start
        if cut > n // 2:
            base = self.rows[ROW * cut + 2]
            rows = self.rows = self.rows[ROW * cut :]
            n -= cut
            for k in range(n):
                rows[ROW * k + 2] -= base
            self.total -= base
            for w in self.windows:
                w.start -= cut
        self.trim_at = max(256, 2 * self.n)

    def compact(self, now: float) -> None:
        """Evict every window at `now`, then trim: windows no rule has read for a long time (a quiet,
        gated series in the dry season) would otherwise keep every reading ever received."""
        if self.n >= 256:  # a shorter series is small however stale its windows
            for w in self.windows:
                w.evict(now)
            self.trim()


# Compiled with mypyc (hub/rules/native.py), a class only interpreted code may subclass needs this.
@mypyc_attr(allow_interpreted_subclasses=True)
class Window:
    """Aggregates of one series over (now - length, now], evicted lazily when read, O(1) amortized.

    sum/count/mean/delta/rate come from the series' prefix sums and the window's first index, which
    moves forward only when the window is read; min and max (only when a rule asks for them) from
    monotonic queues (vecs.MonoQueue), the one kind of window a new reading updates. A late reading
    before the window's start only shifts the index. The queues are rebuilt after a late reading or a
    corrected value, which is rare (an outbox backlog) and bounded.
    """

    __slots__ = ("series", "length", "start", "minq", "maxq")

    def __init__(self, series: Series, length: float, minmax: bool = False) -> None:
        self.series = series
        self.length = length
        self.start = 0
        self.minq: MonoQueue | None = MonoQueue(True) if minmax else None
        self.maxq: MonoQueue | None = MonoQueue(False) if minmax else None
        series.windows.append(self)
        if minmax or type(self).appended is not Window.appended:
            series.eager.append(self)
            self._rebuild()

    # -- updates from the series (only windows in series.eager get appended) --
    def appended(self, t: float, v: float) -> None:
        minq = self.minq
        if minq is not None:
            minq.push(t, v)
            maxq = self.maxq
            assert maxq is not None
            maxq.push(t, v)

    def inserted(self, i: int) -> None:
        if i < self.start:
            self.start += 1  # older than anything in the window: it was already evicted
        elif self.minq is not None:
            self._rebuild()

    def changed(self, i: int) -> None:
        if i >= self.start and self.minq is not None:
            self._rebuild()

    def _rebuild(self) -> None:
        if self.minq is not None:
            assert self.maxq is not None
            self.minq.clear()
            self.maxq.clear()
        rows = self.series.rows
        for k in range(self.start, self.series.n):
            self.appended(rows[ROW * k], rows[ROW * k + 1])

    def evict(self, now: float) -> None:
        cut = now - self.length
        rows = self.series.rows
        s = self.start
        n = self.series.n
        if s < n and rows[ROW * s] <= cut:
            s += 1
            if s < n and rows[ROW * s] <= cut:
                # Past the one reading that left since the last read: a window unread for a while.
                s = first_after(rows, cut, s, n)
            self.start = s
            minq = self.minq
            if minq is not None:
                minq.expire(cut)
                maxq = self.maxq
                assert maxq is not None
                maxq.expire(cut)

    # -- aggregates at event time `now` --
    def sum(self, now: float) -> float:
        ser = self.series
        rows = ser.rows
        s = self.start
        n = ser.n
        if s < n and rows[ROW * s] <= now - self.length:
            self.evict(now)
            s = self.start
        if s >= n:
            return 0.0  # an empty window is exactly zero, so float rounding never accumulates
        if ser.nan:
            total = 0.0
            for k in range(s, n):
                total += rows[ROW * k + 1]
            return total
        return ser.total - rows[ROW * s + 2]

    def count(self, now: float) -> float:
        self.evict(now)
        return float(self.series.n - self.start)

    def mean(self, now: float) -> float:
        total = self.sum(now)
        n = float(self.series.n - self.start)
        return total / n if n else NAN

    def min(self, now: float) -> float:
        self.evict(now)
        return self.minq.front() if self.minq is not None else NAN

    def max(self, now: float) -> float:
        self.evict(now)
        return self.maxq.front() if self.maxq is not None else NAN

    def delta(self, now: float) -> float:
        """Newest minus oldest value in the window (e.g. displacement gained)."""
        self.evict(now)
        s = self.start
        rows, n = self.series.rows, self.series.n
        return rows[ROW * n - 2] - rows[ROW * s + 1] if s < n else NAN

    def rate(self, now: float) -> float:
        """delta per hour between the window's oldest and newest readings."""
        self.evict(now)
        s = self.start
        rows, n = self.series.rows, self.series.n
        if s >= n:
            return NAN
        span = rows[ROW * n - ROW] - rows[ROW * s]
        return (rows[ROW * n - 2] - rows[ROW * s + 1]) * 3600.0 / span if span > 0 else NAN

    def points(self, now: float) -> tuple[list[float], list[float]]:
        """The window's readings (for the few functions that need a fit, e.g. inverse velocity)."""
        self.evict(now)
        return self.series.pairs(self.start)
