"""Headroom guards: prove a quiet rule built from window sums cannot fire yet, so it can be skipped.

Why it is safe. A window sum over a series whose values are never negative can only rise when a
reading is added or corrected upwards, and by at most the value added: eviction and time passing
only lower it. Series.add keeps `inc`, the running total of those positive increments (infinite
once a negative or NaN value arrives, which switches guards off for that series for good). A
condition `x >= c` (or `>`) on such a number x that is false now needs the increments of the
series under x to total at least `c - x` before it can turn true. max/min over a group, `or`, `and`
(any false guarded operand keeps it false) and k-of-n keep that bound. The engine records the
headroom of a quiet rule and skips it while the increments since then stay below; a change in any
series' data health (which changes group membership) drops every guard. A margin of 1e-6 of the
threshold covers floating-point rounding in the running sums.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from hub.rules.compiler import C, SeriesKey

Head = Callable[[list[Any], float], Any]
INF: Final = math.inf


def limit(op: str, c: float) -> float:
    """The value x must stay below for `x op c` to stay false, less a rounding margin."""
    from hub.rules.compiler import eps

    edge = c - eps(c) if op == ">=" else c + eps(c)
    return edge - 1e-6 * max(1.0, abs(c))


def cmp_head(a: C, op: str, c: float) -> Head | None:
    """Headroom of `a op c`: a float for a scalar, (members true, least headroom) for a group."""
    if not a.mono or op not in (">=", ">"):
        return None
    f, lim = a.fn, limit(op, c)
    if a.type == "num":

        def head(W: list[Any], now: float) -> float:
            x: float = f(W, now)  # typed, so the arithmetic is native when compiled
            h = lim - x
            return h if h > 0 else 0.0  # true, or NaN: no guard

        return head

    def vhead(W: list[Any], now: float) -> tuple[int, float]:
        n, least = 0, INF
        xs: list[float] = f(W, now)
        for x in xs:
            h = lim - x
            if h > 0:
                if h < least:
                    least = h
            else:
                n += 1  # true (or NaN): counted as true, which only ever weakens the guard
        return n, (least if least < INF else 0.0)

    return vhead


def any_head(vhead: Head | None) -> Head | None:
    """A group condition used as a condition: true if any member is."""
    if vhead is None:
        return None
    return lambda W, now: 0.0 if (r := vhead(W, now))[0] else r[1]


def at_least_head(k: float, vhead: Head | None) -> Head | None:
    if vhead is None:
        return None
    return lambda W, now: 0.0 if (r := vhead(W, now))[0] >= k else r[1]


def union(cs: Sequence[C]) -> tuple[SeriesKey, ...]:
    return tuple(dict.fromkeys(k for c in cs for k in c.gkeys))


def boolop_head(op: str, cs: Sequence[C]) -> tuple[Head | None, tuple[SeriesKey, ...]]:
    """`or`: every operand must be guarded, least headroom. `and`: one false guarded operand keeps it
    false, so the largest headroom of the guarded operands (the others are ignored)."""
    if op == "or":
        if any(c.head is None for c in cs):
            return None, ()
        hs = tuple(c.head for c in cs if c.head is not None)
        return (lambda W, now: min(h(W, now) for h in hs)), union(cs)
    guarded = [c for c in cs if c.head is not None]
    if not guarded:
        return None, ()
    hs = tuple(c.head for c in guarded if c.head is not None)
    return (lambda W, now: max(h(W, now) for h in hs)), union(guarded)


def below(f: Head, lim: float) -> Head:
    """Headroom of a table row: how far its number is below its lowest threshold's limit."""

    def head(W: list[Any], now: float) -> float:
        x: float = f(W, now)
        return lim - x

    return head


def least(heads: Sequence[Head]) -> Head:
    """A rule is quiet while none of its level triggers holds: the least headroom of them all."""
    hs = tuple(heads)

    def head(W: list[Any], now: float) -> float:
        out = INF
        for h in hs:
            v: float = h(W, now)
            if not v > 0:
                return 0.0
            if v < out:
                out = v
        return out if out < INF else 0.0

    return head
