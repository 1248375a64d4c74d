"""Readings stamped by a gateway or sensor clock that is off from the hub's are moved to when they were taken."""

from __future__ import annotations

from collections import deque
from collections.abc import Set as AbstractSet
from typing import Final

from edge.wire import Batch, Reading, to_ms

# NTP keeps gateways and the hub within a second; the edge flags its own sensors beyond the same 5 min.
TOLERANCE_S: Final = 300.0
FUTURE_SOURCES: Final = ("forecast", "warning")  # about the future by design: never moved
# A clock behind is believed only from batches that arrived over at least SPREAD_S, all of them late by
# more than TOLERANCE_S and by the same amount to within STEADY_S: a backlog that a village bridge or
# the broker held arrives in a burst, and each batch of it later than the next.
SPREAD_S: Final = 600.0
STEADY_S: Final = 60.0
KEEP_S: Final = 1800.0
MIN_BATCHES: Final = 3
BUCKET_S: Final = 10.0  # batches arriving closer together share one record: bounded work for chatty gateways


class Lateness:
    """Per origin, how late its recent batches arrived by their own send time (arrival − sent).

    A batch arrives late when its gateway's clock runs behind, and also when a broker or a village
    bridge held it through an outage. Batches that arrived over at least SPREAD_S tell the two apart:
    a held backlog comes in a burst, each batch later than the next, and live batches follow on time,
    while a clock behind makes every batch late by the same amount (a Pi that rebooted after a power
    cut with its clock where it stopped, and no NTP on a private APN). Moving a held backlog's readings
    to the present would put hours of rain into the last hour, so anything less steady is not a
    clock. Pure: the hub's clock is passed in."""

    def __init__(self) -> None:
        # origin -> [arrival, least, most lateness] per BUCKET_S of arrivals, for the last KEEP_S
        self._seen: dict[str, deque[list[float]]] = {}

    def behind(self, origin: str, sent: float, now: float) -> float:
        """Record one batch; return how far the origin's clock runs behind, 0.0 when it is not known to."""
        if sent <= 0.0:
            return 0.0  # a sender that stamps no send time
        late = now - sent
        seen = self._seen.setdefault(origin, deque())
        if seen and now - seen[-1][0] < BUCKET_S:
            seen[-1][1], seen[-1][2] = min(seen[-1][1], late), max(seen[-1][2], late)
        else:
            seen.append([now, late, late])
        while seen[0][0] < now - KEEP_S:
            seen.popleft()
        if len(seen) < MIN_BATCHES or now - seen[0][0] < SPREAD_S:
            return 0.0
        least, most = min(b[1] for b in seen), max(b[2] for b in seen)
        return least if least > TOLERANCE_S and most - least <= STEADY_S else 0.0


class Clocks:
    """What the hub knows of each origin's clock: how late its batches arrive (Lateness) and which of
    its sensors it stamps (`corrected`'s followers). Called from the ingest thread only."""

    def __init__(self) -> None:
        self.lateness = Lateness()
        self._follows: dict[str, set[str]] = {}  # origin -> sensors seen beyond the hub's time

    def correct(self, batch: Batch, now: float) -> tuple[tuple[Reading, ...], list[tuple[str, float]]]:
        """corrected() with this origin's lateness and followers, both updated by this batch."""
        follows = self._follows.setdefault(batch.origin, set())
        limit = now + TOLERANCE_S
        if batch.sent > limit:  # ahead: a sensor with a reading beyond the limit follows its clock
            follows.update(
                r.sensor for r in batch.readings if r.time > limit and r.source not in FUTURE_SOURCES
            )
        return corrected(batch, now, self.lateness.behind(batch.origin, batch.sent, now), follows)


def corrected(
    batch: Batch,
    now: float,
    behind: float = 0.0,
    followers: AbstractSet[str] = frozenset(),
    tolerance: float = TOLERANCE_S,
) -> tuple[tuple[Reading, ...], list[tuple[str, float]]]:
    """The batch's readings at the times they were taken, and what was moved: [(gateway or sensor id,
    seconds its clock was off, + ahead, − behind)]. Pure: `now` is the hub's clock at arrival, `behind`
    what Lateness says of the batch's origin.

    A reading from the future stays in every window until the future arrives: a gateway whose clock
    ran 8 h ahead (a Beijing-time clock read as UTC) kept one hour's rain in the 1 h sum for nine
    hours, and its alert with it. A reading from a clock behind leaves the windows early, or never
    enters the short ones: live rain stamped 2 h ago raised no 1 h alert. Dropping such readings would
    lose real rain, so they move:

    - by the gateway's clock. A batch cannot be sent after it arrives, so `sent` more than `tolerance`
      ahead of `now` is the gateway's clock, ahead by as much; `behind` is Lateness's finding. Every
      reading it stamped moves by the same amount, which keeps their spacing and the real times of an
      outbox backlog. Ahead, only the sensors that follow the gateway's clock move: those with a
      reading beyond `now + tolerance`, in this batch or an earlier one (`followers`, kept by Clocks).
      A sensor stamped by a clock of its own that is right (a remote network server's)
      would otherwise move into the past by hours, out of the short windows: a missed alert. A gateway
      sends each sensor's newest reading first after an outage, so a follower is known before its
      backlog, whose old stamps are not beyond the limit, arrives.
    - by a sensor's own clock (an RTU that stamps its observations). If its newest reading in the
      batch is still more than `tolerance` ahead, its readings move so that the newest is `now`.

    Moved readings are marked `suspect` (a `bad` one stays bad)."""
    limit = now + tolerance
    readings = batch.readings
    gateway = batch.sent - now if batch.sent > limit else -behind
    if not gateway and all(r.time <= limit or r.source in FUTURE_SOURCES for r in readings):
        return readings, []  # the common case: nothing moves
    follow = followers | {r.sensor for r in readings if r.time > limit and r.source not in FUTURE_SOURCES}

    def offset(r: Reading) -> float:  # the gateway's offset for this reading
        return gateway if gateway < 0 or r.sensor in follow else 0.0

    moved: list[tuple[str, float]] = [(batch.origin, gateway)] if gateway else []
    ahead: dict[str, float] = {}  # sensor -> how far its newest reading is ahead, after the gateway's offset
    for r in readings:
        if r.source not in FUTURE_SOURCES:
            t = r.time - offset(r)
            if t > limit and t - now > ahead.get(r.sensor, 0.0):
                ahead[r.sensor] = t - now
    moved += ahead.items()
    out = []
    for r in readings:
        shift = offset(r) + ahead.get(r.sensor, 0.0) if r.source not in FUTURE_SOURCES else 0.0
        if shift:
            r = r._replace(time=to_ms(r.time - shift), quality="bad" if r.quality == "bad" else "suspect")
        out.append(r)
    return tuple(out), moved
