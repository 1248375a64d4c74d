"""Hub start-up and rule reloads for the engine: the history its windows need, and the levels and readings a new engine starts from."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge.wire import Reading
from hub.rules.emit import LEVELS
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


def told_levels(rules: list[Rule], state: EngineState) -> dict[tuple[str, str], tuple[Level, float]]:
    """(site, rule) -> (the level people were last told, when the rule's level was entered), for every
    rule at a warning level: what an engine for a reloaded rule set restores (restore above)."""
    out = {}
    for rule, a in zip(rules, state.alerts, strict=True):
        if a.emitted:
            out[(rule.site, rule.id)] = (LEVELS[a.emitted], a.entered)
    return out


def held_readings(state: EngineState) -> list[Reading]:
    """Every reading the windows and forecasts hold, as readings: with stored history, what an engine
    for a reloaded rule set starts from. It includes the newest readings, which the store may not
    have written yet, and the newest forecasts (a feed may poll only hourly)."""
    out = []
    for (sensor, quantity), ser in state.series.items():
        times, values = ser.pairs()
        for t, v in zip(times, values, strict=True):
            out.append(Reading(sensor, quantity, v, t))
    for (site, quantity), fc in state.forecasts.items():
        for valid, (issued, v) in fc.by_valid.items():  # the engine keys forecasts by the part after "@"
            out.append(Reading(f"reload@{site}", quantity, v, valid, source="forecast", issued=issued))
    return out


def forecasts_needed(ruleset: RuleSet) -> set[tuple[str, str]]:
    """(site, quantity) of every forecast a rule reads: loaded from the store at start-up too."""
    return {spec.key for spec in ruleset.plan.slots if spec.kind == "forecast"}
