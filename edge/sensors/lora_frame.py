"""Our framing for UART LoRa modules (EBYTE E22/E32), pure: sync, length, seq, CRC-16, ack, dedupe (docs/wire.md)."""

from __future__ import annotations

from dataclasses import dataclass

from edge.sensors.sl651_codec import crc16

SYNC = b"\xeb\x90"
VERSION = 1
DATA, ACK = 0, 1
FLAG_FIRST = 0x08  # first frame after the node booted: its sequence numbers start again
MAX_PAYLOAD = 200  # E22 sub-packets are 240 bytes at most; leave room for the header and fixed-mode prefix
HEADER = 8  # sync(2) ver/type(1) node(2) seq(2) len(1)

# Quantity codes of DATA records. rain_total_mm is the node's cumulative rain since boot (the gateway
# differences it, so a frame lost for good loses no rain); rain_mm is an increment.
QUANTITIES: dict[int, str] = {
    1: "rain_mm",
    2: "crack_mm",
    3: "tilt_deg",
    4: "tilt_x_deg",
    5: "tilt_y_deg",
    6: "disp_mm",
    7: "water_level_m",
    8: "soil_moisture_pct",
    9: "battery_v",
    10: "signal_dbm",
    11: "rain_total_mm",
}
CODES = {q: c for c, q in QUANTITIES.items()}


class LoraFrameError(ValueError):
    """Bytes that are not a valid frame or payload; the message says what."""


@dataclass(frozen=True, slots=True)
class LoraFrame:
    type: int
    node: int
    seq: int
    payload: bytes
    first: bool = False


@dataclass(frozen=True, slots=True)
class Record:
    quantity: str
    value: float


def encode(frame: LoraFrame) -> bytes:
    if len(frame.payload) > MAX_PAYLOAD:
        raise LoraFrameError(f"payload of {len(frame.payload)} bytes exceeds {MAX_PAYLOAD}")
    head = bytes([VERSION << 4 | (FLAG_FIRST if frame.first else 0) | frame.type])
    body = head + frame.node.to_bytes(2, "big") + frame.seq.to_bytes(2, "big") + bytes([len(frame.payload)])
    body += frame.payload
    return SYNC + body + crc16(body).to_bytes(2, "big")


def decode(buf: bytes) -> LoraFrame:
    """Exactly one frame."""
    if len(buf) < HEADER + 2 or buf[:2] != SYNC:
        raise LoraFrameError("frame must start with sync EB 90 and hold at least 10 bytes")
    ver, flags, ftype = buf[2] >> 4, buf[2] & 0x08, buf[2] & 0x03
    if ver != VERSION or ftype not in (DATA, ACK):
        raise LoraFrameError(f"unsupported version {ver} or type {ftype}")
    n = buf[7]
    if len(buf) != HEADER + n + 2:
        raise LoraFrameError(f"length byte says {n} payload bytes, frame has {len(buf) - HEADER - 2}")
    if crc16(buf[2:-2]) != int.from_bytes(buf[-2:], "big"):
        raise LoraFrameError(
            f"CRC mismatch: frame says {buf[-2:].hex().upper()}, computed {crc16(buf[2:-2]):04X}"
        )
    return LoraFrame(
        ftype, int.from_bytes(buf[3:5], "big"), int.from_bytes(buf[5:7], "big"), bytes(buf[8:-2]), bool(flags)
    )


def encode_payload(age_s: int, records: list[Record]) -> bytes:
    """age_s (u16, saturating) then per record: code u8, decimal exponent s8, value s32 (value = raw * 10^exp)."""
    out = bytearray(min(max(age_s, 0), 0xFFFF).to_bytes(2, "big"))
    for r in records:
        exp = -3
        raw = int(round(r.value * 1000))
        while not -(2**31) <= raw < 2**31:
            exp += 1
            raw = int(round(r.value / 10**exp))
        out += bytes([CODES[r.quantity], exp & 0xFF]) + raw.to_bytes(4, "big", signed=True)
    return bytes(out)


