"""Turn a cumulative device counter (tipping bucket) into increments: rollover, reset and jump detection."""

from __future__ import annotations

from dataclasses import dataclass

# A rollover needs the counter to have been near the top of its range: the counts left to the modulus
# must fit what could fall in at most this long. Without the cap a long gap (a power cut that rebooted
# the logger to 0) made any drop look like a plausible rollover: thousands of mm of phantom rain.
ROLLOVER_WINDOW_S = 3600.0


@dataclass(frozen=True, slots=True)
class CounterState:
    """The last trusted raw count and when (event time); `pending` is a jumped-to (raw, time) not yet
    believed: kept so a counter that really moved to a new value is picked up on the next reading."""

    raw: int
    time: float
    pending: tuple[int, float] | None = None


@dataclass(frozen=True, slots=True)
class Increment:
    """What the counter did since the previous reading, in engineering units."""

    value: float
    quality: str  # "good", or "suspect" after a reset, an implausible jump or a new baseline
    why: str  # "", "first", "rollover", "reset", "jump", "rebase", "clock"


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
    - Counter went down: a rollover (modulus) if the counter was near the top (ROLLOVER_WINDOW_S of
      rain from it) and the wrapped difference is plausible; otherwise the logger rebooted and restarted
      from 0: the count since the reboot is the best lower bound and is marked suspect, never a huge
      negative or positive jump.
    - A forward jump larger than max_rate_per_h allows is garbage or a reset to an odd value: 0, suspect.
      The allowance is taken over at least `min_window_s` (10 min): a real cloudburst can put tens of mm
      into one short polling interval, and throwing real rain away is worse than passing a rare glitch.
      The baseline stays where it was, so one garbage read (0xFFFF from a logger starting up) cannot
      become a rollover of phantom rain on the next reading, and the jumped value is kept as `pending`.
      A later reading that counts on from it (higher, plausibly) shows the counter really moved: it
      becomes the baseline and the rain since the jump is sent, suspect ("rebase"). The same value again
      confirms nothing (a stuck garbage value repeats too, and 0xFFFF as a baseline would wrap into
      phantom rain later): 0, suspect, until the counter moves on from it or comes back below it.
    """
    if not 0 <= raw < modulus:
        raise ValueError(f"counter value {raw} outside 0..{modulus - 1}")
    state = CounterState(raw, now)
    if prev is None:
        return state, Increment(0.0, "good", "first")

    def judge(base_raw: int, base_time: float) -> Increment:
        return _judge(base_raw, base_time, raw, now, modulus, scale, max_rate_per_h, min_window_s)

    if prev.pending is not None and raw >= prev.pending[0]:
        # At or past the jumped value: if that was real, the counter was there at the jump already, so
        # the rise from the old baseline must not be judged over the time since (it would pass in the end).
        if raw == prev.pending[0]:
            return prev, Increment(0.0, "suspect", "jump")
        moved = judge(*prev.pending)
        if moved.why != "jump":
            return state, Increment(moved.value, "suspect", "rebase")
        return CounterState(prev.raw, prev.time, (raw, now)), moved
    inc = judge(prev.raw, prev.time)
    if inc.why == "jump":
        return CounterState(prev.raw, prev.time, (raw, now)), inc
    return state, inc


def _judge(
    prev_raw: int,
    prev_time: float,
    raw: int,
    now: float,
    modulus: int,
    scale: float,
    max_rate_per_h: float,
    min_window_s: float,
) -> Increment:
    """The increment from one baseline to `raw`, without deciding what the next baseline is."""
    if now < prev_time:
        # Time went backwards (clock step): difference is still rain, but the window is unknown.
        elapsed = min_window_s
        clock_doubt = True
    else:
        elapsed = max(now - prev_time, min_window_s)
        clock_doubt = False

    def allowance(seconds: float) -> float:
        # One extra count of slack: a bucket may tip just after the previous poll.
        return max_rate_per_h * seconds / 3600.0 + abs(scale)

    def value(counts: int) -> float:
        return round(counts * scale, 9)

    limit = allowance(elapsed)
    if raw >= prev_raw:
        delta = value(raw - prev_raw)
        if delta <= limit:
            return Increment(delta, "suspect" if clock_doubt else "good", "clock" if clock_doubt else "")
        return Increment(0.0, "suspect", "jump")
    wrapped = value(raw + modulus - prev_raw)
    near_top = value(modulus - prev_raw) <= allowance(min(elapsed, ROLLOVER_WINDOW_S))
    if near_top and wrapped <= limit:
        return Increment(wrapped, "suspect" if clock_doubt else "good", "rollover")
    since_reboot = value(raw)
    return Increment(since_reboot if since_reboot <= limit else 0.0, "suspect", "reset")
