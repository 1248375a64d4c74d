"""Transition messages: Beijing time and the level words in the Chinese text villagers and officers read."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from hub.rules.model import Level
from hub.rules.text import local_time

from .helpers import T0, engine_for, play, rain

CST = timezone(timedelta(hours=8))


def by_datetime(epoch: float) -> str:
    """The oracle: the same text through datetime's own time-zone arithmetic, seconds dropped."""
    t = datetime.fromtimestamp(math.floor(epoch), UTC).astimezone(CST)
    return f"{t.month}月{t.day}日 {t:%H:%M}"


def test_beijing_time_of_known_instants() -> None:
    assert local_time(datetime(2026, 11, 29, 11, 30, tzinfo=UTC).timestamp()) == "11月29日 19:30"
    # 16:00 UTC on New Year's Eve is already New Year's Day in Beijing.
    assert local_time(datetime(2026, 12, 31, 16, 0, tzinfo=UTC).timestamp()) == "1月1日 00:00"
    # A reading at 19:29:59.9 belongs to 19:29, not (rounded) to 19:30.
    assert local_time(datetime(2026, 11, 29, 11, 29, 59, tzinfo=UTC).timestamp() + 0.9) == "11月29日 19:29"
    assert local_time(math.inf) == local_time(math.nan) == "-"


@given(st.floats(min_value=0, max_value=4_102_444_800))  # 1970 to 2100
def test_beijing_time_matches_datetime(epoch: float) -> None:
    assert local_time(epoch) == by_datetime(epoch)


def test_level_words() -> None:
    assert [lv.label for lv in Level] == ["none", "blue", "yellow", "orange", "red"]
    assert [lv.zh for lv in Level] == ["无", "蓝色", "黄色", "橙色", "红色"]
    assert [lv.roman for lv in Level] == ["", "IV", "III", "II", "I"]


def test_transition_message_and_levels(tmp_path: Path) -> None:
    rules = """
  - id: heavy
    sites: [s1]
    inputs: {rain: {sensor: rg1}}
    values: {r1: 'sum(rain, 1h)'}
    thresholds: {r1: [5, 10, 30, 50]}
    message: "{time} {site_name}{level_zh}预警（{level_roman}级，{level}）1小时雨量{r1:.1f}毫米"
    message_clear: "{time} {site_name}预警解除"
"""
    eng = engine_for(tmp_path, rules)
    _, out = play(eng, rain("rg1", [6.0, 6.0, 0.0] + [0.0] * 12))
    assert [(t.at - T0, t.from_level, t.to_level, t.labels["level"], t.message) for t in out] == [
        (
            300,
            Level.NONE,
            Level.BLUE,
            "blue",
            f"{by_datetime(T0 + 300)} 测试点一蓝色预警（IV级，blue）1小时雨量6.0毫米",
        ),
        (
            600,
            Level.BLUE,
            Level.YELLOW,
            "yellow",
            f"{by_datetime(T0 + 600)} 测试点一黄色预警（III级，yellow）1小时雨量12.0毫米",
        ),
        (
            3900,
            Level.YELLOW,
            Level.BLUE,
            "blue",
            f"{by_datetime(T0 + 3900)} 测试点一蓝色预警（IV级，blue）1小时雨量6.0毫米",
        ),
        (4200, Level.BLUE, Level.NONE, "none", f"{by_datetime(T0 + 4200)} 测试点一预警解除"),
    ]
    assert by_datetime(T0 + 600) == "6月21日 08:10"
