"""Turn an alert's level change into a Transition (labels, Chinese message), holding it back while silenced."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

from hub.rules.lifecycle import FIRING, RESOLVED
from hub.rules.model import Level, Transition
from hub.rules.ruleset import RuleSet
from hub.rules.silences import silenced
from hub.rules.text import render

if TYPE_CHECKING:
    from hub.rules.state import EngineState

LEVELS: Final = tuple(Level)  # by value; Level(n) runs Enum's Python-level lookup on every transition
RED: Final = int(Level.RED)  # compiled code reads enum members through the class's attribute hook


def emit(ruleset: RuleSet, state: EngineState, i: int, now: float, out: list[Transition]) -> None:
    """Append rule i's transition if its level differs from the last one emitted (and no silence holds)."""
    a, rule = state.alerts[i], ruleset.rules[i]
    if a.level == a.emitted:
        return
    if silenced(state, rule, now) and not (a.level == RED and a.level > a.emitted):
        return  # held back; held_back() emits the catch-up when the silence ends
    out.append(transition(ruleset, state, i, now, LEVELS[a.emitted]))
    a.emitted = a.level


def transition(ruleset: RuleSet, state: EngineState, i: int, now: float, from_level: Level) -> Transition:
    a, rule = state.alerts[i], ruleset.rules[i]
    W = state.slots
    lv = LEVELS[a.level]
    values = {name: f(W, now) for name, f in rule.values.items()}
    value = rule.value(W, now) if rule.value is not None else None
    if value is not None and not math.isfinite(value):
        value = None
    key = int(lv) if lv else int(from_level)
    labels = {
        **rule.labels,
        "rule": rule.id,
        "level": lv.label,
        "audience": rule.audience.get(key, "officers"),
        "actions": rule.actions.get(key, ""),
    }
    state_ = FIRING if lv else RESOLVED
    msg = render(rule, ruleset, lv, values, value, now)
    return Transition(rule.id, rule.site, now, from_level, lv, state_, value, labels, msg)


def held_back(ruleset: RuleSet, state: EngineState, now: float, out: list[Transition]) -> None:
    """A silence started or ended (silences.refresh has run): emit what was held back."""
    for i, a in enumerate(state.alerts):
        if a.level != a.emitted:
            emit(ruleset, state, i, now, out)
