"""The dispatcher shell with in-process recording channels: non-blocking intake, dedupe, retry, failover,
escalation, replies and restarts. Channels here are RecordingChannel objects: the channels themselves are
tested against real servers in tests/hub/channels; this file tests what the dispatcher does with them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.alerts.config import AlertsConfig
from hub.alerts.dispatcher import Dispatcher
from hub.alerts.settings import DispatchSettings, MaintenanceWindow
from hub.alerts.state import StateStore
from hub.channels.base import ChannelError
from hub.rules.model import AlertState, Level, Transition

from .conftest import ListSink, RecordingChannel

T0 = 1_780_000_000.0
F, R = AlertState.FIRING, AlertState.RESOLVED


def tr(
    at: float, frm: Level, to: Level, state: AlertState = F, site: str = "fs-hp01", **labels: str
) -> Transition:
    return Transition("rain", site, T0 + at, frm, to, state, 62.0, labels, "1小时雨量 62mm ≥ 60mm")


class Rig:
    """A dispatcher over a state file, with recording channels; restart() builds a fresh one."""

    def __init__(self, cfg: AlertsConfig, path: Path, settings: DispatchSettings | None = None) -> None:
        self.cfg, self.path = cfg, path
        self.settings = settings or cfg.dispatch
        self.sink = ListSink()
        self.chans: dict[str, RecordingChannel] = {}
        self.d: Dispatcher | None = None

    def start(self, **extra: RecordingChannel) -> Dispatcher:
        names = self.settings.policy.channel_names() | set(self.settings.failover.values())
        self.chans = {n: RecordingChannel(n) for n in names} | extra
        state = StateStore(self.path)
        state.open()
        self.d = Dispatcher(self.settings, self.cfg.directory, self.chans, state, self.sink)
        self.d.start()
        return self.d

    def stop(self) -> None:
        if self.d:
            self.d.stop()
            self.d.state.close()
            self.d = None

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until intake and every channel queue are empty and no send is in progress."""
        assert self.d
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.d.idle():
                return
            time.sleep(0.01)
        raise AssertionError(f"dispatcher did not settle: {self.d.stats()}")


@pytest.fixture
def rig(fengshan: AlertsConfig, tmp_path: Path) -> Iterator[Rig]:
    r = Rig(fengshan, tmp_path / "alerts.sqlite")
    yield r
    r.stop()


def sms_to(r: Rig) -> list[str]:
    return [n.extra["recipient_id"] for n in r.chans["sms"].sent]


def test_red_alert_is_delivered_once_in_order(rig: Rig) -> None:
    d = rig.start()
    d.submit([tr(0, Level.NONE, Level.RED)])
    d.submit([tr(0, Level.NONE, Level.RED)])  # a duplicate transition
    rig.settle()
    got = sms_to(rig)
    # 2 officers, 2 grid workers of fs-g1/fs-g2, the town, the drone team, 4 villagers of fs-g1/fs-g2
    assert len(got) == len(set(got)) == 10
    assert set(got[:2]) == {"off-li", "off-huang"} and set(got[2:4]) == {"gw-1", "gw-2"}
    assert got[-4:] == ["v-101", "v-102", "v-201", "v-202"]  # nearest to the landslide first
    assert len(rig.chans["mqtt_alert"].sent) == len(rig.chans["annotation"].sent) == 1
    assert d.stats()["channels"]["sms"]["sent"] == 10
    assert all("138****" in r for r in rig.sink.of("delivery") if "audience=villager" in r)
    phones = [r.phone for r in rig.cfg.directory.recipients if r.phone]
    assert not any(p in row for p in phones for row in rig.sink.rows)  # phone numbers never reach InfluxDB
    assert len(rig.sink.of("alert")) == 2  # every transition is recorded, even the duplicate


def test_submit_never_waits_for_a_stalled_channel(rig: Rig) -> None:
    stalled = RecordingChannel("sms")
    stalled.gate = threading.Event()  # the modem hangs
    d = rig.start(sms=stalled)
    for i in range(200):  # returns although every SMS send is stuck behind a closed gate
        d.submit([tr(i, Level.NONE, Level.ORANGE, site=f"fs-hp0{1 + i % 3}")])
    assert len(rig.chans["mqtt_alert"].wait_for(3)) == 3  # other channels carry on while SMS is stuck
    assert rig.chans["sms"].sent == []
    stalled.gate.set()


