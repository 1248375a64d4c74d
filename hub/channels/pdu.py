"""Pure SMS PDU codec (3GPP TS 23.040): SMS-SUBMIT, SMS-DELIVER and status reports, with concatenation; the text alphabets are in sms_text.py."""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass

from hub.channels.sms_text import DCS_GSM7, DCS_UCS2, gsm7_text, pack_septets, split_text, unpack_septets
from hub.channels.sms_text import PduError as PduError  # the codec's error, raised by both modules

_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


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
        address = gsm7_text(unpack_septets(raw, 0, ndigits * 4 // 7))
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
        return -(-len(udh) * 8 // 7) + len(units), pack_septets(units, udh)
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
        return gsm7_text(unpack_septets(ud, udh_len, count)), concat
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
