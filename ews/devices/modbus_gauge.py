"""Simulated field devices matching the shipped Modbus profiles, and a one-gauge bus for the demo."""

from __future__ import annotations

import threading
from pathlib import Path

from ews.devices.modbus_bus import ModbusBus, ModbusDevice


class RainGauge(ModbusDevice):
    """Tipping-bucket gauge: holding register 0x0000 counts 0.1 mm, rolls over at 65536, 0 after reboot."""

    def __init__(self, unit: int = 1, counter: int = 0) -> None:
        super().__init__(unit)
        self._tips_lock = threading.Lock()
        self._residue = 0.0  # rain below one count stays in the bucket until it tips
        self.set(0, [counter])

    @property
    def counter(self) -> int:
        return self.get(0)[0]

    def add_rain(self, mm: float) -> None:
        if mm < 0:
            raise ValueError("rain cannot be negative")
        with self._tips_lock:
            total = self._residue + mm * 10
            tips = int(round(total, 6))
            self._residue = total - tips
            self.set(0, [(self.counter + tips) % 65536])

    def set_counter(self, raw: int) -> None:
        self.set(0, [raw % 65536])

    def reboot(self) -> None:
        """The logger lost power: the count starts again from 0."""
        with self._tips_lock:
            self._residue = 0.0
            self.set(0, [0])


class CrackMeter(ModbusDevice):
    """Draw-wire / crack meter: float32 mm at 0x0000, high word first (profile crack_float32)."""

    def set_mm(self, mm: float) -> None:
        self.set_value(0, mm, "float32")


class TiltSensor(ModbusDevice):
    """Dual-axis tilt: s16 in 0.01° at 0x0000 (X) and 0x0001 (Y) (profile tilt_dual_axis)."""

    def set_deg(self, x: float, y: float) -> None:
        self.set(0, [int(round(x * 100)) & 0xFFFF, int(round(y * 100)) & 0xFFFF])


class SoilProbe(ModbusDevice):
    """Soil probe: moisture 0.1 % at 0x0000, temperature 0.1 °C s16 at 0x0001 (profile soil_moisture)."""

    def set_values(self, moisture_pct: float, temp_c: float) -> None:
        self.set(0, [int(round(moisture_pct * 10)), int(round(temp_c * 10)) & 0xFFFF])


class WaterLevelGauge(ModbusDevice):
    """Water level: u32 mm in input registers 0x0000-0x0001, high word first (profile water_level)."""

    def set_m(self, metres: float) -> None:
        self.set_value(0, int(round(metres * 1000)), "u32", function=4)


class ModbusGauge(ModbusBus):
    """One rain gauge on its own simulated bus: `with ModbusGauge() as g: ... g.port ... g.add_rain(2.5)`."""

    def __init__(self, unit: int = 1, counter: int = 0, baudrate: int = 9600, workdir: Path | None = None):
        self.gauge = RainGauge(unit, counter)
        super().__init__([self.gauge], baudrate=baudrate, workdir=workdir)

    def add_rain(self, mm: float) -> None:
        self.gauge.add_rain(mm)

    def reboot(self) -> None:
        self.gauge.reboot()

    def __enter__(self) -> ModbusGauge:
        self.start()
        return self
