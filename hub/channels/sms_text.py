"""SMS text (3GPP TS 23.038): the GSM 7-bit default alphabet and UCS-2, septet packing, and splitting a text into parts."""

from __future__ import annotations

# GSM 03.38 default alphabet; index = septet value. ESC (0x1B) is a placeholder here.
GSM7 = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXT = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D, "]": 0x3E}
GSM7_EXT.update({"|": 0x40, "€": 0x65})
GSM7_INDEX = {ch: i for i, ch in enumerate(GSM7) if ch != "\x1b"}
GSM7_EXT_REV = {v: k for k, v in GSM7_EXT.items()}
_ESC = 0x1B

DCS_GSM7 = 0x00
DCS_8BIT = 0x04
DCS_UCS2 = 0x08

# Payload limits: single message, and per part when a 6-octet concatenation header takes room.
GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
MAX_PARTS = 255


class PduError(ValueError):
    """A PDU could not be decoded, or a message cannot be encoded; the message says why."""


def gsm7_encodable(text: str) -> bool:
    return all(ch in GSM7_INDEX or ch in GSM7_EXT for ch in text)


def _gsm7_septets(text: str) -> list[list[int]]:
    """Septets per character (extension characters take two and must not be split)."""
    return [[GSM7_INDEX[ch]] if ch in GSM7_INDEX else [_ESC, GSM7_EXT[ch]] for ch in text]


def _chunk(units: list[list[int]], limit: int) -> list[list[int]]:
    parts: list[list[int]] = [[]]
    for unit in units:
        if len(parts[-1]) + len(unit) > limit:
            parts.append([])
        parts[-1].extend(unit)
    return parts


def _ucs2_units(text: str) -> list[list[int]]:
    """UTF-16 code units per character: a surrogate pair stays together in one part."""
    out = []
    for ch in text:
        data = ch.encode("utf-16-be")
        out.append([int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)])
    return out


def split_text(text: str) -> tuple[int, list[list[int]]]:
    """Choose the alphabet and split into parts: (dcs, septets or UTF-16 units per part)."""
    if not text:
        raise PduError("empty message text")
    if gsm7_encodable(text):
        dcs, units, single, part = DCS_GSM7, _gsm7_septets(text), GSM7_SINGLE, GSM7_PART
    else:
        dcs, units, single, part = DCS_UCS2, _ucs2_units(text), UCS2_SINGLE, UCS2_PART
    total = sum(len(u) for u in units)
    parts = [[x for u in units for x in u]] if total <= single else _chunk(units, part)
    if len(parts) > MAX_PARTS:
        raise PduError(f"message too long: {len(parts)} parts (max {MAX_PARTS})")
    return dcs, parts


def pack_septets(septets: list[int], udh: bytes) -> bytes:
    """Pack septets LSB-first after the header, padded with fill bits to a septet boundary."""
    start = -(-len(udh) * 8 // 7) * 7
    acc = int.from_bytes(udh, "little")
    for k, s in enumerate(septets):
        acc |= s << (start + 7 * k)
    return acc.to_bytes(-(-(start + 7 * len(septets)) // 8), "little")


def unpack_septets(data: bytes, udh_len: int, count: int) -> list[int]:
    start = -(-udh_len * 8 // 7) * 7
    acc = int.from_bytes(data, "little")
    return [(acc >> (start + 7 * k)) & 0x7F for k in range(count)]


def gsm7_text(septets: list[int]) -> str:
    out, escaped = [], False
    for s in septets:
        if escaped:
            out.append(GSM7_EXT_REV.get(s, " "))
            escaped = False
        elif s == _ESC:
            escaped = True
        else:
            out.append(GSM7[s])
    return "".join(out)
