"""SMS reply parsing: what villagers and grid workers actually type."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.alerts.replies import parse_reply


@pytest.mark.parametrize("text", ["1", "收到", "收到。", " 收到！", "确认", "OK", "ok", "好的", "１"])
def test_acks(text: str) -> None:
    r = parse_reply(text)
    assert r.kind == "ack" and r.target is None


def test_ack_naming_a_site() -> None:
    assert parse_reply("收到 fs-hp01").target == "fs-hp01"
    assert parse_reply("1 fs-hp02/rain").target == "fs-hp02/rain"


@pytest.mark.parametrize(
    ("text", "target", "done", "total"),
    [
        ("撤离 12/15", None, 12, 15),
        ("撤离12/15", None, 12, 15),
        ("撤离 １２／１５", None, 12, 15),  # full-width, as Chinese IMEs send them
        ("已撤离 12户/15户", None, 12, 15),
        ("撤离 fs-g2 12/15", "fs-g2", 12, 15),
        ("撤离 12/15 fs-g2", "fs-g2", 12, 15),
        ("转移 7", None, 7, None),
        ("撤离 3 共 9 户", None, 3, 9),
    ],
)
def test_evacuation_reports(text: str, target: str | None, done: int, total: int | None) -> None:
    r = parse_reply(text)
    assert (r.kind, r.target, r.evacuated, r.total) == ("evac", target, done, total)


def test_more_evacuated_than_households_is_refused() -> None:
    r = parse_reply("撤离 16/15")
    assert r.kind == "unknown" and "16 > total 15" in r.error


@pytest.mark.parametrize("text", ["", "   ", "明天下雨吗", "12", "撤离", "收到收到 1 2"])
def test_noise_is_unknown(text: str) -> None:
    assert parse_reply(text).kind == "unknown"


@given(st.integers(0, 9999), st.integers(0, 9999))
def test_any_valid_count_round_trips(a: int, b: int) -> None:
    done, total = min(a, b), max(a, b)
    r = parse_reply(f"撤离 {done}/{total}")
    assert (r.kind, r.evacuated, r.total) == ("evac", done, total)
