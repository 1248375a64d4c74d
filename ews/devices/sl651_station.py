"""A simulated SL 651 telemetry station: builds real frames, sends them over TCP or a pty, waits for M2 acks."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import serial  # type: ignore[import-untyped]

from edge.sensors.sl651_codec import Scanner, SL651Error
from edge.sensors.sl651_elements import BY_IDENT
from edge.sensors.sl651_encode import bcd_time, encode

# Data definition (bytes, decimals) the standard gives these elements (Appendix C, N(x,y)).
FORMATS = {
    "PJ": (3, 1),
    "PN05": (3, 1),
    "P1": (3, 1),
    "PD": (3, 1),
    "PT": (4, 1),
    "Z": (4, 3),
    "VT": (2, 2),
    "M10": (2, 1),
    "M20": (2, 1),
    "M40": (2, 1),
    "ZT": (4, 0),  # status and alarm bits: sent as a 32-bit HEX field, not BCD
}


def local_tuple(epoch: float, tz_offset_s: int = 8 * 3600) -> tuple[int, int, int, int, int, int]:
    t = time.gmtime(epoch + tz_offset_s)
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


def bcd(value: float, size: int, decimals: int) -> bytes:
    n = int(round(abs(value) * 10**decimals))
    if value < 0:
        return b"\xff" + bytes.fromhex(f"{n:0{2 * (size - 1)}d}")
    return bytes.fromhex(f"{n:0{2 * size}d}")


def hex_body(
    serial_no: int,
    sent: float,
    station: str,
    cls: str,
    observed: float,
    elements: list[tuple[str, float]],
    *,
    leaders: bytes = b"\xf1\xf1",
    obs_leader: bytes = b"\xf0\xf0",
) -> bytes:
    body = serial_no.to_bytes(2, "big") + bcd_time(local_tuple(sent))
    body += leaders + bytes.fromhex(station) + cls.encode()
    body += obs_leader + bcd_time(local_tuple(observed), seconds=False)
    for ident, value in elements:
        size, dec = FORMATS[ident]
        data = int(value).to_bytes(size, "big") if ident == "ZT" else bcd(value, size, dec)
        body += bytes([BY_IDENT[ident].code, size << 3 | dec]) + data
    return body


def ascii_body(
    serial_no: int, sent: float, station: str, cls: str, observed: float, elements: list[tuple[str, float]]
) -> bytes:
    parts = [
        f"{serial_no:04X}" + bcd_time(local_tuple(sent)).hex(),
        "ST",
        station,
        cls,
        "TT",
        bcd_time(local_tuple(observed), seconds=False).hex(),
    ]
    for ident, value in elements:
        _size, dec = FORMATS[ident]
        parts += [ident, f"{int(value):08X}" if ident == "ZT" else f"{value:.{dec}f}"]
    return " ".join(parts).encode()


class Station:
    """One station. `report(...)` returns the frame; `send(...)` transmits and waits for the centre's ack."""

    def __init__(
        self, station: str, *, centre: int = 1, password: str = "A000", cls: str = "P", encoding: str = "hex"
    ):
        self.station, self.centre, self.password, self.cls, self.encoding = (
            station,
            centre,
            password,
            cls,
            encoding,
        )
        self.serial_no = 0

    def report(
        self,
        function: int,
        observed: float,
        elements: list[tuple[str, float]],
        sent: float | None = None,
        **kw: bytes,
    ) -> bytes:
        self.serial_no = (self.serial_no + 1) & 0xFFFF
        sent = observed + 20 if sent is None else sent
        if self.encoding == "ascii":
            body = ascii_body(self.serial_no, sent, self.station, self.cls, observed, elements)
        else:
            body = hex_body(self.serial_no, sent, self.station, self.cls, observed, elements, **kw)
        return encode(
            self.encoding,
            up=True,
            centre=self.centre,
            station=self.station,
            password=self.password,
            function=function,
            body=body,
        )


def await_ack(read: Callable[[], bytes], timeout: float = 3.0) -> bytes | None:
    """The first downlink frame the centre sends back, as raw bytes."""
    scanner, deadline = Scanner(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in scanner.feed(read()):
            if not isinstance(item, SL651Error) and item.direction == "down":
                return item.raw
    return None


class TcpLink:
    """A 4G DTU's TCP connection to the centre."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=3)
        self.sock.settimeout(0.1)

    def send(self, frame: bytes, wait_ack: bool = True) -> bytes | None:
        self.sock.sendall(frame)
        return await_ack(self._read) if wait_ack else None

    def _read(self) -> bytes:
        try:
            return self.sock.recv(4096)
        except TimeoutError:
            return b""

    def close(self) -> None:
        self.sock.close()


class SerialLink:
    """A station wired to the gateway's serial port (here the device end of a pty pair)."""

    def __init__(self, port: str, baudrate: int = 9600) -> None:
        self.port = serial.Serial(port, baudrate=baudrate, timeout=0.1)

    def send(self, frame: bytes, wait_ack: bool = True) -> bytes | None:
        self.port.write(frame)
        return await_ack(lambda: self.port.read(4096)) if wait_ack else None

    def close(self) -> None:
        self.port.close()
