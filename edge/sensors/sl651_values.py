"""SL 651-2014 value fields, pure: BCD numbers, the ZT status bits, ASCII numbers, times and time steps."""

from __future__ import annotations

import calendar
import math

from edge.sensors.sl651_codec import SL651Error

ZT = 0x45  # status and alarm bits (Appendix C): a 32-bit field sent as HEX, not a BCD number


def to_epoch(digits: str, tz_offset_s: int, what: str) -> float:
    """yyMMddHHmm[ss] local station time to UTC epoch seconds."""
    try:
        parts = [int(digits[i : i + 2]) for i in range(0, len(digits), 2)]
        y, mo, d, h, mi = parts[:5]
        s = parts[5] if len(parts) > 5 else 0
        if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 60):
            raise ValueError
        return calendar.timegm((2000 + y, mo, d, h, mi, s, 0, 0, 0)) - tz_offset_s
    except (ValueError, IndexError, OverflowError):
        raise SL651Error(f"{what} {digits!r} is not a valid yyMMddHHmm[ss] time") from None


def bcd_value(raw: bytes, decimals: int) -> float | None:
    """BCD number with implied decimals; all FF is 'invalid'; a leading FF byte means negative."""
    if raw and all(b == 0xFF for b in raw):
        return None
    negative = len(raw) > 1 and raw[0] == 0xFF
    digits = raw[1:].hex() if negative else raw.hex()
    if not digits.isdigit():
        raise SL651Error(f"value {raw.hex().upper()} is not BCD")
    value = int(digits) / 10**decimals
    return -value if negative else value


def element_value(code: int, raw: bytes, decimals: int) -> float | None:
    """One element's value: ZT as its 32 bits (an integer, exact in a float), everything else BCD."""
    if code == ZT:
        return None if raw and all(b == 0xFF for b in raw) else float(int.from_bytes(raw, "big"))
    return bcd_value(raw, decimals)


def ascii_value(ident: str, text: str) -> float | None:
    """One ASCII element value; ZT is its 32 bits as hex characters. Raises ValueError if not a number."""
    if text.upper() in ("N", "FF", "FFFF"):
        return None
    if ident == "ZT" and len(text) > 8:
        raise ValueError(text)
    value = float(int(text, 16)) if ident == "ZT" else float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def step_seconds(raw: bytes) -> int:
    """Time step code DRxnn: 3 BCD bytes day, hour, minute."""
    digits = raw.hex()
    if len(raw) != 3 or not digits.isdigit():
        raise SL651Error(f"time step {digits.upper() or '(none)'} is not 3 BCD bytes")
    return int(digits[0:2]) * 86400 + int(digits[2:4]) * 3600 + int(digits[4:6]) * 60
