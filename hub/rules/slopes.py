"""Slope guards: prove a quiet rule on one window's delta or rate cannot fire yet, so it can be skipped.

The sum guards (guards.py) cover rain; these cover displacement and crack rules (delta, rate,
tangent angle), which otherwise are evaluated on every reading of their sensor.

Why it is safe. Series.add keeps `tv`, the upward variation of the series in arrival order: the sum
of every rise v_new - v_previous_newest (falls add nothing) over readings appended after the newest
one. With D the growth of `tv` since guard time G, any reading added later is at most D above the
newest reading at G, and a later reading is at most D above an earlier one added after G. Every
guarded condition is `>=` or `>` on a number that rises with delta or rate, so only rises matter.
A reading inserted before the newest one, or a corrected value, bumps `ooo`, which voids the guard.

At G the window's readings are j = s..n-1 (after eviction at G's `now`); n-1 is the newest.
- delta = v_last - v_first. The first reading later is one of j or a later arrival, the last is
  n-1 or a later arrival, so delta <= (v[n-1] - min_j v[j]) + D. Budget: thr - (v[n-1] - min v[j]).
- rate = delta * 3600 / span. With only `tv` a span between two new readings could be arbitrarily
  short, so the guard also expires: while now < t[k] + length (k <= n-2 chosen mid-window), reading k
  is still in the window and the first reading is one of s..k. Then for a later last reading m,
  rate = (v[m] - v[j]) * 3600 / (t[m] - t[j]) <= (v[n-1] + D - v[j]) * 3600 / (t[n-1] - t[j]), so the
  budget is min over j in s..k of thr * (t[n-1] - t[j]) / 3600 - (v[n-1] - v[j]).
NaN anywhere makes a budget NaN, which never passes the check: no guard.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from librt.vecs import vec

from hub.rules.vecs import ROW
from hub.rules.windows import Window

if TYPE_CHECKING:
    from hub.rules.compiler import C

# (kind, window slot, inverse): a number that rises with the delta or rate of one window;
# inverse maps a threshold on the number to the threshold on the raw delta (mm) or rate (per hour).
Slope = tuple[str, int, Callable[[float], float]]
# (kind, window slot, raw threshold): a condition false while the raw delta/rate stays below it.
SlopeCond = tuple[str, int, float]


def same(xs: list[Any]) -> bool:
    """Every item refers to the same kind and window (one budget can watch only one series)."""
    return all(x is not None for x in xs) and len({(x[0], x[1]) for x in xs}) == 1


def arith(op: str, a: C, b: C) -> Slope | None:
    """`x * k`, `x / k` (k > 0), `x + k`, `x - k` of a slope number stay increasing in it."""
    if a.slope is not None and b.const is not None:
        kind, slot, inv = a.slope
        k = float(b.const)
    elif b.slope is not None and a.const is not None and op in "*+":
        kind, slot, inv = b.slope
        k = float(a.const)
    else:
        return None
    if op == "*" and k > 0:
        return kind, slot, lambda c: inv(c / k)
    if op == "/" and k > 0:
        return kind, slot, lambda c: inv(c * k)
    if op == "+":
        return kind, slot, lambda c: inv(c - k)
    if op == "-":
        return kind, slot, lambda c: inv(c + k)
    return None


def cmp(a: C, op: str, limit: float) -> SlopeCond | None:
    """`x >= c` or `x > c` on a slope number; limit is c less its rounding margin (guards.limit)."""
    if a.slope is None or a.type != "num" or op not in (">=", ">"):
        return None
    kind, slot, inv = a.slope
    return kind, slot, inv(limit)


def either(op: str, conds: list[SlopeCond | None]) -> SlopeCond | None:
    """`or` stays false while every operand does (least threshold); `and` while any one does."""
    if op == "or":
        if not same(conds):
            return None
        real = [c for c in conds if c is not None]
        return real[0][0], real[0][1], min(c[2] for c in real)
    real = [c for c in conds if c is not None]
    if not real:
        return None
    first = real[0]
    ok = [c for c in real if (c[0], c[1]) == (first[0], first[1])]
    return first[0], first[1], max(c[2] for c in ok)


def least(conds: list[SlopeCond | None]) -> SlopeCond | None:
    """A rule is quiet while none of its triggers holds: every one must be guarded, least threshold."""
    if not conds or not same(conds):
        return None
    real = [c for c in conds if c is not None]
    return real[0][0], real[0][1], min(c[2] for c in real)


def budget(kind: str, w: Window, now: float, thr: float) -> tuple[float, float] | None:
    """(how much `tv` may grow, event time the guard expires) or None when no guard can be given."""
    if not thr > 0.0:
        return None
    w.evict(now)
    rows: vec[float] = w.series.rows  # row k: time rows[ROW*k], value rows[ROW*k + 1]
    s: int = w.start
    n = w.series.n
    if s >= n:
        return (thr, math.inf) if kind == "delta" else None
    last_t: float = rows[ROW * n - ROW]
    last_v: float = rows[ROW * n - ROW + 1]
    if kind == "delta":
        lo = last_v
        minq = w.minq
        if minq is not None and not w.series.nan:
            least = minq.front()  # the window's least value, kept as readings arrive
            if least < lo:
                lo = least
        else:  # a NaN reading as the first one makes the delta NaN (no alert), so NaN is skipped here
            for j in range(s, n - 1):
                x: float = rows[ROW * j + 1]
                if x < lo:
                    lo = x
        return thr - (last_v - lo), math.inf
    if n - s < 2:
        return None
    mid = (rows[ROW * s] + last_t) / 2.0
    k = s
    while k + 1 < n - 1 and rows[ROW * k + ROW] <= mid:
        k += 1
    a = thr / 3600.0
    best = math.inf
    for j in range(s, k + 1):
        b = a * (last_t - rows[ROW * j]) - (last_v - rows[ROW * j + 1])
        if b < best:
            best = b
        elif b != b:
            return None  # NaN poisons the budget
    return best, rows[ROW * k] + w.length


def tangent_inverse(steady: float) -> Callable[[float], float]:
    """The rate (mm/h) at which tangent_angle_deg(rate, 3600, steady) reaches an angle."""
    from hub.rules.functions import DAY_S

    def inv(angle: float) -> float:
        if angle >= 90.0:
            return math.inf
        return math.tan(math.radians(angle)) * steady * (3600.0 / DAY_S)

    return inv
