"""What an acknowledgement covers: its own level and every lower level of the same episode, never a level
that began after the reply was sent, and never a later, higher level."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from hub.alerts import messages as m
from hub.alerts.config import AlertsConfig
from hub.alerts.episodes import escalation_due, fold
from hub.alerts.state import StateStore
from hub.rules.model import Level

from . import test_dispatcher as td  # the Rig; imported as a module so its tests are not collected twice

T0 = td.T0


@pytest.fixture
def rig(fengshan: AlertsConfig, tmp_path: Path) -> Iterator[td.Rig]:
    r = td.Rig(fengshan, tmp_path / "alerts.sqlite")
    yield r
    r.stop()


def escalations(rig: td.Rig) -> list[tuple[str, str]]:
    return [
        (n.extra["recipient_id"], n.text) for n in rig.chans["sms"].sent if n.extra["kind"] == "escalation"
    ]


def test_an_acknowledged_alert_stepping_down_is_not_escalated(rig: td.Rig) -> None:
    """Orange acknowledged, red acknowledged, red eases to orange: the town is not told "nobody confirmed"."""
    d = rig.start()
    d.submit([td.tr(0, Level.NONE, Level.ORANGE)])
    rig.settle()
    assert d.handle_sms("13800000101", "1", T0 + 60)["first"]
    d.submit([td.tr(600, Level.ORANGE, Level.RED)])
    rig.settle()
    assert d.handle_sms("13800000101", "1", T0 + 660)["first"]
    d.submit([td.tr(3600, Level.RED, Level.ORANGE)])
    rig.settle()
    assert [d.tick(T0 + 3600 + k * 60) for k in (16, 60, 300)] == [0, 0, 0]
    assert escalations(rig) == []
    res = d.handle_sms("13800000201", "1", T0 + 3700)  # a late "1" at orange: counted, nothing new to record
    assert res["ok"] and not res["first"]


def test_a_step_down_from_an_escalated_red_starts_no_new_clock(rig: td.Rig) -> None:
    d = rig.start()
    d.submit([td.tr(0, Level.NONE, Level.RED)])
    rig.settle()
    assert d.tick(T0 + 16 * 60) == 1  # nobody answered red: the town was told
    d.submit([td.tr(1800, Level.RED, Level.ORANGE)])
    rig.settle()
    assert d.tick(T0 + 1800 + 16 * 60) == 0
    rig.settle()
    assert [who for who, _ in escalations(rig)] == ["town-duty"]


def test_an_acknowledgement_never_covers_a_higher_level(rig: td.Rig) -> None:
    d = rig.start()
    d.submit([td.tr(0, Level.NONE, Level.ORANGE)])
    rig.settle()
    d.handle_sms("13800000101", "1", T0 + 60)
    d.submit([td.tr(300, Level.ORANGE, Level.RED)])
    rig.settle()
    assert d.tick(T0 + 300 + 16 * 60) == 1
    rig.settle()
    assert "红色预警(I级)已16分钟无人确认" in escalations(rig)[0][1]


def test_a_reply_sent_before_the_standing_level_began_is_answered_not_counted(rig: td.Rig) -> None:
    d = rig.start()
    d.submit([td.tr(0, Level.NONE, Level.YELLOW), td.tr(310, Level.YELLOW, Level.ORANGE)])
    rig.settle()
    res = d.handle_sms("13800000201", "1", T0 + 300)
    assert not res["ok"] and res["stale"] and d.stats()["acks"] == 0 and d.stats()["stale_acks"] == 1
    rig.settle()
    receipts = [n.text for n in rig.chans["sms"].sent if n.extra["kind"] == "receipt"]
    assert receipts == ["【凤山预警】您的回复早于当前的橙色预警(II级)，请再回复“1”确认。"]
    assert d.handle_sms("13800000201", "1", T0 + 330)["first"]  # the answer to that
    assert d.tick(T0 + 310 + 16 * 60) == 0


def test_an_acknowledgement_handled_late_does_not_move_the_ack_time_back(rig: td.Rig) -> None:
    d = rig.start()
    d.submit([td.tr(0, Level.NONE, Level.ORANGE)])
    rig.settle()
    d.handle_sms("13800000101", "1", T0 + 90)
    d.handle_sms("13800000201", "1", T0 + 60)  # sent earlier, read later
    a = d.state.alert("fs-hp01/rain")
    assert a and (a.acked_by, a.acked_at, a.acked_level) == ("李支书", T0 + 90, Level.ORANGE)


def test_step_down_escalation_rules_pure() -> None:
    a, _, _ = fold(None, td.tr(0, Level.NONE, Level.ORANGE))
    assert a
    a = replace(a, acked_level=int(Level.ORANGE), acked_at=T0 + 60)
    up, _, _ = fold(a, td.tr(300, Level.ORANGE, Level.RED))
    assert up and escalation_due(up, T0 + 300 + 900, Level.ORANGE, 900) is not None  # red is unanswered
    down, n, _ = fold(up, td.tr(600, Level.RED, Level.ORANGE))
    assert down and n and n.kind == m.DOWN and down.level_since == T0 + 600
    assert escalation_due(down, T0 + 600 + 3600, Level.ORANGE, 900) is None  # orange was answered
    # Nobody answered either level: orange after the step down still reaches the town.
    b, _, _ = fold(None, td.tr(0, Level.NONE, Level.ORANGE))
    b, _, _ = fold(fold(b, td.tr(300, Level.ORANGE, Level.RED))[0], td.tr(600, Level.RED, Level.ORANGE))
    assert b and escalation_due(b, T0 + 600 + 900, Level.ORANGE, 900) is not None


def test_a_state_file_from_before_acked_level_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE alert (alert_id TEXT PRIMARY KEY, site TEXT NOT NULL, rule TEXT NOT NULL,"
        " episode TEXT NOT NULL, started REAL NOT NULL, level INTEGER NOT NULL, max_level INTEGER NOT NULL,"
        " state INTEGER NOT NULL, level_since REAL NOT NULL, last_at REAL NOT NULL, kind TEXT NOT NULL,"
        " acked_by TEXT, acked_at REAL, escalated_level INTEGER NOT NULL DEFAULT 0, active INTEGER NOT NULL)"
    )
    db.execute("INSERT INTO alert VALUES ('s/r','s','r','s/r#1',1,3,3,2,1,1,'alert','李',2,0,1)")
    db.commit()
    db.close()
    store = StateStore(path)
    store.open()
    try:
        a = store.alert("s/r")
        assert a and a.acked_level == 0 and a.acked_at == 2
        assert escalation_due(a, 5000, Level.ORANGE, 900) is None  # its ack still counts
        store.put_alert(replace(a, acked_level=3))
        assert store.alert("s/r") == replace(a, acked_level=3)
    finally:
        store.close()
