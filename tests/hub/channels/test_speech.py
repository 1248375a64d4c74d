"""Chinese speech normalisation: how officers and villagers would read numbers, units, times and levels aloud."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.channels.speech import digits, integer, normalize, number


@pytest.mark.parametrize(
    ("n", "spoken"),
    [
        (0, "零"),
        (1, "一"),
        (10, "十"),
        (12, "十二"),
        (20, "二十"),
        (100, "一百"),
        (105, "一百零五"),
        (110, "一百一十"),
        (200, "两百"),
        (1001, "一千零一"),
        (1010, "一千零一十"),
        (2000, "两千"),
        (10000, "一万"),
        (10001, "一万零一"),
        (20000, "两万"),
        (105000, "十万五千"),
        (1000000, "一百万"),
        (100000001, "一亿零一"),
        (123456789, "一亿二千三百四十五万六千七百八十九"),
    ],
)
def test_integers(n, spoken):
    assert integer(n) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("30mm", "三十毫米"),
        ("24小时降雨30mm", "二十四小时降雨三十毫米"),
        ("10:30发布", "十点三十分发布"),
        ("10:05", "十点零五分"),
        ("08:00", "八点整"),
        ("23:59:30", "二十三点五十九分三十秒"),
        ("水位2.5m", "水位二点五米"),
        ("上涨0.35m/s", "上涨零点三五米每秒"),
        ("雨强20-30mm/h", "雨强二十至三十毫米每小时"),
        ("土壤含水率85%", "土壤含水率百分之八十五"),
        ("12.5%", "百分之十二点五"),
        ("红色预警I级", "红色预警一级"),
        ("橙色预警（II级）", "橙色预警（二级）"),
        ("Ⅳ级", "四级"),
        ("IV级", "四级"),
        ("4级", "四级"),
        ("请拨打0763-8881234", "请拨打零七六三八八八幺二三四"),
        ("热线12345", "热线幺二三四五"),
        ("13800138000", "幺三八零零幺三八零零零"),
        ("2026-11-29", "二零二六年十一月二十九日"),
        ("2026年11月29日", "二零二六年十一月二十九日"),
        ("2小时内", "两小时内"),
        ("2个安置点", "两个安置点"),
        ("气温-3℃", "气温负三摄氏度"),
        ("倾角1.5°", "倾角一点五度"),
        ("撤离12/15", "撤离十五分之十二"),
        ("1,200人", "一千二百人"),
        ("流量350m³/s", "流量三百五十立方米每秒"),
        ("１２：３０", "十二点三十分"),  # full-width digits and colon from a Chinese IME
    ],
)
def test_normalize(text, spoken):
    assert normalize(text) == spoken


def test_a_whole_announcement():
    text = "【凤山预警】10:30 凤山村后山滑坡隐患点发布红色预警（I级），过去24小时降雨156.5mm，请立即转移！"
    assert normalize(text) == (
        "【凤山预警】十点三十分 凤山村后山滑坡隐患点发布红色预警（一级），"
        "过去二十四小时降雨一百五十六点五毫米，请立即转移！"
    )


def test_helpers():
    assert digits("2026") == "二零二六"
    assert digits("110", phone=True) == "幺幺零"
    assert number("-12.50") == "负十二点五零"


def test_letters_are_left_alone():
    assert normalize("fs-hp01 GNSS") == "fs-hp零一 GNSS"


@given(st.text(alphabet=st.sampled_from("0123456789.:%-/mh 级雨米，"), max_size=40))
def test_no_ascii_digit_survives(text):
    assert not re.search(r"[0-9]", normalize(text))


_ZH_DIGIT = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2}
_ZH_SMALL = {"十": 10, "百": 100, "千": 1000}
_ZH_BIG = {"万": 10**4, "亿": 10**8}


def _parse_zh(text: str) -> int:
    """An independent reader of Chinese numerals, to check integer() the other way round."""
    total, section, digit = 0, 0, 0
    for ch in text:
        if ch in _ZH_DIGIT:
            digit = _ZH_DIGIT[ch]
        elif ch in _ZH_SMALL:
            section += (digit or 1) * _ZH_SMALL[ch]
            digit = 0
        elif ch == "万":
            total += (section + digit) * _ZH_BIG[ch]
            section, digit = 0, 0
        else:  # 亿 scales everything before it
            total = (total + section + digit) * _ZH_BIG[ch]
            section, digit = 0, 0
    return total + section + digit


@given(st.integers(0, 10**12 - 1))
def test_integer_reads_back_to_the_same_number(n):
    spoken = integer(n)
    assert _parse_zh(spoken) == n
    assert "零零" not in spoken and not (n and spoken.endswith("零"))
