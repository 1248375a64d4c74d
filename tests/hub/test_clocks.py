"""Readings stamped by clocks off from the hub's: moved to when they were taken, spacing kept. From a
clock ahead, the alert clears when the rain leaves the window, not when the wrong future arrives; from
a clock behind, live rain raises the alert that its old-looking times kept out of the short windows.

The pipeline tests use the real engine and rules; the store and dispatcher are lists (pipeline_helpers)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from edge.wire import CLOCK_STEP, Batch, Reading
from hub.clock_alerts import ClockAlerts
from hub.clocks import Clocks, Lateness, corrected
from hub.rules.model import Level, Transition

from .pipeline_helpers import Clock, Sink, engine, pipeline
from .rules.helpers import T0

EIGHT_H = 8 * 3600.0
HEAVY = """  - id: heavy
    sites: [s1]
    inputs: {rain: {sensor: rg1}}
    values: {r1h: "sum(rain, 1h)"}
    thresholds: {r1h: [35, 45, 60, 80]}
    clear_for: 10m
"""


def heavy(sink: Sink) -> list[Transition]:
    """The rain rule's transitions (the sink also gets the clock's maintenance alert)."""
    return [t for t in sink.got if t.rule == "heavy"]


def rain(times: list[float], mm: float = 20.0, sensor: str = "rg1") -> tuple[Reading, ...]:
    return tuple(Reading(sensor, "rain_mm", mm, t, k) for k, t in enumerate(times))


def test_a_gateway_clock_ahead_moves_its_batch_back_by_as_much_keeping_a_backlog_in_place() -> None:
    """The gateway's clock is 8 h ahead (Beijing time read as UTC). Its batch, sent "at" now + 8 h,
    holds an outbox backlog from 2 h ago and a reading from now: both land at their real times."""
    now = T0 + 3 * 3600
    readings = rain([now - 7200 + EIGHT_H, now - 60 + EIGHT_H])
    out, moved = corrected(Batch("fs-gw01", readings, now + EIGHT_H + 0.2), now)
    assert [r.time for r in out] == [
        pytest.approx(now - 7200.2, abs=1e-3),
        pytest.approx(now - 60.2, abs=1e-3),
    ]
    assert {r.quality for r in out} == {"suspect"}
    assert moved == [("fs-gw01", pytest.approx(EIGHT_H + 0.2, abs=1e-3))]


def test_ahead_only_the_sensors_that_follow_the_gateways_clock_move() -> None:
    """The gateway's clock is 8 h ahead; rg1 is stamped by it, rg2 by a network server whose clock is
    right. rg2 stays where it is: moved back 8 h it would leave every short window (a missed alert).
    rg1's newest reading, sent first after an outage, marks it as the gateway's; its backlog from
    10 h ago, stamped "2 h ago", then moves back 8 h too."""
    now, clocks = T0, Clocks()
    fresh = (*rain([now - 30 + EIGHT_H], sensor="rg1"), *rain([now - 20], sensor="rg2"))
    out, moved = clocks.correct(Batch("fs-gw01", fresh, now + EIGHT_H), now)
    assert [(r.sensor, r.time) for r in out] == [("rg1", now - 30), ("rg2", now - 20)]
    assert out[1] == fresh[1] and moved == [("fs-gw01", EIGHT_H)]
    backlog = rain([now - 10 * 3600 + EIGHT_H + 600 * k for k in range(3)], sensor="rg1")
    out, _ = clocks.correct(Batch("fs-gw01", backlog, now + 5 + EIGHT_H), now + 5)
    assert [r.time for r in out] == [pytest.approx(now - 10 * 3600 + 600 * k, abs=1e-3) for k in range(3)]
    unknown, _ = Clocks().correct(Batch("fs-gw01", backlog, now + 5 + EIGHT_H), now + 5)
    assert unknown == backlog  # not known to follow the gateway's clock: left where it is


def test_a_sensor_clock_ahead_moves_its_newest_reading_to_the_arrival() -> None:
    """The gateway's clock is right; one RTU stamps its readings 8 h ahead. Its readings move so that
    the newest is the arrival, 5 min apart as sent; the other gauge's readings and a bad reading's
    quality are left as they were."""
    now = T0
    ahead = rain([now - 300 + EIGHT_H, now + EIGHT_H], sensor="rg2")
    ahead = (*ahead[:1], ahead[1]._replace(quality="bad"))
    fine = rain([now - 10], sensor="rg1")
    out, moved = corrected(Batch("fs-gw01", (*fine, *ahead), now - 0.1), now)
    assert out[0] == fine[0]
    assert [(r.time, r.quality) for r in out[1:]] == [(now - 300, "suspect"), (now, "bad")]
    assert moved == [("rg2", EIGHT_H)]


def test_clocks_behind_forecasts_and_small_offsets_are_left_alone() -> None:
    """A batch the broker held while the hub was away looks like a clock behind: it cannot be told from
    one, so neither moves. Forecasts are about the future; 4 min ahead is within NTP's slack."""
    now = T0
    late = Batch("fs-gw01", rain([now - 3600]), now - 3000)
    forecast = Batch(
        "feed-qx", (Reading("qx@s1", "rain_mm", 5.0, now + 6 * 3600, 1, source="forecast", issued=now),), now
    )
    near = Batch("fs-gw01", rain([now + 240]), now + 240)
    for batch in (late, forecast, near):
        out, moved = corrected(batch, now)
        assert out is batch.readings and moved == []


