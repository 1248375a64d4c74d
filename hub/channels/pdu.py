"""Pure SMS PDU codec (3GPP TS 23.040/23.038): SMS-SUBMIT and SMS-DELIVER, GSM 7-bit and UCS-2, concatenation."""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass

# GSM 03.38 default alphabet; index = septet value. ESC (0x1B) is a placeholder here.
_GSM7 = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXT = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D, "]": 0x3E}
_GSM7_EXT.update({"|": 0x40, "€": 0x65})
_GSM7_INDEX = {ch: i for i, ch in enumerate(_GSM7) if ch != "\x1b"}
_GSM7_EXT_REV = {v: k for k, v in _GSM7_EXT.items()}
_ESC = 0x1B

DCS_GSM7 = 0x00
DCS_8BIT = 0x04
DCS_UCS2 = 0x08

# Payload limits: single message, and per part when a 6-octet concatenation header takes room.
GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
MAX_PARTS = 255

_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


class PduError(ValueError):
    """A PDU could not be decoded, or a message cannot be encoded; the message says why."""


@dataclass(frozen=True, slots=True)
class EncodedPdu:
    """One part ready for AT+CMGS: the hex PDU (with SMSC prefix) and the TPDU length in octets."""

    hex: str
    tpdu_length: int


@dataclass(frozen=True, slots=True)
class Concat:
    """Concatenation header (IEI 0x00 or 0x08): reference, total parts, this part's 1-based number."""

    ref: int
    total: int
    seq: int


@dataclass(frozen=True, slots=True)
class SmsPdu:
    """A decoded SMS-SUBMIT or SMS-STATUS-REPORT (address = recipient) or SMS-DELIVER (address = sender)."""

    kind: str  # "submit", "deliver" or "status"
    address: str
    text: str
    dcs: int
    concat: Concat | None
    timestamp: float | None = None  # deliver: service-centre time, UTC epoch seconds
    status_report: bool = False  # submit: TP-SRR requested
    validity: int | None = None  # submit: relative TP-VP octet
    reference: int | None = None  # status: TP-MR of the message it reports on
    status: int | None = None  # status: TP-ST; below 0x20 delivered, 0x20-0x3F still trying, else failed


def normalize_number(raw: str) -> str:
    """Strip spaces and dashes; raise PduError unless it is a plausible phone number (digits, optional +)."""
    number = re.sub(r"[\s\-()]", "", raw)
    if not _NUMBER.match(number):
        raise PduError(f"invalid phone number {raw!r}")
    return number


def gsm7_encodable(text: str) -> bool:
    return all(ch in _GSM7_INDEX or ch in _GSM7_EXT for ch in text)


def _gsm7_septets(text: str) -> list[list[int]]:
    """Septets per character (extension characters take two and must not be split)."""
    return [[_GSM7_INDEX[ch]] if ch in _GSM7_INDEX else [_ESC, _GSM7_EXT[ch]] for ch in text]


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


