"""SL 651-2014 frames out, pure: HEX/BCD and ASCII encoders and the centre's M2 confirmation."""

from __future__ import annotations

from edge.sensors.sl651_codec import HEX_SOH, MAX_BODY, Frame, SL651Error, crc16
from edge.sensors.sl651_elements import ESC, ETX, SOH_ASCII, STX


def encode_hex(
    *, up: bool, centre: int, station: str, password: str, function: int, body: bytes, end: int = ETX
) -> bytes:
    """A HEX/BCD frame with STX, the length field and the CRC (high byte first)."""
    if len(body) > MAX_BODY:
        raise SL651Error("body longer than 4095 bytes")
    addr = bytes([centre]) + bytes.fromhex(station) if up else bytes.fromhex(station) + bytes([centre])
    flag = (0x0 if up else 0x8) << 12 | len(body)
    frame = HEX_SOH + addr + bytes.fromhex(password) + bytes([function]) + flag.to_bytes(2, "big")
    frame += bytes([STX]) + body + bytes([end])
    return frame + crc16(frame).to_bytes(2, "big")


def encode_ascii(
    *, up: bool, centre: int, station: str, password: str, function: int, body: bytes, end: int = ETX
) -> bytes:
    addr = f"{centre:02X}{station}" if up else f"{station}{centre:02X}"
    head = f"{addr}{password}{function:02X}{'0' if up else '8'}{len(body):03X}".encode()
    frame = bytes([SOH_ASCII]) + head + bytes([STX]) + body + bytes([end])
    return frame + f"{crc16(frame):04X}".encode()


def encode(
    encoding: str,
    *,
    up: bool,
    centre: int,
    station: str,
    password: str,
    function: int,
    body: bytes,
    end: int = ETX,
) -> bytes:
    """A frame in the link's encoding: "ascii", else HEX/BCD."""
    encoder = encode_ascii if encoding == "ascii" else encode_hex
    return encoder(
        up=up, centre=centre, station=station, password=password, function=function, body=body, end=end
    )


def bcd_time(epoch_local: tuple[int, int, int, int, int, int], seconds: bool = True) -> bytes:
    y, mo, d, h, mi, s = epoch_local
    digits = f"{y % 100:02d}{mo:02d}{d:02d}{h:02d}{mi:02d}" + (f"{s:02d}" if seconds else "")
    return bytes.fromhex(digits)


def ack(frame: Frame, serial: int, send_time: bytes, end: int = ESC) -> bytes:
    """M2 confirmation from the centre: same function code and serial number, downlink, ESC keeps the link."""
    body = serial.to_bytes(2, "big") + send_time
    if frame.encoding == "ascii":
        body = f"{serial:04X}{send_time.hex()}".encode()
    return encode(
        frame.encoding,
        up=False,
        centre=frame.centre,
        station=frame.station,
        password=frame.password,
        function=frame.function,
        body=body,
        end=end,
    )
