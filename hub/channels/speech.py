"""Pure Chinese text normalisation for speech: numbers, units, times, dates, percentages and warning levels."""

from __future__ import annotations

import re
from collections.abc import Callable

_DIGITS = "零一二三四五六七八九"
_PHONE_DIGITS = "零幺二三四五六七八九"  # 1 is read 幺 in phone numbers so it is not misheard as 七
_SMALL_UNITS = ("", "十", "百", "千")
_BIG_UNITS = ("", "万", "亿", "万亿")

# Longest first, so "mm/h" wins over "mm" and "m/s" over "m".
_UNITS = {
    "mm/h": "毫米每小时",
    "mm/d": "毫米每天",
    "m³/s": "立方米每秒",
    "m3/s": "立方米每秒",
    "km/h": "公里每小时",
    "m/s": "米每秒",
    "mm": "毫米",
    "cm": "厘米",
    "km": "公里",
    "kPa": "千帕",
    "hPa": "百帕",
    "℃": "摄氏度",
    "°C": "摄氏度",
    "°": "度",
    "m": "米",
    "h": "小时",
    "min": "分钟",
    "s": "秒",
    "dBm": "分贝毫瓦",
    "V": "伏",
}
_UNIT_RE = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_NUM = r"\d+(?:\.\d+)?"
_ROMAN = {"Ⅰ": "一", "Ⅱ": "二", "Ⅲ": "三", "Ⅳ": "四", "I": "一", "II": "二", "III": "三", "IV": "四"}
_MEASURE = "个小时天次户人名台处座栋间辆周"
_FULLWIDTH = str.maketrans("０１２３４５６７８９％．：～－", "0123456789%.:~-")


def integer(n: int) -> str:
    """Chinese reading of a non-negative integer: 105 → 一百零五, 10 → 十, 20000 → 两万."""
    if n == 0:
        return "零"
    if n >= 10**16:
        return digits(str(n))  # beyond 万亿 nobody reads the units; say the digits
    groups: list[int] = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    out, zero_pending = "", False
    for i in range(len(groups) - 1, -1, -1):
        g = groups[i]
        if g == 0:
            zero_pending = bool(out)
            continue
        if out and (zero_pending or g < 1000):
            out += "零"
        out += _group(g, leading=not out, big=i > 0) + _BIG_UNITS[i]
        zero_pending = False
    return out


def _group(g: int, *, leading: bool, big: bool = False) -> str:
    digits = [(g // 10**p) % 10 for p in (3, 2, 1, 0)]
    out, zero = "", False
    started = False
    for pos, d in zip((3, 2, 1, 0), digits, strict=True):
        if d == 0:
            zero = started
            continue
        if zero:
            out += "零"
            zero = False
        if leading and g == 2 and big:
            out += "两"  # 两万, 两亿
        elif leading and not started and pos == 1 and d == 1:
            out += "十"  # 10–19 at the front: 十二, not 一十二
        elif leading and not started and pos >= 2 and d == 2:
            out += "两" + _SMALL_UNITS[pos]
        else:
            out += _DIGITS[d] + _SMALL_UNITS[pos]
        started = True
    return out


def digits(text: str, *, phone: bool = False) -> str:
    """Read digit by digit (years, phone numbers): 2026 → 二零二六."""
    table = _PHONE_DIGITS if phone else _DIGITS
    return "".join(table[int(c)] for c in text if c.isdigit())


def number(text: str) -> str:
    """A signed decimal: -12.50 → 负十二点五零 (decimals are read digit by digit)."""
    sign = "负" if text.startswith("-") else ""
    whole, _, frac = text.lstrip("+-").partition(".")
    if len(whole) > 1 and whole.startswith("0"):
        return sign + digits(whole) + ("点" + digits(frac) if frac else "")  # codes such as 01, 007
    return sign + integer(int(whole)) + ("点" + digits(frac) if frac else "")


def _time(m: re.Match[str]) -> str:
    hour, minute, second = int(m.group(1)), int(m.group(2)), m.group(3)
    out = integer(hour) + "点"
    if minute == 0 and not second:
        return out + "整"
    out += ("零" if 0 < minute < 10 else "") + integer(minute) + "分"
    return out + (integer(int(second)) + "秒" if second else "")


def _unit(u: str | None) -> str:
    return _UNITS[u] if u else ""


def _range(m: re.Match[str]) -> str:
    return number(m.group(1)) + "至" + number(m.group(2)) + _unit(m.group(3))


def _integer_with_measure(m: re.Match[str]) -> str:
    return "两" if m.group(1) == "2" else integer(int(m.group(1)))


_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"(?<=\d),(?=\d{3}(?!\d))"), lambda m: ""),  # thousands separators
    (
        re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"),
        lambda m: f"{digits(m.group(1))}年{integer(int(m.group(2)))}月{integer(int(m.group(3)))}日",
    ),
    (re.compile(r"(\d{4})年"), lambda m: digits(m.group(1)) + "年"),
    (
        re.compile(r"(?:(?<=拨打)|(?<=电话)|(?<=热线)|(?<=号码))\s*([\d\-]{3,})"),
        lambda m: digits(m.group(1), phone=True),
    ),
    (re.compile(r"(?<!\d)(0\d{2,3}-\d{7,8}|1\d{10})(?!\d)"), lambda m: digits(m.group(1), phone=True)),
    (re.compile(r"(?<!\d)([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?(?!\d)"), _time),
    (re.compile(rf"(?<![\d.])({_NUM})\s*(?:-|~|至|到)\s*({_NUM})\s*({_UNIT_RE})?(?![A-Za-z])"), _range),
    (re.compile(rf"(?<![A-Za-z0-9_.])(-?{_NUM})\s*%"), lambda m: "百分之" + number(m.group(1))),
    (
        re.compile(r"(?<![\d/])(\d+)/(\d+)(?![\d/])"),
        lambda m: integer(int(m.group(2))) + "分之" + integer(int(m.group(1))),
    ),  # 12/15 → 十五分之十二
    (re.compile(r"(Ⅳ|Ⅲ|Ⅱ|Ⅰ|IV|III|II|I)\s*(?=级)"), lambda m: _ROMAN[m.group(1)]),
    (
        re.compile(rf"(?<![A-Za-z0-9_.])(-?{_NUM})\s*({_UNIT_RE})(?![A-Za-z])"),
        lambda m: number(m.group(1)) + _UNITS[m.group(2)],
    ),
    (re.compile(rf"(?<![\d.])(\d+)(?=[{_MEASURE}])"), _integer_with_measure),
    (re.compile(rf"(?<![A-Za-z0-9_.])-({_NUM})"), lambda m: "负" + number(m.group(1))),
    (re.compile(_NUM), lambda m: number(m.group(0))),
]


def normalize(text: str) -> str:
    """Rewrite `text` so a Mandarin speech engine reads every number, unit and time the way people say them.

    Each rule replaces digits with Chinese characters, so later rules never see an earlier rule's output.
    """
    out = text.translate(_FULLWIDTH)
    for pattern, repl in _RULES:
        out = pattern.sub(repl, out)
    return out