def test_rain_from_a_clock_ahead_raises_the_alert_and_leaves_the_window_on_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """60 mm from a gateway 8 h ahead. Before, the readings sat 8 h in the future: orange came, and
    stayed for nine hours, because the 1 h sum held them until their own time had passed. Now they
    count at their real time: orange at once, and the all-clear 75 minutes later."""
    clock = Clock()
    p, d = pipeline(engine(tmp_path, HEAVY), clock)
    clock.now = T0 + 3600
    times = [clock.now - 600 * k + EIGHT_H for k in (2, 1, 0)]
    with caplog.at_level(logging.WARNING, logger="hub.pipeline"):
        p.handle_batch(Batch("fs-gw01", rain(times), clock.now + EIGHT_H))
        p.handle_batch(Batch("fs-gw01", rain([clock.now + 1 + EIGHT_H], 0.0), clock.now + 1 + EIGHT_H))
    assert [t.to_level for t in heavy(d)] == [Level.ORANGE]
    assert caplog.text.count("clock ahead of the hub's clock=fs-gw01 site=s1 off_s=28800") == 1
    assert p.counts["clock_ahead"] == 2
    # The readings as stored: at their real times, marked suspect.
    stored = [ln for ln in p.store.lines if ln.startswith("rain_mm,")]  # type: ignore[union-attr]
    assert len(stored) == 4 and all("quality=suspect" in ln for ln in stored)
    [notice] = [ln for ln in p.store.lines if ln.startswith("hub_notice,")]  # type: ignore[union-attr]
    assert "kind=clock,origin=fs-gw01" in notice and "时钟快8小时0分" in notice  # the Gateways dashboard
    assert all(int(ln.rsplit(" ", 1)[1]) <= (T0 + 3601) * 1e9 for ln in stored)
    # Dry minutes, still from the clock 8 h ahead (the gauge reports every minute).
    for minute in range(2, 120):
        clock.now = T0 + 3600 + 60 * minute
        p.handle_batch(Batch("fs-gw01", rain([clock.now + EIGHT_H], 0.0), clock.now + EIGHT_H))
    # 20 mm leaves the hour every 10 min from +40 min on; the last has left at +60 min, and the
    # level falls to none once clear_for (10 min) has passed.
    assert [t.to_level for t in heavy(d)] == [Level.ORANGE, Level.BLUE, Level.NONE]
    assert heavy(d)[-1].at <= T0 + 3600 + 75 * 60


def test_lateness_believes_a_clock_behind_only_from_batches_spread_over_ten_minutes() -> None:
    """A village bridge held an hour of batches and sends them in one burst, or a long backlog drains
    slowly: late, but not a clock. Batches from a gateway 2 h behind, one every 5 min, are: from the
    third, 10 min after the first."""
    lateness = Lateness()
    now = T0
    burst = [lateness.behind("fs-gw01", now - 3600 + 300 * k, now + 0.1 * k) for k in range(12)]
    assert burst == [0.0] * 12
    live = [lateness.behind("fs-gw01", now + 60 * k, now + 60 * k + 0.05) for k in range(1, 15)]
    assert live == [0.0] * 14  # on time once the backlog is through
    behind = [lateness.behind("fs-gw02", now + 300 * k - 7200, now + 300 * k + 0.2) for k in range(4)]
    assert behind[:2] == [0.0, 0.0] and behind[2:] == [pytest.approx(7200.2, abs=1e-3)] * 2
    # A backlog held for hours draining slowly, a batch a minute for 20 min: late, but less each time.
    drain = [lateness.behind("fs-gw03", now - 4 * 3600 + 300 * k, now + 60 * k) for k in range(20)]
    assert drain == [0.0] * 20
    # NTP catches up: the first batch on time says the clock is right again.
    assert lateness.behind("fs-gw02", now + 1500, now + 1500.1) == 0.0
    assert lateness.behind("feed-qx", 0.0, now) == 0.0  # no send time, nothing to go by


