"""Drop readings already seen, by (origin, gateway sequence number), tolerating fresh-first reordering."""

from __future__ import annotations


class SeqWindow:
    """Seen sequence numbers of one origin: a contiguous floor plus the sparse set above it.

    Gateways send the newest reading of each sensor first after an outage, then the backlog in order, so
    sequence numbers arrive with gaps that fill later. Gateway numbers start at 1 (0 means unsequenced).
    Memory stays bounded by `max_sparse`: past it the floor jumps to the median of the sparse set. That
    forgets only gaps older than thousands of newer arrivals, e.g. when the hub restarts and first sees a
    long-running gateway at seq 5,000,000, the floor catches up after `max_sparse` readings.
    """

    __slots__ = ("floor", "sparse", "max_sparse")

    def __init__(self, max_sparse: int = 4096) -> None:
        self.floor = 0
        self.sparse: set[int] = set()
        self.max_sparse = max_sparse

    def first_time(self, seq: int) -> bool:
        """True the first time `seq` is offered, False for a duplicate."""
        if seq <= self.floor or seq in self.sparse:
            return False
        if seq == self.floor + 1:
            self.floor = seq
            while self.floor + 1 in self.sparse:
                self.floor += 1
                self.sparse.discard(self.floor)
        else:
            self.sparse.add(seq)
            if len(self.sparse) > self.max_sparse:
                self._compact()
        return True

    def _compact(self) -> None:
        ordered = sorted(self.sparse)
        half = len(ordered) // 2
        self.floor = ordered[half]
        self.sparse = set(ordered[half + 1 :])
        while self.floor + 1 in self.sparse:
            self.floor += 1
            self.sparse.discard(self.floor)


class Deduper:
    """One SeqWindow per origin. seq 0 means "unsequenced" (feeds, tools) and is never deduplicated."""

    def __init__(self) -> None:
        self._origins: dict[str, SeqWindow] = {}
        self.duplicates = 0

    def first_time(self, origin: str, seq: int) -> bool:
        if seq == 0:
            return True
        window = self._origins.get(origin)
        if window is None:
            window = self._origins[origin] = SeqWindow()
        if window.first_time(seq):
            return True
        self.duplicates += 1
        return False
