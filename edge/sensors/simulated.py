"""A simulated sensor that plays a scenario of (offset_s, quantity, value) steps from a start time."""

from __future__ import annotations

import csv
import io
import math
from bisect import bisect_right
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, model_validator

from edge.sensors.base import PolledSensor, SensorConfig
from edge.wire import QUALITIES, Reading


class ScenarioError(ValueError):
    """A scenario step or file that does not parse; the message names the file and line or step."""


Step = tuple[float, str, float, str]  # offset_s, quantity, value, quality


def _step(raw: object, where: str) -> Step:
    if isinstance(raw, dict):
        raw = [raw.get("offset_s"), raw.get("quantity"), raw.get("value"), raw.get("quality", "good")]
    if not isinstance(raw, list | tuple) or len(raw) not in (3, 4):
        raise ScenarioError(f"{where}: a step is [offset_s, quantity, value(, quality)], got {raw!r:.80}")
    offset, quantity, value = raw[0], raw[1], raw[2]
    quality = raw[3] if len(raw) == 4 and raw[3] not in (None, "") else "good"
    try:
        offset_f, value_f = float(offset), float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ScenarioError(
            f"{where}: offset and value must be numbers, got {offset!r:.20}, {value!r:.20}"
        ) from None
    if not (math.isfinite(offset_f) and math.isfinite(value_f)) or offset_f < 0:
        raise ScenarioError(f"{where}: offset must be >= 0 and value finite, got {offset_f}, {value_f}")
    if not isinstance(quantity, str) or not quantity.strip():
        raise ScenarioError(f"{where}: quantity must be a non-empty string, got {quantity!r:.40}")
    if quality not in QUALITIES:
        raise ScenarioError(f"{where}: quality must be one of {QUALITIES}, got {quality!r:.20}")
    return offset_f, quantity.strip(), value_f, str(quality)


def parse_steps(items: list[object], where: str) -> list[Step]:
    """Validate and sort steps by offset (stable, so same-offset steps keep file order)."""
    steps = [_step(item, f"{where} step {i}") for i, item in enumerate(items)]
    return sorted(steps, key=lambda s: s[0])


def parse_csv(text: str, where: str) -> list[Step]:
    """CSV with a header row: offset_s,quantity,value[,quality]. Lines starting with # are comments."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    if not rows or [c.strip() for c in rows[0][:3]] != ["offset_s", "quantity", "value"]:
        raise ScenarioError(f"{where}: first row must be the header offset_s,quantity,value[,quality]")
    return parse_steps([[c.strip() for c in r] for r in rows[1:]], where)  # type: ignore[misc]


def parse_yaml(text: str, where: str) -> list[Step]:
    """YAML: a list of steps, or a mapping with `steps:`."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{where}: not YAML: {exc}") from None
    if isinstance(doc, dict):
        doc = doc.get("steps")
    if not isinstance(doc, list):
        raise ScenarioError(f"{where}: expected a list of steps or a mapping with 'steps'")
    return parse_steps(doc, where)


def load_scenario(path: Path) -> list[Step]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    return parse_csv(text, str(path)) if path.suffix.lower() == ".csv" else parse_yaml(text, str(path))


def due(steps: list[Step], start: float, done: int, now: float) -> tuple[list[Step], int]:
    """Pure: the steps after index `done` whose time start+offset is at or before `now`."""
    end = bisect_right([s[0] for s in steps], now - start, lo=done)
    return steps[done:end], max(end, done)


class SimulatedConfig(SensorConfig):
    """A sensor that replays a scripted scenario (demo, tests, training exercises)."""

    kind: Literal["simulated"] = Field(description="Scenario player")
    steps: list[tuple[float, str, float] | tuple[float, str, float, str]] = Field(
        default_factory=list, description="Steps [offset_s, quantity, value(, quality)] after the start"
    )
    file: Path | None = Field(
        None, description="Scenario file: YAML list of steps or CSV offset_s,quantity,value"
    )
    start: float | None = Field(None, description="Scenario start, epoch seconds; default: the first poll")
    bus: str | None = Field(None, description="Bus name; default: one of its own")

    @model_validator(mode="after")
    def _scenario_parses(self) -> SimulatedConfig:
        if bool(self.steps) == bool(self.file):
            raise ValueError(f"sensor {self.id}: give exactly one of steps or file")
        self.scenario()
        return self

    def scenario(self) -> list[Step]:
        if self.file is not None:
            return load_scenario(self.file)
        return parse_steps(list(self.steps), f"sensor {self.id}")

    def build(self) -> PolledSensor:
        return SimulatedSensor(self.id, self.scenario(), self.start, self.bus or f"sim:{self.id}")


class SimulatedSensor:
    """Returns what is due at each poll, each reading stamped with its scripted event time."""

    def __init__(self, sensor: str, steps: list[Step], start: float | None, bus: str) -> None:
        self.sensor = sensor
        self.steps = steps
        self.start = start
        self._bus = bus
        self._done = 0

    @property
    def bus(self) -> str:
        return self._bus

    @property
    def finished(self) -> bool:
        return self._done >= len(self.steps)

    def poll(self, now: float) -> list[Reading]:
        if self.start is None:
            self.start = now
        steps, self._done = due(self.steps, self.start, self._done, now)
        return [Reading(self.sensor, q, v, self.start + off, quality=qual) for off, q, v, qual in steps]

    def close(self) -> None:
        """Nothing to release."""
