"""Modbus RTU devices over RS485 (pymodbus), driven by register-map profiles; counters become increments."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ModbusException

from edge.sensors import counter, counter_store
from edge.sensors.base import PolledSensor, SensorConfig, SensorError
from edge.sensors.modbus_map import (
    ModbusMapError,
    Profile,
    RegisterSpec,
    decode_raw,
    engineering,
    load_profile,
    read_plan,
    resultant_deg,
    slice_for,
)
from edge.wire import Reading

log = logging.getLogger(__name__)


class ModbusConfig(SensorConfig):
    """One Modbus RTU device on a serial RS485 bus, read through a register-map profile."""

    kind: Literal["modbus"] = Field(description="Modbus RTU device")
    port: str = Field(description="Serial device of the RS485 adapter, e.g. /dev/ttyUSB0")
    unit: int = Field(1, ge=1, le=247, description="Modbus device address (slave id) on the bus")
    profile: str = Field(
        description="Register map: a shipped profile name (rain_tipping_bucket, crack_float32, tilt_dual_axis, "
        "soil_moisture, water_level) or a path to a YAML profile"
    )
    baudrate: int = Field(9600, description="Line speed; most field sensors ship at 9600 8N1")
    parity: Literal["N", "E", "O"] = Field("N", description="Parity: N, E or O")
    stopbits: Literal[1, 2] = Field(1, description="Stop bits")
    timeout_s: float = Field(1.0, gt=0, le=30, description="How long to wait for an answer, seconds")
    retries: int = Field(1, ge=0, le=5, description="Retries per request before the poll fails")
    bus: str | None = Field(None, description="Bus name for serialized polling; defaults to the port")
    state_file: Path | None = Field(
        None,
        description="Where counter baselines are kept across restarts (e.g. /var/lib/ews/fs-hp01-rg1.json); "
        "without it, rain counted while the gateway was down is not sent",
    )

    @model_validator(mode="after")
    def _profile_loads(self) -> ModbusConfig:
        try:
            load_profile(self.profile)  # an unknown or broken profile is a start-up error
        except ModbusMapError as exc:
            raise ValueError(f"sensor {self.id}: {exc}") from None
        return self

    def build(self) -> PolledSensor:
        return ModbusSensor(self, load_profile(self.profile))


def decode_values(
    sensor: str, profile: Profile, blocks: dict[tuple[int, int], list[int]], now: float
) -> tuple[list[Reading], dict[str, int]]:
    """Pure: readings for the non-counter registers, and the raw counts of the counter registers."""
    readings: list[Reading] = []
    counts: dict[str, int] = {}
    good: dict[str, float] = {}
    for spec in profile.registers:
        raw = decode_raw(slice_for(spec, blocks), spec)
        if spec.counter:
            counts[spec.quantity] = int(raw)
            continue
        value, quality = engineering(raw, spec)
        readings.append(Reading(sensor, spec.quantity, value, now, quality=quality))
        if quality == "good":
            good[spec.quantity] = value
    res = profile.resultant
    if res and all(q in good for q in res.of):
        readings.append(Reading(sensor, res.quantity, resultant_deg(good[res.of[0]], good[res.of[1]]), now))
    return readings, counts


class ModbusSensor:
    """Driver: opens the port for each poll (several devices share one adapter), reads, closes."""

    def __init__(self, cfg: ModbusConfig, profile: Profile) -> None:
        self.cfg = cfg
        self.profile = profile
        self._plan = read_plan(profile.registers)
        self._counters: dict[str, counter.CounterState] = counter_store.load(cfg.state_file)
        chatty = logging.getLogger("pymodbus")
        if chatty.level == logging.NOTSET:
            # pymodbus logs every timeout at ERROR with hex dumps; the agent logs a dead device once per
            # outage from our SensorError. Set the level explicitly to see pymodbus' own logging again.
            chatty.setLevel(logging.CRITICAL)

    @property
    def bus(self) -> str:
        return self.cfg.bus or self.cfg.port

    def _client(self) -> ModbusSerialClient:
        return ModbusSerialClient(
            self.cfg.port,
            baudrate=self.cfg.baudrate,
            parity=self.cfg.parity,
            stopbits=self.cfg.stopbits,
            timeout=self.cfg.timeout_s,
            retries=self.cfg.retries,
            name=self.cfg.id,
        )

    def read_blocks(self) -> dict[tuple[int, int], list[int]]:
        """One transaction per contiguous block. Raises SensorError naming the sensor and register."""
        sid, client = self.cfg.id, self._client()
        try:
            if not client.connect():
                raise SensorError(f"sensor {sid}: cannot open {self.cfg.port}")
            blocks: dict[tuple[int, int], list[int]] = {}
            for function, address, count in self._plan:
                read = client.read_holding_registers if function == 3 else client.read_input_registers
                try:
                    rr = read(address, count=count, device_id=self.cfg.unit)
                except ModbusException as exc:
                    raise SensorError(
                        f"sensor {sid}: unit {self.cfg.unit} fc {function} reg {address:#06x}: {exc}"
                    ) from None
                if rr.isError() or len(rr.registers) < count:
                    raise SensorError(
                        f"sensor {sid}: unit {self.cfg.unit} fc {function} reg {address:#06x}: "
                        f"error response {rr}"
                    )
                blocks[(function, address)] = list(rr.registers[:count])
            return blocks
        except OSError as exc:
            raise SensorError(f"sensor {sid}: {self.cfg.port}: {exc}") from None
        finally:
            client.close()

    def poll(self, now: float) -> list[Reading]:
        blocks = self.read_blocks()
        try:
            readings, counts = decode_values(self.cfg.id, self.profile, blocks, now)
        except ModbusMapError as exc:
            raise SensorError(f"sensor {self.cfg.id}: {exc}") from None
        counters = [s for s in self.profile.registers if s.counter]
        for spec in counters:
            readings.append(self._increment(spec, counts[spec.quantity], now))
        if counters:
            counter_store.save(self.cfg.state_file, self._counters)
        return readings

    def _increment(self, spec: RegisterSpec, raw: int, now: float) -> Reading:
        state, inc = counter.step(
            self._counters.get(spec.quantity),
            raw,
            now,
            modulus=spec.modulus,
            scale=spec.scale,
            max_rate_per_h=spec.max_rate_per_h,
        )
        self._counters[spec.quantity] = state
        if inc.quality != "good":
            log.warning(
                "counter discontinuity sensor=%s quantity=%s why=%s raw=%d value=%s",
                self.cfg.id,
                spec.quantity,
                inc.why,
                raw,
                inc.value,
            )
        return Reading(self.cfg.id, spec.quantity, inc.value, now, quality=inc.quality)

    def close(self) -> None:
        """Nothing held between polls."""