def test_record_channel_keeps_order_through_retries(rig: Rig, fengshan: AlertsConfig) -> None:
    """The retained alert topic must end at the latest level even when the broker hiccups."""
    rig.settings = fengshan.dispatch.model_copy(update={"retry_base_s": 0.01})
    broker = RecordingChannel("mqtt_alert")
    broker.fail = [ChannelError("not connected", recoverable=True)] * 6  # more than retry_attempts
    d = rig.start(mqtt_alert=broker)
    d.submit(
        [
            tr(0, Level.NONE, Level.YELLOW),
            tr(60, Level.YELLOW, Level.ORANGE),
            tr(120, Level.ORANGE, Level.RED),
        ]
    )
    rig.settle()
    assert [n.level for n in broker.sent] == ["yellow", "orange", "red"]
    assert d.stats()["channels"]["mqtt_alert"] == {"sent": 3, "failed": 0, "retried": 6}


def test_red_overtakes_queued_blue(rig: Rig) -> None:
    stalled = RecordingChannel("sms")
    stalled.gate = threading.Event()
    d = rig.start(sms=stalled)
    d.submit([tr(0, Level.NONE, Level.BLUE, site="fs-hp03")])  # 2 officers; the first gets stuck in send()
    rig.chans["mqtt_alert"].wait_for(1)
    d.submit([tr(60, Level.NONE, Level.RED, site="fs-hp01")])
    deadline = time.monotonic() + 10
    while d.workers["sms"].depth() < 11 and time.monotonic() < deadline:  # 1 blue + 10 red queued
        time.sleep(0.01)
    stalled.gate.set()
    rig.settle()
    levels = [n.level for n in stalled.sent]
    assert levels == ["blue"] + ["red"] * 10 + ["blue"]


def test_rate_limit_spaces_sends(rig: Rig, fengshan: AlertsConfig) -> None:
    rig.settings = fengshan.dispatch.model_copy(update={"rate_limits": {"sms": 0.05}})
    stamps: list[float] = []

    class Stamping(RecordingChannel):
        def send(self, n):  # type: ignore[no-untyped-def]
            stamps.append(time.monotonic())
            return super().send(n)

    d = rig.start(sms=Stamping("sms"))
    d.submit([tr(0, Level.NONE, Level.ORANGE)])
    rig.settle()
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert len(stamps) == 8 and min(gaps) >= 0.05  # a lower bound the limiter guarantees


def test_repeats_downs_and_clear(rig: Rig) -> None:
    d = rig.start()
    d.submit(
        [
            tr(0, Level.NONE, Level.ORANGE),
            tr(30, Level.NONE, Level.ORANGE),
            tr(60, Level.ORANGE, Level.YELLOW),
        ]
    )
    d.submit([tr(120, Level.YELLOW, Level.NONE, R)])
    rig.settle()
    kinds = [n.extra["kind"] for n in rig.chans["mqtt_alert"].sent]
    assert kinds == ["alert", "down", "clear"]
    clear_to = {n.extra["recipient_id"] for n in rig.chans["sms"].sent if n.extra["kind"] == "clear"}
    assert "v-101" in clear_to  # villagers who were told to prepare are told it is over
    assert d.stats()["suppressed_repeats"] == 1


def test_clear_goes_to_those_who_were_told(rig: Rig) -> None:
    """An officers-only rule (a forecast) at red, then clear: the clear must not text villagers."""
    d = rig.start()
    d.submit([tr(0, Level.NONE, Level.RED, audience="officers", actions="sms")])
    d.submit([tr(600, Level.RED, Level.NONE, R, audience="officers", actions="sms")])
    rig.settle()
    by_kind: dict[str, set[str]] = {}
    for n in rig.chans["sms"].sent:
        by_kind.setdefault(n.extra["kind"], set()).add(n.extra["recipient_id"])
    assert by_kind == {"alert": {"off-li", "off-huang"}, "clear": {"off-li", "off-huang"}}


def test_channel_queue_overflow_waits_in_sqlite_and_is_refilled(rig: Rig, fengshan: AlertsConfig) -> None:
    rig.settings = fengshan.dispatch.model_copy(update={"channel_queue": 10})
    stalled = RecordingChannel("sms")
    stalled.gate = threading.Event()
    d = rig.start(sms=stalled)
    d.submit([tr(0, Level.NONE, Level.RED, site="fs-hp01"), tr(0, Level.NONE, Level.RED, site="fs-hp02"),
              tr(0, Level.NONE, Level.RED, site="fs-hp03")])  # fmt: skip
    rig.chans["mqtt_alert"].wait_for(3)
    stalled.gate.set()
    rig.settle()
    got = [(n.site, n.extra["recipient_id"]) for n in stalled.sent]
    assert len(got) == len(set(got)) == 10 + 9 + 6  # every recipient of every alert, once
    assert d.state.counts()["sms"] == {"sent": 25}


