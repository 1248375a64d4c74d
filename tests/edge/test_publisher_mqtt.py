"""The publisher against a real mosquitto: PUBACK-gated acks, status and will, fresh first, broker outages."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.mqttlink import MqttConfig
from edge.outbox import Outbox
from edge.publisher import PublishConfig, Publisher
from edge.wire import Reading
from ews.servers import Mosquitto
from tests.edge.mqtt_probe import Probe, early_arrivals

GW = "fs-gw01"
T0 = 1_780_000_000.0
FAST = PublishConfig(backoff_min_s=0.1, backoff_max_s=0.5, connect_timeout_s=5)


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "outbox.db", max_readings=100_000)
    yield box
    box.close()


def wait_until(cond, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_reading_reaches_subscriber_and_is_acked_after_puback(mosquitto: Mosquitto, outbox: Outbox) -> None:
    probe = Probe(mosquitto.port, GW)
    pub = Publisher(GW, MqttConfig(port=mosquitto.port), FAST, outbox)
    pub.start()
    try:
        added = outbox.add([Reading("fs-hp01-rg1", "rain_mm", 0.5, T0)])
        assert probe.wait_for({added[0].seq}) == set()
        assert probe.readings()[0] == added[0]
        assert wait_until(lambda: outbox.count() == 0)
        assert pub.published == 1 and pub.published_by_sensor["fs-hp01-rg1"] == 1
        assert wait_until(lambda: any(s.get("state") == "online" for s in probe.status))
        assert pub.connected() and pub.down_since() is None
    finally:
        pub.stop()
        probe.close()


def test_clean_stop_leaves_retained_offline_status(mosquitto: Mosquitto, outbox: Outbox) -> None:
    pub = Publisher(GW, MqttConfig(port=mosquitto.port), FAST, outbox)
    pub.start()
    assert wait_until(pub.connected)
    pub.stop()
    probe = Probe(mosquitto.port, GW, "late-probe")  # joins afterwards: sees only the retained status
    try:
        assert wait_until(lambda: bool(probe.status))
        assert probe.status[-1] == {"state": "offline"}
    finally:
        probe.close()


def test_nothing_is_acked_while_broker_is_down(tmp_path: Path, outbox: Outbox) -> None:
    broker = Mosquitto(tmp_path / "m")  # port chosen, never started
    pub = Publisher(GW, MqttConfig(port=broker.port), FAST, outbox)
    pub.start()
    try:
        outbox.add([Reading("fs-hp01-rg1", "rain_mm", 0.5, T0 + i) for i in range(5)])
        time.sleep(0.5)
        assert outbox.count() == 5 and pub.published == 0
        assert not pub.connected() and pub.down_since() is not None
    finally:
        pub.stop()


def test_fresh_first_after_connect(mosquitto: Mosquitto, outbox: Outbox) -> None:
    """A backlog built while offline: the newest of every series arrives first, then the rest in seq order."""
    added = []
    for i in range(30):
        added += outbox.add(
            [
                Reading("fs-hp01-rg1", "rain_mm", 0.1 * i, T0 + 60 * i),
                Reading("fs-hp01-cr1", "crack_mm", 1.0 + i, T0 + 60 * i),
                Reading("fs-gw01-health", "battery_v", 12.0, T0 + 60 * i, source="health"),
            ]
        )
    probe = Probe(mosquitto.port, GW)
    pub = Publisher(GW, MqttConfig(port=mosquitto.port), PublishConfig(batch_max=10), outbox)
    pub.start()
    try:
        assert probe.wait_for({r.seq for r in added}) == set()
        got = probe.readings()
        newest = {r.seq for r in added[-3:]}
        assert {r.seq for r in got[:3]} == newest
        assert [r.seq for r in got[3:]] == [r.seq for r in added[:-3]]
        assert wait_until(lambda: outbox.count() == 0)
    finally:
        pub.stop()
        probe.close()


def _stream_through_outage(broker: Mosquitto, outbox: Outbox, down_s: float, total_s: float) -> None:
    """Feed three sensors at 50 readings/s; stop the broker for down_s in the middle; check every seq."""
    probe = Probe(broker.port, GW)
    pub = Publisher(GW, MqttConfig(port=broker.port), FAST, outbox)
    pub.start()
    accepted: list[Reading] = []
    done = threading.Event()

    def feed() -> None:
        i = 0
        while not done.is_set():
            t = T0 + i
            accepted.extend(
                outbox.add(
                    [
                        Reading("fs-hp01-rg1", "rain_mm", 0.5, t),
                        Reading("fs-hp01-cr1", "crack_mm", 0.01 * i, t),
                    ]
                )
            )
            accepted.extend(outbox.add([Reading("fs-hp02-wl1", "water_level_m", 1.0, t)]))
            i += 1
            time.sleep(0.02)

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        time.sleep((total_s - down_s) / 2)
        broker.stop()  # the hub's broker goes away mid-stream
        assert wait_until(lambda: not pub.connected(), 10)
        time.sleep(down_s)
        assert outbox.count() > 0  # readings piled up on disk meanwhile
        broker.start()
        time.sleep((total_s - down_s) / 2)
    finally:
        done.set()
        feeder.join()
    try:
        missing = probe.wait_for({r.seq for r in accepted}, timeout=30)
        assert missing == set(), f"lost {len(missing)} of {len(accepted)} readings"
        early = early_arrivals(probe.readings())
        assert all(n <= pub.connects for n in early.values()), early
        assert pub.connects >= 2
        assert wait_until(lambda: outbox.count() == 0)
    finally:
        pub.stop()
        probe.close()


def test_broker_outage_mid_stream_loses_nothing(mosquitto: Mosquitto, outbox: Outbox) -> None:
    _stream_through_outage(mosquitto, outbox, down_s=2.0, total_s=5.0)


@pytest.mark.slow
def test_broker_outage_of_a_minute_loses_nothing(mosquitto: Mosquitto, outbox: Outbox) -> None:
    _stream_through_outage(mosquitto, outbox, down_s=60.0, total_s=66.0)


def test_refused_connection_is_logged_once_and_nothing_is_acked(
    tmp_path: Path, outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    """A broker that refuses the gateway (no such user): retried with backoff, reported once, data kept."""
    broker = Mosquitto(tmp_path / "auth", anonymous=False)
    broker.start()
    pub = Publisher(
        GW, MqttConfig(port=broker.port, username="fs-gw01", password_env="EWS_TEST_NO_PW"), FAST, outbox
    )
    try:
        os.environ["EWS_TEST_NO_PW"] = "wrong"
        outbox.add([Reading("fs-hp01-rg1", "rain_mm", 0.5, T0)])
        with caplog.at_level(logging.DEBUG, logger="edge.publisher"):
            pub.start()
            time.sleep(1.5)
        attempts = caplog.text.count("broker unreachable")
        assert attempts >= 3  # it kept trying
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and "unreachable" in r.message]
        assert len(warnings) == 1 and "refused" in warnings[0].message
        assert outbox.count() == 1 and pub.published == 0
    finally:
        pub.stop()
        broker.stop()
        os.environ.pop("EWS_TEST_NO_PW", None)


def deny_reads(box: Outbox, deny: bool) -> None:
    """Make SQLite itself fail every read of the readings table (as a failing SD card would), or stop."""

    def auth(action: int, table: str | None, *_: object) -> int:
        return (
            sqlite3.SQLITE_DENY
            if action == sqlite3.SQLITE_READ and table == "readings"
            else sqlite3.SQLITE_OK
        )

    with box._lock:
        box._db.set_authorizer(auth if deny else None)


def test_an_outbox_read_error_is_retried_on_the_same_link(
    mosquitto: Mosquitto, outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    """A raw sqlite3.Error from take_batch ended the publisher thread for good; an OutboxError dropped
    the link and reconnected twice a second. The link stays up and the read is retried with backoff."""
    probe = Probe(mosquitto.port, GW)
    pub = Publisher(GW, MqttConfig(port=mosquitto.port), FAST, outbox)
    added = outbox.add([Reading("fs-hp01-rg1", "rain_mm", 0.5, T0)])
    deny_reads(outbox, True)
    try:
        with caplog.at_level(logging.INFO, logger="edge.publisher"):
            pub.start()
            assert wait_until(pub.connected)
            time.sleep(1.5)  # several retries
            assert outbox.count() == 1 and pub.published == 0
            deny_reads(outbox, False)
            assert probe.wait_for({added[0].seq}) == set()
        assert pub.alive() and pub.connects == 1
        assert caplog.text.count("outbox read failed") == 1 and "outbox readable again" in caplog.text
    finally:
        pub.stop()
        probe.close()


def test_clean_stop_drains_the_outbox_first(mosquitto: Mosquitto, outbox: Outbox) -> None:
    probe = Probe(mosquitto.port, GW)
    pub = Publisher(GW, MqttConfig(port=mosquitto.port), PublishConfig(batch_max=7), outbox)
    pub.start()
    try:
        assert wait_until(pub.connected)
        added = []
        for i in range(50):
            added += outbox.add([Reading("fs-hp01-rg1", "rain_mm", 0.1, T0 + i)])
        pub.stop()  # right away: the readings just added still go out before the goodbye
        assert outbox.count() == 0 and pub.published == 50
        assert probe.wait_for({r.seq for r in added}) == set()
    finally:
        pub.stop()
        probe.close()