def _pack_septets(septets: list[int], udh: bytes) -> bytes:
    """Pack septets LSB-first after the header, padded with fill bits to a septet boundary."""
    start = -(-len(udh) * 8 // 7) * 7
    acc = int.from_bytes(udh, "little")
    for k, s in enumerate(septets):
        acc |= s << (start + 7 * k)
    return acc.to_bytes(-(-(start + 7 * len(septets)) // 8), "little")


def _unpack_septets(data: bytes, udh_len: int, count: int) -> list[int]:
    start = -(-udh_len * 8 // 7) * 7
    acc = int.from_bytes(data, "little")
    return [(acc >> (start + 7 * k)) & 0x7F for k in range(count)]


def _gsm7_text(septets: list[int]) -> str:
    out, escaped = [], False
    for s in septets:
        if escaped:
            out.append(_GSM7_EXT_REV.get(s, " "))
            escaped = False
        elif s == _ESC:
            escaped = True
        else:
            out.append(_GSM7[s])
    return "".join(out)


def _encode_address(number: str) -> bytes:
    """Address field: digit count, type (0x91 international, 0x81 unknown/national), swapped BCD."""
    digits = number.lstrip("+")
    toa = 0x91 if number.startswith("+") else 0x81
    padded = digits + ("F" if len(digits) % 2 else "")
    bcd = bytes(int(padded[i + 1] + padded[i], 16) for i in range(0, len(padded), 2))
    return bytes([len(digits), toa]) + bcd


def _swapped_digits(data: bytes) -> str:
    return "".join(f"{b & 0x0F:X}{b >> 4:X}" for b in data).rstrip("F")


def _decode_address(buf: bytes, pos: int) -> tuple[str, int]:
    ndigits, toa = buf[pos], buf[pos + 1]
    nbytes = (ndigits + 1) // 2
    raw = buf[pos + 2 : pos + 2 + nbytes]
    if len(raw) != nbytes:
        raise PduError("truncated address")
    if toa & 0x70 == 0x50:  # alphanumeric sender (e.g. a carrier name), GSM 7-bit packed
        address = _gsm7_text(_unpack_septets(raw, 0, ndigits * 4 // 7))
    else:
        address = ("+" if toa & 0x70 == 0x10 else "") + _swapped_digits(raw)
    return address, pos + 2 + nbytes


def _smsc_prefix(smsc: str | None) -> bytes:
    if not smsc:
        return b"\x00"  # use the SMSC stored in the SIM
    addr = _encode_address(normalize_number(smsc))
    return bytes([len(addr) - 1]) + addr[1:]


def _user_data(dcs: int, units: list[int], concat: Concat | None) -> tuple[int, bytes]:
    """(TP-UDL, TP-UD) for one part; UDL counts septets for GSM 7-bit, octets otherwise."""
    udh = b"" if concat is None else bytes([5, 0x00, 3, concat.ref & 0xFF, concat.total, concat.seq])
    if dcs == DCS_GSM7:
        return -(-len(udh) * 8 // 7) + len(units), _pack_septets(units, udh)
    body = b"".join(u.to_bytes(2, "big") for u in units)
    return len(udh) + len(body), udh + body


def validity_octet(seconds: float) -> int:
    """Relative TP-VP: 5-minute steps to 12 h, 30-minute steps to 24 h, then days, then weeks."""
    minutes = max(5, int(seconds // 60))
    if minutes <= 720:
        return -(-minutes // 5) - 1
    if minutes <= 1440:
        return 143 + -(-(minutes - 720) // 30)
    days = -(-minutes // 1440)
    return 166 + days if days <= 30 else min(255, 192 + -(-days // 7))


def encode_submit(
    number: str,
    text: str,
    *,
    ref: int = 0,
    validity_s: float | None = 86400.0,
    status_report: bool = False,
    smsc: str | None = None,
) -> list[EncodedPdu]:
    """SMS-SUBMIT PDUs for one message; more than one part shares concatenation reference `ref`."""
    dest = normalize_number(number)
    dcs, parts = split_text(text)
    prefix = _smsc_prefix(smsc)
    out = []
    for i, units in enumerate(parts, start=1):
        concat = Concat(ref & 0xFF, len(parts), i) if len(parts) > 1 else None
        first = 0x01 | (0x10 if validity_s is not None else 0) | (0x20 if status_report else 0)
        first |= 0x40 if concat else 0
        udl, ud = _user_data(dcs, units, concat)
        tpdu = bytes([first, 0x00]) + _encode_address(dest) + bytes([0x00, dcs])
        if validity_s is not None:
            tpdu += bytes([validity_octet(validity_s)])
        tpdu += bytes([udl]) + ud
        out.append(EncodedPdu((prefix + tpdu).hex().upper(), len(tpdu)))
    return out


def _bcd(value: int) -> int:
    return ((value % 10) << 4) | (value // 10)


def _encode_scts(timestamp: float, tz_quarters: int) -> bytes:
    t = time.gmtime(int(timestamp) + tz_quarters * 900)
    tz = _bcd(abs(tz_quarters)) | (0x08 if tz_quarters < 0 else 0)
    return bytes(
        _bcd(v) for v in (t.tm_year % 100, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)
    ) + bytes([tz])


def _decode_scts(data: bytes) -> float:
    vals = [(b & 0x0F) * 10 + (b >> 4) for b in data[:6]]
    tzb = data[6]
    quarters = (tzb & 0x07) * 10 + (tzb >> 4)
    if tzb & 0x08:
        quarters = -quarters
    year = vals[0] + (2000 if vals[0] < 80 else 1900)
    local = calendar.timegm((year, vals[1], vals[2], vals[3], vals[4], vals[5], 0, 0, 0))
    return float(local - quarters * 900)


def encode_deliver(
    sender: str, text: str, timestamp: float, *, ref: int = 0, tz_quarters: int = 32, smsc: str | None = None
) -> list[str]:
    """SMS-DELIVER PDUs (hex, with SMSC prefix) as a modem stores received messages; used by the simulator."""
    dcs, parts = split_text(text)
    prefix = _smsc_prefix(smsc)
    out = []
    for i, units in enumerate(parts, start=1):
        concat = Concat(ref & 0xFF, len(parts), i) if len(parts) > 1 else None
        first = 0x04 | (0x40 if concat else 0)  # TP-MMS set: no more messages waiting
        udl, ud = _user_data(dcs, units, concat)
        tpdu = bytes([first]) + _encode_address(normalize_number(sender)) + bytes([0x00, dcs])
        tpdu += _encode_scts(timestamp, tz_quarters) + bytes([udl]) + ud
        out.append((prefix + tpdu).hex().upper())
    return out


def _alphabet(dcs: int) -> int:
    if dcs & 0xC0 == 0x00:  # general data coding group
        return dcs & 0x0C
    if dcs & 0xF0 == 0xF0:
        return dcs & 0x04
    if dcs & 0xF0 == 0xE0:  # message waiting group, UCS-2
        return DCS_UCS2
    return DCS_GSM7


def _decode_user_data(first: int, dcs: int, udl: int, ud: bytes) -> tuple[str, Concat | None]:
    udh_len, concat = 0, None
    if first & 0x40:
        if not ud:
            raise PduError("UDHI set but no user data")
        udh_len = ud[0] + 1
        concat = _parse_udh(ud[1:udh_len])
    alphabet = _alphabet(dcs)
    if alphabet == DCS_GSM7:
        count = udl - -(-udh_len * 8 // 7)
        if len(ud) * 8 < -(-udh_len * 8 // 7) * 7 + count * 7:
            raise PduError("user data shorter than TP-UDL")
        return _gsm7_text(_unpack_septets(ud, udh_len, count)), concat
    body = ud[udh_len:udl]
    if len(body) != udl - udh_len:
        raise PduError("user data shorter than TP-UDL")
    if alphabet == DCS_UCS2:
        return body.decode("utf-16-be", errors="replace"), concat
    return body.decode("latin-1"), concat


def _parse_udh(udh: bytes) -> Concat | None:
    pos = 0
    while pos + 1 < len(udh):
        iei, ln = udh[pos], udh[pos + 1]
        value = udh[pos + 2 : pos + 2 + ln]
        if iei == 0x00 and ln == 3:
            return Concat(value[0], value[1], value[2])
        if iei == 0x08 and ln == 4:
            return Concat(int.from_bytes(value[:2], "big"), value[2], value[3])
        pos += 2 + ln
    return None


def decode(pdu_hex: str, *, with_smsc: bool = True) -> SmsPdu:
    """Decode an SMS-DELIVER or SMS-SUBMIT PDU given in hex (as AT+CMGL/AT+CMGS carry it)."""
    try:
        buf = bytes.fromhex(pdu_hex.strip())
    except ValueError as exc:
        raise PduError(f"not hex: {exc}") from None
    try:
        return _decode(buf, with_smsc)
    except (IndexError, ValueError):
        raise PduError("truncated or malformed PDU") from None


def _decode(buf: bytes, with_smsc: bool) -> SmsPdu:
    pos = 1 + buf[0] if with_smsc else 0
    first = buf[pos]
    mti = first & 0x03
    if mti == 0x00:
        address, pos = _decode_address(buf, pos + 1)
        dcs = buf[pos + 1]
        ts = _decode_scts(buf[pos + 2 : pos + 9])
        udl = buf[pos + 9]
        text, concat = _decode_user_data(first, dcs, udl, buf[pos + 10 :])
        return SmsPdu("deliver", address, text, dcs, concat, timestamp=ts)
    if mti == 0x01:
        address, pos = _decode_address(buf, pos + 2)
        dcs = buf[pos + 1]
        pos += 2
        vpf, validity = (first >> 3) & 0x03, None
        if vpf == 0x02:
            validity, pos = buf[pos], pos + 1
        elif vpf in (0x01, 0x03):
            pos += 7
        text, concat = _decode_user_data(first, dcs, buf[pos], buf[pos + 1 :])
        return SmsPdu(
            "submit", address, text, dcs, concat, status_report=bool(first & 0x20), validity=validity
        )
    if mti == 0x02:
        reference = buf[pos + 1]
        address, pos = _decode_address(buf, pos + 2)
        done = _decode_scts(buf[pos + 7 : pos + 14])  # discharge time; the SCTS before it is submission
        return SmsPdu(
            "status", address, "", 0, None, timestamp=done, reference=reference, status=buf[pos + 14]
        )
    raise PduError(f"unsupported PDU type TP-MTI={mti}")
