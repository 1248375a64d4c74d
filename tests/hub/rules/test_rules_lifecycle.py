"""Levels and lifecycle: for:, k-of-n, escalation and step-down, min time, validity, ack, silences,
and no flapping inside a hysteresis band (hypothesis)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.wire import Reading
from hub.rules.model import AlertState, Level
from hub.rules.silences import Silence

from .helpers import T0, engine_for, play

LEVEL_RULE = """  - id: lv
    sites: [s1]
    inputs: {x: {sensor: cr1}}
    values: {v: "last(x)"}
    thresholds: {v: [10, 20, 30, 40]}
"""


def series(
    values: Sequence[float], step: float = 60.0, sensor: str = "cr1", q: str = "crack_mm"
) -> list[Reading]:
    return [Reading(sensor, q, v, T0 + i * step, i) for i, v in enumerate(values)]


def levels_of(out: list) -> list[Level]:
    return [t.to_level for t in out]


def test_escalation_and_deescalation_without_lifecycle_options(tmp_path: Path) -> None:
    eng = engine_for(tmp_path, LEVEL_RULE)
    st, out = play(eng, series([5, 12, 25, 45, 35, 15, 0]))
    assert levels_of(out) == [Level.BLUE, Level.YELLOW, Level.RED, Level.ORANGE, Level.BLUE, Level.NONE]
    assert out[-1].state == AlertState.RESOLVED and out[0].state == AlertState.FIRING
    assert out[2].escalated and not out[3].escalated


def test_for_holds_before_firing_and_forgets_interruptions(tmp_path: Path) -> None:
    eng = engine_for(tmp_path, LEVEL_RULE + "    for: 5m\n", tick_s=60)
    # Above 20 for 4 min, a dip, then 6 min above 20: fires yellow once, 5 min after the second rise.
    st, out = play(eng, series([25, 25, 25, 25, 5, 25, 25, 25, 25, 25, 25, 25]))
    assert levels_of(out) == [Level.YELLOW]
    assert out[0].at == T0 + 10 * 60
    assert st.alerts[0].state == AlertState.FIRING


def test_pending_state_while_holding(tmp_path: Path) -> None:
    eng = engine_for(tmp_path, LEVEL_RULE + "    for: 10m\n")
    st, out = play(eng, series([15, 15]))
    assert out == [] and st.alerts[0].state == AlertState.PENDING


def test_min_time_at_level_and_clear_for(tmp_path: Path) -> None:
    eng = engine_for(tmp_path, LEVEL_RULE + "    min_time_at_level: 10m\n    clear_for: 3m\n", tick_s=60)
    st, out = play(eng, series([45] + [0] * 20))
    assert levels_of(out) == [Level.RED, Level.NONE]
    assert out[1].at - out[0].at == 10 * 60  # the min time dominates the 3 min clear hold


def test_hysteresis_band_holds_level(tmp_path: Path) -> None:
    eng = engine_for(tmp_path, LEVEL_RULE + "    hysteresis: 0.2\n")
    # Orange at 30; inside the band (24..30) it holds; below 24 it drops to the level still supported.
    st, out = play(eng, series([31, 29, 25, 24.5, 29.9, 23, 7]))
    assert levels_of(out) == [Level.ORANGE, Level.YELLOW, Level.NONE]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(24.01, 29.99), min_size=1, max_size=60))
def test_no_flapping_inside_the_hysteresis_band(tmp_path_factory, values: list[float]) -> None:
    """Once orange (≥ 30), any sequence of values inside the band (24, 30) produces no transition."""
    eng = engine_for(tmp_path_factory.mktemp("h"), LEVEL_RULE + "    hysteresis: 0.2\n", tick_s=1)
    st, out = play(eng, series([30.0] + values))
    assert levels_of(out) == [Level.ORANGE]


def test_k_of_n_corroboration_two_of_three_gauges(tmp_path: Path) -> None:
    eng = engine_for(
        tmp_path,
        """  - id: kofn
    sites: [s1]
    inputs: {rain: {quantity: rain_mm}}
    levels: {orange: "at_least(2, sum(rain, 1h) >= 30)"}
