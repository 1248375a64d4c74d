"""Shared helpers for the pipeline tests: a clock the test sets, one sink for store lines and transitions, a pipeline over rule text."""

from __future__ import annotations

from pathlib import Path

from hub.pipeline import Pipeline
from hub.rules.engine import Engine
from hub.rules.loader import load_ruleset
from hub.rules.model import Transition

from .rules.helpers import SITES, T0


class Sink:
    """The store (lines) and the dispatcher (transitions) as lists: what they do with them is tested in
    tests/hub/test_store.py and tests/hub/alerts."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.got: list[Transition] = []

    def put(self, lines: list[str]) -> None:
        self.lines.extend(lines)

    def submit(self, transitions: list[Transition]) -> None:
        self.got.extend(transitions)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def engine(tmp_path: Path, rules: str, name: str = "r.yaml", sites: str = SITES) -> Engine:
    path = tmp_path / name
    path.write_text(sites + "\nrules:\n" + rules, encoding="utf-8")
    return Engine(load_ruleset([path]), tick_s=10)


def sensor_sites(eng: Engine) -> dict[str, str]:
    return {sid: s.site for sid, s in eng.ruleset.sensors.items()}


def pipeline(eng: Engine, clock: Clock, **kw: object) -> tuple[Pipeline, Sink]:
    sink = Sink()
    return Pipeline(eng, sensor_sites(eng), sink, sink, clock, **kw), sink  # type: ignore[arg-type]
