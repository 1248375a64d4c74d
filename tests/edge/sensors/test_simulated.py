"""The scenario player: due steps per poll, event times from the scenario, YAML/CSV files, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from edge.sensors.base import PolledSensor
from edge.sensors.simulated import ScenarioError, SimulatedConfig, parse_csv, parse_yaml


def cfg(**kw: object) -> SimulatedConfig:
    return SimulatedConfig.model_validate({"kind": "simulated", "id": "fs-hp02-rg1", "site": "fs-hp02", **kw})


def test_poll_returns_what_is_due_with_scripted_times() -> None:
    s = cfg(steps=[[0, "rain_mm", 1.0], [600, "rain_mm", 5.5], [300, "water_level_m", 1.2]]).build()
    assert isinstance(s, PolledSensor)
    assert s.bus == "sim:fs-hp02-rg1"
    first = s.poll(1000.0)  # the first poll is the start
    assert [(r.quantity, r.value, r.time, r.seq) for r in first] == [("rain_mm", 1.0, 1000.0, 0)]
    assert s.poll(1299.0) == []
    got = s.poll(2000.0)  # a late poll gets everything due, in scenario order, each at its own time
    assert [(r.quantity, r.value, r.time) for r in got] == [
        ("water_level_m", 1.2, 1300.0),
        ("rain_mm", 5.5, 1600.0),
    ]
    assert s.poll(9999.0) == []


def test_fixed_start_and_quality_column() -> None:
    s = cfg(steps=[[10, "rain_mm", 2.0, "suspect"]], start=500.0).build()
    assert s.poll(505.0) == []
    (r,) = s.poll(510.0)
    assert (r.time, r.quality) == (510.0, "suspect")


def test_yaml_and_csv_files(tmp_path: Path) -> None:
    y = tmp_path / "storm.yaml"
    y.write_text("steps:\n  - [0, rain_mm, 0.5]\n  - {offset_s: 60, quantity: rain_mm, value: 1.5}\n")
    c = tmp_path / "storm.csv"
    c.write_text("# typhoon band\noffset_s,quantity,value\n0,rain_mm,0.5\n60,rain_mm,1.5\n")
    for path in (y, c):
        s = cfg(file=str(path)).build()
        assert [r.value for r in s.poll(0.0)] == [0.5]
        assert [(r.value, r.time) for r in s.poll(100.0)] == [(1.5, 60.0)]


def test_bad_scenarios_name_file_and_step(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("offset_s,quantity,value\n0,rain_mm,abc\n")
    with pytest.raises(ValidationError, match="bad.csv step 0"):
        cfg(file=str(bad))
    with pytest.raises(ValidationError, match="exactly one of steps or file"):
        cfg()
    with pytest.raises(ScenarioError, match="header"):
        parse_csv("a,b,c\n", "x.csv")
    with pytest.raises(ScenarioError, match="quality"):
        parse_yaml("- [0, rain_mm, 1, excellent]", "x.yaml")


@given(st.text(max_size=200))
def test_parsers_raise_only_scenario_error(text: str) -> None:
    for parse in (parse_csv, parse_yaml):
        try:
            parse(text, "fuzz")
        except ScenarioError:
            pass
