"""Replies read from the GSM modem (the simulator over a real pty) into the dispatcher by its own poller.

A reply is timed by when it was SENT (the service centre's time stamp), it leaves the SIM only after the
dispatcher handled it, and one the SIM refuses to delete is handled once, not at every poll."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ews.devices.modem_sim import ModemSimulator
from hub.alerts.config import AlertsConfig
from hub.alerts.dispatcher import Dispatcher
from hub.alerts.inbound import reply_time
from hub.channels.sms_modem import SmsModemChannel, SmsModemConfig
from hub.rules.model import Level

from . import test_dispatcher as td  # the Rig; imported as a module so its tests are not collected twice

T0 = td.T0


@pytest.fixture
def modem(sim: ModemSimulator) -> SmsModemChannel:
    return SmsModemConfig(kind="sms_modem", port=sim.port).build()  # closed by the dispatcher's stop()


@pytest.fixture
def rig(fengshan: AlertsConfig, tmp_path: Path) -> Iterator[td.Rig]:
    r = td.Rig(
        fengshan, tmp_path / "alerts.sqlite", fengshan.dispatch.model_copy(update={"inbound_poll_s": 0.1})
    )
    yield r
    r.stop()


def wait(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def sent(rig: td.Rig, kind: str) -> list[tuple[str, str]]:
    return [(n.extra["recipient_id"], n.text) for n in rig.chans["sms"].sent if n.extra["kind"] == kind]


def test_a_reply_sent_before_the_level_rose_does_not_acknowledge_it(rig, sim, modem) -> None:
    """A grid worker's "1" for yellow, sent at +300 s, is read at +320 s, after orange came at +310 s."""
    d = rig.start(modem_in=modem)  # the modem is only read here; the Rig records what is sent
    d.submit([td.tr(0, Level.NONE, Level.YELLOW)])
    d.submit([td.tr(310, Level.YELLOW, Level.ORANGE)])
    rig.settle()
    d.tick(T0 + 320)  # the hub's clock when the poller reads the SIM
    sim.inject_sms("+8613800000201", "1", at=T0 + 300)
    wait(lambda: sim.deleted == [1])
    rig.settle()
    a = d.state.alert("fs-hp01/rain")
    assert a and a.acked_at is None and a.acked_level == 0 and d.stats()["stale_acks"] == 1
    # The sender is told their answer came before orange, and asked again.
    assert sent(rig, "receipt") == [
        ("gw-1", "【凤山预警】您的回复早于当前的橙色预警(II级)，请再回复“1”确认。")
    ]
    assert d.tick(T0 + 310 + 16 * 60) == 1
    rig.settle()
    assert [who for who, _ in sent(rig, "escalation")] == ["town-duty"]


def test_a_reply_whose_handling_failed_stays_on_the_sim_and_is_handled_at_the_next_poll(
    rig, sim, modem, monkeypatch, caplog
) -> None:
    d = rig.start(modem_in=modem)
    d.submit([td.tr(0, Level.NONE, Level.ORANGE)])
    rig.settle()
    d.tick(T0 + 60)
    failures = {"put_alert": 1, "put_evacuation": 1}

    def flaky(name: str) -> Callable[..., Any]:
        real = getattr(d.state, name)

        def write(*args: Any) -> Any:
            if failures[name]:
                failures[name] -= 1
                raise sqlite3.OperationalError("database or disk is full")
            return real(*args)

        return write

    for name in failures:
        monkeypatch.setattr(d.state, name, flaky(name))
    sim.inject_sms("+8613800000101", "收到", at=T0 + 50)  # 李支书 acknowledges
    sim.inject_sms("+8613800000201", "撤离 12/15", at=T0 + 55)  # 陈网格员 reports
    wait(lambda: d.stats()["acks"] == 1 and d.stats()["evacuation_reports"] == 1)
    wait(lambda: sorted(sim.deleted) == [1, 2])
    a = d.state.alert("fs-hp01/rain")
    assert failures == {"put_alert": 0, "put_evacuation": 0} and "inbound sms failed" in caplog.text
    assert a and a.acked_by == "李支书" and a.acked_at == T0 + 50
    assert d.state.evacuation(a.episode) == {"fs-g1": (12, 15)}
    assert d.tick(T0 + 16 * 60) == 0


def test_a_reply_the_sim_will_not_delete_is_handled_once(rig, sim, modem) -> None:
    d = rig.start(modem_in=modem)
    d.submit([td.tr(0, Level.NONE, Level.ORANGE)])
    rig.settle()
    d.tick(T0 + 70)
    (slot,) = sim.inject_sms("+8613800000101", "1", at=T0 + 65)
    sim.refuse_delete(slot)
    wait(lambda: d.stats()["acks"] == 1)
    time.sleep(0.6)  # several more polls read it again
    rig.settle()
    assert d.stats()["acks"] == 1
    assert sent(rig, "receipt") == [("off-li", "【凤山预警】已收到您的确认，谢谢。")]
    # Red comes; the old "1" is still on the SIM and read at every poll, and it must not answer red.
    d.submit([td.tr(200, Level.ORANGE, Level.RED)])
    rig.settle()
    d.tick(T0 + 210)
    time.sleep(0.6)
    a = d.state.alert("fs-hp01/rain")
    assert a and a.level == Level.RED and a.acked_level == Level.ORANGE and d.stats()["acks"] == 1
    assert d.tick(T0 + 200 + 16 * 60) == 1
    assert sim.deleted == [] and slot in sim._store  # noqa: SLF001 - the slot really is still occupied


@pytest.mark.parametrize(
    ("sent_at", "expected", "fallback"),
    [
        (T0 - 30, T0 - 30, False),  # the usual case: sent before it was read
        (T0 + 20, T0, False),  # a few seconds ahead (the network's clock): never later than read
        (T0 + 3600, T0, True),  # an hour ahead: the hub's clock is behind (no RTC, before NTP)
        (T0 - 2 * 366 * 86400, T0, True),  # years behind: a reset clock, not a reply kept that long
        (None, T0, True),  # no time stamp at all
    ],
)
def test_reply_time_is_the_sent_time_unless_a_clock_is_far_off(sent_at, expected, fallback) -> None:
    at, why = reply_time(sent_at, T0)
    assert at == expected and (why is not None) == fallback


def test_a_far_off_service_centre_time_is_counted_and_logged(rig, sim, modem, caplog) -> None:
    caplog.set_level(logging.WARNING)
    d: Dispatcher = rig.start(modem_in=modem)
    d.submit([td.tr(0, Level.NONE, Level.ORANGE)])
    rig.settle()
    d.tick(T0 + 60)
    sim.inject_sms("+8613800000101", "1", at=T0 + 5 * 3600)
    wait(lambda: d.stats()["acks"] == 1)
    assert d.state.alert("fs-hp01/rain").acked_at == T0 + 60  # type: ignore[union-attr]
    assert "inbound sms timed by the hub clock" in caplog.text and "138****0101" in caplog.text
    assert d._inbound and d._inbound.counts["clock_fallback"] == 1  # noqa: SLF001
