"""Drop readings already seen, by (origin, gateway sequence number), tolerating fresh-first reordering."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)
# (origin, kind, detail in Chinese): a hub finding about a gateway, for the Gateways dashboard (hub_notice).
Notice = tuple[str, str, str]


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
    """One SeqWindow per origin and outbox stream. seq 0 means "unsequenced" (feeds, tools) and is never
    deduplicated.

    A gateway's sequence numbers count in its outbox file. A new file (a new SD card, a reinstalled or
    replaced gateway keeping its id) starts again from 1, and with one window per origin all of them
    fell below the old floor: every reading was dropped as a duplicate, for weeks, until the numbers
    passed the old ones or the hub restarted. Batches name their outbox (wire.Batch.stream); a new one
    starts a new window. A duplicate the new window lets through is harmless: the store keeps one
    point per time, and the engine one reading."""

    def __init__(self, streams_per_origin: int = 4) -> None:
        # origin -> its outbox streams' windows, newest last (bounded: older streams are forgotten)
        self._origins: dict[str, dict[int, SeqWindow]] = {}
        self.streams_per_origin = streams_per_origin
        self.duplicates = 0
        self.restarts = 0
        self._shared: set[str] = set()  # origins logged as sent by two outboxes at once
        # (origin, kind, detail in Chinese) for the Gateways dashboard, drained by the pipeline: the
        # county's technicians do not read the hub's log.
        self.notices: list[Notice] = []

    def first_time(self, origin: str, seq: int, stream: int = 0) -> bool:
        if seq == 0:
            return True
        streams = self._origins.setdefault(origin, {})
        window = streams.get(stream)
        if window is None:
            if streams:
                self.restarts += 1
                log.warning(
                    "sequence numbers start again origin=%s stream=%x (was %x): a new outbox, e.g. a new "
                    "SD card or a reinstalled gateway",
                    origin, stream, next(reversed(streams)),
                )  # fmt: skip
                self.notices.append(
                    (origin, "new_outbox", "序号重新从1开始：新的存储卡或重装的网关（读数照常接收）")
                )
            window = streams[stream] = SeqWindow()
            if len(streams) > self.streams_per_origin:
                del streams[next(iter(streams))]
        elif stream != next(reversed(streams)) and origin not in self._shared:
            # An older outbox of this origin sends again: two gateways share one id (a copied config).
            # Each stream keeps its own window, so deduplication still holds; say it once.
            self._shared.add(origin)
            log.warning("two outboxes send as origin=%s: do two gateways share one id?", origin)
            self.notices.append(
                (origin, "shared_id", "两个存储以同一网关编号发送：是否两台网关共用一个编号？")
            )
        if window.first_time(seq):
            return True
        self.duplicates += 1
        return False
