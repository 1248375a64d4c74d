"""Advice on rules that load but will misbehave in the field: levels noise flaps, villagers told nothing useful."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.rules.model import Level
from hub.rules.ruleset import Rule

if TYPE_CHECKING:  # the loader imports this module: only its type, to avoid a cycle
    from hub.rules.loader import RuleModel

# Audience labels that put a rule's SMS and loudspeaker messages in front of villagers (hub/alerts/routing.py).
WIDE = ("villagers", "everyone", "all")


def unsteady(model: RuleModel, rule: Rule, where: str) -> str | None:
    """A warning when nothing holds the rule's level against noise, else None.

    Without hysteresis, clear:, min_time_at_level, clear_for or validity, the level falls as soon as
    the evidence dips below the trigger and the inputs have reported, and rises again with the next
    reading above it. A gauge or GNSS station whose noise straddles a threshold then sends an all-clear
    and a new warning with every few readings: the false alarm that teaches villagers to ignore the
    loudspeaker. Hysteresis and clear: stop the cycle; min_time_at_level, clear_for and validity
    slow it to one per period at most, which is enough to pass. A `for:` only delays each rise."""
    if model.hysteresis > 0 or model.clear or rule.min_time_s or rule.clear_for_s or rule.validity_s:
        return None
    wide = [lv for lv, who in rule.audience.items() if who.strip().lower() in WIDE]
    told = f"villagers (from {Level(min(wide)).label} up)" if wide else "officers"
    return (
        f"{where}: nothing holds a level against noise (no hysteresis, clear, min_time_at_level, "
        f"clear_for or validity): a value that wavers at a threshold sends {told} a warning and an "
        "all-clear again and again; add hysteresis (thresholds:), clear: (levels:) or min_time_at_level"
    )


def untold(model: RuleModel, rule: Rule, where: str) -> str | None:
    """A warning when a level that reaches villagers has no message of its own, else None.

    The default text names the rule's id (`{site_name}{hazard_zh}{level_zh}预警：landslide-rain-3`):
    an SMS and a loudspeaker call that tell villagers neither what is happening nor what to do."""
    if isinstance(model.message, str):
        given = set(LEVEL_NAMES) if model.message else set()
    else:
        given = {name.lower() for name in model.message}
    if model.levels is not None:
        reached = {name.lower() for name in model.levels}
    else:
        rows = (model.thresholds or {}).values()
        reached = {
            name for k, name in enumerate(LEVEL_NAMES) if any(len(r) > k and r[k] is not None for r in rows)
        }
    bare = [
        name
        for k, name in enumerate(LEVEL_NAMES, start=1)
        if name in reached and name not in given and rule.audience.get(k, "").strip().lower() in WIDE
    ]
    if not bare:
        return None
    return (
        f"{where}: level(s) {', '.join(bare)} reach villagers with the default message, which names the "
        f"rule id ({model.id}) and says nothing of what to do: give message.{bare[0]} in Chinese"
    )


LEVEL_NAMES = tuple(Level(k).label for k in range(1, 5))  # blue, yellow, orange, red
