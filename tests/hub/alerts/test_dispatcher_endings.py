"""Who hears that an alert is over, who may acknowledge it, and a delivery thread that outlives a failing disk."""

from __future__ import annotations

import threading
import time

from hub.alerts.tables import SENT
from hub.rules.model import Level, Transition

from .conftest import RecordingChannel
from .test_dispatcher import T0, F, R, Rig, rig, sms_to, tr  # noqa: F401  (rig is a fixture)


def with_speakers(r: Rig) -> None:
    pol = r.settings.policy.model_copy(update={"broadcast_channel": "broadcast", "drone_channel": "drone"})
    r.settings = r.settings.model_copy(update={"policy": pol})


def test_all_clear_reaches_everyone_a_rule_label_added(rig: Rig) -> None:  # noqa: F811
    """The shipped landslide rule widens yellow to villagers and loudspeakers (`audience`, `actions`); the
    village policy alone gives yellow to officers and grid workers. The step down and the all-clear must
    reach the same villagers and speaker zones: evacuated people wait for them to go home."""
    with_speakers(rig)
    d = rig.start()
    d.submit([tr(0, Level.NONE, Level.YELLOW, audience="villagers", actions="sms, broadcast")])
    rig.settle()
    told = set(sms_to(rig))
    zones = {n.extra["zone"] for n in rig.chans["broadcast"].sent}
    assert {"v-101", "v-201"} <= told and zones == {"fs-g1", "fs-g2"}
    n_sms, n_zone = len(rig.chans["sms"].sent), len(rig.chans["broadcast"].sent)
    d.submit([tr(600, Level.YELLOW, Level.BLUE)])
    rig.settle()
    down = rig.chans["sms"].sent[n_sms:]
    assert {n.extra["recipient_id"] for n in down} == told
    assert all("降为蓝色" in n.text for n in down)
    assert {n.extra["zone"] for n in rig.chans["broadcast"].sent[n_zone:]} == zones
    n_sms, n_zone = len(rig.chans["sms"].sent), len(rig.chans["broadcast"].sent)
    d.submit([tr(1200, Level.BLUE, Level.NONE, R)])
    rig.settle()
    clear = rig.chans["sms"].sent[n_sms:]
    assert sorted(n.extra["recipient_id"] for n in clear) == sorted(told)  # each once, nobody else
    assert all("解除" in n.text for n in clear)
    assert {n.extra["zone"] for n in rig.chans["broadcast"].sent[n_zone:]} == zones


def test_all_clear_goes_to_nobody_who_was_not_told(rig: Rig) -> None:  # noqa: F811
    with_speakers(rig)
    d = rig.start()
    d.submit([tr(0, Level.NONE, Level.YELLOW)])  # the policy's yellow: officers and grid workers
    rig.settle()
    told = set(sms_to(rig))
    assert not any(r.startswith("v-") for r in told) and not rig.chans["broadcast"].sent
    n_sms = len(rig.chans["sms"].sent)
    d.submit([tr(600, Level.YELLOW, Level.NONE, R)])
    rig.settle()
    assert {n.extra["recipient_id"] for n in rig.chans["sms"].sent[n_sms:]} == told
    assert not rig.chans["broadcast"].sent


def test_a_villagers_reply_does_not_stop_the_escalation(rig: Rig) -> None:  # noqa: F811
    """Villagers are not asked to reply, but many answer "收到". Only the duty officer's or a grid
    worker's acknowledgement may stand between an orange alert and the town."""
    d = rig.start()
    d.submit([tr(0, Level.NONE, Level.ORANGE)])
    rig.settle()
    res = d.handle_sms("13800001101", "收到", T0 + 60)
    assert not res["ok"] and "only officers and grid workers" in res["error"]
    assert d.stats()["acks"] == 0 and d.stats()["replies_ignored"] == 1
    assert d.tick(T0 + 16 * 60) == 1  # the town still hears that nobody acknowledged
    rig.settle()
    assert not [n for n in rig.chans["sms"].sent if n.extra["kind"] == "receipt"]
    assert d.handle_sms("13800000201", "1", T0 + 17 * 60)["ok"]  # a grid worker's does count


def test_channel_thread_survives_a_failing_state_store(rig: Rig) -> None:  # noqa: F811
    """An SD card that fills up (or fails) makes every SQLite write raise. The store is made read-only here
    (`PRAGMA query_only`): the same sqlite3.OperationalError from real SQLite, without filling a disk.
    The SMS thread must go on sending, write the outcomes once the disk is back, and send nothing twice."""
    gate = threading.Event()
    sms = RecordingChannel("sms")
    sms.gate = gate
    d = rig.start(sms=sms)
    d.submit([tr(0, Level.NONE, Level.BLUE, site="fs-hp03")])  # two officers
    deadline = time.monotonic() + 10
    while d.workers["sms"].depth() < 1 and time.monotonic() < deadline:  # one in send(), one queued
        time.sleep(0.01)
    assert d.state._db is not None
    d.state._db.execute("PRAGMA query_only=1")
    gate.set()
    sms.wait_for(2)
    time.sleep(0.5)  # the outcomes fail to be written meanwhile
    assert d.workers["sms"]._thread is not None and d.workers["sms"]._thread.is_alive()
    d.state._db.execute("PRAGMA query_only=0")
    d.submit([tr(60, Level.NONE, Level.RED, site="fs-hp01")])
    rig.settle()
    sent = [(n.extra["recipient_id"], n.level) for n in sms.sent]
    assert len(sent) == len(set(sent)) == 12  # 2 blue + 10 red, none twice
    blue = [did for (did,) in d.state._q("SELECT id FROM delivery WHERE channel='sms' AND level=1")]
    assert len(blue) == 2
    assert all(d.state.delivery(did).status == SENT for did in blue)  # type: ignore[union-attr]


def test_a_silence_never_mutes_red_and_must_name_what_it_mutes(rig: Rig) -> None:  # noqa: F811
    """A silence set for a flapping yellow or orange must not keep "evacuate now" from the villagers
    (the engine's own silences let red through the same way), and an empty command is not "mute all"."""
    d = rig.start()
    res = d.handle_command("silence", {"minutes": 30}, "officer-app", T0)
    assert res["ok"] is False and "name a site or a rule" in res["error"]
    for minutes in (1e999, float("nan"), -5, 10**400, 2 * 1440):  # JSON's 1e999 is inf: muted for ever
        res = d.handle_command("silence", {"site": "*", "minutes": minutes}, "officer-app", T0)
        assert res["ok"] is False, minutes
    assert d.handle_command("silence", {"site": "fs-hp01", "minutes": 30}, "黄主任", T0)["ok"]
    d.submit([tr(60, Level.NONE, Level.ORANGE)])
    rig.settle()
    assert rig.chans["sms"].sent == []
    d.submit([tr(120, Level.ORANGE, Level.RED)])
    rig.settle()
    got = sms_to(rig)
    assert len(got) == len(set(got)) == 10 and {"v-101", "v-201"} <= set(got)


def test_a_stop_decides_every_transition_still_in_the_intake(rig: Rig) -> None:  # noqa: F811
    """systemctl restart in a storm: the intake's queue was dropped at stop (1,000 of 3,000 decided). Now
    every transition is folded into the state store first, so the next start knows every alert."""
    d = rig.start()
    sites = ("fs-hp01", "fs-hp02", "fs-hp03")
    d.submit(
        [Transition(f"r{k}", sites[k % 3], T0, Level.NONE, Level.BLUE, F, 1.0, {}, "") for k in range(3000)]
    )
    rig.stop()
    assert len(rig.start().state.active_alerts()) == 3000