def test_retry_then_success(rig: Rig, fengshan: AlertsConfig) -> None:
    rig.settings = fengshan.dispatch.model_copy(update={"retry_base_s": 0.01})
    flaky = RecordingChannel("sms")
    flaky.fail = [ChannelError("modem busy", recoverable=True)] * 2
    d = rig.start(sms=flaky)
    d.submit([tr(0, Level.NONE, Level.BLUE)])
    rig.settle()
    assert sorted(sms_to(rig)) == ["off-huang", "off-li"]
    assert d.stats()["channels"]["sms"] == {"sent": 2, "failed": 0, "retried": 2}
    assert len([r for r in rig.sink.of("delivery") if "state=retry" in r]) == 2


def test_unrecoverable_fails_over_to_next_channel(rig: Rig, fengshan: AlertsConfig) -> None:
    rig.settings = fengshan.dispatch.model_copy(update={"failover": {"sms": "sms_http"}})
    broken = RecordingChannel("sms")
    broken.fail = [ChannelError("+CMS ERROR: 38 network out of order", recoverable=False)]
    d = rig.start(sms=broken)
    d.submit([tr(0, Level.NONE, Level.BLUE)])
    rig.settle()
    assert [n.extra["recipient_id"] for n in rig.chans["sms_http"].sent] == ["off-li"]
    assert sms_to(rig) == ["off-huang"]
    st = d.stats()["channels"]
    assert st["sms"]["failed"] == 1 and st["sms_http"]["sent"] == 1


def test_recoverable_errors_exhausted_fail_over(rig: Rig, fengshan: AlertsConfig) -> None:
    rig.settings = fengshan.dispatch.model_copy(
        update={"failover": {"sms": "sms_http"}, "retry_attempts": 3, "retry_base_s": 0.01}
    )
    down = RecordingChannel("sms")
    down.fail = [ChannelError("no network registration", recoverable=True)] * 6
    d = rig.start(sms=down)
    d.submit([tr(0, Level.NONE, Level.BLUE)])
    rig.settle()
    assert sorted(n.extra["recipient_id"] for n in rig.chans["sms_http"].sent) == ["off-huang", "off-li"]
    assert d.stats()["channels"]["sms"] == {"sent": 0, "failed": 2, "retried": 4}


def test_the_last_channel_of_a_chain_keeps_trying(rig: Rig, fengshan: AlertsConfig) -> None:
    """Nothing fails over from sms_http: a gateway (or the internet) away for longer than the normal
    retries delays the warning, it does not lose it. The modem still fails over after its 3 attempts."""
    rig.settings = fengshan.dispatch.model_copy(update={
        "failover": {"sms": "sms_http"}, "retry_attempts": 3, "retry_base_s": 0.01, "retry_max_s": 0.02,
        "retry_keep_s": 0.2})  # fmt: skip
    down, away = RecordingChannel("sms"), RecordingChannel("sms_http")
    down.fail = [ChannelError("no network registration", recoverable=True)] * 6
    away.fail = [ChannelError("gateway unreachable", recoverable=True)] * 12  # 6 attempts each
    d = rig.start(sms=down, sms_http=away)
    d.submit([tr(0, Level.NONE, Level.BLUE)])
    rig.settle()
    assert sorted(n.extra["recipient_id"] for n in away.sent) == ["off-huang", "off-li"]
    st = d.stats()["channels"]
    assert st["sms"]["failed"] == 2 and st["sms_http"] == {"sent": 2, "failed": 0, "retried": 12}
    away.fail = [ChannelError("gateway unreachable", recoverable=True)] * 40  # beyond retry_keep_s
    down.fail = [ChannelError("no network registration", recoverable=True)] * 6
    d.submit([tr(60, Level.NONE, Level.BLUE, site="fs-hp02")])
    rig.settle()
    assert d.stats()["channels"]["sms_http"]["failed"] == 2  # 3 + 0.2 s / 0.02 s = 13 attempts each