""",
    )
    one = [Reading("rg1", "rain_mm", 40.0, T0 + 60, 1)]
    st, out = play(eng, one)
    assert out == []  # one gauge alone may be a blocked funnel or a prank
    st, out = play(eng, [Reading("rg3", "rain_mm", 31.0, T0 + 120, 1)], st)
    assert levels_of(out) == [Level.ORANGE]


def test_validity_is_extended_while_evidence_stays_near_threshold(tmp_path: Path) -> None:
    rule = LEVEL_RULE + "    validity: 10m\n    extend_ratio: 0.5\n"
    eng = engine_for(tmp_path, rule, tick_s=60)
    # Blue at 12; then 6 (≥ 0.5·10: near) until minute 15; then 1. Blue lasts until the first
    # validity expiry at which the value is no longer near: minute 20 (expiry after the 10→20 extension).
    st, out = play(eng, series([12] + [6] * 15 + [1] * 15))
    assert levels_of(out) == [Level.BLUE, Level.NONE]
    assert out[1].at == T0 + 20 * 60


def test_acknowledge_is_per_level(tmp_path: Path) -> None:
    eng = engine_for(tmp_path, LEVEL_RULE)
    st, out = play(eng, series([12]))
    st, ok = eng.acknowledge(st, "s1", "lv", "村干部张三")
    assert ok and st.alerts[0].acked_by == "村干部张三"
    st, out = play(eng, series([25], sensor="cr1")[:0] + [Reading("cr1", "crack_mm", 25, T0 + 60, 2)], st)
    assert st.alerts[0].acked_by == ""  # yellow needs a new acknowledgement
    assert eng.acknowledge(st, "s1", "nope", "x")[1] is False


def test_silence_holds_back_but_never_red_and_catches_up(tmp_path: Path) -> None:
    eng = engine_for(tmp_path, LEVEL_RULE)
    st = eng.initial_state()
    st = eng.silence(st, Silence("m1", T0, T0 + 600, site="s1", by="镇应急办"), T0)
    st, out = play(eng, series([12, 25]), st)
    assert out == []  # blue and yellow held back during maintenance
    st, out = play(eng, [Reading("cr1", "crack_mm", 45, T0 + 180, 3)], st)
    assert levels_of(out) == [Level.RED]  # red is never silenced
    st, out = play(eng, [Reading("cr1", "crack_mm", 15, T0 + 240, 4)], st)
    assert out == []
    st, out = eng.evaluate(st, [], T0 + 601)
    assert [(t.from_level, t.to_level) for t in out] == [(Level.RED, Level.BLUE)]  # catch-up at the end


def test_sensor_silence_mutes_its_readings(tmp_path: Path) -> None:
    eng = engine_for(tmp_path, LEVEL_RULE)
    st = eng.silence(eng.initial_state(), Silence("cal", T0, T0 + 600, sensor="cr1"), T0)
    st, out = play(eng, series([45, 45]), st)
    assert out == [] and st.counters["muted"] == 2


def test_sensor_silence_keeps_readings_taken_before_it(tmp_path: Path) -> None:
    """An outbox backlog that arrives during a maintenance window holds real readings taken before the
    technician came: they decide (here red); only readings taken since the window opened are muted."""
    eng = engine_for(tmp_path, LEVEL_RULE)
    st = eng.silence(eng.initial_state(), Silence("cal", T0 + 600, T0 + 1200, sensor="cr1"), T0 + 600)
    st, out = eng.evaluate(st, [Reading("cr1", "crack_mm", 45, T0 + 60, 1)], T0 + 660)
    assert levels_of(out) == [Level.RED] and st.counters["muted"] == 0
    st, out = eng.evaluate(st, [Reading("cr1", "crack_mm", 5, T0 + 700, 2)], T0 + 700)
    assert out == [] and st.counters["muted"] == 1  # the technician's test value changes nothing
