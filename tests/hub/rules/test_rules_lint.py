"""Rules that nothing holds against noise: they really flap, and loading them says so (hub/rules/lint.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from edge.wire import Reading
from ews.cli import main
from hub.rules.loader import load_ruleset
from hub.rules.model import Level

from .helpers import SITES, T0, engine_for, play

# A crack meter whose reading wavers ±0.4 mm around the 10 mm yellow threshold, every 10 minutes.
_rng = random.Random(7)
NOISE = [10.0 + _rng.uniform(-0.4, 0.4) for _ in range(36)]


def wavering() -> list[Reading]:
    return [Reading("cr1", "crack_mm", v, T0 + 600 * (i + 1), i) for i, v in enumerate(NOISE)]


BARE = """
  - id: crack-level
    sites: [s1]
    inputs: {cr: {sensor: cr1}}
    audience: {blue: officers, yellow: villagers}
"""
RULE = BARE + '    message: {yellow: "【测试黄色预警】裂缝加速，请坡下群众做好转移准备。"}\n'


def test_a_rule_without_hysteresis_flaps_and_loading_it_warns(tmp_path: Path) -> None:
    bare = RULE + '    levels: {yellow: "last(cr) >= 10"}\n'
    engine = engine_for(tmp_path, bare)
    _, out = play(engine, wavering())
    ups = [t for t in out if t.to_level == Level.YELLOW]
    downs = [t for t in out if t.to_level == Level.NONE]
    # Six hours of noise at the threshold: warning and all-clear, over and over, each one an SMS.
    assert len(ups) >= 5 and len(downs) >= 5
    [advice] = engine.ruleset.warnings
    assert "r.yaml: rule crack-level" in advice and "villagers (from yellow up)" in advice
    assert "hysteresis" in advice and "min_time_at_level" in advice


@pytest.mark.parametrize(
    "steadied",
    [
        '    thresholds: {"last(cr)": [null, 10, null, null]}\n    hysteresis: 0.1\n',
        '    levels: {yellow: "last(cr) >= 10"}\n    clear: {yellow: "last(cr) < 9"}\n',
    ],
    ids=["hysteresis", "clear"],
)
def test_hysteresis_or_clear_stops_the_flapping(tmp_path: Path, steadied: str) -> None:
    engine = engine_for(tmp_path, RULE + steadied)
    _, out = play(engine, wavering())
    assert [t.to_level for t in out] == [Level.YELLOW]  # raised once, held through the noise
    assert engine.ruleset.warnings == []


def test_min_time_at_level_bounds_the_flapping(tmp_path: Path) -> None:
    """min_time_at_level does not stop the cycle, it slows it to one per period at most, which is
    why it also satisfies the check (the shipped inverse-velocity rule relies on it)."""
    engine = engine_for(
        tmp_path, RULE + '    levels: {yellow: "last(cr) >= 10"}\n    min_time_at_level: 2h\n'
    )
    _, out = play(engine, wavering())
    ups = [t.at for t in out if t.to_level == Level.YELLOW]
    assert 1 <= len(ups) <= 3  # six hours: at most one rise per two hours (ten without it)
    assert all(b - a >= 7200 for a, b in zip(ups, ups[1:], strict=False))
    assert engine.ruleset.warnings == []


def test_rules_check_prints_the_warning_and_still_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "crack.yaml"
    path.write_text(
        SITES + "\nrules:\n" + RULE + '    levels: {yellow: "last(cr) >= 10"}\n', encoding="utf-8"
    )
    assert main(["rules", "check", str(path)]) == 0  # advice, not an error: the rule does work
    out = capsys.readouterr().out
    assert f"warning: {path}: rule crack-level: nothing holds a level against noise" in out
    assert out.strip().splitlines()[-1].endswith("1 warning(s) above")
    assert load_ruleset([path]).warnings  # the same advice the hub logs at start and reload


def test_a_villager_level_without_a_message_of_its_own_warns(tmp_path: Path) -> None:
    """The default text names the rule's id: villagers would hear 预警：crack-level, not what to do."""
    steady = '    levels: {yellow: "last(cr) >= 10", red: "last(cr) >= 30"}\n    min_time_at_level: 1h\n'
    engine = engine_for(tmp_path, BARE + steady)
    _, out = play(engine, wavering())
    assert out[0].message.endswith("预警：crack-level")  # what the villagers would have read
    [advice] = engine.ruleset.warnings
    assert "level(s) yellow reach villagers with the default message" in advice
    assert "names the rule id (crack-level)" in advice and "r.yaml: rule crack-level" in advice
    assert engine_for(tmp_path, RULE + steady, name="told.yaml").ruleset.warnings == []
    # Officers only: the default text is no villager's concern.
    officers = BARE.replace("yellow: villagers", "yellow: officers") + steady
    assert engine_for(tmp_path, officers, name="officers.yaml").ruleset.warnings == []
