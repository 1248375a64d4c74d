"""Sensor kinds: one registry line per module. An unknown kind is a config error at start-up."""

from __future__ import annotations

from edge.sensors.ascii import AsciiConfig
from edge.sensors.base import SensorConfig
from edge.sensors.chirpstack import ChirpStackConfig
from edge.sensors.gnss import GnssConfig
from edge.sensors.lora_uart import LoraUartConfig
from edge.sensors.modbus import ModbusConfig
from edge.sensors.simulated import SimulatedConfig
from edge.sensors.sl651 import SL651Config

# kind -> config model; each model has build() returning a PolledSensor or ListeningSensor.
SENSOR_KINDS: dict[str, type[SensorConfig]] = {}
SENSOR_KINDS["modbus"] = ModbusConfig
SENSOR_KINDS["simulated"] = SimulatedConfig
SENSOR_KINDS["sl651"] = SL651Config
SENSOR_KINDS["chirpstack"] = ChirpStackConfig
SENSOR_KINDS["lora_uart"] = LoraUartConfig
SENSOR_KINDS["ascii"] = AsciiConfig
SENSOR_KINDS["gnss"] = GnssConfig
