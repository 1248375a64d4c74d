"""Sensor kinds: one registry line per module. An unknown kind is a config error at start-up."""

from __future__ import annotations

from edge.sensors.base import SensorConfig
from edge.sensors.modbus import ModbusConfig
from edge.sensors.simulated import SimulatedConfig
from edge.sensors.sl651 import SL651Config

# kind -> config model; each model has build() returning a PolledSensor or ListeningSensor.
SENSOR_KINDS: dict[str, type[SensorConfig]] = {}
SENSOR_KINDS["modbus"] = ModbusConfig
SENSOR_KINDS["simulated"] = SimulatedConfig
SENSOR_KINDS["sl651"] = SL651Config
