"""The demo storm has the shape the issue asks for: hourly peaks 40–80 mm and 24 h totals over 200 mm."""

from ews.demo_scenario import HOUR, SLOPE, profiles


def test_storm_shape_is_a_typhoon_rain_band() -> None:
    ps = profiles()
    peaks = [max(p.hourly) for p in ps.values()]
    assert all(40 <= pk <= 80 for pk in peaks)
    assert max(p.max_window(24) for p in ps.values()) > 200
    # the heaviest point crosses the red flash-flood thresholds (80 mm/1 h or 200 mm/24 h)
    assert ps["fs-hp01"].max_window(1) >= 78 and ps["fs-hp01"].max_window(24) >= 200


def test_cumulative_rain_is_monotonic_and_ends_at_total() -> None:
    p = profiles()["fs-hp01"]
    values = [p.cumulative(t) for t in range(0, int(p.hours * HOUR) + 1, 300)]
    assert all(b >= a for a, b in zip(values, values[1:], strict=False))
    assert abs(p.cumulative(p.hours * HOUR) - p.total) < 1e-9
    assert abs(p.cumulative(14.5 * HOUR) - (sum(p.hourly[:14]) + 0.5 * p.hourly[14])) < 1e-9


def test_slope_ramps_interpolate() -> None:
    crack = SLOPE[("fs-hp01-cr1", "crack_mm")]
    assert crack.at(0) == 12.0 and crack.at(100 * HOUR) == 22.6
    assert 14.0 < crack.at(15.5 * HOUR) < 19.5
