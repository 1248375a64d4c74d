"""Series gates: a reading wakes no rule while every rule on its series is provably quiet.

Guards (guards.py, slopes.py) let the engine skip a quiet rule once it looks at it. A gate moves that
check to the series, so a reading into a series whose rules all hold guards costs one comparison,
not a look at each rule (at province scale most of the cost is memory touched, not arithmetic).

Why it is safe. A sum guard watches the increments of several series (a gauge group) against one
budget. When a rule's guard is set or re-checked at time T, its remaining budget is split evenly
into grants, one per series: inc_s(T) + remaining / n. While every series stays below its grant,
their increments since T total less than the remaining budget, so the guard still holds. A slope
guard watches one series' upward variation (tv), its late readings (ooo) and an expiry time. A
series' gate is the tightest of the grants and slope limits of all its rules, recorded with the
health epoch; a rule that is active, pending or without a valid guard leaves the gate shut (every
reading wakes its rules, as without gates). Whenever a rule's guard is set, dropped or re-granted,
the gates of all the series it reads are rebuilt in the same evaluation, so a gate never mixes
grants from different moments (which would not add up) and never outlives the guards it came from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from hub.rules import slopes

if TYPE_CHECKING:
    from hub.rules.engine import Engine
    from hub.rules.state import EngineState
    from hub.rules.windows import Series

INF: Final = math.inf
# Grants are cut by this fraction so that rounding in the n subtractions never adds up to the budget.
GRANT_MARGIN: Final = 1e-9


class Guard:
    """Why a quiet rule may be skipped: while its watched counter (the summed `inc` of its guard
    series, or one series' `tv` for a slope guard) has grown by less than `budget` since `base`, in
    health epoch `epoch`, before event time `until` and with no late reading (`ooo`), it stays quiet."""

    __slots__ = ("epoch", "base", "budget", "until", "ooo", "slope")

    def __init__(
        self, epoch: int, base: float, budget: float, until: float = INF, ooo: int = 0, slope: bool = False
    ) -> None:
        self.epoch = epoch
        self.base = base
        self.budget = budget
        self.until = until
        self.ooo = ooo
        self.slope = slope

    def __repr__(self) -> str:
        return f"Guard(epoch={self.epoch}, base={self.base}, budget={self.budget}, until={self.until})"


def set_guard(engine: Engine, state: EngineState, i: int, W: list[Any], now: float) -> None:
    """A rule found quiet: record how much new data it can take before it must be looked at again."""
    rule = engine.rules[i]
    guards = state.guards
    if guards is None:
        return
    if rule.slope is not None:
        kind, slot, thr = rule.slope
        got = slopes.budget(kind, W[slot], now, thr)
        if got is not None:
            ser = state.guard_series[i][0]
            b = got[0] - 1e-12 * (abs(ser.tv) + abs(got[0]) + abs(ser.last()))
            if b > 0.0:
                guards[i] = Guard(state.health_epoch, ser.tv, b, got[1], ser.ooo, True)
                state.hold_epoch[i], state.hold_until[i] = state.health_epoch, got[1]
        return
    if rule.headroom is None:
        return
    head = rule.headroom(W, now)
    if head > 0.0:
        inc = 0.0
        for ser in state.guard_series[i]:  # same order as the check: the same rounding
            inc += ser.inc
        if inc < INF:
            b = head - 1e-12 * (inc + head)
            guards[i] = Guard(state.health_epoch, inc, b)
            state.hold_epoch[i], state.hold_until[i] = state.health_epoch, INF
            grant(state, i, b)


def grant(state: EngineState, i: int, remaining: float) -> None:
    """Split a sum guard's remaining budget into one allowance per watched series, from now on."""
    gs = state.guard_series[i]
    share = remaining / len(gs) * (1.0 - GRANT_MARGIN)
    state.grants[i] = tuple(ser.inc + share for ser in gs)


def overdrawn(state: EngineState, i: int) -> bool:
    """Has a series used up its grant from rule i (so its gate is open and a new split is due)?"""
    gs = state.guard_series[i]
    lims = state.grants[i]
    for k in range(len(lims)):  # noqa: SIM110 (a plain loop compiles to native code; any() does not)
        if gs[k].inc > lims[k]:
            return True
    return False


def regate(state: EngineState, series: Iterable[Series]) -> None:
    """Rebuild the gates of these series from their rules' current guards and grants."""
    guards, grants, alerts = state.guards, state.grants, state.alerts
    if guards is None:
        return
    epoch = state.health_epoch
    for ser in series:
        if ser.gate_never:
            continue  # shut for good (gate_inc stays -inf)
        lim_inc = lim_tv = until = INF
        shut = False
        for i, pos in ser.gpos:
            g = guards[i]
            if g is None or g.epoch != epoch or alerts[i].level or alerts[i].live:
                shut = True
                break
            if pos < 0:
                continue  # guarded by other series (an `and` held false by its rain half)
            if not g.slope:
                lim = grants[i][pos]
                if lim < lim_inc:
                    lim_inc = lim
            else:
                if g.ooo != ser.ooo:
                    shut = True
                    break
                lim = g.base + g.budget
                if lim < lim_tv:
                    lim_tv = lim
                if g.until < until:
                    until = g.until
        if shut:
            ser.gate_inc = -INF
            continue
        ser.gate_inc, ser.gate_tv, ser.gate_until = lim_inc, lim_tv, until
        ser.gate_ooo, ser.gate_epoch = ser.ooo, epoch


def positions(engine: Engine, state: EngineState) -> None:
    """Per series, (rule, its place among the rule's guarded series or -1) for every rule it feeds;
    a rule that can never hold a guard shuts the gate of every series it reads, for good."""
    never = {i for i, r in enumerate(engine.rules) if r.headroom is None and r.slope is None}
    for ser in state.series.values():
        ser.gate_never = any(i in never for i in ser.deps)
        ser.gpos = tuple(
            (i, next((p for p, s in enumerate(state.guard_series[i]) if s is ser), -1)) for i in ser.deps
        )
