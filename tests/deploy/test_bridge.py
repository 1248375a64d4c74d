"""Village → county bridge on two real brokers over TLS: what the village publishes while the county is
down arrives once the county is back, in order, nothing lost.

The village broker runs the shipped deploy/mosquitto/bridge-county.conf (only its @@ fields, paths filled
in); the county broker runs the shipped hub conf and ACL with a `bridge-fengshan` account, and its TLS
listener uses a CA made here with openssl, which the bridge verifies (bridge_insecure false).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ews.gateway_admin import AccountStore, BrokerFiles
from ews.servers import Mosquitto, free_port
from tests.deploy.brokerconf import MOSQ, localize
from tests.deploy.mqttclients import Probe, cfg_for, is_refused
from tests.deploy.pki import make_pki


def county_broker(tmp_path: Path) -> tuple[Mosquitto, AccountStore, int, Path]:
    etc = tmp_path / "county-etc"
    pki = make_pki(etc)
    store = AccountStore(
        BrokerFiles(etc / "passwd", etc / "acl", MOSQ / "acl.template", tmp_path / "secrets")
    )
    store.add("ews-hub", "hub")
    store.add("bridge-fengshan", "bridge")
    tls_port = free_port()
    conf = localize(
        (MOSQ / "ews-hub.conf").read_text(), etc, {"listener 8883": f"listener {tls_port} 127.0.0.1"}
    )
    return Mosquitto(tmp_path / "county", extra_conf=conf, anonymous=False), store, tls_port, pki.ca_cert


def village_broker(tmp_path: Path, county_port: int, ca: Path, password: str) -> Mosquitto:
    etc = tmp_path / "village-etc"
    etc.mkdir()
    (etc / "county-ca.crt").write_bytes(ca.read_bytes())
    fields = {
        "@@VILLAGE@@": "fengshan",
        "@@COUNTY_HOST@@": "127.0.0.1",
        "@@COUNTY_PORT@@": str(county_port),
        "@@BRIDGE_PASSWORD@@": password,
    }
    conf = localize((MOSQ / "bridge-county.conf").read_text(), etc, fields)
    assert not [ln for ln in conf.splitlines() if "@@" in ln and not ln.startswith("#")]
    # The village's own listener is anonymous here: only the bridge (the subject) needs auth and TLS.
    return Mosquitto(tmp_path / "village", extra_conf=conf)


@pytest.mark.parametrize("village_restarts", [False, True], ids=["county-outage", "plus-village-restart"])
def test_messages_published_while_county_is_down_arrive_after_it_returns(
    tmp_path: Path, village_restarts: bool
) -> None:
    """With village_restarts, the village broker is also stopped and started during the county outage
    (an orderly shutdown, e.g. a UPS-triggered one): its persistence file must carry the bridge queue."""
    county, store, tls_port, ca = county_broker(tmp_path)
    county.start()
    password = store.credentials_path("bridge-fengshan").read_text().strip()
    village = village_broker(tmp_path, tls_port, ca, password)
    village.start()
    # The county hub's subscriber keeps a persistent session, so the county broker queues for it
    # across its own restart (persistence on in the shipped config too).
    sub = Probe(
        cfg_for(county.port, "ews-hub", store.credentials_path("ews-hub")),
        client_id="county-hub",
        clean=False,
    )
    pub = Probe(cfg_for(village.port, None, None))
    try:
        assert not is_refused(sub.connect())
        sub.subscribe("ews/v1/gw/#")
        assert not is_refused(pub.connect())

        # Bridge up: wait until a probe message crosses (the bridge connects asynchronously).
        deadline = time.monotonic() + 20
        while True:
            pub.publish("ews/v1/gw/fs-gw01/status", b'{"state":"online"}')
            try:
                if sub.messages.get(timeout=0.5)[0] == "ews/v1/gw/fs-gw01/status":
                    break
            except Exception:
                assert time.monotonic() < deadline, "bridge never delivered to the county"
        while not sub.messages.empty():
            sub.messages.get()

        for i in range(10):
            pub.publish("ews/v1/gw/fs-gw01/readings", f"up-{i}")
        county.stop()  # county outage: the village keeps accepting and queueing
        for i in range(30):
            pub.publish("ews/v1/gw/fs-gw01/readings", f"down-{i}")
        if village_restarts:
            pub.close()
            village.stop()
            village.start()
        county.start()

        want = [f"up-{i}" for i in range(10)] + [f"down-{i}" for i in range(30)]
        got: list[str] = []
        deadline = time.monotonic() + 60
        while len(got) < len(want) and time.monotonic() < deadline:
            try:
                topic, payload = sub.messages.get(timeout=1)
            except Exception:
                continue
            if topic.endswith("/readings") and payload.decode() not in got:
                got.append(payload.decode())  # QoS 1 may redeliver across the outage; order is kept
        assert got == want
    finally:
        pub.close()
        sub.close()
        village.stop()
        county.stop()
