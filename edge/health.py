"""Gateway health as readings: battery, signal, outbox depth and drops, free disk, CPU temperature."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from edge.wire import Reading

log = logging.getLogger(__name__)


class HealthConfig(BaseModel):
    """Where the gateway finds its own vital signs; a source that is absent is simply not reported."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    period_s: float = Field(default=60.0, gt=0, description="How often health readings are taken, seconds")
    battery_file: Path | None = Field(
        default=None,
        description="File holding the battery voltage, e.g. /sys/class/power_supply/BAT0/voltage_now",
    )
    battery_scale: float = Field(
        default=1e-6, description="Multiply the battery file's number by this to get V"
    )
    signal_file: Path | None = Field(
        default=None, description="File holding the 4G signal in dBm (written by a modem script, e.g. mmcli)"
    )
    cpu_temp_file: Path | None = Field(
        default=Path("/sys/class/thermal/thermal_zone0/temp"), description="CPU temperature file"
    )
    cpu_temp_scale: float = Field(default=0.001, description="Multiply the temperature file's number by this")
    disk_path: Path | None = Field(
        default=None, description="Filesystem whose free space is reported; default: the outbox's"
    )


def read_number(path: Path) -> float:
    """The first whitespace-separated token of a small file, as a float (raises OSError/ValueError)."""
    return float(path.read_text(encoding="utf-8").split()[0])


class HealthProbe:
    """Reads the configured sources; each missing source is logged once, then skipped quietly."""

    def __init__(self, gateway: str, cfg: HealthConfig, disk_path: Path) -> None:
        self.sensor = f"{gateway}-health"
        self.cfg = cfg
        self.disk_path = cfg.disk_path or disk_path
        self._failing: set[str] = set()

    def _file(self, quantity: str, path: Path | None, scale: float) -> list[tuple[str, float]]:
        if path is None:
            return []
        try:
            value = read_number(path) * scale
        except (OSError, ValueError, IndexError) as exc:
            if quantity not in self._failing:
                log.info("health source unavailable quantity=%s path=%s error=%s", quantity, path, exc)
                self._failing.add(quantity)
            return []
        self._failing.discard(quantity)
        return [(quantity, value)]

    def read(self, now: float, outbox_depth: int, outbox_dropped: int) -> list[Reading]:
        values: list[tuple[str, float]] = []
        values += self._file("battery_v", self.cfg.battery_file, self.cfg.battery_scale)
        values += self._file("signal_dbm", self.cfg.signal_file, 1.0)
        values += [("outbox_depth", float(outbox_depth)), ("outbox_dropped", float(outbox_dropped))]
        try:
            usage = shutil.disk_usage(self.disk_path)
            values.append(("disk_free_pct", 100.0 * usage.free / usage.total if usage.total else 0.0))
            self._failing.discard("disk_free_pct")
        except OSError as exc:
            if "disk_free_pct" not in self._failing:
                log.warning("health disk unreadable path=%s error=%s", self.disk_path, exc)
                self._failing.add("disk_free_pct")
        values += self._file("cpu_temp_c", self.cfg.cpu_temp_file, self.cfg.cpu_temp_scale)
        return [Reading(self.sensor, q, round(v, 3), now, source="health") for q, v in values]
