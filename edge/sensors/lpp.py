"""Cayenne LPP payloads, pure: [channel, type, value...] records, incl. the extended types of common libraries."""

from __future__ import annotations

from dataclasses import dataclass


class LppError(ValueError):
    """A payload that is not valid Cayenne LPP; the message gives the byte offset."""


@dataclass(frozen=True, slots=True)
class LppType:
    name: str  # the name The Things Stack uses in decoded_payload (`{name}_{channel}`)
    size: int  # bytes per axis
    signed: bool
    scale: float  # value per bit
    axes: tuple[str, ...] = ("",)
    unit: str = ""


# myDevices Cayenne LPP reference types, plus the extended set of the ElectronicCats / TTN Arduino libraries.
TYPES: dict[int, LppType] = {
    0: LppType("digital_input", 1, False, 1),
    1: LppType("digital_output", 1, False, 1),
    2: LppType("analog_input", 2, True, 0.01),
    3: LppType("analog_output", 2, True, 0.01),
    100: LppType("generic_sensor", 4, False, 1),
    101: LppType("luminosity", 2, False, 1, unit="lux"),
    102: LppType("presence", 1, False, 1),
    103: LppType("temperature", 2, True, 0.1, unit="°C"),
    104: LppType("relative_humidity", 1, False, 0.5, unit="%"),
    113: LppType("accelerometer", 2, True, 0.001, ("x", "y", "z"), "G"),
    115: LppType("barometric_pressure", 2, False, 0.1, unit="hPa"),
    116: LppType("voltage", 2, False, 0.01, unit="V"),
    117: LppType("current", 2, False, 0.001, unit="A"),
    118: LppType("frequency", 4, False, 1, unit="Hz"),
    120: LppType("percentage", 1, False, 1, unit="%"),
    121: LppType("altitude", 2, True, 1, unit="m"),
    125: LppType("concentration", 2, False, 1, unit="ppm"),
    128: LppType("power", 2, False, 1, unit="W"),
    130: LppType("distance", 4, False, 0.001, unit="m"),
    131: LppType("energy", 4, False, 0.001, unit="kWh"),
    132: LppType("direction", 2, False, 1, unit="°"),
    133: LppType("unixtime", 4, False, 1, unit="s"),
    134: LppType("gyrometer", 2, True, 0.01, ("x", "y", "z"), "°/s"),
    135: LppType("colour", 1, False, 1, ("r", "g", "b")),
    142: LppType("switch", 1, False, 1),
}
GPS = 136  # latitude, longitude: 3 bytes signed 0.0001°; altitude 3 bytes signed 0.01 m


@dataclass(frozen=True, slots=True)
class LppValue:
    channel: int
    type: int
    name: str
    key: str  # `{name}_{channel}`, plus `_{axis}` for multi-axis types: what config maps to a quantity
    value: float
    unit: str


def _int(data: bytes, signed: bool) -> int:
    return int.from_bytes(data, "big", signed=signed)


def decode(payload: bytes) -> list[LppValue]:
    """All records in order. Raises LppError on an unknown type or a truncated record."""
    out: list[LppValue] = []
    pos = 0
    while pos < len(payload):
        if pos + 2 > len(payload):
            raise LppError(f"byte {pos}: record header truncated")
        channel, code = payload[pos], payload[pos + 1]
        pos += 2
        if code == GPS:
            if pos + 9 > len(payload):
                raise LppError(f"byte {pos}: gps record truncated")
            for i, (axis, scale, unit) in enumerate(
                (("latitude", 1e-4, "°"), ("longitude", 1e-4, "°"), ("altitude", 0.01, "m"))
            ):
                raw = _int(payload[pos + 3 * i : pos + 3 * i + 3], True)
                out.append(
                    LppValue(channel, code, "gps", f"gps_{channel}_{axis}", round(raw * scale, 6), unit)
                )
            pos += 9
            continue
        t = TYPES.get(code)
        if t is None:
            raise LppError(f"byte {pos - 1}: unknown LPP type {code} on channel {channel}")
        need = t.size * len(t.axes)
        if pos + need > len(payload):
            raise LppError(
                f"byte {pos}: {t.name} on channel {channel} needs {need} bytes, {len(payload) - pos} left"
            )
        for i, axis in enumerate(t.axes):
            raw = _int(payload[pos + i * t.size : pos + (i + 1) * t.size], t.signed)
            key = f"{t.name}_{channel}" + (f"_{axis}" if axis else "")
            out.append(LppValue(channel, code, t.name, key, round(raw * t.scale, 6), t.unit))
        pos += need
    return out
