"""The SMS modem channel over a real socat pty pair, against the modem simulator (no modem can be attached here).

Every PDU the simulator records is decoded again here and checked: Chinese text, concatenation headers,
destination. Faults are injected at the simulator: +CMS ERROR codes, lost registration, no signal, a hang.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ews.devices.modem_sim import ModemSimulator, read_log
from hub.channels import pdu, sms_text
from hub.channels.base import ChannelError, Notification
from hub.channels.registry import CHANNEL_KINDS
from hub.channels.sms_inbox import InboundSms
from hub.channels.sms_modem import SmsModemChannel, SmsModemConfig

RED = (
    "【凤山预警】红色预警（I级）：凤山村后山滑坡隐患点裂缝24小时增加30毫米，"
    "过去24小时降雨156.5毫米。请后山片区村民立即转移到凤山小学安置点，听从网格员指挥。回复1或收到确认。"
)


@pytest.fixture
def channel(sim: ModemSimulator) -> Iterator[SmsModemChannel]:
    cfg = CHANNEL_KINDS["sms_modem"].model_validate(
        {"kind": "sms_modem", "port": sim.port, "send_timeout_s": 2.0}
    )
    assert isinstance(cfg, SmsModemConfig)
    ch = cfg.build()
    yield ch
    ch.close()


def note(text: str = RED, to: str = "+8613800138001", alert: str = "fs-hp01/landslide") -> Notification:
    return Notification(alert_id=alert, recipient=to, text=text, level="red", site="fs-hp01")


def test_long_chinese_alert_is_sent_as_concatenated_ucs2_parts(channel, sim, tmp_path):
    receipt = channel.send(note())
    sent = sim.delivered()
    assert receipt == f"sms_modem:+8613800138001:mr={','.join(str(s.mr) for s in sent)}"
    assert len(sent) == 2
    decoded = [pdu.decode(s.pdu) for s in sent]
    assert all(d.kind == "submit" and d.address == "+8613800138001" for d in decoded)
    assert all(d.dcs == sms_text.DCS_UCS2 for d in decoded)
    assert [len(d.text) for d in decoded] == [67, len(RED) - 67]
    refs = {d.concat.ref for d in decoded if d.concat}
    assert len(refs) == 1
    assert [(d.concat.total, d.concat.seq) for d in decoded if d.concat] == [(2, 1), (2, 2)]
    assert "".join(d.text for d in decoded) == RED
    # the JSONL log holds the same PDUs, with the text readable for the demo's count
    logged = [json.loads(line) for line in (tmp_path / "sent.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["pdu"] for r in logged] == [s.pdu for s in sent]
    assert logged[0]["text"] == RED[:67]
    assert read_log(tmp_path / "sent.jsonl") == sent


def test_two_messages_get_different_concatenation_references(channel, sim):
    channel.send(note(to="13800138001"))
    channel.send(note(to="13800138002"))
    refs = [pdu.decode(s.pdu).concat.ref for s in sim.delivered()]  # type: ignore[union-attr]
    assert refs[0] == refs[1] and refs[2] == refs[3] and refs[0] != refs[2]


def test_short_ascii_message_uses_gsm7_single_part(channel, sim):
    channel.send(note(text="TEST fs-hp01 ok", to="10086"))
    (d,) = [pdu.decode(s.pdu) for s in sim.delivered()]
    assert d.dcs == sms_text.DCS_GSM7 and d.concat is None and d.text == "TEST fs-hp01 ok"


def test_cms_500_is_recoverable_and_retry_resumes_without_resending_part_one(channel, sim):
    sim.fail_next_sends(None, 500)  # part 1 goes out, part 2 hits +CMS ERROR: 500
    with pytest.raises(ChannelError) as err:
        channel.send(note())
    assert err.value.recoverable and "500" in str(err.value)
    assert len(sim.delivered()) == 1 and sim.sent[-1].error == 500
    channel.send(note())  # the dispatcher's retry
    parts = [pdu.decode(s.pdu) for s in sim.delivered()]
    assert [p.concat.seq for p in parts if p.concat] == [1, 2]
    assert len({p.concat.ref for p in parts if p.concat}) == 1
    assert "".join(p.text for p in parts) == RED


def test_invalid_number_is_not_recoverable_and_never_reaches_the_modem(channel, sim):
    with pytest.raises(ChannelError) as err:
        channel.send(note(to="villager-12"))
    assert not err.value.recoverable and "invalid phone number" in str(err.value)
    assert sim.sent == []


def test_network_rejecting_the_number_is_not_recoverable(channel, sim):
    sim.reject_number("+8613800138009", 1)
    with pytest.raises(ChannelError) as err:
        channel.send(note(to="+8613800138009"))
    assert not err.value.recoverable and "invalid number" in str(err.value)


def test_sim_failure_is_not_recoverable_so_the_dispatcher_fails_over(channel, sim):
    sim.fail_next_sends(310)  # SIM not inserted
    with pytest.raises(ChannelError) as err:
        channel.send(note(text="测试"))
    assert not err.value.recoverable


def test_not_registered_is_recoverable_and_nothing_is_sent(channel, sim):
    sim.registration = 2  # searching
    with pytest.raises(ChannelError) as err:
        channel.send(note())
    assert err.value.recoverable and "not registered" in str(err.value)
    assert sim.sent == []
    sim.registration = 5  # roaming counts as registered
    channel.send(note())
    assert len(sim.delivered()) == 2


def test_no_signal_is_recoverable(channel, sim):
    sim.rssi = 99
    with pytest.raises(ChannelError) as err:
        channel.send(note())
    assert err.value.recoverable and "signal" in str(err.value)
    sim.rssi = 18
    assert channel.send(note()).startswith("sms_modem:")


def test_hung_modem_times_out_recoverably_and_the_channel_reconnects(channel, sim):
    sim.hang_next_sends(1)
    with pytest.raises(ChannelError) as err:
        channel.send(note(text="短信"))
    assert err.value.recoverable and "no answer" in str(err.value)
    assert channel.send(note(text="短信")).startswith("sms_modem:")
    assert [pdu.decode(s.pdu).text for s in sim.delivered()] == ["短信"]


def texts(messages: list[InboundSms]) -> list[tuple[str, str]]:
    return [(msg.sender, msg.text) for msg in messages]


def test_inbound_acks_and_evacuation_reports_are_read_joined_and_deleted_once_handled(channel, sim):
    sim.inject_sms("+8613900000001", "1", at=1_800_000_010)
    sim.inject_sms("+8613900000002", "收到", at=1_800_000_000)
    report = "撤离 12/15 后山片区还有三户老人行动不便，需要支援，" + "请派车" * 20
    idx = sim.inject_sms("+8613900000003", report, at=1_800_000_020, ref=77)
    assert len(idx) == 2
    got = channel.poll_inbound()
    # Oldest SENT first, each with its service-centre time: a reply answers what stood when it was sent.
    assert got == [
        InboundSms("+8613900000002", "收到", 1_800_000_000.0, (2,)),
        InboundSms("+8613900000001", "1", 1_800_000_010.0, (1,)),
        InboundSms("+8613900000003", report, 1_800_000_020.0, (3, 4)),
    ]
    # Nothing leaves the SIM until the reader says it was handled: a reply it failed on is read again.
    assert sim.deleted == [] and channel.poll_inbound() == got
    assert channel.delete_inbound(got[1:]) == got[1:]
    assert sorted(sim.deleted) == [1, 3, 4]
    assert channel.poll_inbound() == got[:1]


def test_incomplete_concatenated_reply_waits_then_is_delivered(sim):
    cfg = SmsModemConfig(kind="sms_modem", port=sim.port, concat_wait_s=0.3)
    ch = cfg.build()
    try:
        parts = pdu.encode_deliver("+8613900000004", "撤离 " + "长" * 80, 1_800_000_000.0, ref=5)
        sim.inject_pdu(parts[0])  # the second part is lost in the network
        assert ch.poll_inbound() == []
        assert sim.deleted == []
        time.sleep(0.35)
        got = ch.poll_inbound()
        assert texts(got) == [("+8613900000004", pdu.decode(parts[0]).text)] and got[0].slots == (1,)
        ch.delete_inbound(got)
        assert sim.deleted == [1]
    finally:
        ch.close()


def test_garbage_inbound_pdu_is_counted_logged_and_removed(channel, sim, caplog):
    sim.inject_pdu("00DEADBEEF")
    sim.inject_sms("+8613900000001", "收到")
    got = channel.poll_inbound()
    assert texts(got) == [("+8613900000001", "收到")]
    assert channel.inbox.rejected == 1
    assert "sms inbound rejected" in caplog.text and "00DEADBEEF" in caplog.text
    assert sim.deleted == [1]  # garbage is nobody's to handle: gone at once; the reply waits for its reader
    channel.delete_inbound(got)
    assert sorted(sim.deleted) == [1, 2]


def test_unsolicited_new_message_indications_do_not_disturb_sending(channel, sim):
    channel.send(note(text="一"))
    sim.inject_sms("+8613900000001", "1")  # +CMTI arrives between commands
    channel.send(note(text="二"))
    assert [pdu.decode(s.pdu).text for s in sim.delivered()] == ["一", "二"]
    assert texts(channel.poll_inbound()) == [("+8613900000001", "1")]


def test_missing_serial_port_is_recoverable(tmp_path):
    ch = SmsModemConfig(kind="sms_modem", port=str(tmp_path / "nope")).build()
    with pytest.raises(ChannelError) as err:
        ch.send(note())
    assert err.value.recoverable


def test_config_is_closed_and_checked():
    with pytest.raises(ValueError, match="baud"):
        SmsModemConfig.model_validate({"kind": "sms_modem", "port": "/dev/ttyUSB2", "baud": 9600})
    with pytest.raises(ValueError, match="invalid phone number"):
        SmsModemConfig.model_validate({"kind": "sms_modem", "port": "/dev/ttyUSB2", "smsc": "smsc"})


def test_message_through_an_explicit_service_centre(sim):
    ch = SmsModemConfig(kind="sms_modem", port=sim.port, smsc="+86 13800200500").build()
    try:
        ch.send(note(text="测试"))
    finally:
        ch.close()
    (sent,) = sim.delivered()
    assert sent.pdu.startswith("0891683108200005F0") and sent.text == "测试"


def test_delivery_reports_are_logged_and_removed_not_counted_as_rejected(channel, sim, caplog):
    caplog.set_level("INFO")
    scts = "62117201030423"
    sim.inject_pdu("00" + "06" + "2A" + "0D91683108108300F1" + scts + scts + "00")
    assert channel.poll_inbound() == []
    assert channel.inbox.rejected == 0 and sim.deleted == [1]
    assert "sms delivery report to=+8613800138001 mr=42 status=0" in caplog.text


def test_status_reports_registration_and_signal(channel, sim):
    sim.registration, sim.rssi = 2, 7
    assert channel.status() == {"registration": 2, "rssi": 7}


def test_a_refused_delete_reports_which_messages_stay_on_the_sim(channel, sim, caplog):
    sim.inject_sms("+8613900000001", "收到", at=1_800_000_000)
    sim.inject_sms("+8613900000002", "1", at=1_800_000_001)
    sim.refuse_delete(1)
    got = channel.poll_inbound()
    assert texts(got) == [("+8613900000001", "收到"), ("+8613900000002", "1")]
    assert channel.delete_inbound(got) == got[1:]
    assert "sms inbound delete failed" in caplog.text and sim.deleted == [2]
    # Still there: the reader must recognise it (hub/alerts/inbound.py) and not act on it twice.
    assert channel.poll_inbound() == got[:1]


def test_standalone_simulator_process_serves_the_channel_and_cleans_up(tmp_path):
    """The demo runs the simulator as its own process; SIGTERM must also stop its socat child."""
    log = tmp_path / "sent.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ews.devices.modem_sim", "--dir", str(tmp_path / "pty"), "--log", str(log)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        ch = SmsModemConfig(kind="sms_modem", port=port).build()
        ch.send(note(text="演练短信"))
        ch.close()
        assert [r.text for r in read_log(log)] == ["演练短信"]
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    assert not Path(port).exists()  # socat removed its pty link when it was stopped
