"""Alert lifecycle of one rule at one site: hold time, escalation, step-down (hysteresis, news from its inputs), validity, ack."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Final

from hub.rules.model import AlertState
from hub.rules.ruleset import Rule
from hub.rules.windows import Series

# The states as module constants: compiled code reads `AlertState.FIRING` through the enum class's
# attribute hook (~900 instructions on CPython 3.11), a Final constant as one load.
INACTIVE: Final = AlertState.INACTIVE
PENDING: Final = AlertState.PENDING
FIRING: Final = AlertState.FIRING
RESOLVED: Final = AlertState.RESOLVED


@dataclass(slots=True)
class Alert:
    """Mutable lifecycle state of one rule instance (part of the engine state)."""

    level: int = 0
    state: AlertState = INACTIVE
    entered: float = 0.0  # event time the current level was entered
    valid_until: float = 0.0
    pending: list[float | None] = field(default_factory=lambda: [None] * 5)  # since raw ≥ L
    down_since: float | None = None  # since the evidence supports a lower level
    acked_by: str = ""
    acked_level: int = 0
    emitted: int = 0  # last level actually emitted (differs while a silence holds transitions back)
    last_eval: float = -1e18
    value: float | None = None
    # In EngineState.active (a level or a pending escalation), mirrored here so the hot loops test a
    # field of the alert they already hold instead of boxing the rule index for a set lookup.
    live: bool = False

    @property
    def active(self) -> bool:
        return self.level > 0 or any(p is not None for p in self.pending[1:])


# A reading vouches for its sensor this many reporting periods. One would leave a gap at every period
# (the next reading is stamped on time but arrives after it: the wire, a batch, a LoRa retry), and a
# tick in that gap restarted `clear_for`, so a level with clear_for longer than the period never fell.
VOUCH_PERIODS: Final = 1.5


def inputs_news(
    series: Mapping[tuple[str, str], Series], rule: Rule, muted: Collection[str]
) -> tuple[bool, float, float]:
    """What a rule's inputs allow a step-down: (every input healthy, the time until which the newest
    readings of the series its expressions read all vouch for them, the earliest time one of those
    newest readings arrived). A reading vouches for its sensor for VOUCH_PERIODS reporting periods.

    A muted sensor (a maintenance window) is out of the rules, so its health and its silence are left
    out: waiting for it would hold the level for the whole window while the other inputs decide.
    When every sensor the rule reads is muted, nothing decides, and the level holds (vouched -inf).
    A sensor that never reported is left out of the last two (it added nothing to the evidence; data
    health flags it stale where a stale check is set)."""
    ok = True
    for k in rule.deps:
        if not series[k].ok and k[0] not in muted:
            ok = False
    vouched = heard = math.inf
    unmuted = False
    for k in rule.reads:
        if k[0] in muted:
            continue
        unmuted = True
        ser = series[k]
        if ser.seen > -math.inf:
            vouched = min(vouched, ser.seen + VOUCH_PERIODS * ser.period)
            heard = min(heard, ser.heard)
    if rule.reads and not unmuted:
        vouched = -math.inf  # every sensor it reads is muted: nothing can confirm a lower level
    return ok, vouched, heard


def step(
    a: Alert,
    rule: Rule,
    raw: int,
    held: int,
    now: float,
    data_ok: bool,
    extend: Callable[[], bool] | None = None,
    vouched: float = math.inf,
    heard: float = math.inf,
) -> int | None:
    """Advance the alert by one evaluation; return the new level if it changed, else None.

    raw: highest level whose trigger holds now; held: highest level the clear/hysteresis conditions
    still support (raw ≤ held ≤ current level). Escalation needs the trigger to hold for `for:`
    (per level, so a storm climbing straight to red waits `for:` once). Stepping down needs the
    level to have lasted `min_time_at_level`, its validity to have expired without extension, and
    the lower level to have held for `clear_for`. At validity expiry `extend()` (Dynaslope-style: the
    evidence is still near the threshold) renews the validity instead. While any input's data is unhealthy the level is
    never lowered: a gauge that died in a storm must not clear the warning.

    vouched, heard: until when the newest reading of every input vouches for it, and when the first
    of those newest readings arrived (inputs_news). A level is lowered only while every input has
    reported within VOUCH_PERIODS of its period, and only once every input has reported since the
    lower evidence began: no news is not good news. Windows also fall when readings stop coming (a link down
    mid-storm), while an outbox backlog is still arriving oldest first, and whenever the reading
    that leaves a window goes before the one that replaces it arrives (a timer tick in between, late
    or jittered readings). None of these may clear a warning; the next reading of every input decides.
    `clear_for` counts only time in which the inputs could confirm the lower level: healthy and current.
    """
    pend = a.pending
    for lv in range(1, 5):
        if raw >= lv:
            if pend[lv] is None:
                pend[lv] = now
        else:
            pend[lv] = None
    up = 0
    hold = rule.for_s
    for lv in range(raw, 0, -1):
        since = pend[lv]
        if since is not None and now - since >= hold:
            up = lv
            break
    cur = a.level
    if up > cur:
        return _enter(a, rule, up, now)
    target = max(held, up)
    if target >= cur:
        a.down_since = None
        _set_state(a)
        return None
    if not data_ok or not now < vouched:
        # Nothing can confirm the lower level now, so it has not "held": clear_for starts again
        # once the inputs are healthy and current (not from a dip first seen hours before).
        a.down_since = None
        return None
    if a.down_since is None:
        a.down_since = now
    if heard < a.down_since:
        return None  # some input has not reported since the evidence fell
    if now - a.entered < rule.min_time_s or now - a.down_since < rule.clear_for_s:
        return None
    if rule.validity_s:
        if now < a.valid_until:
            return None
        if extend is not None and extend():
            a.valid_until = now + rule.validity_s  # evidence still near the threshold: keep the alert
            return None
    return _enter(a, rule, target, now)


def _enter(a: Alert, rule: Rule, level: int, now: float) -> int:
    a.level = level
    a.entered = now
    a.valid_until = now + rule.validity_s
    a.down_since = None
    if level > a.acked_level:
        a.acked_by, a.acked_level = "", 0  # a higher level needs a fresh acknowledgement
    _set_state(a)
    return level


def _set_state(a: Alert) -> None:
    if a.level > 0:
        a.state = FIRING
    elif any(p is not None for p in a.pending[1:]):
        a.state = PENDING
    elif a.state == FIRING or a.state == RESOLVED:
        a.state = RESOLVED
    else:
        a.state = INACTIVE
