"""Modbus RTU drivers against pymodbus RTU servers on socat pseudo-terminal pairs (real serial path)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from edge.sensors.base import PolledSensor, SensorError
from edge.sensors.modbus import ModbusConfig
from edge.sensors.registry import SENSOR_KINDS
from ews.devices.modbus_bus import ModbusBus
from ews.devices.modbus_gauge import (
    CrackMeter,
    ModbusGauge,
    RainGauge,
    SoilProbe,
    TiltSensor,
    WaterLevelGauge,
)

T0 = 1_780_000_000.0


def build(port: str, sid: str, profile: str, unit: int = 1, **kw: object) -> PolledSensor:
    doc = {"kind": "modbus", "id": sid, "site": "fs-hp01", "port": port, "unit": unit, "profile": profile}
    cfg = SENSOR_KINDS["modbus"].model_validate({**doc, "timeout_s": 0.3, **kw})
    sensor = cfg.build()  # type: ignore[attr-defined]
    assert isinstance(sensor, PolledSensor)
    return sensor


@pytest.fixture
def gauge() -> Iterator[ModbusGauge]:
    with ModbusGauge(unit=1, counter=65500) as g:
        yield g


def values(readings: list) -> dict[str, tuple[float, str]]:
    return {r.quantity: (r.value, r.quality) for r in readings}


def test_rain_gauge_increments_rollover_and_reboot(gauge: ModbusGauge) -> None:
    rg = build(gauge.port, "fs-hp01-rg1", "rain_tipping_bucket")
    assert rg.bus == gauge.port
    first = rg.poll(T0)
    assert [(r.sensor, r.quantity, r.value, r.time, r.seq) for r in first] == [
        ("fs-hp01-rg1", "rain_mm", 0.0, T0, 0)
    ]
    gauge.add_rain(2.5)
    assert values(rg.poll(T0 + 60)) == {"rain_mm": (2.5, "good")}
    gauge.add_rain(4.0)  # 65525 + 40 wraps past 65535
    assert gauge.gauge.counter == (65525 + 40) % 65536
    assert values(rg.poll(T0 + 120)) == {"rain_mm": (4.0, "good")}
    assert values(rg.poll(T0 + 180)) == {"rain_mm": (0.0, "good")}
    gauge.add_rain(300.0)  # a big counter, then the logger loses power and counts 0.7 mm after reboot
    assert values(rg.poll(T0 + 3780))["rain_mm"] == (300.0, "good")
    gauge.reboot()
    gauge.add_rain(0.7)
    assert values(rg.poll(T0 + 3840)) == {"rain_mm": (0.7, "suspect")}
    gauge.add_rain(1.0)
    assert values(rg.poll(T0 + 3900)) == {"rain_mm": (1.0, "good")}


def test_silent_device_raises_sensor_error_naming_it(gauge: ModbusGauge) -> None:
    rg = build(gauge.port, "fs-hp01-rg1", "rain_tipping_bucket")
    rg.poll(T0)
    gauge.gauge.silent = True
    with pytest.raises(SensorError, match="fs-hp01-rg1"):
        rg.poll(T0 + 60)
    gauge.gauge.silent = False
    gauge.add_rain(1.0)
    assert values(rg.poll(T0 + 120)) == {"rain_mm": (1.0, "good")}  # no rain lost while it was silent


def test_crc_error_and_line_noise(gauge: ModbusGauge) -> None:
    rg = build(gauge.port, "fs-hp01-rg1", "rain_tipping_bucket", retries=0)
    rg.poll(T0)
    gauge.gauge.corrupt_replies = 1
    with pytest.raises(SensorError, match="fs-hp01-rg1"):
        rg.poll(T0 + 60)
    gauge.add_rain(0.5)
    assert values(rg.poll(T0 + 120)) == {"rain_mm": (0.5, "good")}
    # Noise before a reply: either the framer resyncs or the poll fails cleanly; never a wrong value.
    gauge.gauge.garbage_before = b"\x00\xff\x13"
    gauge.add_rain(0.2)
    try:
        got = values(rg.poll(T0 + 180))
    except SensorError:
        got = values(rg.poll(T0 + 240))
    assert got == {"rain_mm": (0.2, "good")}


def test_several_devices_share_one_bus_and_a_silent_one_blocks_nobody() -> None:
    rain, crack, tilt = RainGauge(1), CrackMeter(2), TiltSensor(3)
    soil, level = SoilProbe(4), WaterLevelGauge(5)
    crack.set_mm(12.75)
    tilt.set_deg(1.5, -0.25)
    soil.set_values(31.4, -2.5)
    level.set_m(2.345)
    with ModbusBus([rain, crack, tilt, soil, level]) as bus:
        sensors = [
            build(bus.port, "fs-hp01-rg1", "rain_tipping_bucket", 1),
            build(bus.port, "fs-hp01-cr1", "crack_float32", 2),
            build(bus.port, "fs-hp03-tl1", "tilt_dual_axis", 3),
            build(bus.port, "fs-hp01-sm1", "soil_moisture", 4),
            build(bus.port, "fs-hp02-wl1", "water_level", 5),
        ]
        assert {s.bus for s in sensors} == {bus.port}

        def round_(now: float) -> tuple[dict[str, dict[str, tuple[float, str]]], list[str]]:
            # what the agent's per-bus thread does: one after another, errors per sensor
            got, failed = {}, []
            for s in sensors:
                try:
                    got[s.cfg.id] = values(s.poll(now))  # type: ignore[attr-defined]
                except SensorError as exc:
                    failed.append(str(exc))
            return got, failed

        got, failed = round_(T0)
        assert failed == []
        assert got["fs-hp01-cr1"] == {"crack_mm": (12.75, "good")}
        tl = got["fs-hp03-tl1"]
        assert tl["tilt_x_deg"] == (1.5, "good") and tl["tilt_y_deg"] == (-0.25, "good")
        assert tl["tilt_deg"][0] == pytest.approx(1.5206, abs=1e-3)
        assert got["fs-hp01-sm1"] == {"soil_moisture_pct": (31.4, "good"), "soil_temp_c": (-2.5, "good")}
        assert got["fs-hp02-wl1"] == {"water_level_m": (2.345, "good")}

        crack.silent = True
        crack.set_mm(13.0)
        rain.add_rain(1.2)
        level.set_m(2.5)
        got, failed = round_(T0 + 60)
        assert len(failed) == 1 and "fs-hp01-cr1" in failed[0] and "unit 2" in failed[0]
        assert got["fs-hp01-rg1"] == {"rain_mm": (1.2, "good")}
        assert got["fs-hp02-wl1"] == {"water_level_m": (2.5, "good")}

        crack.silent = False
        crack.set_mm(-9999.0)  # the meter's "wire broken" marker
        tilt.set(0, [0x8000])  # X axis failed
        got, failed = round_(T0 + 120)
        assert failed == []
        assert got["fs-hp01-cr1"]["crack_mm"][1] == "bad"
        assert got["fs-hp03-tl1"]["tilt_x_deg"][1] == "bad"
        assert "tilt_deg" not in got["fs-hp03-tl1"]  # no resultant from a failed axis


def test_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="unknown Modbus profile"):
        ModbusConfig.model_validate(
            {"kind": "modbus", "id": "x", "site": "fs-hp01", "port": "/dev/null", "profile": "nope"}
        )
    with pytest.raises(ValidationError):
        ModbusConfig.model_validate(
            {
                "kind": "modbus",
                "id": "x",
                "site": "s",
                "port": "/dev/null",
                "profile": "water_level",
                "typo": 1,
            }
        )


def test_missing_port_is_a_sensor_error() -> None:
    s = build("/nonexistent/ttyUSB9", "fs-hp02-rg1", "rain_tipping_bucket")
    with pytest.raises(SensorError, match="fs-hp02-rg1"):
        s.poll(T0)


def test_rain_during_gateway_downtime_is_sent_after_restart(gauge: ModbusGauge, tmp_path: Path) -> None:
    state = tmp_path / "fs-hp01-rg1.json"
    rg = build(gauge.port, "fs-hp01-rg1", "rain_tipping_bucket", state_file=str(state))
    rg.poll(T0)
    gauge.add_rain(1.0)
    assert values(rg.poll(T0 + 60)) == {"rain_mm": (1.0, "good")}
    # power cut at the gateway for two hours while 42.5 mm fall; the gauge keeps counting on its own battery
    gauge.add_rain(42.5)
    restarted = build(gauge.port, "fs-hp01-rg1", "rain_tipping_bucket", state_file=str(state))
    assert values(restarted.poll(T0 + 60 + 7200)) == {"rain_mm": (42.5, "good")}
    # without a state file the first poll is a baseline: that rain would be gone
    forgetful = build(gauge.port, "fs-hp01-rg1", "rain_tipping_bucket")
    gauge.add_rain(3.0)
    assert values(forgetful.poll(T0 + 9000)) == {"rain_mm": (0.0, "good")}


def test_logger_reboot_in_a_long_power_cut_and_a_garbage_read_are_not_rain(tmp_path: Path) -> None:
    state = tmp_path / "fs-hp01-rg1.json"
    with ModbusGauge(unit=1, counter=1000) as g:  # 100.0 mm counted since the logger's last power-up
        rg = build(g.port, "fs-hp01-rg1", "rain_tipping_bucket", state_file=str(state))
        rg.poll(T0)
        g.add_rain(1.0)
        assert values(rg.poll(T0 + 60)) == {"rain_mm": (1.0, "good")}
        # 24 h without power for gateway and logger: the logger counts from 0 again (this was once a
        # "rollover" of 6452.9 mm of good rain: the allowance grows with the gap)
        g.gauge.reboot()
        g.add_rain(0.3)
        rg = build(g.port, "fs-hp01-rg1", "rain_tipping_bucket", state_file=str(state))
        t = T0 + 60 + 24 * 3600
        assert values(rg.poll(t)) == {"rain_mm": (0.3, "suspect")}
        # one read of 0xFFFF while the logger settles, and the gateway restarts right after it
        g.gauge.set_counter(0xFFFF)
        assert values(rg.poll(t + 60)) == {"rain_mm": (0.0, "suspect")}
        g.gauge.set_counter(3)
        g.add_rain(0.2)
        rg = build(g.port, "fs-hp01-rg1", "rain_tipping_bucket", state_file=str(state))
        assert values(rg.poll(t + 120)) == {"rain_mm": (0.2, "good")}  # not 0.3 mm wrapped past 0xFFFF
