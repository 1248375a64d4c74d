"""Hub start-up for the engine: how much history its windows need, and the alert levels put back before a rebuild."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.rules.health import HealthPlan
from hub.rules.model import AlertState, Level
from hub.rules.ruleset import Rule, RuleSet

if TYPE_CHECKING:
    from hub.rules.state import EngineState

SeriesKey = tuple[str, str]


def history_needed(ruleset: RuleSet, health: HealthPlan) -> dict[SeriesKey, float]:
    """(sensor, quantity) -> seconds of history the windows and stuck checks need."""
    need: dict[SeriesKey, float] = {}
    for spec in ruleset.plan.slots:
        if spec.kind in ("window", "fit"):
            need[spec.key] = max(need.get(spec.key, 0.0), spec.length)
        elif spec.kind == "series":  # last(): the newest value, at most a few periods old
            sensor = ruleset.sensors.get(spec.key[0])
            need[spec.key] = max(need.get(spec.key, 0.0), 3 * (sensor.period_s if sensor else 3600.0))
    for key, (_, limit) in health.stuck.items():
        need[key] = max(need.get(key, 0.0), limit)
    return need


def restore(
    index: dict[tuple[str, str], int],
    rules: list[Rule],
    state: EngineState,
    levels: dict[tuple[str, str], tuple[Level, float]],
) -> EngineState:
    """Set each (site, rule)'s persisted level and the time it was entered."""
    for (site, rule), (level, since) in levels.items():
        i = index.get((site, rule))
        if i is None:
            continue
        a = state.alerts[i]
        a.level = a.emitted = int(level)
        a.entered = since
        a.valid_until = since + rules[i].validity_s
        a.state = AlertState.FIRING if level else AlertState.INACTIVE
        if level:
            state.active.add(i)
            a.live = True
    state.health_epoch += 1  # levels changed outside evaluate(): no guard or gate built before stands
    return state
