"""Silences (maintenance windows) and acknowledgements as pure functions of the engine state."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from hub.rules.ruleset import Rule

if TYPE_CHECKING:
    from hub.rules.state import EngineState

# The quality of a reading taken in its sensor's maintenance window (the hub tags them as they
# arrive and stores them so): feed() leaves them out, live and in every rebuild from the store.
MAINTENANCE: Final = "maintenance"


@dataclass(frozen=True, slots=True)
class Silence:
    """Matches by site, rule id or sensor (all given fields must match); active for start <= now < end.

    A silence on a sensor is a maintenance window: its readings taken since `start` stay out of the
    rules (an outbox backlog of readings taken before the technician came is real data) and its health
    alerts are not emitted. A silence on a site or rule holds back that rule's transitions, except an
    escalation to red, which is never silenced; when the silence ends the current level is emitted.
    """

    id: str
    start: float
    end: float
    site: str | None = None
    rule: str | None = None
    sensor: str | None = None
    by: str = ""
    comment: str = ""

    def matches(self, rule: Rule) -> bool:
        if self.site is None and self.rule is None:
            return False  # a sensor's maintenance window mutes its data, not the rules of the site
        if self.site is not None and self.site != rule.site:
            return False
        if self.rule is not None and self.rule != rule.id:
            return False
        return self.sensor is None or any(self.sensor == k[0] for k in rule.deps)


def silenced(state: EngineState, rule: Rule, now: float) -> bool:
    return any(s.start <= now < s.end and s.matches(rule) for s in state.silences)


def refresh(state: EngineState, now: float) -> None:
    """Drop ended silences, recompute muted sensors and the next time a silence starts or ends."""
    state.silences = [s for s in state.silences if s.end > now]
    state.muted = {
        s.sensor: s.start
        for s in state.silences
        if s.sensor is not None and s.site is None and s.rule is None and s.start <= now
    }
    edges = [s.start for s in state.silences if s.start > now] + [s.end for s in state.silences]
    state.next_silence_edge = min(edges, default=math.inf)


def add_silence(state: EngineState, silence: Silence, now: float) -> EngineState:
    if not silence.end > silence.start:
        raise ValueError(f"silence {silence.id}: end must be after start")
    if silence.site is None and silence.rule is None and silence.sensor is None:
        raise ValueError(
            f"silence {silence.id}: give a site, a rule or a sensor (a silence never matches all)"
        )
    state.silences = [s for s in state.silences if s.id != silence.id] + [silence]
    refresh(state, max(now, state.now))
    state.next_silence_edge = min(state.next_silence_edge, max(now, state.now))
    return state


def remove_silence(state: EngineState, silence_id: str, now: float) -> EngineState:
    """End a silence early; the next evaluate() emits whatever it held back."""
    state.silences = [s for s in state.silences if s.id != silence_id]
    refresh(state, max(now, state.now))
    state.next_silence_edge = max(now, state.now)
    return state