def decode_payload(payload: bytes) -> tuple[int, list[Record]]:
    if len(payload) < 2 or (len(payload) - 2) % 6:
        raise LoraFrameError(f"DATA payload must be 2 + 6*n bytes, got {len(payload)}")
    records = []
    for pos in range(2, len(payload), 6):
        code, exp = payload[pos], int.from_bytes(payload[pos + 1 : pos + 2], "big", signed=True)
        if code not in QUANTITIES or not -9 <= exp <= 9:
            raise LoraFrameError(f"record at byte {pos}: unknown quantity code {code} or exponent {exp}")
        raw = int.from_bytes(payload[pos + 2 : pos + 6], "big", signed=True)
        records.append(Record(QUANTITIES[code], round(raw * 10.0**exp, 9)))
    return int.from_bytes(payload[:2], "big"), records


class Scanner:
    """Byte stream to frames; garbage and bad frames are reported and skipped; resyncs on the next sync.

    `trailer` bytes follow every frame when the module appends them (E22 'RSSI byte' option: 1).
    """

    def __init__(self, trailer: int = 0) -> None:
        self._buf = bytearray()
        self.trailer = trailer

    def feed(self, data: bytes) -> list[tuple[LoraFrame, bytes] | LoraFrameError]:
        self._buf += data
        out: list[tuple[LoraFrame, bytes] | LoraFrameError] = []
        while True:
            at = self._buf.find(SYNC)
            if at < 0:
                if len(self._buf) > 1:
                    out.append(LoraFrameError(f"skipped {len(self._buf) - 1} bytes of garbage"))
                    del self._buf[:-1]
                break
            if at:
                out.append(LoraFrameError(f"skipped {at} bytes of garbage"))
                del self._buf[:at]
            if len(self._buf) < HEADER:
                break
            if self._buf[7] > MAX_PAYLOAD or self._buf[2] >> 4 != VERSION:
                out.append(LoraFrameError(f"implausible header {bytes(self._buf[:8]).hex().upper()}"))
                del self._buf[:1]
                continue
            total = HEADER + self._buf[7] + 2
            if len(self._buf) < total + self.trailer:
                later = self._complete_frame_after(1)
                if later > 0:  # noise posing as a long frame must not hold back the real ones behind it
                    out.append(LoraFrameError(f"skipped {later} bytes of a frame that never completed"))
                    del self._buf[:later]
                    continue
                break
            try:
                frame = decode(bytes(self._buf[:total]))
            except LoraFrameError as exc:
                out.append(exc)
                del self._buf[:1]  # the real frame may start inside this one
                continue
            out.append((frame, bytes(self._buf[total : total + self.trailer])))
            del self._buf[: total + self.trailer]
        return out

    def _complete_frame_after(self, pos: int) -> int:
        buf = bytes(self._buf)
        while (at := buf.find(SYNC, pos)) >= 0:
            if at + HEADER <= len(buf):
                total = HEADER + buf[at + 7] + 2
                if at + total <= len(buf):
                    try:
                        decode(buf[at : at + total])
                        return at
                    except LoraFrameError:
                        pass
            pos = at + 1
        return -1


class Dedupe:
    """Per node: the last `window` sequence numbers seen. A FIRST frame (node rebooted) starts a new window."""

    def __init__(self, window: int = 128) -> None:
        self.window = window
        self._seen: dict[int, list[int]] = {}

    def is_new(self, frame: LoraFrame) -> bool:
        seen = self._seen.get(frame.node, [])
        if frame.first and not (seen and seen[-1] == frame.seq):
            return True  # a reboot, not a retransmission of the boot frame we already took
        return frame.seq not in seen

    def remember(self, frame: LoraFrame) -> None:
        """Called once the frame's readings are safely emitted."""
        seen = self._seen.setdefault(frame.node, [])
        if frame.first and not (seen and seen[-1] == frame.seq):
            seen.clear()
        seen.append(frame.seq)
        del seen[: -self.window]
