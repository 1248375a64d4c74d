"""The shipped mosquitto config and ACL, run on a real broker, enforce every account rule.

Accounts are made by `ews.gateway_admin` (the code behind `ews gateway add`) into a temp dir, the shipped
deploy/mosquitto/ews-hub.conf is used with only its paths and ports rewritten, and the TLS listener uses a
CA and server certificate generated here with openssl. Denied publishes in MQTT 3.1.1 are PUBACKed and
dropped silently, so each "cannot" is proven by the hub (which reads everything) receiving the publisher's
next, allowed message and nothing before it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ews.gateway_admin import AccountStore, BrokerFiles
from ews.servers import Mosquitto, free_port
from tests.deploy.brokerconf import MOSQ, localize
from tests.deploy.mqttclients import Probe, cfg_for, is_refused
from tests.deploy.pki import make_pki


@dataclass
class Broker:
    server: Mosquitto
    store: AccountStore
    tls_port: int
    ca: Path

    def probe(self, user: str | None, tls: bool = False, password_file: Path | None = None) -> Probe:
        pw = password_file or (self.store.credentials_path(user) if user else None)
        port = self.tls_port if tls else self.server.port
        return Probe(cfg_for(port, user, pw, self.ca if tls else None))

    def reload(self) -> None:
        """What `systemctl reload mosquitto` does: SIGHUP re-reads the password file and ACL."""
        assert self.server.proc is not None
        os.kill(self.server.proc.pid, signal.SIGHUP)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    etc = tmp_path / "etc"
    pki = make_pki(etc)
    for name, target in (
        (pki.ca_cert, "ca.crt"),
        (pki.server_cert, "server.crt"),
        (pki.server_key, "server.key"),
    ):
        if name.name != target:
            name.rename(etc / target)
    store = AccountStore(
        BrokerFiles(etc / "passwd", etc / "acl", MOSQ / "acl.template", tmp_path / "secrets")
    )
    store.add("ews-hub", "hub")
    store.add("officer-li", "officer")
    store.add("fs-gw01")
    store.add("fs-gw02")
    tls_port = free_port()
    conf = localize(
        (MOSQ / "ews-hub.conf").read_text(), etc, {"listener 8883": f"listener {tls_port} 127.0.0.1"}
    )
    server = Mosquitto(tmp_path / "mosquitto", extra_conf=conf, anonymous=False)
    server.start()
    yield Broker(server, store, tls_port, etc / "ca.crt")
    server.stop()


@pytest.fixture
def hub(broker: Broker) -> Iterator[Probe]:
    probe = broker.probe("ews-hub")
    assert not is_refused(probe.connect())
    assert not any(is_refused(rc) for rc in probe.subscribe("ews/v1/#"))
    yield probe
    probe.close()


def connected(broker: Broker, user: str, tls: bool = False) -> Probe:
    probe = broker.probe(user, tls=tls)
    rc = probe.connect()
    assert not is_refused(rc), f"{user} refused: {rc}"
    return probe


def test_anonymous_connections_are_refused(broker: Broker) -> None:
    for tls in (False, True):
        probe = broker.probe(None, tls=tls)
        assert is_refused(probe.connect()), f"anonymous accepted (tls={tls})"
        probe.close()


def test_wrong_password_is_refused(broker: Broker, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password\n")
    wrong.chmod(0o600)
    probe = broker.probe("fs-gw01", tls=True, password_file=wrong)
    assert is_refused(probe.connect())
    probe.close()


def test_gateway_publishes_under_its_own_prefix_over_tls(broker: Broker, hub: Probe) -> None:
    gw = connected(broker, "fs-gw01", tls=True)
    try:
        gw.publish("ews/v1/gw/fs-gw01/readings", b"{}")
        gw.publish("ews/v1/gw/fs-gw01/status", b'{"state":"online"}', retain=True)
        gw.publish("ews/v1/gw/fs-gw01/ack", b"{}")
        got = hub.received_until("ews/v1/gw/fs-gw01/ack")
        assert got == ["ews/v1/gw/fs-gw01/readings", "ews/v1/gw/fs-gw01/status", "ews/v1/gw/fs-gw01/ack"]
    finally:
        gw.close()


def test_gateway_cannot_impersonate_alert_or_command(broker: Broker, hub: Probe) -> None:
    gw = connected(broker, "fs-gw01", tls=True)
    forbidden = [
        "ews/v1/gw/fs-gw02/readings",  # readings as another gateway
        "ews/v1/gw/fs-gw02/status",
        "ews/v1/gw/fs-gw02/ack",
        "ews/v1/gw/fs-gw01/cmd/siren",  # commands to itself
        "ews/v1/alert/fs-hp01/rain-red",  # alerts
        "ews/v1/cap/fs-2026-001",
        "ews/v1/feed/cma/readings",
        "ews/v1/cmd/ack",  # acknowledgements and silences
        "ews/v1/cmd/silence",
        "ews/v1/cmd/drone-go",
    ]
    try:
        for topic in forbidden:
            gw.publish(topic, b"{}")
        gw.publish("ews/v1/gw/fs-gw01/readings", b"{}")  # the allowed sentinel
        assert hub.received_until("ews/v1/gw/fs-gw01/readings") == ["ews/v1/gw/fs-gw01/readings"]
    finally:
        gw.close()


def test_gateway_reads_only_its_own_commands(broker: Broker, hub: Probe) -> None:
    gw = connected(broker, "fs-gw01", tls=True)
    try:
        gw.subscribe("ews/v1/gw/fs-gw01/cmd/#")
        wide = gw.subscribe("ews/v1/#")  # refused (0x80) or filtered per message: either way nothing leaks
        hub.publish("ews/v1/gw/fs-gw02/cmd/siren", b"{}")
        hub.publish("ews/v1/alert/fs-hp01/rain-red", b"{}")
        hub.publish("ews/v1/gw/fs-gw01/cmd/siren", b"{}")
        assert gw.received_until("ews/v1/gw/fs-gw01/cmd/siren") == ["ews/v1/gw/fs-gw01/cmd/siren"]
        assert gw.messages.empty(), f"wide subscription {wide} leaked {gw.messages.get()}"
    finally:
        gw.close()


def test_officer_commands_and_hub_alerts(broker: Broker, hub: Probe) -> None:
    officer = connected(broker, "officer-li", tls=True)
    try:
        officer.subscribe("ews/v1/alert/#")
        officer.publish("ews/v1/alert/fs-hp01/fake", b"{}")  # officers cannot raise alerts
        officer.publish("ews/v1/gw/fs-gw01/readings", b"{}")  # nor send readings as a gateway
        officer.publish("ews/v1/cmd/ack", b'{"who":"officer-li","alert":"a1"}')
        officer.publish("ews/v1/cmd/silence", b"{}")
        assert hub.received_until("ews/v1/cmd/silence") == ["ews/v1/cmd/ack", "ews/v1/cmd/silence"]
        hub.publish("ews/v1/alert/fs-hp01/rain-red", "红色预警".encode())
        assert officer.received_until("ews/v1/alert/fs-hp01/rain-red") == ["ews/v1/alert/fs-hp01/rain-red"]
    finally:
        officer.close()


def test_hub_receives_everything(broker: Broker, hub: Probe) -> None:
    gw = connected(broker, "fs-gw02", tls=True)
    officer = connected(broker, "officer-li")
    hub2 = connected(broker, "ews-hub")
    try:
        gw.publish("ews/v1/gw/fs-gw02/readings", b"{}")
        officer.publish("ews/v1/cmd/test", b"{}")
        hub2.publish("ews/v1/feed/cma/readings", b"{}")
        hub2.publish("ews/v1/cap/fs-2026-001", b"<alert/>")
        seen: set[str] = set()
        want = {
            "ews/v1/gw/fs-gw02/readings",
            "ews/v1/cmd/test",
            "ews/v1/feed/cma/readings",
            "ews/v1/cap/fs-2026-001",
        }
        while seen != want:
            seen.add(hub.messages.get(timeout=5)[0])
    finally:
        for p in (gw, officer, hub2):
            p.close()


def test_rotated_and_removed_accounts_lose_access_on_reload(
    broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "old.password"
    old.write_text(broker.store.credentials_path("fs-gw01").read_text())
    old.chmod(0o600)
    # Hash the new password in pure Python, as on a gateway host without mosquitto_passwd: the real
    # broker must accept it.
    monkeypatch.setattr("ews.gateway_admin.shutil.which", lambda _name: None)
    broker.store.rotate("fs-gw01")
    broker.store.remove("fs-gw02")
    broker.reload()
    stale = broker.probe("fs-gw01", password_file=old)
    assert is_refused(stale.connect())
    stale.close()
    fresh = broker.probe("fs-gw01")
    assert not is_refused(fresh.connect())
    fresh.close()
    gone = broker.probe("fs-gw02", password_file=old)
    assert is_refused(gone.connect())
    gone.close()
