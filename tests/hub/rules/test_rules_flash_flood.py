"""The Fengshan flash-flood rule set against the county critical-rainfall table (issue #2 §6)."""

from __future__ import annotations

from edge.wire import Reading
from hub.rules.engine import Engine
from hub.rules.loader import load_ruleset
from hub.rules.model import AlertState, Level

from .helpers import DEPLOY, T0, play, rain

# 1h/3h/6h/24h thresholds (mm): blue 35/55/70/100, yellow 45/75/95/130, orange 60/100/120/160,
# red 80/120/150/200 (issue #2 §6, cited in flash_flood.yaml).


def engine() -> Engine:
    return Engine(load_ruleset([DEPLOY / "flash_flood.yaml"]))


def test_loads_three_sites_with_the_fengshan_gauges() -> None:
    rs = load_ruleset([DEPLOY / "flash_flood.yaml"])
    assert {r.site for r in rs.rules} == {"fs-hp01", "fs-hp02", "fs-hp03"}
    assert rs.sites["fs-hp02"].name == "凤山河山洪沟"
    assert rs.sensors["fs-hp02-rg1"].quantity == "rain_mm"
    assert rs.sensors["fs-hp02-rg1"].site == "fs-hp02"


def test_each_level_of_the_1h_column_exactly_at_its_threshold() -> None:
    # One hour of rain delivered in 12 five-minute increments totalling the threshold exactly:
    # 0.1 mm steps do not add up exactly in binary floating point, the rule must still fire.
    for total, level in (
        (34.9, Level.NONE),
        (35.0, Level.BLUE),
        (45.0, Level.YELLOW),
        (60.0, Level.ORANGE),
        (80.0, Level.RED),
    ):
        steps = [round(total / 12, 4)] * 11
        steps.append(round(total - sum(steps), 4))
        st, out = play(engine(), rain("fs-hp02-rg1", steps))
        got = max((t.to_level for t in out), default=Level.NONE)
        assert got == level, (total, got)


def test_any_one_window_is_enough_24h_column() -> None:
    # 24 h of steady 4.2 mm/h: never 35 mm in 1 h, 55 in 3 h or 70 in 6 h, but 100.8 mm in 24 h -> blue.
    st, out = play(engine(), rain("fs-hp01-rg1", [0.35] * 288))
    assert [(t.site, t.to_level) for t in out] == [("fs-hp01", Level.BLUE)]
    assert out[0].labels["audience"] == "officers"
    assert out[0].labels["hazard"] == "flash_flood"
    assert out[0].labels["grids"] == "fs-g1,fs-g2"


def test_storm_climbs_to_red_and_clears_after_hysteresis_and_min_time() -> None:
    storm = [1.0] * 12 + [6.0] * 12 + [8.0] * 12 + [0.0] * (12 * 30)
    st, out = play(engine(), rain("fs-hp02-rg1", storm))
    levels = [t.to_level for t in out]
    assert levels[:4] == [Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED]
    assert levels[-1] == Level.NONE
    assert out[-1].state == AlertState.RESOLVED
    assert all(t.site == "fs-hp02" and t.rule == "flash-flood-critical-rain" for t in out)
    red = next(t for t in out if t.to_level == Level.RED)
    assert red.labels["audience"] == "villagers"
    assert "红色预警" in red.message and "凤山河山洪沟" in red.message
    assert red.value is not None and 40 <= red.value <= 96  # the wettest 1 h sum at the time
    # Steps down only after the hour at a level and the 30 min clear hold.
    for a, b in zip(out, out[1:], strict=False):
        if b.to_level < a.to_level:
            assert b.at - a.at >= 3600


def test_bad_quality_never_feeds_rules() -> None:
    bad = [Reading("fs-hp02-rg1", "rain_mm", 100.0, T0 + i * 60, i, quality="bad") for i in range(1, 5)]
    st, out = play(engine(), bad)
    assert out == []
    assert st.counters["bad"] == 4
