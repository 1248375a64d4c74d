"""Folding transitions into an alert episode: who is told what, and what tells no one."""

from __future__ import annotations

from hub.alerts import messages as m
from hub.alerts.episodes import escalation_due, fold
from hub.rules.model import AlertState, Level, Transition

T0 = 1_780_000_000.0
F, P, R = AlertState.FIRING, AlertState.PENDING, AlertState.RESOLVED


def tr(at: float, frm: Level, to: Level, state: AlertState = F, **labels: str) -> Transition:
    return Transition("rain", "fs-hp01", T0 + at, frm, to, state, 62.0, labels, "1小时雨量 62mm")


def test_episode_up_repeat_down_clear() -> None:
    a, n, _ = fold(None, tr(0, Level.NONE, Level.YELLOW))
    assert (
        a and n and n.kind == m.ALERT and n.level == Level.YELLOW and a.episode == "fs-hp01/rain#1780000000"
    )
    a, n, _ = fold(a, tr(60, Level.YELLOW, Level.RED))
    assert a and n and n.kind == m.ALERT and a.level == Level.RED and a.level_since == T0 + 60
    a2, n, why = fold(a, tr(90, Level.NONE, Level.RED))  # engine restarted: replays its firing state
    assert n is None and "repeat" in why and a2 and a2.level == Level.RED
    a, n, _ = fold(a2, tr(120, Level.RED, Level.ORANGE))
    assert a and n and n.kind == m.DOWN and n.from_level == Level.RED and n.audience_level == Level.RED
    a, n, _ = fold(a, tr(180, Level.ORANGE, Level.NONE, R))
    assert a and n and n.kind == m.CLEAR and a.active == 0 and n.audience_level == Level.RED
    assert n.episode == "fs-hp01/rain#1780000000"
    a, n, _ = fold(a, tr(181, Level.ORANGE, Level.NONE, R))
    assert n is None  # a second clear tells no one
    a, n, _ = fold(a, tr(900, Level.NONE, Level.BLUE))
    assert a and n and n.episode == "fs-hp01/rain#1780000900"  # the next storm is a new episode


def test_same_transition_twice_gives_same_notice_key() -> None:
    _, n1, _ = fold(None, tr(0, Level.NONE, Level.ORANGE))
    _, n2, _ = fold(None, tr(0, Level.NONE, Level.ORANGE))
    assert n1 and n2 and (n1.episode, n1.key) == (n2.episode, n2.key)


def test_pending_tells_no_one() -> None:
    a, n, _ = fold(None, tr(0, Level.NONE, Level.ORANGE, P))
    assert a is None and n is None


def test_labels_decide_kind() -> None:
    _, n, _ = fold(None, tr(0, Level.NONE, Level.ORANGE, maintenance="true"))
    assert n and n.kind == m.MAINTENANCE
    a, n, _ = fold(None, tr(0, Level.NONE, Level.RED, test="true"))
    assert a is None and n and n.kind == m.TEST  # a test is not a standing alert


def test_escalation_timer() -> None:
    a, _, _ = fold(None, tr(0, Level.NONE, Level.ORANGE))
    assert a
    assert escalation_due(a, T0 + 14 * 60, Level.ORANGE, 15 * 60) is None
    n = escalation_due(a, T0 + 15 * 60, Level.ORANGE, 15 * 60)
    assert n and n.kind == m.ESCALATION and n.unacked_min == 15
    from dataclasses import replace

    assert escalation_due(replace(a, acked_at=T0 + 60), T0 + 20 * 60, Level.ORANGE, 900) is None
    assert escalation_due(replace(a, escalated_level=3), T0 + 20 * 60, Level.ORANGE, 900) is None
    b, _, _ = fold(None, tr(0, Level.NONE, Level.YELLOW))
    assert b and escalation_due(b, T0 + 3600, Level.ORANGE, 900) is None  # yellow stays in the village
    # acknowledged at orange, then it rose to red: red needs its own acknowledgement
    c, _, _ = fold(replace(a, acked_at=T0 + 60), tr(300, Level.ORANGE, Level.RED))
    assert c and escalation_due(c, T0 + 300 + 900, Level.ORANGE, 900) is not None

    # The hub ran 8 h ahead when orange came and its clock has been set back since: how long orange
    # stood is unknown, so the town is told now. Before, it was told 8 h and 15 min later.
    d = escalation_due(a, T0 - 8 * 3600 + 60, Level.ORANGE, 900)
    assert d is not None and d.unacked_min == 0
    assert escalation_due(a, T0 - 240, Level.ORANGE, 900) is None  # within NTP's slack: just early


# ---- properties over random transition sequences ---------------------------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

STEP = st.tuples(st.sampled_from(list(Level)), st.sampled_from([F, P, R]), st.integers(0, 600))


@given(st.lists(STEP, max_size=40))
def test_fold_invariants(steps: list[tuple[Level, AlertState, int]]) -> None:
    a = None
    at = 0.0
    told: set[tuple[str, str]] = set()
    for level, state, dt in steps:
        at += dt
        prev = a
        a, n, _ = fold(a, tr(at, Level(prev.level) if prev else Level.NONE, level, state))
        if n is not None:
            assert (n.episode, n.key) not in told  # every notice is new
            told.add((n.episode, n.key))
            if n.kind == m.ALERT:
                assert prev is None or not prev.active or n.level > Level(prev.level)
            if n.kind == m.DOWN:
                assert prev is not None and prev.active and n.level < Level(prev.level)
            if n.kind == m.CLEAR:
                assert prev is not None and prev.active and a is not None and not a.active
        if a is not None and a.active:
            assert a.level > 0 and a.max_level >= a.level
        if prev is not None and prev.active and a is not None and a.active:
            assert a.episode == prev.episode  # an episode lasts until it clears
