"""Tipping-bucket counter to increments: rollover, reboot reset, implausible jumps (pure)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from edge.sensors.counter import CounterState, step

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
