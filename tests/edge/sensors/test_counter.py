"""Tipping-bucket counter to increments: rollover, reboot reset, implausible jumps (pure)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from edge.sensors.counter import CounterState, Increment, step

KW: dict[str, Any] = {"modulus": 65536, "scale": 0.1, "max_rate_per_h": 300.0, "min_window_s": 600.0}


def test_first_reading_is_a_zero_baseline() -> None:
    state, inc = step(None, 1234, 100.0, **KW)
    assert state == CounterState(1234, 100.0)
    assert (inc.value, inc.quality, inc.why) == (0.0, "good", "first")


def test_increment_is_the_difference_in_mm() -> None:
    _, inc = step(CounterState(1000, 0.0), 1025, 60.0, **KW)
    assert (inc.value, inc.quality) == (2.5, "good")


def test_16_bit_rollover_is_rain_not_a_reset() -> None:
    _, inc = step(CounterState(65530, 0.0), 4, 60.0, **KW)
    assert (inc.value, inc.quality, inc.why) == (1.0, "good", "rollover")


def test_reboot_reset_is_suspect_and_never_a_huge_jump() -> None:
    # 4000 counts (400 mm) recorded, logger reboots, 3 counts since: wrapped difference would be 6153.9 mm.
    _, inc = step(CounterState(4000, 0.0), 3, 60.0, **KW)
    assert (inc.value, inc.quality, inc.why) == (0.3, "suspect", "reset")


def test_implausible_forward_jump_is_dropped_as_suspect() -> None:
    _, inc = step(CounterState(10, 0.0), 30000, 60.0, **KW)  # 2999 mm in a minute
    assert (inc.value, inc.quality, inc.why) == (0.0, "suspect", "jump")


def test_cloudburst_in_one_short_poll_is_rain() -> None:
    # 31 mm in one minute (about the world record) must pass: the allowance covers at least 10 minutes
    _, inc = step(CounterState(0, 0.0), 310, 60.0, **KW)
    assert (inc.value, inc.quality) == (31.0, "good")


def test_long_gap_allows_more_rain() -> None:
    _, inc = step(CounterState(10, 0.0), 2010, 3600.0, **KW)  # 200 mm in an hour: a real downpour
    assert (inc.value, inc.quality) == (200.0, "good")


def test_logger_reboot_after_a_long_outage_is_a_reset_not_a_rollover() -> None:
    # The allowance grows with the gap, so any drop once fitted "rollover": a 24 h power cut that
    # restarted the logger at 0 gave 6453.9 mm of good rain, and 2 h at 6000 mm on the counter 553.6 mm.
    assert step(CounterState(1000, 0.0), 3, 24 * 3600.0, **KW)[1] == Increment(0.3, "suspect", "reset")
    assert step(CounterState(60000, 0.0), 0, 7200.0, **KW)[1] == Increment(0.0, "suspect", "reset")
    # a counter that was near the top still rolls over, however long the gap
    assert step(CounterState(65500, 0.0), 20, 24 * 3600.0, **KW)[1] == Increment(5.6, "good", "rollover")


def test_one_garbage_read_does_not_become_rain() -> None:
    # 0xFFFF from a logger starting up: taken as the baseline, the next real count wrapped past it and
    # 12.4 mm of good rain appeared where 0.3 mm fell.
    s1, inc1 = step(CounterState(120, 0.0), 0xFFFF, 60.0, **KW)
    assert inc1 == Increment(0.0, "suspect", "jump")
    s2, inc2 = step(s1, 0xFFFF, 120.0, **KW)  # stuck for a poll: still not a baseline
    assert inc2 == Increment(0.0, "suspect", "jump")
    s3, inc3 = step(s2, 123, 180.0, **KW)
    assert inc3 == Increment(0.3, "good", "") and s3 == CounterState(123, 180.0)


def test_a_counter_that_really_moved_is_followed_once_it_counts_on() -> None:
    s1, _ = step(CounterState(120, 0.0), 5000, 60.0, **KW)  # preset by a technician, say
    # Dry for an hour: the allowance from the old baseline has grown past 488 mm, but the counter was
    # at 5000 an hour ago already, so that is no rain.
    s2, inc2 = step(s1, 5000, 3660.0, **KW)
    assert inc2 == Increment(0.0, "suspect", "jump")
    s3, inc3 = step(s2, 5003, 3720.0, **KW)  # it counts on from the new value: the new baseline
    assert inc3 == Increment(0.3, "suspect", "rebase") and s3 == CounterState(5003, 3720.0)
    assert step(s3, 5005, 3780.0, **KW)[1] == Increment(0.2, "good", "")


@given(
    st.integers(0, 65535),
    st.integers(0, 65535),
    st.floats(0, 1e6),
    st.floats(0, 1e6),
)
def test_increments_are_never_negative_nor_beyond_the_plausible_rate(
    prev: int, raw: int, t0: float, t1: float
) -> None:
    _, inc = step(CounterState(prev, t0), raw, t1, **KW)
    elapsed = max(t1 - t0, 600.0) if t1 >= t0 else 600.0
    assert 0.0 <= inc.value <= 300.0 * elapsed / 3600.0 + 0.1 + 1e-9
    assert inc.quality in ("good", "suspect")
