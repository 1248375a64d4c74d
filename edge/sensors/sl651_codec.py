"""SL 651-2014 framing, pure: HEX/BCD and ASCII frames, CRC-16/MODBUS, a resyncing stream scanner."""

from __future__ import annotations

from dataclasses import dataclass

from edge.sensors.sl651_elements import ENDINGS, SOH_ASCII, STX, SYN

HEX_SOH = b"\x7e\x7e"
MAX_BODY = 4095  # 12-bit length field


class SL651Error(ValueError):
    """A frame or byte stream that is not valid SL 651; the message says what and where."""


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF); SL 651 sends it high byte first."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


@dataclass(frozen=True, slots=True)
class Frame:
    """One link-layer frame. `body` is the text between STX/SYN and the end character."""

    encoding: str  # "hex" or "ascii"
    direction: str  # "up" (station to centre) or "down"
    centre: int
    station: str  # 10 digits
    password: str  # 4 hex digits
    function: int
    body: bytes
    end: int
    crc_ok: bool
    packet: tuple[int, int] | None = None  # (total, number) for SYN multi-packet frames
    raw: bytes = b""


def _hexdigits(raw: bytes, what: str) -> str:
    text = raw.hex().upper()
    if not text.isdigit():
        raise SL651Error(f"{what} is not BCD: {text}")
    return text


def hex_frame_length(buf: bytes) -> int:
    """Total length of the HEX frame at the start of `buf` (needs 14 bytes); SL651Error if implausible."""
    if buf[:2] != HEX_SOH:
        raise SL651Error("HEX frame must start with 7E7E")
    flag, length = buf[11] >> 4, ((buf[11] & 0x0F) << 8) | buf[12]
    if flag not in (0x0, 0x8):
        raise SL651Error(f"up/down flag {flag:X} is neither 0 (up) nor 8 (down)")
    if buf[13] not in (STX, SYN):
        raise SL651Error(f"byte 13 is {buf[13]:02X}, expected STX 02 or SYN 16")
    return 14 + length + 3


def parse_hex(buf: bytes, *, check_crc: bool = True) -> Frame:
    """Parse exactly one HEX/BCD frame."""
    if len(buf) < 17:
        raise SL651Error(f"HEX frame too short ({len(buf)} bytes)")
    total = hex_frame_length(buf)
    if len(buf) != total:
        raise SL651Error(f"HEX frame length field says {total} bytes, got {len(buf)}")
    up = buf[11] >> 4 == 0
    centre, station_raw = (buf[2], buf[3:8]) if up else (buf[7], buf[2:7])
    end = buf[total - 3]
    if end not in ENDINGS:
        raise SL651Error(f"end character {end:02X} is not ETX/ETB/ENQ/EOT/ACK/NAK/ESC")
    crc_ok = crc16(buf[: total - 2]) == int.from_bytes(buf[total - 2 :], "big")
    if check_crc and not crc_ok:
        raise SL651Error(
            f"CRC mismatch: frame says {buf[total - 2 :].hex().upper()}, computed {crc16(buf[: total - 2]):04X}"
        )
    body = buf[14 : total - 3]
    packet = None
    if buf[13] == SYN:
        if len(body) < 3:
            raise SL651Error("SYN frame without packet count/number")
        packet = ((body[0] << 4) | (body[1] >> 4), ((body[1] & 0x0F) << 8) | body[2])
        body = body[3:]
    return Frame(
        "hex",
        "up" if up else "down",
        centre,
        _hexdigits(station_raw, "station address"),
        buf[8:10].hex().upper(),
        buf[10],
        body,
        end,
        crc_ok,
        packet,
        bytes(buf),
    )


_HEXCHARS = frozenset(b"0123456789ABCDEFabcdef")


def ascii_frame_length(buf: bytes) -> int:
    """Total length of the ASCII frame at the start of `buf` (needs 24 bytes)."""
    if buf[0] != SOH_ASCII:
        raise SL651Error("ASCII frame must start with SOH 01")
    head = buf[1:23]
    if not all(c in _HEXCHARS for c in head):
        raise SL651Error("ASCII header must be hex characters")
    if head[18:19] not in (b"0", b"8"):
        raise SL651Error("ASCII up/down flag must be 0 or 8")
    if buf[23] not in (STX, SYN):
        raise SL651Error(f"byte 23 is {buf[23]:02X}, expected STX or SYN")
    return 24 + int(head[19:22], 16) + 5