def test_rain_from_a_clock_behind_raises_the_1h_alert(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A gateway came back from a power cut with its clock 2 h behind and no NTP. Its live rain looked
    2 h old, outside the 1 h window: 60 mm in an hour raised nothing. Once its batches have shown the
    same lateness for 10 min, its readings move to when they were taken, and the alert comes."""
    clock = Clock()
    p, d = pipeline(engine(tmp_path, HEAVY), clock)
    behind = 2 * 3600.0
    with caplog.at_level(logging.WARNING, logger="hub.pipeline"):
        for minute in range(0, 60):  # 1.5 mm a minute, one batch a minute, sent at once
            clock.now = T0 + 60 * minute
            p.handle_batch(Batch("fs-gw01", rain([clock.now - behind], 1.5), clock.now - behind))
    # 75 of the 90 mm count in the hour: those that came after the first 10 minutes.
    assert [t.to_level for t in heavy(d)] == [Level.BLUE, Level.YELLOW, Level.ORANGE]
    assert "clock behind of the hub's clock=fs-gw01 site=s1 off_s=-7200" in caplog.text
    times = [ln for ln in p.store.lines if ln.startswith("rain_mm,") and "quality=suspect" in ln]  # type: ignore[union-attr]
    assert len(times) == 50


def test_a_chatty_gateway_costs_one_record_per_ten_seconds() -> None:
    """One batch a second for 40 minutes from a gateway 2 h behind: found after 10 minutes, and the
    records kept never exceed one per 10 s of the last 30 minutes."""
    lateness = Lateness()
    found = [lateness.behind("fs-gw01", T0 + s - 7200, T0 + s + 0.05) for s in range(0, 2400)]
    assert found[599] == 0.0 and found[610] == pytest.approx(7200.05, abs=1e-3)
    assert len(lateness._seen["fs-gw01"]) <= 1800 / 10 + 1


def test_officers_are_told_of_a_clock_the_hub_corrects_and_told_when_it_is_right(tmp_path: Path) -> None:
    """Village officers do not read the hub's log: the first correction of a gateway's clock raises an
    officers-only maintenance alert at its site, later ones raise nothing more, and an hour after the
    clock is set right the alert clears. While it stands, `close` may not end it."""
    clock = Clock()
    p, d = pipeline(engine(tmp_path, HEAVY), clock)
    for minute in range(0, 30):  # 8 h ahead for half an hour
        clock.now = T0 + 60 * minute
        p.handle_batch(Batch("fs-gw01", rain([clock.now + EIGHT_H], 0.0), clock.now + EIGHT_H))
    raised = [t for t in d.got if t.rule == "clock.fs-gw01"]
    assert [(t.to_level, t.site, t.labels["audience"], t.labels["maintenance"]) for t in raised] == [
        (Level.BLUE, "s1", "officers", "true")
    ]
    assert (
        raised[0].message
        == "测试点一设备fs-gw01时钟快8小时0分，读数已按实际时间校正，请尽快校准时钟（维护告警）"
    )
    assert p.decides("s1", "clock.fs-gw01")
    for minute in range(30, 100):  # NTP set it right
        clock.now = T0 + 60 * minute
        p.handle_batch(Batch("fs-gw01", rain([clock.now], 0.0), clock.now))
        p.tick()
    alerts = [(t.to_level, t.message) for t in d.got if t.rule == "clock.fs-gw01"]
    assert alerts[1:] == [(Level.NONE, "测试点一设备fs-gw01时钟已恢复正常")]
    cleared = next(t.at for t in d.got if t.rule == "clock.fs-gw01" and not t.to_level)
    assert T0 + 89 * 60 <= cleared <= T0 + 90 * 60  # an hour after the last correction, at minute 29
    assert not p.decides("s1", "clock.fs-gw01")


def rtu(times: list[float], seqs: list[int], mm: float = 5.0) -> tuple[Reading, ...]:
    """An RTU's rain (rg1), stamped by its own clock, with the gateway's outbox seqs."""
    return tuple(Reading("rg1", "rain_mm", mm, t, k) for t, k in zip(times, seqs, strict=True))


def test_a_backlog_from_a_sensor_clock_ahead_keeps_its_spacing_across_batches() -> None:
    """An RTU stamps 8 h ahead; the gateway's clock is right. After a 3 h outage the outbox sends each
    sensor's newest reading first (seq 18), then the backlog in two batches. Before, each batch's own
    newest reading was moved to its arrival, so the backlog of 3 h was squeezed into the minutes
    before each batch came: two batches of 80 min ending "now". Now every backlog reading moves by
    the offset its newest reading showed, and keeps its real time (within that reading's age)."""
    now, clocks = T0, Clocks()
    taken = [now - 10800 + 600 * k for k in range(1, 19)]  # seq 1..18, every 10 min, the last 5 min ago
    taken[-1] = now - 300
    stamped = [t + EIGHT_H for t in taken]
    out, moved = clocks.correct(Batch("fs-gw01", rtu(stamped[-1:], [18]), now), now)
    assert [r.time for r in out] == [now] and moved == [("rg1", EIGHT_H - 300)]
    got = list(out)
    for k, (lo, hi) in enumerate(((0, 9), (9, 17))):
        arrival = now + 1 + k
        out, moved = clocks.correct(
            Batch("fs-gw01", rtu(stamped[lo:hi], list(range(lo + 1, hi + 1))), arrival), arrival
        )
        assert moved == [("rg1", EIGHT_H - 300)]
        got += out
    times = sorted(r.time for r in got)
    assert times == [pytest.approx(t + 300, abs=1e-3) for t in taken]  # 5 min late at most, never squeezed
    assert {r.quality for r in got} == {"suspect"}


def test_a_sensor_clock_that_was_reset_years_back_is_moved_to_the_arrival() -> None:
    """An RTU whose RTC battery went flat starts again on 2000-01-01. Left there, its rain never entered
    a window and the gauge looked stale. Its newest reading moves to the arrival and the rest with it,
    its backlog by the same offset; a normal backlog two hours old stays where it is."""
    now, clocks = T0, Clocks()
    y2000 = 946_684_800.0
    out, moved = clocks.correct(Batch("fs-gw01", rtu([y2000 + 1200, y2000 + 1800], [7, 8]), now), now)
    assert [r.time for r in out] == [now - 600, now] and {r.quality for r in out} == {"suspect"}
    assert moved == [("rg1", pytest.approx(y2000 + 1800 - now))]
    out, _ = clocks.correct(Batch("fs-gw01", rtu([y2000, y2000 + 600], [5, 6]), now + 1), now + 1)
    assert [r.time for r in out] == [now - 1800, now - 1200]
    old = rtu([now - 7200, now - 6600], [1, 2])
    out, moved = Clocks().correct(Batch("fs-gw02", old, now), now)
    assert out == old and moved == []
    told = ClockAlerts().moved("rg1", "s1", "测试点一", y2000 + 1800 - now, now)
    days = round((now - y2000 - 1800) / 86400)
    assert told is not None and f"设备rg1时钟慢约{days}天" in told.message  # the officers' maintenance alert


def test_rain_from_an_rtu_clock_ahead_sent_as_a_backlog_raises_no_false_alarm(tmp_path: Path) -> None:
    """The real engine and rules: 3 h of 4 mm every 10 min (24 mm an hour, below blue's 35) from an RTU
    stamping 8 h ahead, sent after an outage as above. Before, the squeezed backlog put about 50 mm
    into the last hour and raised yellow; now nothing is raised (the readings land at most 5 min
    late, the age of the newest reading: at most 28 mm in any hour)."""
    clock = Clock()
    p, d = pipeline(engine(tmp_path, HEAVY), clock)
    clock.now = now = T0 + 6 * 3600
    taken = [now - 10800 + 600 * k for k in range(1, 19)]
    taken[-1] = now - 300
    stamped = [t + EIGHT_H for t in taken]
    p.handle_batch(Batch("fs-gw01", rtu(stamped[-1:], [18], 4.0), now))
    for lo, hi in ((0, 9), (9, 17)):
        clock.now += 1
        p.handle_batch(Batch("fs-gw01", rtu(stamped[lo:hi], list(range(lo + 1, hi + 1)), 4.0), clock.now))
    assert heavy(d) == []
    assert p.counts["readings"] == 18


def test_a_gateway_that_says_its_clock_was_set_gets_a_dashboard_notice(tmp_path: Path) -> None:
    """The edge reports a step of its clock as a health reading (edge.clock.StepWatch); the hub keeps
    it like any reading and writes the Gateways dashboard's notice."""
    clock = Clock()
    p, _ = pipeline(engine(tmp_path, HEAVY), clock)
    clock.now = T0
    step = Reading("fs-gw01-health", CLOCK_STEP, 3 * 3600.0, T0, 7, source="health")
    p.handle_batch(Batch("fs-gw01", (step,), T0))
    [notice] = [ln for ln in p.store.lines if ln.startswith("hub_notice,")]  # type: ignore[union-attr]
    assert "kind=clock_step,origin=fs-gw01" in notice and "网关时钟原来慢3小时0分，已校准" in notice
    assert any(ln.startswith("clock_step_s,") for ln in p.store.lines)  # type: ignore[union-attr]
