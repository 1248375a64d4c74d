"""Loading reports errors by file, rule and field (issue #3): unknown function, bad duration, unknown
sensor, cyclic reference, and the other mistakes officers make when editing rule files."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.rules.loader import load_ruleset
from hub.rules.ruleset import RuleError

from .helpers import DEPLOY, SITES

GOOD = """  - id: r1
    sites: [s1]
    inputs: {rain: {sensor: rg1}}
    values: {r1h: "sum(rain, 1h)"}
    thresholds: {r1h: [35, 45, 60, 80]}
"""


def load(tmp_path: Path, rules: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SITES + "\nrules:\n" + rules, encoding="utf-8")
    load_ruleset([path])


def error(tmp_path: Path, rules: str) -> str:
    with pytest.raises(RuleError) as exc:
        load(tmp_path, rules)
    assert "bad.yaml" in str(exc.value)
    assert isinstance(exc.value, ValueError)
    return str(exc.value)


def test_good_file_loads(tmp_path: Path) -> None:
    load(tmp_path, GOOD)


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        (("sum(rain, 1h)", "summ(rain, 1h)"), ["rule r1", "values.r1h", "unknown function 'summ'"]),
        (("sum(rain, 1h)", "sum(rain, 1y)"), ["rule r1", "values.r1h"]),
        (("sensor: rg1", "sensor: rg7"), ["rule r1", "inputs.rain", "unknown sensor 'rg7'"]),
        (("[35, 45, 60, 80]", "[35, 45, 80]"), ["rule r1", "thresholds.r1h", "4 thresholds"]),
        (("[35, 45, 60, 80]", "[35, 60, 45, 80]"), ["rule r1", "thresholds.r1h", "rise"]),
        (("sites: [s1]", "sites: [s9]"), ["rule r1", "field sites", "unknown site 's9'"]),
        (("inputs:", "inptus:"), ["rule r1", "inptus", "Extra inputs are not permitted"]),
        (("sum(rain, 1h)", "sum(rain, 1h) >="), ["rule r1", "values.r1h", "end of expression"]),
        (("sum(rain, 1h)", "sum(rg1, 1h)"), ["rule r1", "values.r1h", "input name"]),
        (("sum(rain, 1h)", "sum(rain, 1h, 3h)"), ["rule r1", "values.r1h", "at most 2 arguments"]),
    ],
)
def test_errors_name_file_rule_and_field(tmp_path: Path, change: tuple[str, str], expect: list[str]) -> None:
    msg = error(tmp_path, GOOD.replace(*change))
    for part in expect:
        assert part in msg, msg


def test_bad_duration_in_for(tmp_path: Path) -> None:
    msg = error(tmp_path, GOOD + "    for: 10 minutes\n")
    assert "rule r1" in msg and "field for" in msg and "bad duration" in msg


def test_cyclic_reference(tmp_path: Path) -> None:
    rules = GOOD.replace('values: {r1h: "sum(rain, 1h)"}', 'values: {r1h: "a + 1", a: "b * 2", b: "r1h - 1"}')
    msg = error(tmp_path, rules)
    assert "rule r1" in msg and "cyclic reference" in msg and "r1h -> a -> b -> r1h" in msg


def test_unknown_template_placeholder(tmp_path: Path) -> None:
    msg = error(tmp_path, GOOD + '    message: "{site_name} 雨量 {rain_1h:.1f}"\n')
    assert "field message" in msg and "rain_1h" in msg


def test_duplicate_rule_ids(tmp_path: Path) -> None:
    assert "used twice" in error(tmp_path, GOOD + GOOD)


def test_group_arithmetic_is_rejected(tmp_path: Path) -> None:
    rules = """  - id: g
    sites: [s1]
    inputs: {rain: {quantity: rain_mm}}
    levels: {blue: "sum(rain, 1h) - sum(rain, 3h) > 0"}
"""
    msg = error(tmp_path, rules)
    assert "rule g" in msg and "levels.blue" in msg and "ambiguous" in msg


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="cannot read"):
        load_ruleset([tmp_path / "missing.yaml"])
    bad = tmp_path / "broken.yaml"
    bad.write_text("rules: [\n", encoding="utf-8")
    with pytest.raises(RuleError, match="broken.yaml: not valid YAML"):
        load_ruleset([bad])


def test_conflicting_site_declarations_across_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(SITES, encoding="utf-8")
    b.write_text(SITES.replace("测试点一", "别的名字"), encoding="utf-8")
    with pytest.raises(RuleError, match="b.yaml: site s1: declared differently"):
        load_ruleset([a, b])


def test_every_fengshan_rule_file_loads_alone_and_together() -> None:
    files = sorted(DEPLOY.glob("*.yaml"))
    assert {f.name for f in files} >= {"flash_flood.yaml", "landslide.yaml", "health.yaml"}
    for f in files:
        load_ruleset([f])
    rs = load_ruleset(files)
    assert {h.kind for h in rs.health} == {"stale", "range", "stuck"}
    assert all(r.labels["site"] == r.site for r in rs.rules)