def test_restart_sends_nothing_twice_and_resumes_the_rest(rig: Rig) -> None:
    stalled = RecordingChannel("sms")
    stalled.gate = threading.Event()
    d = rig.start(sms=stalled)
    d.submit([tr(0, Level.NONE, Level.RED)])
    rig.chans["mqtt_alert"].wait_for(1)
    time.sleep(0.2)
    stalled.gate.set()  # let a few through, then stop mid-delivery
    stalled.wait_for(3)
    rig.stop()
    first = [n.extra["recipient_id"] for n in stalled.sent]
    d = rig.start()
    d.submit([tr(0, Level.NONE, Level.RED), tr(5, Level.NONE, Level.RED)])  # the engine replays its state
    rig.settle()
    second = sms_to(rig)
    assert not set(first) & set(second)
    assert len(first) + len(second) == 10
    assert rig.chans["mqtt_alert"].sent == []  # the level change was already published


def test_restart_after_a_channel_was_removed_from_config(rig: Rig, fengshan: AlertsConfig) -> None:
    rig.settings = fengshan.dispatch.model_copy(update={"retry_base_s": 60.0})
    down = RecordingChannel("sms")
    down.fail = [ChannelError("modem away", recoverable=True)] * 2
    d = rig.start(sms=down)
    d.submit([tr(0, Level.NONE, Level.BLUE)])
    deadline = time.monotonic() + 10
    while down.calls < 2 and time.monotonic() < deadline:  # both officers tried once, retry in 60 s
        time.sleep(0.01)
    rig.stop()
    policy = fengshan.dispatch.policy.model_copy(update={"person_channels": {}})
    rig.settings = fengshan.dispatch.model_copy(update={"policy": policy})
    d = rig.start()  # pending SMS rows name a channel that no longer exists: reported, not a crash
    rig.settle()
    assert "sms" not in d.workers
    assert d.state.counts()["sms"] == {"failed": 2}


def test_escalation_when_nobody_acknowledges(rig: Rig) -> None:
    d = rig.start()
    d.submit([tr(0, Level.NONE, Level.ORANGE)])
    rig.settle()
    assert d.tick(T0 + 14 * 60) == 0
    assert d.tick(T0 + 15 * 60) == 1
    assert d.tick(T0 + 16 * 60) == 0  # once per level
    rig.settle()
    esc = [n for n in rig.chans["sms"].sent if n.extra["kind"] == "escalation"]
    assert [n.extra["recipient_id"] for n in esc] == ["town-duty"]
    assert d.stats()["escalations"] == 1 and len(rig.sink.of("escalation")) == 1


def test_sms_ack_stops_escalation(rig: Rig) -> None:
    d = rig.start()
    d.submit([tr(0, Level.NONE, Level.ORANGE)])
    rig.settle()
    res = d.handle_sms("+86 138 0000 0201", "收到", T0 + 60)
    assert res["ok"] and res["alert_id"] == "fs-hp01/rain"
    assert d.tick(T0 + 3600) == 0
    assert d.stats()["acks"] == 1
    assert 'who="138****0201"' in rig.sink.of("ack")[0]
    rig.settle()
    assert [n.extra["kind"] for n in rig.chans["annotation"].sent] == ["alert", "ack"]


def test_mqtt_ack_command(rig: Rig) -> None:
    d = rig.start()
    d.submit([tr(0, Level.NONE, Level.RED)])
    rig.settle()
    res = d.handle_command("ack", {"site": "fs-hp01"}, "officer-app:li", T0 + 120)
    assert res == {"ok": True, "alert_id": "fs-hp01/rain", "first": True}
    assert (
        d.handle_command("ack", {"alert_id": "fs-hp01/rain"}, "officer-app:huang", T0 + 130)["first"] is False
    )
    assert d.tick(T0 + 3600) == 0
    assert "via=mqtt" in rig.sink.of("ack")[0]
    assert not d.handle_command("ack", {"alert_id": "fs-hp09/rain"}, "x", T0)["ok"]


