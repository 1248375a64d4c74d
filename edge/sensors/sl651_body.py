"""SL 651-2014 report bodies, pure: serial, send time, station, class, observation times and elements."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from edge.sensors.sl651_codec import Frame, SL651Error
from edge.sensors.sl651_elements import BY_IDENT, ELEMENTS, ENDINGS, FUNCTIONS, STATION_CLASSES, Element
from edge.sensors.sl651_values import ZT, ascii_value, element_value, step_seconds, to_epoch

BEIJING = 8 * 3600  # SL 651 stations keep Beijing time (UTC+8)
REPORTS = (0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x37, 0x38, 0x3A)  # bodies that carry ST/TT and elements
DRP, DRZ = 0xF4, range(0xF5, 0xFD)


@dataclass(frozen=True, slots=True)
class Observation:
    ident: str
    code: int | None
    name: str
    unit: str
    value: float | None  # None: the station sent "invalid" (all FF)
    time: float  # UTC epoch seconds


@dataclass(frozen=True, slots=True)
class Report:
    frame: Frame
    serial: int
    send_time: float
    station_class: str = ""
    observations: list[Observation] = field(default_factory=list)
    # Elements that could not be decoded ("FF0A value ABCD is not BCD"), left out: the rest still counts.
    skipped: list[str] = field(default_factory=list)


def _obs(
    element: Element | None, code: int, value: float | None, t: float, scale: float = 1.0
) -> Observation:
    if element is None:
        return Observation(f"{code:02X}", code, "未知要素", "", value, t)
    return Observation(
        element.ident, code, element.name, element.unit, None if value is None else round(value * scale, 6), t
    )


def _block(code: int, data: bytes, t: float, send_time: float) -> list[Observation]:
    """DRP: 12 one-byte HEX values in 0.1 mm; DRZn: 12 two-byte HEX values in 0.01 m. FF(FF) invalid.

    Stations disagree on what the observation time before a block means. Most stamp the end of the
    first 5-minute interval (value i at t + 5 min * i); some stamp the hour the block ends. A block cannot
    end after the frame was sent, so if it would, the time is the end of the last interval instead.
    """
    if t + 3300 > send_time + 60:
        t -= 3300
    elem = ELEMENTS[code]
    width, scale = (1, 0.1) if code == DRP else (2, 0.01)
    if len(data) != 12 * width:
        raise SL651Error(f"{elem.ident} block must be {12 * width} bytes, got {len(data)}")
    out = []
    for i in range(12):
        raw = int.from_bytes(data[i * width : (i + 1) * width], "big")
        value = None if raw == (1 << (8 * width)) - 1 else round(raw * scale, 6)
        out.append(Observation(elem.ident, code, elem.name, elem.unit, value, t + 300 * i))
    return out


def parse_hex_body(frame: Frame, tz_offset_s: int = BEIJING) -> Report:
    b = frame.body
    if len(b) < 8:
        raise SL651Error(f"station {frame.station}: body of {len(b)} bytes has no serial and send time")
    serial = int.from_bytes(b[0:2], "big")
    send_time = to_epoch(b[2:8].hex(), tz_offset_s, "send time")
    if frame.function not in REPORTS or frame.direction != "up" or frame.packet is not None:
        return Report(frame, serial, send_time)
    pos, obs, t, step = 8, [], None, 0
    station_class, skipped = "", []

    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(b):
            raise SL651Error(f"station {frame.station}: body truncated at byte {pos}, wanted {n} more")
        chunk, pos = b[pos : pos + n], pos + n
        return chunk

    while pos < len(b):
        code = take(1)[0]
        if code in (0xF0, 0xF1):
            leader = take(1)[0]
            if leader not in (code, 0x28):  # vendors send F128/F028 for F1F1/F0F0
                raise SL651Error(
                    f"station {frame.station}: bad leader {code:02X}{leader:02X} at byte {pos - 2}"
                )
            if code == 0xF1:
                take(5)  # station address, repeated
                station_class = chr(take(1)[0])
            else:
                t = to_epoch(take(5).hex(), tz_offset_s, "observation time")
            continue
        if t is None:
            raise SL651Error(f"station {frame.station}: element {code:02X} before any observation time")
        if code == DRP or code in DRZ:
            take(1)  # the length byte varies by vendor (60/C0/5C); the block size is fixed by the identifier
            obs += _block(code, take(12 if code == DRP else 24), t, send_time)
            continue
        if code == 0xFF:  # extended (user-defined) identifier: skip its second byte, keep the value raw
            code = 0xFF00 | take(1)[0]
        dd = take(1)[0]
        size, decimals = dd >> 3, dd & 0x07
        if size == 0:
            raise SL651Error(f"station {frame.station}: element {code:02X} has zero length")
        if code == 0x04:
            step = step_seconds(take(size))
            continue
        # uniform-interval report: one identifier, then as many values as fit
        n = (len(b) - pos) // size if frame.function in (0x31, 0x38) and step else 1
        for i in range(n):
            raw = take(size)
            try:
                value = element_value(code, raw, decimals)
            except SL651Error as exc:
                # The length is known, so the frame stays in step: one odd element (a vendor's own, or
                # one we decode wrongly) must not cost the water level and rain sent with it.
                skipped.append(f"{_ident(code)} {exc}")
                continue
            obs.append(_obs(ELEMENTS.get(code), code, value, t + i * step))
    return Report(frame, serial, send_time, station_class, obs, skipped)


def _ident(code: int) -> str:
    elem = ELEMENTS.get(code)
    return elem.ident if elem else f"{code:02X}"


def parse_ascii_body(frame: Frame, tz_offset_s: int = BEIJING) -> Report:
    try:
        tokens = frame.body.decode("ascii").split()
    except UnicodeDecodeError:
        raise SL651Error(f"station {frame.station}: ASCII body is not ASCII") from None
    if len(tokens) > 1 and len(tokens[0]) == 4 and len(tokens[1]) == 12:
        tokens[:2] = [tokens[0] + tokens[1]]  # some stations put a space between serial and send time
    if not tokens or len(tokens[0]) < 16:
        raise SL651Error(f"station {frame.station}: ASCII body has no serial and send time")
    head = tokens.pop(0)
    try:
        serial = int(head[0:4], 16)
    except ValueError:
        raise SL651Error(f"station {frame.station}: serial {head[0:4]!r} is not hex") from None
    send_time = to_epoch(head[4:16], tz_offset_s, "send time")
    obs: list[Observation] = []
    t: float | None = None
    station_class, step = "", 0
    skipped: list[str] = []
    i = 0
    while i < len(tokens):
        ident = tokens[i]
        arg = tokens[i + 1] if i + 1 < len(tokens) else None
        if ident == "ST":
            if arg is None or i + 2 >= len(tokens):
                raise SL651Error(f"station {frame.station}: ST without address and class")
            station_class, i = tokens[i + 2], i + 3
            continue
        if ident == "TT":
            if arg is None:
                raise SL651Error(f"station {frame.station}: TT without time")
            t, i = to_epoch(arg, tz_offset_s, "observation time"), i + 2
            continue
        if len(ident) == 5 and ident[:2] == "DR" and ident[2] in "DHN" and ident[3:].isdigit():
            step = int(ident[3:]) * {"D": 86400, "H": 3600, "N": 60}[ident[2]]
            i += 1
            continue
        if t is None:
            raise SL651Error(f"station {frame.station}: element {ident!r} before TT")
        if arg is None:
            raise SL651Error(f"station {frame.station}: element {ident!r} without value")
        elem = BY_IDENT.get(ident)
        if elem is not None and (elem.code == DRP or elem.code in DRZ):
            try:
                obs += _block(elem.code, bytes.fromhex(arg), t, send_time)
            except ValueError:
                raise SL651Error(f"station {frame.station}: {ident} block {arg!r:.30} is not hex") from None
            i += 2
            continue
        values = [arg]
        if frame.function in (0x31, 0x38) and step:
            j = i + 2
            while j < len(tokens) and tokens[j] not in BY_IDENT and tokens[j] not in ("ST", "TT"):
                values.append(tokens[j])
                j += 1
        for k, text in enumerate(values):
            try:
                value = ascii_value(ident, text)
            except ValueError:
                skipped.append(f"{ident} value {text!r:.20} is not a number")
                continue
            code = elem.code if elem else None
            obs.append(
                Observation(
                    ident,
                    code,
                    elem.name if elem else "未知要素",
                    elem.unit if elem else "",
                    value,
                    t + k * step,
                )
            )
        i += 1 + len(values)
    return Report(frame, serial, send_time, station_class, obs, skipped)


def parse_report(frame: Frame, tz_offset_s: int = BEIJING) -> Report:
    if frame.encoding == "ascii":
        return parse_ascii_body(frame, tz_offset_s)
    return parse_hex_body(frame, tz_offset_s)


def _iso(epoch: float, tz_offset_s: int) -> str:
    sign = "+" if tz_offset_s >= 0 else "-"
    hh, mm = divmod(abs(tz_offset_s) // 60, 60)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch + tz_offset_s)) + f"{sign}{hh:02d}:{mm:02d}"


def describe(frame: Frame, tz_offset_s: int = BEIJING) -> dict[str, Any]:
    """Everything a field technician needs from one frame, JSON-ready; times in the station's zone."""
    doc: dict[str, Any] = {
        "encoding": frame.encoding,
        "direction": frame.direction,
        "function": f"{frame.function:02X}",
        "function_name": FUNCTIONS.get(frame.function, ""),
        "centre": frame.centre,
        "station": frame.station,
        "password": frame.password,
        "end": ENDINGS.get(frame.end, f"{frame.end:02X}"),
        "crc_ok": frame.crc_ok,
    }
    if frame.packet:
        doc["packet"] = {"total": frame.packet[0], "number": frame.packet[1]}
    try:
        report = parse_report(frame, tz_offset_s)
    except SL651Error as exc:
        doc["error"] = str(exc)
        return doc
    doc["serial"] = report.serial
    doc["send_time"] = _iso(report.send_time, tz_offset_s)
    if report.station_class:
        doc["station_class"] = report.station_class
        doc["station_class_name"] = STATION_CLASSES.get(report.station_class, "")
    if report.observations:
        doc["observation_time"] = _iso(report.observations[0].time, tz_offset_s)
    doc["elements"] = [
        {
            "id": ob.ident,
            "code": None if ob.code is None else f"{ob.code:02X}",
            "name": ob.name,
            "unit": ob.unit,
            "value": ob.value,
            "time": _iso(ob.time, tz_offset_s),
            # a technician reads the alarm bits off the hex, not off a decimal number
            **({"bits": f"{int(ob.value):08X}"} if ob.code == ZT and ob.value is not None else {}),
        }
        for ob in report.observations
    ]
    if report.skipped:
        doc["skipped"] = report.skipped
    return doc
