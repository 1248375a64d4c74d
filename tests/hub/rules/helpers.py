"""Shared helpers for the rule-engine tests: write a rule file, run readings through an engine."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from edge.wire import Reading
from hub.rules.engine import Engine, EngineState
from hub.rules.loader import load_ruleset
from hub.rules.model import Transition

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "fengshan" / "rules"
T0 = 1_782_000_000.0  # 2026-06-21, flood season

SITES = """
sites:
  - {id: s1, name: 测试点一, lat: 24.6, lon: 112.55, hazard: landslide, grids: [g1, g2]}
  - {id: s2, name: 测试点二, lat: 24.59, lon: 112.56, hazard: flash_flood, grids: [g3]}
sensors:
  - {id: rg1, site: s1, quantity: rain_mm, period_s: 60}
  - {id: rg2, site: s1, quantity: rain_mm, period_s: 60}
  - {id: rg3, site: s1, quantity: rain_mm, period_s: 60}
  - {id: gn1, site: s1, quantity: disp_mm, period_s: 3600}
  - {id: cr1, site: s1, quantity: crack_mm, period_s: 600}
  - {id: rg9, site: s2, quantity: rain_mm, period_s: 60}
"""


def engine_for(tmp_path: Path, rules: str, name: str = "r.yaml", **kw: float) -> Engine:
    path = tmp_path / name
    path.write_text(SITES + "\nrules:\n" + rules, encoding="utf-8")
    return Engine(load_ruleset([path]), **kw)


def play(
    engine: Engine, readings: Iterable[Reading], state: EngineState | None = None
) -> tuple[EngineState, list[Transition]]:
    """One evaluate() per reading with now = the reading's time (how ews replay runs)."""
    st = state or engine.initial_state()
    out: list[Transition] = []
    for r in readings:
        st, tr = engine.evaluate(st, [r], r.time)
        out += tr
    return st, out


def rain(sensor: str, mm_per_step: list[float], step_s: float = 300.0, t0: float = T0) -> list[Reading]:
    return [Reading(sensor, "rain_mm", v, t0 + (i + 1) * step_s, i) for i, v in enumerate(mm_per_step)]


def key(ts: list[Transition]) -> list[tuple]:
    """What two engines must agree on: which rule moved when, from which level to which."""
    return [(t.rule, t.at, t.from_level, t.to_level) for t in ts]