def test_close_ends_by_hand_only_an_alert_no_rule_decides(rig: Rig) -> None:
    """A reload removed the rule of a standing orange alert: only a person can say the danger is over.
    `close` ends it as a clear does (everyone told gets the all-clear, the record names who closed
    it); while the rules still decide an alert, `close` is refused and nobody is told anything."""
    d = rig.start()
    d.submit([tr(0, Level.NONE, Level.ORANGE)])
    rig.settle()
    told = set(sms_to(rig))
    assert "v-101" in told
    res = d.handle_command("close", {"site": "fs-hp01", "rule": "rain"}, "黄主任", T0 + 600)
    assert not res["ok"] and "still decide" in res["error"]  # the default: an engine decides every alert
    decided = {("fs-hp01", "rain")}
    d.decides = lambda site, rule: (site, rule) in decided
    assert not d.handle_command("close", {"site": "fs-hp01", "rule": "rain"}, "黄主任", T0 + 600)["ok"]
    rig.settle()
    assert [n.extra["kind"] for n in rig.chans["mqtt_alert"].sent] == ["alert"]

    decided.clear()  # the reload dropped the rule
    res = d.handle_command("close", {"alert_id": "fs-hp01/rain"}, "黄主任", T0 + 900)
    assert res == {"ok": True, "alert_id": "fs-hp01/rain"}
    rig.settle()
    assert [n.extra["kind"] for n in rig.chans["mqtt_alert"].sent] == ["alert", "clear"]
    clear = [n for n in rig.chans["sms"].sent if n.extra["kind"] == "clear"]
    assert {n.extra["recipient_id"] for n in clear} == told
    assert all("预警已解除" in n.text for n in clear)
    assert d.state.alert("fs-hp01/rain").active == 0  # type: ignore[union-attr]
    assert "黄主任人工解除" in rig.sink.of("alert")[-1]
    assert d.stats()["closed_by_hand"] == 1
    again = d.handle_command("close", {"site": "fs-hp01", "rule": "rain"}, "黄主任", T0 + 960)
    assert not again["ok"] and "not active" in again["error"]
    assert "bad payload" in d.handle_command("close", {"site": "fs-hp01"}, "x", T0)["error"]


