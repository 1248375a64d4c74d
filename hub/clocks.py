"""Readings stamped by a clock that runs ahead of the hub's are moved back to when they can have been taken."""

from __future__ import annotations

from typing import Final

from edge.wire import Batch, Reading, to_ms

# NTP keeps gateways and the hub within a second; the edge flags its own sensors beyond the same 5 min.
AHEAD_S: Final = 300.0
FUTURE_SOURCES: Final = ("forecast", "warning")  # about the future by design: never moved


def corrected(
    batch: Batch, now: float, tolerance: float = AHEAD_S
) -> tuple[tuple[Reading, ...], list[tuple[str, float]]]:
    """The batch's readings with times no clock ahead of the hub's could give, and what was moved:
    [(gateway or sensor id, seconds it was ahead)]. Pure: `now` is the hub's clock at arrival.

    A reading from the future stays in every window until the future arrives: a gateway whose clock
    ran 8 h ahead (a Beijing-time clock read as UTC) kept one hour's rain in the 1 h sum for nine
    hours, and its alert with it. Dropping such readings would be worse (the rain is real), so:

    - The gateway's clock. A batch cannot be sent after it arrives, so `sent` more than `tolerance`
      ahead of `now` is the gateway's clock: every reading it stamped moves back by as much, which
      keeps their spacing and the real times of an outbox backlog. A clock running behind cannot be
      told apart from a broker that held the batch while the hub was away, and is left alone.
    - A sensor's own clock (an RTU that stamps its observations). If its newest reading in the batch
      is still more than `tolerance` ahead, its readings move so that the newest is `now`.

    Moved readings are marked `suspect` (a `bad` one stays bad)."""
    limit = now + tolerance
    readings = batch.readings
    gateway = batch.sent - now if batch.sent > limit else 0.0
    if not gateway and all(r.time <= limit or r.source in FUTURE_SOURCES for r in readings):
        return readings, []  # the common case: nothing moves
    moved: list[tuple[str, float]] = [(batch.origin, gateway)] if gateway else []
    ahead: dict[str, float] = {}  # sensor -> its newest time, after the gateway's correction
    for r in readings:
        if r.source not in FUTURE_SOURCES:
            t = r.time - gateway
            if t > limit and t - now > ahead.get(r.sensor, 0.0):
                ahead[r.sensor] = t - now
    moved += ahead.items()
    out = []
    for r in readings:
        shift = gateway + ahead.get(r.sensor, 0.0) if r.source not in FUTURE_SOURCES else 0.0
        if shift:
            r = r._replace(time=to_ms(r.time - shift), quality="bad" if r.quality == "bad" else "suspect")
        out.append(r)
    return tuple(out), moved
