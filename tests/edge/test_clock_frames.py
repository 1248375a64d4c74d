"""Readings taken before the gateway's clock is set are moved by the step before they are sent (edge.clock)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from edge.agent import Agent
from edge.clock import BOOT_ID, STEP_S, Frame, restamped, system_frame
from edge.mqttlink import MqttConfig
from edge.outbox import Outbox
from edge.publisher import PublishConfig, Publisher
from edge.wire import CLOCK_STEP, Reading
from ews.servers import Mosquitto, free_port
from tests.edge.agent_fakes import CountingSensor
from tests.edge.mqtt_probe import Probe
from tests.edge.test_agent_loop import GW, gw_config, wait_until

H3 = 3 * 3600.0
T = 1_782_000_000.0


def test_restamped_moves_by_a_step_of_the_same_boot_only() -> None:
    then = Frame("boot-a", 1000.0)
    assert restamped(T, "good", then, Frame("boot-a", 1000.0 + H3)) == (T + H3, "suspect")
    assert restamped(T, "good", then, Frame("boot-a", 1000.0 - H3)) == (T - H3, "suspect")
    assert restamped(T, "bad", then, Frame("boot-a", 1000.0 + H3)) == (T + H3, "bad")
    # NTP slewing and a poll's own duration are not steps.
    assert restamped(T, "good", then, Frame("boot-a", 1000.0 + STEP_S)) == (T, "good")
    # Another boot: the time since boot started again, so the offsets say nothing about each other.
    assert restamped(T, "good", then, Frame("boot-b", 1000.0 + H3)) == (T, "good")
    # Stamped by a clock of its own (an RTU, a GNSS receiver): never moved.
    assert restamped(T, "good", None, Frame("boot-a", 1000.0 + H3)) == (T, "good")


def test_the_system_frame_is_this_boots_and_steady() -> None:
    a, b = system_frame(), system_frame()
    assert a.boot == b.boot == BOOT_ID
    assert Path("/proc/sys/kernel/random/boot_id").read_text().strip() == BOOT_ID  # Linux, as on a Pi
    assert abs(a.offset - b.offset) < 1.0  # nobody set the clock in between
    assert abs(a.offset + time.clock_gettime(time.CLOCK_BOOTTIME) - time.time()) < 5.0


def test_the_outbox_keeps_frames_and_moves_readings_when_taken(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.db")
    behind = Frame("boot-a", -H3)
    box.add(
        [Reading("rg1", "rain_mm", 5.0, T - H3), Reading("rtu1", "rain_mm", 1.0, T)],
        frames=[behind, None],
    )
    box.close()
    box = Outbox(tmp_path / "outbox.db")  # the frames are on disk, like the readings
    got = box.take_batch(10, frame=Frame("boot-a", 0.0))
    assert [(r.sensor, r.time, r.quality) for r in got] == [("rg1", T, "suspect"), ("rtu1", T, "good")]
    box.release()
    assert [r.time for r in box.take_batch(10)] == [T - H3, T]  # no frame given: as stored
    box.close()


def test_an_outbox_from_before_frames_opens_and_sends_as_it_did(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE readings (seq INTEGER PRIMARY KEY AUTOINCREMENT, sensor TEXT NOT NULL,"
        " quantity TEXT NOT NULL, value REAL NOT NULL, time REAL NOT NULL, quality TEXT NOT NULL,"
        " source TEXT NOT NULL, issued REAL, routine INTEGER NOT NULL);"
        "INSERT INTO readings (sensor, quantity, value, time, quality, source, issued, routine)"
        f" VALUES ('rg1', 'rain_mm', 2.5, {T}, 'good', 'sensor', NULL, 1);"
    )
    db.commit()
    db.close()
    box = Outbox(path)
    box.add([Reading("rg1", "rain_mm", 1.0, T + 600)], frames=[Frame("boot-a", 0.0)])
    got = box.take_batch(10, frame=Frame("boot-a", H3))
    assert [(r.value, r.time) for r in got] == [(2.5, T), (1.0, T + 600 + H3)]
    box.close()


class SteppedClock:
    """A gateway clock 3 h behind (as on a Pi back from a power cut with the link still down) or, with
    `off`, ahead, until set() (NTP, once the link is back). Faked because a test cannot set the
    machine's clock; its frame is taken against the real monotonic clock, as system_frame's is against
    CLOCK_BOOTTIME."""

    def __init__(self, off: float = -H3) -> None:
        self.off = off

    def __call__(self) -> float:
        return time.time() + self.off

    def set(self) -> None:
        self.off = 0.0

    def frame(self) -> Frame:
        return Frame("boot-test", self() - time.monotonic())


def test_a_backlog_stamped_before_the_clock_was_set_arrives_at_the_right_time(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    """The real agent, outbox and publisher, and a real broker that is down while the clock is wrong.
    Before, the outage's readings reached the hub three hours in the past, where no 1 h or 3 h window
    would count their rain (and the hub takes a burst of late batches for a backlog, not a clock)."""
    probe = Probe(mosquitto.port, GW)
    mosquitto.stop()
    clock = SteppedClock()
    rain = CountingSensor("fs-hp01-rg1", period_s=0.05)
    agent = Agent(gw_config(tmp_path, mosquitto.port), sensors=[rain], clock=clock, frames=clock.frame)
    started = time.time()
    agent.start()
    try:
        assert wait_until(lambda: rain.polls >= 10)
        clock.set()
        stepped = rain.polls
        assert wait_until(lambda: rain.polls >= stepped + 10)
        mosquitto.start()
        assert wait_until(
            lambda: len([r for r in probe.readings() if r.sensor == "fs-hp01-rg1"]) >= stepped + 10
        )
    finally:
        agent.stop()
        probe.close()
    got = sorted((r for r in probe.readings() if r.sensor == "fs-hp01-rg1"), key=lambda r: r.value)
    assert [r.value for r in got[: stepped + 10]] == [float(k) for k in range(1, stepped + 11)]
    assert all(started - 1 <= r.time <= time.time() + 1 for r in got)  # none three hours back
    before = [r for r in got if r.value <= stepped - 1]  # the poll at the step may fall either side
    after = [r for r in got if r.value >= stepped + 2]
    assert before and all(r.quality == "suspect" for r in before)  # moved: the time is reconstructed
    assert after and all(r.quality == "good" for r in after)
    assert all(a.time <= b.time for a, b in zip(got, got[1:], strict=False))  # still in order
    steps = [r for r in probe.readings() if r.quantity == CLOCK_STEP]
    assert [(r.sensor, r.source) for r in steps] == [(f"{GW}-health", "health")]  # the dashboard is told
    assert abs(steps[0].value - H3) < 5


def test_a_clock_set_back_hours_does_not_stop_polling(tmp_path: Path) -> None:
    """A gateway whose RTC keeps Beijing time boots 8 h ahead, and NTP then sets its clock back. Before,
    every bus and the housekeeping waited for the clock to reach their old schedule again: eight hours
    without a reading, a health report or the offline siren rules. Now they go on from the new time.
    (No broker: the readings wait in the outbox, where the test counts them.)"""
    clock = SteppedClock(8 * 3600.0)
    rain = CountingSensor("fs-hp01-rg1", period_s=0.05)
    agent = Agent(gw_config(tmp_path, free_port(), health_period_s=0.2), sensors=[rain], clock=clock)
    agent.start()
    try:
        health = f"{GW}-health"
        assert wait_until(
            lambda: rain.polls >= 5 and agent.stats()["sensors"].get(health, {}).get("accepted", 0) > 0
        )
        clock.set()
        polls, reports = rain.polls, agent.stats()["sensors"][health]["accepted"]
        assert wait_until(lambda: rain.polls >= polls + 20, timeout=5.0)
        assert wait_until(lambda: agent.stats()["sensors"][health]["accepted"] > reports + 3, timeout=5.0)
    finally:
        agent.stop()
    box = Outbox(tmp_path / "outbox.db")
    newest = box.take_batch(1, fresh_first=True)
    box.close()
    assert newest and abs(newest[0].time - time.time()) < 60  # stamped by the clock as set


def test_an_outage_is_not_dated_ahead_by_a_clock_set_back(tmp_path: Path) -> None:
    """The broker is out of reach when NTP sets an 8 h fast clock back. The outage's start then lay
    8 h ahead, and the offline siren rules waited for it: now it counts from the correction."""
    clock = SteppedClock(8 * 3600.0)
    box = Outbox(tmp_path / "outbox.db")
    pub = Publisher(GW, MqttConfig(port=free_port()), PublishConfig(backoff_min_s=0.1), box, clock)
    since = pub.down_since()
    assert since is not None and abs(since - clock()) < 1.0
    clock.set()
    since = pub.down_since()
    assert since is not None and 0.0 <= clock() - since < 1.0
    box.close()
