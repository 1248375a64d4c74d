"""Readings stamped by a gateway or sensor clock that is off from the hub's are moved to when they were taken."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
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
# A sensor's reading this far behind the hub was stamped by a clock that was reset (an RTU whose RTC
# battery went flat starts again in 2000): no outbox or bridge holds a reading this long, and the edge
# marks such times suspect too (edge.clock.ClockConfig.max_age_s).
RESET_S: Final = 366 * 86400.0


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
        # (origin, outbox stream, sensor) -> (highest seq seen, how far that reading was off the hub's
        # time on arrival): the newest reading of a sensor tells its own clock's offset best.
        self._newest: dict[tuple[str, int, str], tuple[int, float]] = {}

    def correct(self, batch: Batch, now: float) -> tuple[tuple[Reading, ...], list[tuple[str, float]]]:
        """corrected() with this origin's lateness, followers and sensors' newest offsets, all updated
        by this batch."""
        follows = self._follows.setdefault(batch.origin, set())
        limit = now + TOLERANCE_S
        if batch.sent > limit:  # ahead: a sensor with a reading beyond the limit follows its clock
            follows.update(
                r.sensor for r in batch.readings if r.time > limit and r.source not in FUTURE_SOURCES
            )
        behind = self.lateness.behind(batch.origin, batch.sent, now)
        top: dict[str, Reading] = {}  # sensor -> its reading with the highest seq in this batch
        for r in batch.readings:
            best = top.get(r.sensor)
            if r.seq > 0 and r.source not in FUTURE_SOURCES and (best is None or r.seq > best.seq):
                top[r.sensor] = r
        known: dict[str, float] = {}
        for sensor, r in top.items():
            key = (batch.origin, batch.stream, sensor)
            seen = self._newest.get(key)
            if seen is not None and r.seq < seen[0]:
                known[sensor] = seen[1]  # an outbox backlog: its newest reading came first, and said this
            else:
                gateway = _gateway_offset(batch, now, behind, sensor in follows, TOLERANCE_S)
                self._newest[key] = (r.seq, r.time - gateway - now)
        return corrected(batch, now, behind, follows, known=known)


def _gateway_offset(batch: Batch, now: float, behind: float, follows: bool, tolerance: float) -> float:
    """How far the batch's gateway clock is off (+ ahead, − behind) for a reading of a sensor that
    follows it or not: ahead, only followers move (a sensor with a right clock of its own stays)."""
    if batch.sent > now + tolerance:
        return batch.sent - now if follows else 0.0
    return -behind


def corrected(
    batch: Batch,
    now: float,
    behind: float = 0.0,
    followers: AbstractSet[str] = frozenset(),
    tolerance: float = TOLERANCE_S,
    known: Mapping[str, float] = {},  # noqa: B006 (read only)
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
      batch is still more than `tolerance` ahead, or more than RESET_S behind (a clock that was
      reset), its readings move so that the newest is `now`. A batch that holds only readings older
      than one already seen from the sensor (`known`: sensor -> how far that newest reading was off)
      is an outbox backlog: each reading was taken before it arrived, so each one's offset is at most
      the clock's, and the newest's is the closest. Its readings move by that offset. Moved by their
      own newest, a backlog sent in several batches was squeezed into the minutes before each
      batch's arrival, hours of rain into the 1 h window: a false alarm.

    Moved readings are marked `suspect` (a `bad` one stays bad)."""
    limit = now + tolerance
    reset = now - RESET_S
    readings = batch.readings
    gateway = batch.sent - now if batch.sent > limit else -behind
    if (
        not gateway
        and not any(v > tolerance or v < -RESET_S for v in known.values())
        and all(reset <= r.time <= limit or r.source in FUTURE_SOURCES for r in readings)
    ):
        return readings, []  # the common case: nothing moves
    follow = followers | {r.sensor for r in readings if r.time > limit and r.source not in FUTURE_SOURCES}

    def offset(r: Reading) -> float:
        return _gateway_offset(batch, now, behind, r.sensor in follow, tolerance)

    moved: list[tuple[str, float]] = [(batch.origin, gateway)] if gateway else []
    newest: dict[str, float] = {}  # sensor -> how far its newest reading here is off, after the gateway's
    for r in readings:
        if r.source not in FUTURE_SOURCES:
            off = r.time - offset(r) - now
            if r.sensor not in newest or off > newest[r.sensor]:
                newest[r.sensor] = off
    ahead: dict[str, float] = {}  # sensor -> how far its own clock is off (+ ahead, − reset)
    for sensor, off in newest.items():
        off = max(off, known.get(sensor, off))
        if off > tolerance or off < -RESET_S:
            ahead[sensor] = off
    moved += ahead.items()
    out = []
    for r in readings:
        shift = offset(r) + ahead.get(r.sensor, 0.0) if r.source not in FUTURE_SOURCES else 0.0
        if shift:
            r = r._replace(time=to_ms(r.time - shift), quality="bad" if r.quality == "bad" else "suspect")
        out.append(r)
    return tuple(out), moved
