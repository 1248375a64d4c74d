"""Test-only sensor drivers for the agent's tests (never registered in the shipped registry).

The real protocol drivers belong to edge/sensors and have their own tests on ptys; the agent's
contract is only the PolledSensor/ListeningSensor protocol, so these small drivers exercise it with
exactly the failures the agent must survive (timeouts, driver bugs, garbage output).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from edge.sensors.base import SensorConfig, SensorError
from edge.wire import Reading


class CountingSensor:
    """Each poll yields one reading whose value counts the polls (so gaps are visible)."""

    def __init__(
        self, sensor: str, bus: str = "bus0", quantity: str = "rain_mm", period_s: float = 0.05
    ) -> None:
        self.sensor = sensor
        self.quantity = quantity
        self.period_s = period_s
        self._bus = bus
        self.polls = 0
        self.active = threading.Lock()  # shared between sensors of one bus to catch overlapping polls
        self.overlaps = 0
        self.delay_s = 0.0

    @property
    def bus(self) -> str:
        return self._bus

    def poll(self, now: float) -> list[Reading]:
        if not self.active.acquire(blocking=False):
            self.overlaps += 1
        else:
            try:
                if self.delay_s:
                    time.sleep(self.delay_s)
            finally:
                self.active.release()
        self.polls += 1
        return [Reading(self.sensor, self.quantity, float(self.polls), now)]

    def close(self) -> None:
        """Nothing to release."""


class ScriptedSensor:
    """Plays a list of behaviours, one per poll: a list of readings, an exception, or raw garbage."""

    def __init__(self, sensor: str, script: list[Any], bus: str = "bus0", period_s: float = 0.02) -> None:
        self.sensor = sensor
        self.script = script
        self.period_s = period_s
        self._bus = bus
        self.polls = 0

    @property
    def bus(self) -> str:
        return self._bus

    def poll(self, now: float) -> Any:
        step = self.script[min(self.polls, len(self.script) - 1)]
        self.polls += 1
        if isinstance(step, BaseException):
            raise step
        if callable(step):
            return step(now)
        return step

    def close(self) -> None:
        """Nothing to release."""


class PushSensor:
    """A listening driver: a thread that emits one reading every interval until stopped."""

    def __init__(self, sensor: str, interval_s: float = 0.02) -> None:
        self.sensor = sensor
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, emit: Callable[[Reading], None]) -> None:
        def run() -> None:
            n = 0
            while not self._stop.wait(self.interval_s):
                n += 1
                emit(Reading(self.sensor, "water_level_m", 1.0 + n / 1000, time.time()))

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


class CounterConfig(SensorConfig):
    """Config kind for CountingSensor, registered only inside a test (monkeypatch) or the child process."""

    kind: Literal["test-counter"] = Field(description="Test-only counting sensor")
    bus: str = Field(default="bus0", description="Bus name")
    quantity: str = Field(default="rain_mm", description="Quantity reported")

    def build(self) -> CountingSensor:
        return CountingSensor(self.id, self.bus, self.quantity, self.period_s)


def sensor_error(sensor: str) -> SensorError:
    return SensorError(f"sensor {sensor}: no answer within 1.0 s (Modbus timeout)")