def test_inbound_sms_are_read_from_the_modem(rig: Rig, fengshan: AlertsConfig) -> None:
    """A channel that can receive (the GSM modem has poll_inbound) is read every inbound_poll_s."""

    class Modem(RecordingChannel):
        def __init__(self) -> None:
            super().__init__("sms")
            self.inbox: list[tuple[str, str]] = []
            self.polls = 0

        def poll_inbound(self) -> list[tuple[str, str]]:
            self.polls += 1
            if self.polls == 1:
                raise ChannelError("modem not registered", recoverable=True)  # logged once, polling goes on
            out, self.inbox = self.inbox, []
            return out

    rig.settings = fengshan.dispatch.model_copy(update={"inbound_poll_s": 0.05})
    modem = Modem()
    d = rig.start(sms=modem)
    d.submit([tr(0, Level.NONE, Level.ORANGE)])
    rig.settle()
    d.tick(T0 + 60)  # the hub's clock, as the ticker passes it
    modem.inbox = [("+8613800000201", "撤离 10/15"), ("13800000101", "收到"), ("13900000000", "?")]
    deadline = time.monotonic() + 10
    while d.stats()["acks"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert d.stats()["acks"] == 1 and d.stats()["evacuation_reports"] == 1
    assert d.state.evacuation("fs-hp01/rain#1780000000") == {"fs-g1": (10, 15)}
    assert d.tick(T0 + 3600) == 0  # acknowledged in time: no escalation


def test_unknown_sender_and_noise(rig: Rig) -> None:
    d = rig.start()
    assert not d.handle_sms("13912345678", "1", T0)["ok"]
    assert not d.handle_sms("13800000101", "1", T0)["ok"]  # nothing active to acknowledge
    assert not d.handle_sms("13800000101", "今天雨好大", T0)["ok"]


def test_evacuation_progress_by_sms_and_command(rig: Rig) -> None:
    d = rig.start()
    d.submit([tr(0, Level.NONE, Level.RED)])
    rig.settle()
    assert d.handle_sms("13800000201", "撤离 12/15", T0 + 600)["grid"] == "fs-g1"
    res = d.handle_command(
        "evac", {"site": "fs-hp01", "grid": "fs-g2", "evacuated": 20}, "林网格员", T0 + 700
    )
    assert res["ok"] and res["total"] == 22  # total defaults to the grid's households
    assert not d.handle_sms("13800001101", "撤离 1/1", T0)["ok"]  # villagers don't report
    assert d.state.evacuation("fs-hp01/rain#1780000000") == {"fs-g1": (12, 15), "fs-g2": (20, 22)}
    rows = rig.sink.of("evacuation")
    assert len(rows) == 2 and "evacuated=12i,total=15i" in rows[0]


def test_replies_get_a_receipt(rig: Rig) -> None:
    d = rig.start()
    d.submit([tr(0, Level.NONE, Level.RED)])
    rig.settle()
    d.handle_sms("13800000201", "撤离 12/15", T0 + 600)
    d.handle_sms("13800000101", "收到", T0 + 601)
    d.handle_sms("13800001101", "雨好大", T0 + 602)  # a villager's chat: told how to reply, nothing else
    d.handle_sms("13800001101", "自动回复：我正在开车", T0 + 610)  # an auto-responder: no second help text
    d.handle_sms("13912345678", "1", T0 + 603)  # unknown numbers get nothing back
    rig.settle()
    receipts = {
        n.extra["recipient_id"]: n.text for n in rig.chans["sms"].sent if n.extra["kind"] == "receipt"
    }
    assert receipts == {
        "gw-1": "【凤山预警】已记录凤山一组转移12/15户。全部转移后请回复“撤离 15/15”。",
        "off-li": "【凤山预警】已收到您的确认，谢谢。",
        "v-101": "【凤山预警】本号码只发送预警，无需回复。发现险情请立即报告村干部或网格员。",
    }


def test_silence_mutes_people_not_records(rig: Rig) -> None:
    d = rig.start()
    assert d.handle_command("silence", {"site": "fs-hp02", "minutes": 30}, "黄主任", T0)["ok"]
    d.submit([tr(60, Level.NONE, Level.ORANGE, site="fs-hp02")])
    rig.settle()
    assert rig.chans["sms"].sent == [] and len(rig.chans["mqtt_alert"].sent) == 1
    assert any("state=suppressed" in r for r in rig.sink.of("delivery"))


def test_a_silence_naming_a_sensor_silences_no_alert(rig: Rig) -> None:
    """Without site and rule a silence matches every alert. A sensor's maintenance window is the hub's
    (hub/app.py routes it to the pipeline); the dispatcher refuses one rather than mute everyone."""
    d = rig.start()
    res = d.handle_command("silence", {"sensor": "fs-hp02-rg1", "minutes": 120}, "黄主任", T0)
    assert res["ok"] is False and "maintenance window" in res["error"]
    d.submit([tr(60, Level.NONE, Level.ORANGE, site="fs-hp02")])
    rig.settle()
    assert rig.chans["sms"].sent != []


def test_maintenance_window_keeps_only_officers(rig: Rig, fengshan: AlertsConfig) -> None:
    window = MaintenanceWindow(site="fs-hp03", start=T0, end=T0 + 3600, reason="更换倾角计")
    rig.settings = fengshan.dispatch.model_copy(update={"maintenance_windows": [window]})
    d = rig.start()
    d.submit([tr(60, Level.NONE, Level.RED, site="fs-hp03")])
    rig.settle()
    assert {n.extra["role"] for n in rig.chans["sms"].sent} == {"officer"}


def test_data_health_and_test_alerts_reach_officers_only(rig: Rig) -> None:
    d = rig.start()
    d.submit([tr(0, Level.NONE, Level.ORANGE, maintenance="true")])
    assert d.handle_command("test", {"site": "fs-hp01", "level": "red"}, "李支书", T0 + 5)["ok"]
    rig.settle()
    sent = rig.chans["sms"].sent
    assert {n.extra["role"] for n in sent} == {"officer"} and len(sent) == 4
    assert sum(n.text.startswith("【测试】") for n in sent) == 2
    assert [n.extra["kind"] for n in rig.chans["mqtt_alert"].sent] == ["maintenance"]


def test_bad_command_payloads_are_refused_with_a_reason(rig: Rig) -> None:
    d = rig.start()
    assert "unknown command" in d.handle_command("launch", {}, "x", T0)["error"]
    assert "bad payload" in d.handle_command("evac", {"grid": "fs-g1"}, "x", T0)["error"]
    assert "unknown site" in d.handle_command("test", {"site": "nowhere"}, "x", T0)["error"]


def test_config_names_missing_channels(fengshan: AlertsConfig) -> None:
    raw = fengshan.model_dump(mode="json")
    raw["channels"].pop("annotation")
    with pytest.raises(ValueError, match="not configured"):
        AlertsConfig.model_validate(raw)
    raw = fengshan.model_dump(mode="json")
    raw["channels"]["console"]["kind"] = "pager"
    with pytest.raises(ValueError, match="unknown kind 'pager'"):
        AlertsConfig.model_validate(raw)
