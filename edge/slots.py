"""One sensor driver in the agent: its failure bookkeeping, how it is driven, and checks on its output."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edge.wire import QUALITIES, SOURCES, Reading

if TYPE_CHECKING:
    from edge.config import GatewayConfig

DEFAULT_PERIOD_S = 60.0


@dataclass
class SensorSlot:
    """One driver and its failure bookkeeping (log once when it goes down, once when it is back)."""

    id: str
    driver: Any
    period_s: float
    up: bool = True
    errors: int = 0
    rejected: int = 0
    rejecting: bool = False


def invalid_reading(r: Any) -> str | None:
    """Why a driver's output is not a usable Reading, or None."""
    if not isinstance(r, Reading):
        return f"not a Reading: {type(r).__name__}"
    if not isinstance(r.sensor, str) or not r.sensor or not isinstance(r.quantity, str) or not r.quantity:
        return "sensor and quantity must be non-empty strings"
    if isinstance(r.value, bool) or not isinstance(r.value, int | float) or not math.isfinite(r.value):
        return f"value {r.value!r:.30} is not a finite number"
    if isinstance(r.time, bool) or not isinstance(r.time, int | float) or not math.isfinite(r.time):
        return f"time {r.time!r:.30} is not a finite number"
    if r.quality not in QUALITIES or r.source not in SOURCES:
        return f"unknown quality/source {r.quality!r}/{r.source!r}"
    return None


def is_listening(driver: Any) -> bool:
    """Push drivers have start/stop and no poll (ListeningSensor); everything else is polled."""
    return not hasattr(driver, "poll") and hasattr(driver, "start")


def driver_id(driver: Any, index: int) -> str:
    for attr in ("sensor", "id", "sensor_id"):
        value = getattr(driver, attr, None)
        if isinstance(value, str) and value:
            return value
    cfg = getattr(driver, "cfg", None)
    return str(getattr(cfg, "id", None) or f"{type(driver).__name__}#{index}")


def build_slots(
    cfg: GatewayConfig, given: Sequence[Any] | None, clock: Callable[[], float]
) -> list[SensorSlot]:
    """The agent's slots: drivers built from the config's sensors, or the drivers given (tests, demo)."""
    by_id = {c.id: c for c in cfg.sensors}
    slots: list[SensorSlot] = []
    if given is None:
        for c in cfg.sensors:
            try:
                # Listening drivers stamp frames without their own time on the agent's clock
                # (the demo's compressed storm clock, or the gateway's NTP/GPS clock).
                build = c.build  # type: ignore[attr-defined]
                driver = build(clock=clock) if "clock" in inspect.signature(build).parameters else build()
            except Exception as exc:
                raise SlotError(f"sensor {c.id} ({getattr(c, 'kind', '?')}): cannot build: {exc}") from exc
            slots.append(SensorSlot(c.id, driver, c.period_s))
        return slots
    for i, driver in enumerate(given):
        sid = driver_id(driver, i)
        period = by_id[sid].period_s if sid in by_id else getattr(driver, "period_s", DEFAULT_PERIOD_S)
        slots.append(SensorSlot(sid, driver, float(period)))
    return slots


class SlotError(RuntimeError):
    """A sensor's driver cannot be built from its config."""
