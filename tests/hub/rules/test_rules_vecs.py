"""The native-vector building blocks of the windows: monotonic queues, the wake set, prefix sums, compaction."""

from __future__ import annotations

import math
import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.wire import Reading
from hub.rules.vecs import MonoQueue
from hub.rules.wake import Wake
from hub.rules.windows import Series, Window
from tests.hub.rules.helpers import T0, engine_for


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 50))
def test_mono_queue_equals_brute_min_and_max_over_long_streams(seed: int, length: int) -> None:
    """Thousands of pushes, so the queue reuses freed slots and moves its live pairs to the front."""
    rng = random.Random(seed)
    lo, hi = MonoQueue(True), MonoQueue(False)
    pts: list[tuple[float, float]] = []
    for k in range(3000):
        v = float(rng.choice((rng.randint(-5, 5), rng.random(), k % 7)))
        lo.push(float(k), v)
        hi.push(float(k), v)
        pts.append((float(k), v))
        if rng.random() < 0.7:
            cut = float(k - length)
            lo.expire(cut)
            hi.expire(cut)
            live = [x for t, x in pts if t > cut]
            assert lo.front() == min(live) and hi.front() == max(live), (k, length)
    lo.clear()
    assert math.isnan(lo.front())


def test_wake_holds_each_rule_once_and_starts_empty() -> None:
    w = Wake(6)
    w.begin()
    w.add_all((3, 1, 3))
    w.add(1)
    w.add(5)
    assert [w.at(k) for k in range(w.count())] == [3, 1, 5]
    w.begin()
    assert w.count() == 0
    w.add_all((2,))
    assert [w.at(k) for k in range(w.count())] == [2]
    w.everything = True
    assert [w.at(k) for k in range(w.count())] == list(range(6))


def test_sum_after_a_nan_leaves_the_window_equals_a_rescan() -> None:
    """Prefix sums cannot subtract a NaN out again: the series rescans, so a sum is NaN only while
    the NaN is inside the window (the brute-force answer), never for good."""
    s = Series(("s", "q"))
    w = Window(s, 100.0)
    for t, v in ((0.0, 1.0), (50.0, math.nan), (120.0, 2.0), (160.0, 3.5)):
        s.add(t, v)
    assert math.isnan(w.sum(149.0))  # (49, 149] holds the NaN
    assert w.sum(160.0) == 5.5  # (60, 160]: 2.0 and 3.5
    s.add(200.0, math.inf)
    assert w.sum(200.0) == math.inf
    assert w.sum(301.0) == 0.0  # empty again: exactly zero


def test_late_reading_updates_the_prefix_sums_after_it() -> None:
    s = Series(("s", "q"))
    w1, w2 = Window(s, 1000.0), Window(s, 150.0)
    for t in (0.0, 100.0, 200.0, 300.0):
        s.add(t, 1.0)
    s.add(150.0, 10.0)  # late, between readings
    s.add(100.0, 4.0)  # corrects a value
    assert w1.sum(300.0) == 1.0 + 4.0 + 10.0 + 1.0 + 1.0
    assert w2.sum(300.0) == 1.0 + 1.0  # (150, 300]


def test_a_gated_series_in_the_dry_season_does_not_keep_every_reading(tmp_path: Path) -> None:
    """A month of zero rain: the rule holds its guard, the series' gate holds, and no rule reads the
    window for weeks. The hourly sweep compacts the series, so memory stays bounded."""
    eng = engine_for(
        tmp_path,
        "  - {id: r, inputs: {g: {sensor: rg1}}, levels: {blue: 'sum(g, 1h) >= 30'}}\n",
        sweep_s=3600.0,
    )
    st_ = eng.initial_state()
    ser = st_.series[("rg1", "rain_mm")]
    for k in range(30 * 24 * 60):  # one reading a minute for 30 days
        t = T0 + 60.0 * k
        st_, _ = eng.evaluate(st_, [Reading("rg1", "rain_mm", 0.0, t, k)], t)
    assert st_.guards is not None and st_.guards[0] is not None  # it really was skipped
    assert ser.n <= 2 * 256 + 60  # not 43,200


def test_a_sensor_with_two_quantities_finds_each_series(tmp_path: Path) -> None:
    """Most sensors have one series and are found by name alone; a sensor read as two quantities, and
    a quantity nobody reads, still go where (sensor, quantity) says."""
    eng = engine_for(
        tmp_path,
        "  - {id: r, inputs: {d: {sensor: gn1}, t: {sensor: gn1, quantity: tilt_deg}},\n"
        "     levels: {blue: 'delta(d, 1h) >= 50 or delta(t, 1h) >= 5'}}\n",
    )
    st_ = eng.initial_state()
    assert "gn1" not in st_.by_sensor and "rg1" in st_.by_sensor
    st_, _ = eng.evaluate(
        st_,
        [
            Reading("gn1", "disp_mm", 1.5, T0, 1),
            Reading("gn1", "tilt_deg", 0.25, T0, 2),
            Reading("gn1", "temp_c", 20.0, T0, 3),
            Reading("rg1", "temp_c", 20.0, T0, 4),
        ],
        T0,
    )
    assert st_.series[("gn1", "disp_mm")].pairs()[1] == [1.5]
    assert st_.series[("gn1", "tilt_deg")].pairs()[1] == [0.25]
    assert st_.counters["unknown"] == 2
