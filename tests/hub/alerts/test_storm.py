"""Alert storms: many transitions at once, group-committed and sent in bursts, each notice still reaching
each recipient once per channel, officers first, across duplicates and a SIGKILL mid-storm.

The SMS gateway is a real HTTP server on loopback (pytest-httpserver) recording every request; the MQTT
alert channel publishes to a real mosquitto. In-process tests use the recording channels of conftest.py
for SMS, console and annotation (the receiving end, not a fake of anything under test).
"""

from __future__ import annotations

import collections
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from edge.mqttlink import MqttConfig
from ews.servers import Mosquitto
from hub.alerts.config import AlertsConfig
from hub.alerts.dispatcher import Dispatcher
from hub.alerts.state import StateStore
from hub.alerts.worker import ChannelWorker, RetryPolicy
from hub.channels.base import ChannelError, Notification
from hub.channels.mqtt_alert import MqttAlertConfig
from tests.hub.alerts.conftest import ListSink, RecordingChannel
from tests.hub.alerts.storm_child import storm

ROOT = Path(__file__).resolve().parents[3]
FS_HP01_SMS = 10  # 2 officers, 2 grid workers, town, drone team, 4 villagers (test_dispatcher.py)


def settle(d: Dispatcher, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not d.idle():
        assert time.monotonic() < deadline, f"dispatcher did not settle: {d.stats()}"
        time.sleep(0.02)


@pytest.fixture
def storm_rig(
    fengshan: AlertsConfig, tmp_path: Path, mosquitto: Mosquitto
) -> Iterator[tuple[Dispatcher, dict[str, Any]]]:
    names = fengshan.dispatch.policy.channel_names() - {"mqtt_alert"}
    chans: dict[str, Any] = {n: RecordingChannel(n) for n in names}
    mq = MqttAlertConfig(mqtt=MqttConfig(port=mosquitto.port), client_id="test-storm").build()
    chans["mqtt_alert"] = mq
    state = StateStore(tmp_path / "alerts.sqlite")
    state.open()
    d = Dispatcher(fengshan.dispatch, fengshan.directory, chans, state, ListSink())
    d.start()
    yield d, chans
    d.stop()
    state.close()


def test_storm_of_1000_each_recipient_once(storm_rig: tuple[Dispatcher, dict[str, Any]]) -> None:
    d, chans = storm_rig
    trs = storm(1000)
    d.submit(trs)
    d.submit(trs)  # the engine repeats itself after a restart: duplicates tell no one
    settle(d)
    sms: list[Notification] = chans["sms"].sent
    keys = [(n.alert_id, n.extra["recipient_id"]) for n in sms]
    assert len(keys) == len(set(keys))  # nobody twice
    per_alert: dict[str, list[Notification]] = collections.defaultdict(list)
    for n in sms:
        per_alert[n.alert_id].append(n)
    assert set(per_alert) == {t.alert_id for t in trs}  # no alert skipped
    by_site: dict[str, set[frozenset[str]]] = collections.defaultdict(set)
    for alert_id, ns in per_alert.items():
        by_site[alert_id.split("/")[0]].add(frozenset(n.extra["recipient_id"] for n in ns))
        roles = [n.extra["role"] for n in ns]  # officers before the villagers they will warn
        assert roles.index("villager") > max(i for i, r in enumerate(roles) if r == "officer")
    assert all(len(sets) == 1 for sets in by_site.values())  # every alert of a site reached the same people
    assert len(next(iter(by_site["fs-hp01"]))) == FS_HP01_SMS
    stats = d.stats()
    assert stats["channels"]["mqtt_alert"]["sent"] == 1000 and stats["channels"]["mqtt_alert"]["failed"] == 0
    assert stats["suppressed_repeats"] == 1000 and stats["errors"] == 0


class BurstChannel:
    """A record channel with send_many whose first burst loses a PUBACK at index 2 (broker hiccup)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.sent: list[str] = []

    def send(self, n: Notification) -> str:
        raise AssertionError("ordered bursts go through send_many")

    def send_many(self, ns: list[Notification]) -> list[str | ChannelError]:
        self.calls.append([n.text for n in ns])
        out: list[str | ChannelError] = []
        for i, n in enumerate(ns):
            if len(self.calls) == 1 and i == 2:
                out.append(ChannelError("no PUBACK", recoverable=True))
            else:
                self.sent.append(n.text)
                out.append(f"ok {n.text}")
        return out


def test_burst_retries_from_the_first_failure_in_order() -> None:
    """A retained state must never be overtaken: after a lost PUBACK the rest is sent again, in order."""
    ch = BurstChannel()
    reports: list[tuple[int, str]] = []
    done = threading.Event()

    def fetch(did: int) -> tuple[Notification, int]:
        return Notification("a/r", "*", f"m{did}", "red", "a", {}), 0

    def report(did: int, result: str, _detail: str, _attempts: int) -> None:
        reports.append((did, result))
        if sum(r == "sent" for _, r in reports) == 5:
            done.set()

    w = ChannelWorker("mqtt_alert", ch, interval_s=0.0, retry=RetryPolicy(5, 0.01, 0.05), fetch=fetch,
                      report=report, refill=list, ordered=True)  # fmt: skip
    for did in range(5):
        w.offer((0, 0, 0.0, "", did), did)
    w.start()
    try:
        assert done.wait(5)
    finally:
        w.stop()
    assert ch.calls == [["m0", "m1", "m2", "m3", "m4"], ["m2", "m3", "m4"]]
    assert [did for did, r in reports if r == "sent"] == [0, 1, 2, 3, 4]
    assert (2, "retry") in reports


class Gateway:
    """Records (phone, idempotency key) of every SMS request."""

    def __init__(self) -> None:
        self.got: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, req: Request) -> Response:
        body = json.loads(req.get_data(as_text=True))
        with self.lock:
            self.got.append((body["to"], req.headers.get("Idempotency-Key", "")))
        return Response(json.dumps({"code": 0}), content_type="application/json")

    def count(self) -> int:
        with self.lock:
            return len(self.got)


def test_kill_mid_storm_then_restart(
    httpserver: HTTPServer, tmp_path: Path, fengshan: AlertsConfig, mosquitto: Mosquitto
) -> None:
    """SIGKILL while a storm is being folded and sent; the restarted dispatcher gets the same storm again
    (the engine re-emits it). Every SMS delivery row is sent once; only a send in flight at the kill may
    come twice, under the same idempotency key. Where the kill lands (inside a batch's fold, between
    commit and send, mid-burst) varies from run to run; the assertions hold for all of them."""
    gw = Gateway()
    httpserver.expect_request("/sms", method="POST").respond_with_handler(gw)
    raw = fengshan.model_dump(mode="json")
    raw["state_path"] = str(tmp_path / "alerts.sqlite")
    raw["dispatch"]["policy"]["record_channels"] = {"mqtt_alert": ["alert"]}
    raw["channels"] = {
        "sms": {
            "kind": "sms_webhook",
            "url": httpserver.url_for("/sms"),
            "ok_field": "code",
            "timeout_s": 10,
        },
        "mqtt_alert": {"kind": "mqtt_alert", "mqtt": {"port": mosquitto.port}, "client_id": "storm-child"},
    }
    config = tmp_path / "alerts.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    n = 60
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "tests.hub.alerts.storm_child", str(config), str(n)]
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    deadline = time.monotonic() + 30
    while gw.count() < 40:
        assert time.monotonic() < deadline and proc.poll() is None, "storm never started"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    at_kill = gw.count()
    proc2 = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    out, _ = proc2.communicate(timeout=120)
    assert proc2.returncode == 0, out
    stats = json.loads(out.strip().splitlines()[-1])
    db = sqlite3.connect(f"file:{tmp_path / 'alerts.sqlite'}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT alert_id, recipient_id, status FROM delivery WHERE channel='sms'"
        ).fetchall()
        mq = db.execute(
            "SELECT count(*), sum(status='sent') FROM delivery WHERE channel='mqtt_alert'"
        ).fetchone()
    finally:
        db.close()
    assert at_kill < len(rows)  # really killed mid-storm
    assert {a for a, _, _ in rows} == {t.alert_id for t in storm(n)}  # no alert skipped
    assert all(s == "sent" for _, _, s in rows)
    per_alert = collections.Counter(a for a, _, _ in rows)
    assert all(per_alert[f"fs-hp01/r{i:03d}"] == FS_HP01_SMS for i in range(0, n, 3))
    keys = collections.Counter(k for _, k in gw.got)
    assert len(keys) == len(rows)  # one key per delivery row: nobody skipped
    repeats = [k for k, c in keys.items() if c > 1]
    assert len(repeats) <= 1 and all(keys[k] == 2 for k in repeats)  # only a send in flight at the kill
    assert mq == (n, n)
    assert stats["errors"] == 0


def test_silences_held_in_memory_survive_a_restart(tmp_path: Path) -> None:
    """silenced() answers from memory during a storm; the file stays the truth across a restart."""
    path = tmp_path / "alerts.sqlite"
    s = StateStore(path)
    s.open()
    assert not s.silenced("fs-hp02", "rain", 100.0)  # loads the (empty) list
    s.add_silence("fs-hp02", "*", 200.0, "黄主任")  # after loading: appended in memory too
    assert s.silenced("fs-hp02", "rain", 100.0) and not s.silenced("fs-hp02", "rain", 200.0)
    assert not s.silenced("fs-hp01", "rain", 100.0)
    s.close()
    s2 = StateStore(path)
    s2.open()
    s2.add_silence("*", "wl", 300.0, "李支书")  # before loading: only in the file until the first ask
    assert s2.silenced("fs-hp02", "rain", 150.0) and s2.silenced("fs-hp03", "wl", 250.0)
    assert not s2.silenced("fs-hp03", "rain", 150.0)
    s2.close()
