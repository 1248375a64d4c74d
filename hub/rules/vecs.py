"""Unboxed float vectors for the windows: binary search, insertion, and monotonic min/max queues."""

from __future__ import annotations

import math
from typing import Final

from librt.vecs import append, vec

NAN: Final = math.nan


# A series keeps its readings as rows of ROW floats in one vector: time, value, prefix sum.
ROW: Final = 3


def first_at_or_after(rows: vec[float], t: float, lo: int, hi: int) -> int:
    """bisect_left by time over rows lo..hi-1 (bisect needs a list; searched here natively when compiled)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if rows[ROW * mid] < t:
            lo = mid + 1
        else:
            hi = mid
    return lo


def first_after(rows: vec[float], t: float, lo: int, hi: int) -> int:
    """bisect_right by time over rows lo..hi-1."""
    while lo < hi:
        mid = (lo + hi) // 2
        if t < rows[ROW * mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


def inserted(rows: vec[float], i: int, t: float, v: float, c: float) -> vec[float]:
    """rows with the row (t, v, c) put before row i (a vec has no insert; late readings are rare and
    already O(n))."""
    out = vec[float](capacity=len(rows) + ROW)
    for k in range(ROW * i):
        out = append(out, rows[k])
    out = append(out, t)
    out = append(out, v)
    out = append(out, c)
    for k in range(ROW * i, len(rows)):
        out = append(out, rows[k])
    return out


class MonoQueue:
    """The least (or, with lowest=False, the greatest) value of a sliding window in O(1) amortized.

    Holds (time, value) pairs with values strictly rising (falling) from the front: a new value drops
    every pair at the back it beats, expiry drops pairs at the front. Stored in two vecs with a moving
    head, so a push or an expiry is a few native loads and stores, not a deque of boxed tuples.
    """

    __slots__ = ("times", "values", "head", "n", "lowest")

    def __init__(self, lowest: bool) -> None:
        self.times = vec[float]()
        self.values = vec[float]()
        self.head = 0
        self.n = 0  # pairs [head, n) are live; slots past n are reused before the vecs grow
        self.lowest = lowest

    def push(self, t: float, v: float) -> None:
        values = self.values
        head, n = self.head, self.n
        if self.lowest:
            while n > head and values[n - 1] >= v:
                n -= 1
        else:
            while n > head and values[n - 1] <= v:
                n -= 1
        if n < len(values):
            self.times[n] = t
            values[n] = v
        else:
            if head > 64 and head * 2 > n:  # mostly expired: move the live pairs to the front
                self.times = self.times[head:n]
                self.values = values[head:n]
                n -= head
                self.head = head = 0
            self.times = append(self.times, t)
            self.values = append(self.values, v)
        self.n = n + 1

    def expire(self, cut: float) -> None:
        """Drop pairs with time <= cut."""
        times = self.times
        head, n = self.head, self.n
        while head < n and times[head] <= cut:
            head += 1
        self.head = head

    def front(self) -> float:
        """The least (greatest) value held, NaN when empty."""
        return self.values[self.head] if self.head < self.n else NAN

    def clear(self) -> None:
        self.head = self.n = 0
