"""Local autonomy: pure local rules, relays (file, LCUS serial on a real pty), and the whole path on an agent."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from edge.agent import Agent
from edge.autonomy import ALARM_QUANTITY, Autonomy, AutonomyConfig, LocalRule, LocalRules
from edge.config import GatewayConfig, OutboxConfig
from edge.health import HealthConfig
from edge.mqttlink import MqttConfig
from edge.publisher import PublishConfig
from edge.relay import FileRelay, FileRelayConfig, SerialRelay, SerialRelayConfig, lcus_frame
from edge.wire import Reading
from ews.servers import Mosquitto
from tests.edge.agent_fakes import ScriptedSensor
from tests.edge.mqtt_probe import Probe

T0 = 1_780_000_000.0
RAIN_1H_RED = LocalRule(name="rain-1h-red", window_s=3600, threshold=80.0, clear_below=60.0)


def rain(sensor: str, mm: float, t: float) -> Reading:
    return Reading(sensor, "rain_mm", mm, t)


def test_rain_sum_fires_at_threshold_and_clears_with_hysteresis() -> None:
    rules = LocalRules([RAIN_1H_RED])
    rules.observe([rain("fs-hp01-rg1", 10.0, T0 + 300 * i) for i in range(8)])  # 80 mm by T0+2100
    assert rules.evaluate(T0 + 2000) == []  # 70 mm so far
    assert rules.evaluate(T0 + 2100) == ["rain-1h-red:fs-hp01-rg1"]
    # The first readings leave the window: 70 mm is below 80 but above the 60 mm clear level.
    assert rules.evaluate(T0 + 3700) == ["rain-1h-red:fs-hp01-rg1"]
    assert rules.evaluate(T0 + 4900) == []  # 40 mm left in the hour


def test_each_sensor_is_judged_alone_and_other_quantities_ignored() -> None:
    rules = LocalRules([RAIN_1H_RED])
    rules.observe([rain("a", 50.0, T0), rain("b", 50.0, T0), Reading("a", "water_level_m", 99.0, T0)])
    assert rules.evaluate(T0 + 1) == []
    rules.observe([rain("a", 30.0, T0 + 10), Reading("a", "rain_mm", 99.0, T0 + 10, quality="bad")])
    assert rules.evaluate(T0 + 11) == ["rain-1h-red:a"]


def test_delta_and_max_rules() -> None:
    crack = LocalRule(name="crack", quantity="crack_mm", window_s=3600, agg="delta", threshold=5.0)
    level = LocalRule(name="level", quantity="water_level_m", window_s=600, agg="max", threshold=3.2)
    rules = LocalRules([crack, level])
    rules.observe([Reading("cr", "crack_mm", 10.0, T0), Reading("cr", "crack_mm", 15.5, T0 + 1800)])
    rules.observe(
        [Reading("wl", "water_level_m", 3.3, T0 + 1300), Reading("wl", "water_level_m", 2.0, T0 + 1700)]
    )
    assert rules.evaluate(T0 + 1800) == ["crack:cr", "level:wl"]


def test_readings_arriving_out_of_time_order_are_judged_by_their_own_time() -> None:
    """A LoRa node's kept frame or an SL651 backlog comes after newer readings. Only the head of the
    window was pruned, so 75 mm that fell 3 h ago, arriving second, counted as rain of the last hour."""
    rules = LocalRules([RAIN_1H_RED])
    rules.observe([rain("rg", 6.0, T0 - 60)])
    rules.observe([rain("rg", 75.0, T0 - 3 * 3600)])
    assert rules.evaluate(T0) == []
    crack = LocalRule(name="crack", quantity="crack_mm", window_s=3600, agg="delta", threshold=5.0)
    rules = LocalRules([crack])
    rules.observe([Reading("cr", "crack_mm", 10.0, T0), Reading("cr", "crack_mm", 16.0, T0 + 1800)])
    rules.observe([Reading("cr", "crack_mm", 9.0, T0 - 60)])  # late, and earlier: growth is 7 mm, not -7
    assert rules.evaluate(T0 + 1800) == ["crack:cr"]


def test_a_clock_set_back_drops_every_reading_stamped_ahead_of_it() -> None:
    """The clock ran 8 h ahead, then NTP set it back. Readings stamped ahead were dropped only when the
    oldest of the window was ahead; in a 24 h window they stayed and their rain counted a second time."""
    hour = 3600.0
    rules = LocalRules([LocalRule(name="rain-24h-red", window_s=24 * hour, threshold=180.0)])
    ahead = T0 + 8 * hour
    rules.observe([rain("rg", 1.0, ahead - 32 * hour + k * 600) for k in range(1, 32 * 6 + 1)])  # 6 mm/h
    assert rules.evaluate(ahead) == []  # 144 mm in 24 h
    for k in range(1, 8 * 6 + 1):  # set back to T0; the rain goes on at 6 mm/h, 144 mm in any 24 h
        rules.observe([rain("rg", 1.0, T0 + k * 600)])
        assert rules.evaluate(T0 + k * 600) == [], k


def test_rule_config_rejects_clear_above_threshold() -> None:
    with pytest.raises(ValidationError, match="clear_below"):
        LocalRule(name="x", window_s=60, threshold=10, clear_below=20)


def test_autonomy_acts_only_when_hub_out_long_enough(tmp_path: Path) -> None:
    relay_file = tmp_path / "siren"
    queued: list[Reading] = []
    cfg = AutonomyConfig(enabled=True, unreachable_s=1800, min_on_s=600, rules=[RAIN_1H_RED])
    auto = Autonomy("fs-gw01", cfg, FileRelay(relay_file), queued.extend)
    auto.observe([rain("fs-hp01-rg1", 90.0, T0)])
    auto.tick(T0 + 10, down_since=None)  # hub reachable: the hub decides, the siren stays off
    assert relay_file.read_text() == "0\n" and queued == []
    auto.tick(T0 + 20, down_since=T0)  # out of reach for only 20 s
    assert relay_file.read_text() == "0\n"
    auto.tick(T0 + 1900, down_since=T0 - 100)
    assert relay_file.read_text() == "1\n"
    assert [(r.sensor, r.quantity, r.value, r.time) for r in queued] == [
        ("fs-gw01-autonomy", ALARM_QUANTITY, 1.0, T0 + 1900)
    ]
    auto.tick(T0 + 2000, down_since=None)  # the link returning does not silence a red condition
    assert relay_file.read_text() == "1\n"
    auto.tick(T0 + 3700, down_since=None)  # rain left the window and min_on_s has passed
    assert relay_file.read_text() == "0\n"
    assert [r.value for r in queued] == [1.0, 0.0]


def test_max_on_latches_off_until_the_condition_clears(tmp_path: Path) -> None:
    queued: list[Reading] = []
    cfg = AutonomyConfig(enabled=True, unreachable_s=60, min_on_s=0, max_on_s=300, rules=[RAIN_1H_RED])
    auto = Autonomy("fs-gw01", cfg, FileRelay(tmp_path / "r"), queued.extend)
    auto.observe([rain("g", 90.0, T0)])
    auto.tick(T0 + 100, down_since=T0)
    auto.tick(T0 + 400, down_since=T0)  # 300 s on: off, even though still firing
    auto.tick(T0 + 500, down_since=T0)  # stays off (latched)
    assert [r.value for r in queued] == [1.0, 0.0]


def test_a_clock_set_back_neither_holds_the_siren_on_nor_sounds_it_again(tmp_path: Path) -> None:
    """The gateway's clock ran 8 h ahead (an RTC in Beijing time) when the siren went on; NTP then sets
    it back while the hub is still out of reach. Before, the siren's time on counted from 8 h ahead, so
    it sounded for those 8 hours after the rain had stopped, and once the clock reached the old stamps
    their rain counted again and could sound it a second time."""
    ahead = 8 * 3600.0
    queued: list[Reading] = []
    cfg = AutonomyConfig(enabled=True, unreachable_s=60, min_on_s=600, rules=[RAIN_1H_RED])
    auto = Autonomy("fs-gw01", cfg, FileRelay(tmp_path / "siren"), queued.extend)
    auto.observe([rain("fs-hp01-rg1", 90.0, T0 + ahead)])
    auto.tick(T0 + ahead + 120, down_since=T0 + ahead)
    assert [r.value for r in queued] == [1.0]
    auto.tick(T0 + 200, down_since=T0 + 150)  # set back: the rain is out of the window, and
    auto.tick(T0 + 900, down_since=T0 + 150)  # the siren goes off after min_on_s, not 8 h later
    assert [(r.value, r.time) for r in queued] == [(1.0, T0 + ahead + 120), (0.0, T0 + 900)]
    auto.tick(T0 + ahead + 600, down_since=T0 + 150)  # the clock reaches the old stamps: silence
    assert [r.value for r in queued] == [1.0, 0.0]
    assert (tmp_path / "siren").read_text() == "0\n"


def test_lcus_serial_relay_over_a_real_pty() -> None:
    """The LCUS USB relay board protocol (A0 ch state sum) sent over a real pseudo-terminal."""
    master, slave = os.openpty()
    relay = SerialRelay(SerialRelayConfig(kind="serial", port=os.ttyname(slave), channel=1))
    try:
        relay.set(True)
        relay.set(False)
        time.sleep(0.1)
        got = os.read(master, 64)
        assert got == bytes.fromhex("A00101A2") + bytes.fromhex("A00100A1")
        assert lcus_frame(2, True) == bytes.fromhex("A00201A3")
    finally:
        relay.close()
        os.close(master)
        os.close(slave)


def test_relay_failure_is_retried_and_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    missing_dir = tmp_path / "no-such-dir" / "siren"
    cfg = AutonomyConfig(enabled=True, unreachable_s=1, min_on_s=0, rules=[RAIN_1H_RED])
    auto = Autonomy("fs-gw01", cfg, FileRelay(missing_dir), lambda rs: None)
    auto.observe([rain("g", 90.0, T0)])
    for i in range(5):
        auto.tick(T0 + 10 + i, down_since=T0)
    assert caplog.text.count("relay failed") == 1
    missing_dir.parent.mkdir()
    auto.tick(T0 + 20, down_since=T0)
    assert missing_dir.read_text() == "1\n"


def test_agent_sounds_siren_offline_and_the_event_reaches_the_hub_later(tmp_path: Path) -> None:
    """Broker down; heavy rain; the gateway switches its relay itself; the event arrives once the link is back."""
    relay_file = tmp_path / "siren"
    t0, m0 = T0, time.monotonic()
    clock = lambda: t0 + (time.monotonic() - m0) * 600  # noqa: E731 - storm clock, 600x
    mosquitto = Mosquitto(tmp_path / "broker")
    mosquitto.start()
    probe = Probe(mosquitto.port, "fs-gw01")  # its persistent session queues what arrives while it is away
    mosquitto.stop()
    burst: list[Any] = [lambda now: [rain("fs-hp01-rg1", 30.0, now)]] * 4 + [[]]
    cfg = GatewayConfig(
        id="fs-gw01",
        mqtt=MqttConfig(port=mosquitto.port),
        outbox=OutboxConfig(path=tmp_path / "outbox.db"),
        publish=PublishConfig(backoff_min_s=0.1, backoff_max_s=0.3),
        health=HealthConfig(period_s=3600, cpu_temp_file=None),
        autonomy=AutonomyConfig(
            enabled=True,
            unreachable_s=600,
            check_s=30,
            min_on_s=0,
            relay=FileRelayConfig(kind="file", path=relay_file),
            rules=[RAIN_1H_RED],
        ),
    )
    agent = Agent(cfg, sensors=[ScriptedSensor("fs-hp01-rg1", burst, period_s=60)], clock=clock)
    agent.start()
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (relay_file.exists() and relay_file.read_text() == "1\n"):
            time.sleep(0.05)
        assert relay_file.read_text() == "1\n"
        assert agent.stats()["local_alarms"] == 1
        mosquitto.start()
        probe = Probe(mosquitto.port, "fs-gw01")
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not any(
                r.quantity == ALARM_QUANTITY for r in probe.readings()
            ):
                time.sleep(0.05)
            alarms = [r for r in probe.readings() if r.quantity == ALARM_QUANTITY]
            assert alarms and alarms[0].sensor == "fs-gw01-autonomy" and alarms[0].value == 1.0
            assert alarms[0].time >= T0 + 600
        finally:
            probe.close()
    finally:
        agent.stop()
        mosquitto.stop()  # started a second time above: without this the broker outlived the test
