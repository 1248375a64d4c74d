"""The sensor driver contract: a closed config with `kind`, polled and listening drivers, SensorError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from edge.wire import Reading


class SensorError(Exception):
    """A device did not answer, answered garbage, or failed its checksum. The message names the sensor."""


class SensorConfig(BaseModel):
    """Fields every sensor has; each kind subclasses this with `kind: Literal[...]` and its own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Sensor id, unique in the deployment, e.g. fs-hp01-rg1")
    site: str = Field(description="Hazard point (site) id the sensor watches, e.g. fs-hp01")
    period_s: float = Field(60.0, gt=0, description="Polling or expected reporting period, seconds")


@runtime_checkable
class PolledSensor(Protocol):
    """Asked for values on a schedule. `poll` blocks (serial I/O) and raises SensorError."""

    @property
    def bus(self) -> str:
        """Devices on the same bus are polled one after another, never at once."""
        ...

    def poll(self, now: float) -> list[Reading]: ...

    def close(self) -> None: ...


@runtime_checkable
class ListeningSensor(Protocol):
    """Pushes values when they arrive (SL651 TCP centre, LoRa UART, ChirpStack MQTT)."""

    def start(self, emit: Callable[[Reading], None]) -> None: ...

    def stop(self) -> None: ...

    def alive(self) -> bool:
        """False once the thread that receives has ended: the agent's watchdog check then fails."""
        ...
