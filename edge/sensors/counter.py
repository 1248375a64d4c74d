"""Turn a cumulative device counter (tipping bucket) into increments: rollover, reset and jump detection."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CounterState:
    """The last raw count seen and when (event time)."""

    raw: int
    time: float


@dataclass(frozen=True, slots=True)
class Increment:
    """What the counter did since the previous reading, in engineering units."""

    value: float
    quality: str  # "good", or "suspect" after a reset or an implausible jump
    why: str  # "", "first", "rollover", "reset", "jump", "clock"


def step(
    prev: CounterState | None,
    raw: int,
    now: float,
    *,
    modulus: int,
    scale: float,
    max_rate_per_h: float,
    min_window_s: float = 600.0,
) -> tuple[CounterState, Increment]:
    """Pure: the new state and the increment for a counter reading `raw` at event time `now`.

    - First reading: an increment of 0 (nothing is known about rain before we started watching).
    - Counter went up: the difference.
    - Counter went down: either a rollover (modulus) whose wrapped difference is plausible, or the
      logger rebooted and restarted from 0; then the count since the reboot is the best lower bound
      and is marked suspect, never a huge negative or positive jump.
    - A forward jump larger than max_rate_per_h allows is garbage or a reset to an odd value: 0, suspect.
      The allowance is taken over at least `min_window_s` (10 min): a real cloudburst can put tens of mm
      into one short polling interval, and throwing real rain away is worse than passing a rare glitch.
    """
    if not 0 <= raw < modulus:
        raise ValueError(f"counter value {raw} outside 0..{modulus - 1}")
    state = CounterState(raw, now)
    if prev is None:
        return state, Increment(0.0, "good", "first")
    if now < prev.time:
        # Time went backwards (clock step): difference is still rain, but the window is unknown.
        elapsed = min_window_s
        clock_doubt = True
    else:
        elapsed = max(now - prev.time, min_window_s)
        clock_doubt = False
    # One extra count of slack: a bucket may tip just after the previous poll.
    limit = max_rate_per_h * elapsed / 3600.0 + abs(scale)

    def value(counts: int) -> float:
        return round(counts * scale, 9)

    if raw >= prev.raw:
        delta = value(raw - prev.raw)
        if delta <= limit:
            return state, Increment(
                delta, "suspect" if clock_doubt else "good", "clock" if clock_doubt else ""
            )
        return state, Increment(0.0, "suspect", "jump")
    wrapped = value(raw + modulus - prev.raw)
    if wrapped <= limit:
        return state, Increment(wrapped, "suspect" if clock_doubt else "good", "rollover")
    since_reboot = value(raw)
    return state, Increment(since_reboot if since_reboot <= limit else 0.0, "suspect", "reset")
