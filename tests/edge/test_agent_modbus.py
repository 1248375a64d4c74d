"""The whole gateway on real parts: Modbus RTU devices on a pty RS485 bus → agent → outbox → mosquitto.

A rain gauge and a crack meter share one bus (pymodbus RTU server behind a pty, ews/devices); the crack
meter's cable is cut for a while. The gauge keeps reporting, no rain is lost, and the agent logs the
crack meter down once and back once.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from edge.agent import Agent
from edge.config import gateway_config_from_dict
from ews.devices.modbus_bus import ModbusBus
from ews.devices.modbus_gauge import CrackMeter, RainGauge
from ews.servers import Mosquitto
from tests.edge.mqtt_probe import Probe

GW = "fs-gw01"


def wait_until(cond, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_modbus_bus_to_broker_with_a_silent_device(
    tmp_path: Path, mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    gauge, crack = RainGauge(unit=1, counter=65_400), CrackMeter(unit=2)
    crack.set_mm(12.5)
    with ModbusBus([gauge, crack], workdir=tmp_path) as bus:
        common = {"site": "fs-hp01", "port": bus.port, "period_s": 60, "timeout_s": 0.3, "retries": 0}
        cfg = gateway_config_from_dict(
            {
                "id": GW,
                "mqtt": {"port": mosquitto.port},
                "outbox": {"path": str(tmp_path / "outbox.db")},
                "publish": {"backoff_min_s": 0.1, "backoff_max_s": 0.5},
                "health": {"period_s": 3600, "cpu_temp_file": None},
                "sensors": [
                    {
                        "kind": "modbus",
                        "id": "fs-hp01-rg1",
                        "profile": "rain_tipping_bucket",
                        "unit": 1,
                        **common,
                    },
                    {"kind": "modbus", "id": "fs-hp01-cr1", "profile": "crack_float32", "unit": 2, **common},
                ],
            },
            "test",
        )
        probe = Probe(mosquitto.port, GW)
        # Storm clock at 600x: 2.5 mm per 0.25 s real is 60 mm/h, a plausible rate for the driver.
        t0, m0 = 1_780_000_000.0, time.monotonic()
        agent = Agent(cfg, clock=lambda: t0 + (time.monotonic() - m0) * 600)
        with caplog.at_level(logging.INFO, logger="edge.agent"):
            agent.start()
            try:
                # The gauge's first answer is its baseline (0 mm): rain starts after it.
                assert wait_until(lambda: agent.stats()["sensors"]["fs-hp01-rg1"]["accepted"] >= 1)
                added = 0.0
                for step in range(12):
                    if step == 3:
                        crack.silent = True  # the crack meter's cable is cut
                    if step == 8:
                        crack.silent = False
                    gauge.add_rain(2.5)  # the counter rolls over 65535 on the way
                    added += 2.5
                    time.sleep(0.25)

                def rain_total() -> float:
                    return sum(r.value for r in probe.readings() if r.sensor == "fs-hp01-rg1")

                assert wait_until(lambda: abs(rain_total() - added) < 1e-6), (rain_total(), added)
                assert wait_until(lambda: agent.stats()["sensors"]["fs-hp01-cr1"]["up"])
            finally:
                agent.stop()
                probe.close()
    stats = agent.stats()["sensors"]
    assert stats["fs-hp01-cr1"]["errors"] >= 1
    assert caplog.text.count("sensor down sensor=fs-hp01-cr1") == 1
    assert caplog.text.count("sensor back sensor=fs-hp01-cr1") == 1
    cracks = [r for r in probe.readings() if r.sensor == "fs-hp01-cr1"]
    assert cracks and all(r.quantity == "crack_mm" and r.value == pytest.approx(12.5) for r in cracks)
    seqs = [r.seq for r in probe.readings()]
    assert len(seqs) == len(set(seqs)) and stats["fs-hp01-rg1"]["errors"] == 0
