"""Vendor sensors that answer line-oriented ASCII queries (e.g. `X=+00.430\r\nY=-00.084\r\n`), by regex or profile."""

from __future__ import annotations

import codecs
import math
import re
import time
from typing import Literal

import serial  # type: ignore[import-untyped]
from pydantic import Field, model_validator

from edge.sensors.base import PolledSensor, SensorConfig, SensorError
from edge.sensors.modbus_map import resultant_deg
from edge.wire import Reading

NUMBER = r"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"

# Shipped profiles: query to send (escapes allowed) and a regex whose named groups are quantities.
PROFILES: dict[str, tuple[str, str]] = {
    # Dual-axis inclinometers that print both axes on request, e.g. "X=+00.430\r\nY=-00.084\r\n"
    "xy_tilt": ("", rf"X\s*=\s*(?P<tilt_x_deg>{NUMBER})\s*[\r\n]+\s*Y\s*=\s*(?P<tilt_y_deg>{NUMBER})"),
    # Crack meters that answer "R\r\n" with "D=+0012.34mm\r\n"
    "crack_d": ("R\\r\\n", rf"D\s*=\s*(?P<crack_mm>{NUMBER})\s*mm"),
}


class AsciiError(ValueError):
    """A response that does not match the sensor's pattern, or holds no finite number."""


def parse_response(text: str, pattern: re.Pattern[str], scale: dict[str, float]) -> dict[str, float]:
    """Pure: quantity -> value from the first match of `pattern` in `text`."""
    m = pattern.search(text)
    if m is None:
        raise AsciiError(f"no match for {pattern.pattern!r} in {text[-80:]!r}")
    out: dict[str, float] = {}
    for name, raw in m.groupdict().items():
        if raw is None:
            continue
        try:
            value = float(raw)
        except ValueError:
            raise AsciiError(f"{name}: {raw!r:.30} is not a number") from None
        if not math.isfinite(value):
            raise AsciiError(f"{name}: {raw!r:.30} is not finite")
        out[name] = round(value * scale.get(name, 1.0), 9)
    if not out:
        raise AsciiError(f"pattern {pattern.pattern!r} matched but captured no values")
    return out


class AsciiConfig(SensorConfig):
    """A serial sensor that answers a query with text; named regex groups become readings."""

    kind: Literal["ascii"] = Field(description="Line-oriented ASCII sensor")
    port: str = Field(description="Serial device, e.g. /dev/ttyUSB2")
    baudrate: int = Field(9600, description="Line speed")
    profile: Literal["xy_tilt", "crack_d"] | None = Field(None, description="Shipped query and pattern")
    query: str | None = Field(
        None, description="Text sent to ask for a value (\\r\\n escapes allowed); '' to listen"
    )
    pattern: str | None = Field(None, description="Regex; each named group (?P<quantity>...) is a reading")
    scale: dict[str, float] = Field(
        default_factory=dict, description="Quantity -> factor applied to the number"
    )
    resultant: str | None = Field(
        None, description="If set (e.g. tilt_deg): combined angle of tilt_x_deg/tilt_y_deg"
    )
    timeout_s: float = Field(1.0, gt=0, le=30, description="How long to wait for a matching answer")
    bus: str | None = Field(None, description="Bus name for serialized polling; default: the port")

    @model_validator(mode="after")
    def _pattern(self) -> AsciiConfig:
        if (self.profile is None) == (self.pattern is None):
            raise ValueError(f"sensor {self.id}: give exactly one of profile or pattern")
        try:
            compiled = re.compile(self.regex())
        except re.error as exc:
            raise ValueError(f"sensor {self.id}: bad pattern: {exc}") from None
        if not compiled.groupindex:
            raise ValueError(f"sensor {self.id}: pattern needs named groups (?P<quantity>...)")
        return self

    def regex(self) -> str:
        return self.pattern if self.pattern is not None else PROFILES[str(self.profile)][1]

    def query_bytes(self) -> bytes:
        text = (
            self.query if self.query is not None else PROFILES[str(self.profile)][0] if self.profile else ""
        )
        return codecs.decode(text, "unicode_escape").encode("latin-1")

    def build(self) -> PolledSensor:
        return AsciiSensor(self)


class AsciiSensor:
    """Driver: open, flush stale bytes, send the query, read until the pattern matches or time runs out."""

    def __init__(self, cfg: AsciiConfig) -> None:
        self.cfg = cfg
        self._re = re.compile(cfg.regex())

    @property
    def bus(self) -> str:
        return self.cfg.bus or self.cfg.port

    def poll(self, now: float) -> list[Reading]:
        text = self._exchange()
        try:
            values = parse_response(text, self._re, self.cfg.scale)
        except AsciiError as exc:
            raise SensorError(f"sensor {self.cfg.id}: {exc}") from None
        readings = [Reading(self.cfg.id, q, v, now) for q, v in values.items()]
        if self.cfg.resultant and {"tilt_x_deg", "tilt_y_deg"} <= values.keys():
            tilt = resultant_deg(values["tilt_x_deg"], values["tilt_y_deg"])
            readings.append(Reading(self.cfg.id, self.cfg.resultant, tilt, now))
        return readings

    def _exchange(self) -> str:
        try:
            with serial.serial_for_url(self.cfg.port, baudrate=self.cfg.baudrate, timeout=0.05) as port:
                port.reset_input_buffer()
                query = self.cfg.query_bytes()
                if query:
                    port.write(query)
                buf = b""
                deadline = time.monotonic() + self.cfg.timeout_s  # a timeout, not event time
                while time.monotonic() < deadline:
                    buf += port.read(256)
                    # only complete lines: a number cut off mid-read ("-00.0" of "-00.084") must not match
                    text = buf[: buf.rfind(b"\n") + 1].decode("ascii", errors="replace")
                    if self._re.search(text):
                        return text
        except (OSError, serial.SerialException) as exc:
            raise SensorError(f"sensor {self.cfg.id}: {self.cfg.port}: {exc}") from None
        if not buf:
            raise SensorError(f"sensor {self.cfg.id}: no answer within {self.cfg.timeout_s}s")
        end = buf.rfind(b"\n") + 1
        if end < len(buf):  # as above: a line still open at the timeout may hold a number cut short
            cut = buf[end:][-40:].decode("ascii", errors="replace")
            raise SensorError(f"sensor {self.cfg.id}: answer cut off at {self.cfg.timeout_s}s: {cut!r}")
        return buf.decode("ascii", errors="replace")

    def close(self) -> None:
        """Nothing held between polls."""
