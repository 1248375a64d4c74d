"""The agent loop on a real mosquitto: end to end, bus serialization, bad drivers, clock, full outbox."""

from __future__ import annotations

import logging
import math
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.agent import Agent
from edge.config import GatewayConfig, OutboxConfig
from edge.health import HealthConfig
from edge.mqttlink import MqttConfig
from edge.outbox import Outbox
from edge.publisher import PublishConfig
from edge.wire import Reading
from ews.servers import Mosquitto, free_port
from tests.edge.agent_fakes import CountingSensor, PushSensor, ScriptedSensor, sensor_error
from tests.edge.mqtt_probe import Probe

GW = "fs-gw01"


def gw_config(tmp_path: Path, port: int, max_readings: int = 100_000, **kw: Any) -> GatewayConfig:
    return GatewayConfig(
        id=GW,
        mqtt=MqttConfig(port=port),
        outbox=OutboxConfig(path=tmp_path / "outbox.db", max_readings=max_readings),
        publish=PublishConfig(backoff_min_s=0.1, backoff_max_s=0.5),
        health=HealthConfig(period_s=kw.pop("health_period_s", 0.3), cpu_temp_file=None),
        **kw,
    )


def wait_until(cond: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def running() -> Iterator[list[Agent]]:
    agents: list[Agent] = []
    yield agents
    for a in agents:
        a.stop()


def test_readings_and_health_reach_the_hub(
    tmp_path: Path, mosquitto: Mosquitto, running: list[Agent]
) -> None:
    probe = Probe(mosquitto.port, GW)
    rain = CountingSensor("fs-hp01-rg1", period_s=0.05)
    push = PushSensor("fs-hp02-wl1")
    agent = Agent(gw_config(tmp_path, mosquitto.port), sensors=[rain, push])
    running.append(agent)
    agent.start()
    try:
        assert wait_until(lambda: agent.stats()["sensors"].get("fs-hp02-wl1", {}).get("published", 0) >= 5)
        assert wait_until(lambda: agent.stats()["sensors"]["fs-hp01-rg1"]["published"] >= 5)
        assert wait_until(
            lambda: (
                {r.quantity for r in probe.readings() if r.source == "health"}
                >= {"outbox_depth", "outbox_dropped", "disk_free_pct"}
            )
        )
        got = probe.readings()
        rain_values = [r.value for r in got if r.sensor == "fs-hp01-rg1"]
        assert rain_values[:5] == [1.0, 2.0, 3.0, 4.0, 5.0]  # no gap, no reordering
        health = [r for r in got if r.source == "health"]
        assert {r.sensor for r in health} == {f"{GW}-health"}
        assert all(0 <= r.value <= 100 for r in health if r.quantity == "disk_free_pct")
        seqs = [r.seq for r in got]
        assert len(set(seqs)) == len(seqs) and all(s > 0 for s in seqs)
    finally:
        agent.stop()
        running.clear()
        probe.close()
    stats = agent.stats()
    assert stats["accepted"] >= stats["published"] > 0
    assert stats["sensors"]["fs-hp01-rg1"]["errors"] == 0
    assert stats["sensors"]["fs-hp01-rg1"]["up"] is True


def test_bus_polls_are_serialized_and_buses_independent(tmp_path: Path, running: list[Agent]) -> None:
    """Two devices on one RS485 bus never talk at once; a slow bus does not hold up another bus."""
    a = CountingSensor("fs-hp01-cr1", bus="/dev/ttyAMA0", period_s=0.01)
    b = CountingSensor("fs-hp01-sm1", bus="/dev/ttyAMA0", period_s=0.01)
    b.active = a.active  # same bus: one lock sees any overlap
    a.delay_s = b.delay_s = 0.005
    slow = CountingSensor("fs-hp01-gn1", bus="/dev/ttyUSB0", period_s=0.01)
    slow.delay_s = 0.5
    agent = Agent(gw_config(tmp_path, free_port()), sensors=[a, b, slow])
    running.append(agent)
    agent.start()
    assert wait_until(lambda: a.polls >= 20 and b.polls >= 20)
    assert a.overlaps == 0 and b.overlaps == 0
    assert slow.polls * 5 < a.polls + b.polls  # the slow bus never held up the other one


def test_bad_drivers_never_stop_the_loop(
    tmp_path: Path, running: list[Agent], caplog: pytest.LogCaptureFixture
) -> None:
    """Timeouts, driver bugs and garbage output are counted, logged once per episode, and survived."""
    now_reading = lambda now: [Reading("fs-hp03-tl1", "tilt_deg", 0.5, now)]  # noqa: E731
    script: list[Any] = [
        sensor_error("fs-hp03-tl1"),
        sensor_error("fs-hp03-tl1"),
        ZeroDivisionError("driver bug"),
        now_reading,  # back
        ["not a reading", None, 42],
        lambda now: [Reading("fs-hp03-tl1", "tilt_deg", math.nan, now)],
        lambda now: [Reading("fs-hp03-tl1", "tilt_deg", 1.0, now, quality="great")],
        None,
        now_reading,
    ]
    flaky = ScriptedSensor("fs-hp03-tl1", script, bus="bus0")
    good = CountingSensor("fs-hp03-rg1", bus="bus0", period_s=0.02)
    agent = Agent(gw_config(tmp_path, free_port()), sensors=[flaky, good])
    running.append(agent)
    with caplog.at_level(logging.INFO, logger="edge.agent"):
        agent.start()
        assert wait_until(lambda: flaky.polls > len(script) + 5 and good.polls > 30)
    s = agent.stats()["sensors"]
    assert s["fs-hp03-tl1"]["errors"] == 3
    assert s["fs-hp03-tl1"]["rejected"] == 6  # three objects, NaN, bad quality, None
    assert s["fs-hp03-tl1"]["up"] is True and s["fs-hp03-tl1"]["accepted"] >= 5
    assert s["fs-hp03-rg1"]["accepted"] >= 30
    text = caplog.text
    assert text.count("sensor down sensor=fs-hp03-tl1") == 1
    assert text.count("sensor back sensor=fs-hp03-tl1") == 1
    assert "Modbus timeout" in text


def test_a_single_reading_is_a_batch_of_one(tmp_path: Path, running: list[Agent]) -> None:
    """A driver may return one Reading instead of a list. A Reading is a tuple (a NamedTuple), so the
    agent must not take its eight fields for eight readings."""
    script: list[Any] = [lambda now: Reading("fs-hp01-rg1", "rain_mm", 1.0, now), []]
    agent = Agent(gw_config(tmp_path, free_port()), sensors=[ScriptedSensor("fs-hp01-rg1", script)])
    running.append(agent)
    agent.start()
    assert wait_until(lambda: agent.stats()["sensors"].get("fs-hp01-rg1", {}).get("accepted", 0) == 1)
    s = agent.stats()["sensors"]["fs-hp01-rg1"]
    assert (s["accepted"], s["rejected"]) == (1, 0)


def test_doubtful_event_times_are_flagged_suspect(tmp_path: Path, running: list[Agent]) -> None:
    script: list[Any] = [
        lambda now: [
            Reading("fs-hp01-rg1", "rain_mm", 1.0, now),
            Reading("fs-hp01-rg1", "rain_mm", 2.0, now + 3600),  # an hour ahead of the gateway
            Reading("fs-hp01-rg1", "rain_mm", 3.0, now - 3 * 365 * 86400),  # three years old
            Reading("fs-hp01-rg1", "rain_mm", 4.0, 3600.0),  # 1970: RTC not set
            Reading("fs-hp01-rg1", "rain_mm", 5.0, now + 3600, quality="bad"),  # stays bad
        ],
        [],
    ]
    agent = Agent(gw_config(tmp_path, free_port()), sensors=[ScriptedSensor("fs-hp01-rg1", script)])
    running.append(agent)
    agent.start()
    assert wait_until(lambda: agent.stats()["sensors"].get("fs-hp01-rg1", {}).get("accepted", 0) == 5)
    agent.stop()
    running.clear()
    box = Outbox(tmp_path / "outbox.db")
    rows = [r for r in box.take_batch(100) if r.sensor == "fs-hp01-rg1"]
    box.close()
    assert [r.quality for r in rows] == ["good", "suspect", "suspect", "suspect", "bad"]


def test_full_outbox_drops_oldest_routine_and_reports_it(tmp_path: Path, running: list[Agent]) -> None:
    """Broker unreachable for long: the bound holds, the newest of each sensor is kept, drops reported."""
    rain = CountingSensor("fs-hp01-rg1", period_s=0.002)
    agent = Agent(gw_config(tmp_path, free_port(), max_readings=100, health_period_s=0.05), sensors=[rain])
    running.append(agent)
    agent.start()
    assert wait_until(lambda: agent.stats()["dropped"] >= 300)
    agent.stop()
    running.clear()
    stats = agent.stats()
    assert sum(s["dropped"] for s in stats["sensors"].values()) == stats["dropped"]
    assert stats["sensors"]["fs-hp01-rg1"]["dropped"] >= 200
    box = Outbox(tmp_path / "outbox.db", max_readings=100)
    kept = box.take_batch(1000)
    box.close()
    assert len(kept) <= 100
    rain_kept = [r for r in kept if r.sensor == "fs-hp01-rg1"]
    assert rain_kept[-1].value == float(rain.polls)  # the newest rain reading is still there
    assert [r.value for r in rain_kept] == sorted(r.value for r in rain_kept)
    dropped_reports = [r.value for r in kept if r.quantity == "outbox_dropped"]
    assert dropped_reports and max(dropped_reports) > 0


def test_compressed_storm_clock_drives_polling_and_event_times(tmp_path: Path, running: list[Agent]) -> None:
    """The demo's storm clock runs 600x: a 60 s period polls ~10x a real second, stamped on that clock."""
    t0, m0 = 1_780_000_000.0, time.monotonic()
    clock = lambda: t0 + (time.monotonic() - m0) * 600  # noqa: E731
    rain = CountingSensor("fs-hp01-rg1", period_s=60.0)
    agent = Agent(gw_config(tmp_path, free_port(), health_period_s=600.0), sensors=[rain], clock=clock)
    running.append(agent)
    agent.start()
    assert wait_until(lambda: rain.polls >= 8, timeout=10)
    agent.stop()
    running.clear()
    box = Outbox(tmp_path / "outbox.db")
    times = [r.time for r in box.take_batch(1000) if r.sensor == "fs-hp01-rg1"]
    box.close()
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # On the storm clock the polls are ~60 s apart (wake-up jitter is multiplied by 600, so only the
    # median is tight); never two polls for one period.
    assert all(g > 30 for g in gaps) and 50 <= statistics.median(gaps) <= 70, gaps


def test_listening_sensor_readings_are_stored_from_its_thread(tmp_path: Path, running: list[Agent]) -> None:
    push = PushSensor("fs-hp02-wl1", interval_s=0.005)
    agent = Agent(gw_config(tmp_path, free_port()), sensors=[push])
    running.append(agent)
    agent.start()
    assert wait_until(lambda: agent.stats()["sensors"].get("fs-hp02-wl1", {}).get("accepted", 0) >= 50)
    agent.stop()
    running.clear()
    assert threading.active_count() < 50
    box = Outbox(tmp_path / "outbox.db")
    rows = [r for r in box.take_batch(10_000) if r.sensor == "fs-hp02-wl1"]
    box.close()
    assert len(rows) == agent.stats()["sensors"]["fs-hp02-wl1"]["accepted"]


def test_healthy_needs_the_listener_and_publisher_threads_too(tmp_path: Path, running: list[Agent]) -> None:
    """The systemd watchdog's check looked only at the polling and housekeeping threads: with a dead
    listener (no more LoRa frames) or publisher (nothing sent) the gateway stayed up, deaf or mute."""
    push = PushSensor("fs-hp02-wl1")
    agent = Agent(gw_config(tmp_path, free_port()), sensors=[push])  # no broker: the publisher retries
    running.append(agent)
    agent.start()
    assert agent.healthy() and agent.publisher is not None
    agent.publisher.stop()  # its thread ends, as an uncaught error would end it
    assert not agent.healthy()
    agent.publisher.start()
    assert agent.healthy()
    push.stop()
    assert not agent.healthy()