def parse_ascii(buf: bytes, *, check_crc: bool = True) -> Frame:
    """Parse exactly one ASCII frame: every header field as hex characters, CRC as 4 hex characters."""
    if len(buf) < 29:
        raise SL651Error(f"ASCII frame too short ({len(buf)} bytes)")
    total = ascii_frame_length(buf)
    if len(buf) != total:
        raise SL651Error(f"ASCII frame length field says {total} bytes, got {len(buf)}")
    head = buf[1:23].decode("ascii").upper()
    up = head[18] == "0"
    centre_s, station = (head[0:2], head[2:12]) if up else (head[10:12], head[0:10])
    if not station.isdigit():
        raise SL651Error(f"station address {station} is not decimal")
    end = buf[total - 5]
    if end not in ENDINGS:
        raise SL651Error(f"end character {end:02X} is not a valid ending")
    try:
        sent_crc = int(buf[total - 4 :].decode("ascii"), 16)
    except (UnicodeDecodeError, ValueError):
        raise SL651Error(f"CRC {buf[total - 4 :]!r} is not 4 hex characters") from None
    crc_ok = crc16(buf[: total - 4]) == sent_crc
    if check_crc and not crc_ok:
        raise SL651Error(f"CRC mismatch: frame says {sent_crc:04X}, computed {crc16(buf[: total - 4]):04X}")
    body = buf[24 : total - 5]
    packet = None
    if buf[23] == SYN:
        if len(body) < 6 or not all(c in _HEXCHARS for c in body[:6]):
            raise SL651Error("SYN frame without packet count/number")
        packet = (int(body[:3], 16), int(body[3:6], 16))
        body = body[6:]
    return Frame(
        "ascii",
        "up" if up else "down",
        int(centre_s, 16),
        station,
        head[12:16],
        int(head[16:18], 16),
        body,
        end,
        crc_ok,
        packet,
        bytes(buf),
    )


def parse_frame(buf: bytes, *, check_crc: bool = True) -> Frame:
    if buf[:2] == HEX_SOH:
        return parse_hex(buf, check_crc=check_crc)
    if buf[:1] == bytes([SOH_ASCII]):
        return parse_ascii(buf, check_crc=check_crc)
    raise SL651Error(f"not an SL 651 frame: starts with {buf[:4].hex().upper()}")


class Scanner:
    """Splits a byte stream into frames; skips garbage and resyncs on the next start after a bad frame."""

    def __init__(self, *, check_crc: bool = True, max_buffer: int = 65536) -> None:
        self._buf = bytearray()
        self.check_crc = check_crc
        self.max_buffer = max_buffer

    def feed(self, data: bytes) -> list[Frame | SL651Error]:
        """Frames found, in order, and an SL651Error for each stretch of garbage or bad frame."""
        self._buf += data
        out: list[Frame | SL651Error] = []
        skipped = 0
        while True:
            start = self._next_start()
            if start < 0:
                skipped += len(self._buf)
                keep = 1 if self._buf[-1:] == b"\x7e" else 0
                skipped -= keep
                del self._buf[: len(self._buf) - keep]
                break
            skipped += start
            del self._buf[:start]
            need = 14 if self._buf[0] == 0x7E else 24
            if len(self._buf) < need:
                break
            try:
                total = (hex_frame_length if self._buf[0] == 0x7E else ascii_frame_length)(bytes(self._buf))
            except SL651Error:
                del self._buf[:1]
                skipped += 1
                continue
            if len(self._buf) < total:
                # A noise "header" can claim up to 4 KB and would hold back the real frames behind it
                # (a DTU waiting for its ack sends only a few hundred bytes): skip it once one is complete.
                later = self._complete_frame_after(1)
                if later > 0 or len(self._buf) > self.max_buffer:
                    cut = later if later > 0 else 1
                    del self._buf[:cut]
                    skipped += cut
                    continue
                break
            candidate = bytes(self._buf[:total])
            try:
                frame = parse_frame(candidate, check_crc=self.check_crc)
            except SL651Error as exc:
                if skipped:
                    out.append(SL651Error(f"skipped {skipped} bytes of garbage"))
                    skipped = 0
                out.append(exc)
                del self._buf[:1]  # a real frame may start inside the bad one
                continue
            if skipped:
                out.append(SL651Error(f"skipped {skipped} bytes of garbage"))
                skipped = 0
            out.append(frame)
            del self._buf[:total]
        if skipped:
            out.append(SL651Error(f"skipped {skipped} bytes of garbage"))
        return out

    def flush(self) -> list[SL651Error]:
        """End of input: whatever is still buffered is a truncated frame."""
        rest, self._buf = bytes(self._buf), bytearray()
        return [SL651Error(f"truncated frame at end of input: {rest[:16].hex().upper()}...")] if rest else []

    def _complete_frame_after(self, pos: int) -> int:
        """Offset of the first complete, valid frame starting at or after `pos`, or -1."""
        buf = bytes(self._buf)
        while pos < len(buf):
            starts = [i for i in (buf.find(HEX_SOH, pos), buf.find(bytes([SOH_ASCII]), pos)) if i >= 0]
            if not starts:
                return -1
            at = min(starts)
            try:
                total = (hex_frame_length if buf[at] == 0x7E else ascii_frame_length)(buf[at:])
                if at + total <= len(buf):
                    parse_frame(buf[at : at + total], check_crc=True)
                    return at
            except (SL651Error, IndexError):
                pass
            pos = at + 1
        return -1

    def _next_start(self) -> int:
        hex_at = self._buf.find(HEX_SOH)
        soh_at = self._buf.find(bytes([SOH_ASCII]))
        found = [i for i in (hex_at, soh_at) if i >= 0]
        return min(found) if found else -1
