"""CAP 1.2 out: schema-valid (OASIS XSD via hub.feeds.capschema), references on updates and cancels,
files in a folder and messages on ews/v1/cap/{identifier} through a real mosquitto."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from edge.mqttlink import MqttConfig, make_client
from ews.servers import Mosquitto
from hub.alerts import messages as m
from hub.alerts.config import load
from hub.alerts.routing import RoutingPolicy, plan
from hub.channels.base import Notification
from hub.channels.cap_out import CapOut, CapOutConfig
from hub.feeds.capschema import CAP12_NS, parse_cap_xml, validate_cap
from hub.rules.model import Level

EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "fengshan" / "alerts.yaml"
T0 = 1_780_000_000.0
Q = f"{{{CAP12_NS}}}"
POLICY = RoutingPolicy(record_channels={"cap": [m.ALERT, m.DOWN, m.CLEAR, m.TEST, m.MAINTENANCE]})


def note(
    kind: str, level: Level, at: float, top: Level | None = None, prev: Level = Level.NONE
) -> Notification:
    """A notification exactly as the dispatcher builds it for the cap channel."""
    n = m.Notice(kind, "fs-hp01/rain", "fs-hp01/rain#1780000000", f"{kind}:{level.label}:{at}", "fs-hp01", "rain",
                 level, top or level, at, prev, 81.5, "1小时雨量 81.5mm ≥ 80mm")  # fmt: skip
    p = next(x for x in plan(n, load(EXAMPLE).directory, POLICY) if x.channel == "cap")
    return Notification(n.alert_id, p.address, p.text, level.label, n.site, {**p.extra, "delivery_id": "x"})


def root_of(path: str) -> Any:
    return parse_cap_xml(Path(path).read_bytes())


def test_alert_update_cancel_chain(tmp_path: Path) -> None:
    cap = CapOut(CapOutConfig(folder=tmp_path / "cap"))
    first = cap.send(note(m.ALERT, Level.ORANGE, T0))
    second = cap.send(note(m.ALERT, Level.RED, T0 + 600))
    third = cap.send(note(m.CLEAR, Level.RED, T0 + 7200, top=Level.RED))
    for path in (first, second, third):
        assert validate_cap(Path(path).read_bytes()) == []
    a, b, c = root_of(first), root_of(second), root_of(third)
    assert [r.findtext(f"{Q}msgType") for r in (a, b, c)] == ["Alert", "Update", "Cancel"]
    assert a.findtext(f"{Q}references") is None
    id_a, sent_a = a.findtext(f"{Q}identifier"), a.findtext(f"{Q}sent")
    assert b.findtext(f"{Q}references") == f"ews@fengshan.libu.yangshan.gd.cn,{id_a},{sent_a}"
    assert len(c.findtext(f"{Q}references").split(" ")) == 2
    info = b.find(f"{Q}info")
    assert [info.findtext(f"{Q}{t}") for t in ("responseType", "urgency", "severity", "category", "event")] == [
        "Evacuate", "Immediate", "Extreme", "Geo", "山体滑坡"]  # fmt: skip
    assert info.findtext(f"{Q}language") == "zh-CN" and "立即转移" in info.findtext(f"{Q}instruction")
    assert info.find(f"{Q}area").findtext(f"{Q}circle") == "24.60120,112.55210 1"
    assert sent_a == "2026-05-29T04:26:40+08:00"
    assert c.find(f"{Q}info").findtext(f"{Q}responseType") == "AllClear"


def test_test_alert_is_marked_test(tmp_path: Path) -> None:
    r = root_of(CapOut(CapOutConfig(folder=tmp_path)).send(note(m.TEST, Level.RED, T0)))
    assert r.findtext(f"{Q}status") == "Test"
    assert r.find(f"{Q}info").findtext(f"{Q}responseType") == "None"


def test_maintenance_is_restricted(tmp_path: Path) -> None:
    path = CapOut(CapOutConfig(folder=tmp_path)).send(note(m.MAINTENANCE, Level.ORANGE, T0))
    assert validate_cap(Path(path).read_bytes()) == []
    assert root_of(path).findtext(f"{Q}scope") == "Restricted"


def test_retry_rewrites_the_same_message(tmp_path: Path) -> None:
    cap = CapOut(CapOutConfig(folder=tmp_path))
    n = note(m.ALERT, Level.ORANGE, T0)
    assert cap.send(n) == cap.send(n)
    assert len(list(tmp_path.glob("*.xml"))) == 1


def test_published_on_mqtt(tmp_path: Path, mosquitto: Mosquitto) -> None:
    got: list[tuple[str, bytes]] = []
    ready, done = threading.Event(), threading.Event()
    sub = make_client(MqttConfig(port=mosquitto.port), "cap-reader")
    sub.on_subscribe = lambda *_: ready.set()
    sub.on_connect = lambda c, *_: c.subscribe("ews/v1/cap/#", qos=1)
    sub.on_message = lambda _c, _u, msg: (got.append((msg.topic, msg.payload)), done.set())
    sub.connect("127.0.0.1", mosquitto.port)
    sub.loop_start()
    cap = CapOut(CapOutConfig(folder=tmp_path, mqtt=MqttConfig(port=mosquitto.port), publish_timeout_s=2))
    cap.start()
    try:
        assert ready.wait(5)
        path = cap.send(note(m.ALERT, Level.RED, T0))
        assert done.wait(5)
    finally:
        cap.close()
        sub.loop_stop()
        sub.disconnect()
    topic, payload = got[0]
    assert topic == f"ews/v1/cap/{Path(path).stem}" and payload == Path(path).read_bytes()
