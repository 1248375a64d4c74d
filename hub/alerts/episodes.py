"""PURE: fold a transition into an alert's standing state, deciding what (if anything) to tell people."""

from __future__ import annotations

from dataclasses import replace

from hub.alerts import messages as m
from hub.alerts.tables import AlertRow
from hub.clocks import TOLERANCE_S  # NTP's slack: a level dated further ahead, the clock was set back
from hub.rules.model import AlertState, Level, Transition


def kind_of(t: Transition) -> str:
    """Test alerts and data-health alerts are told apart by labels; both go to officers only."""
    if t.labels.get("test") == "true":
        return m.TEST
    if t.labels.get("maintenance") == "true":
        return m.MAINTENANCE
    return m.ALERT


def fold(a: AlertRow | None, t: Transition) -> tuple[AlertRow | None, m.Notice | None, str]:
    """(new state, notice or None, why). Repeats, duplicates and pending states tell no one."""
    kind = kind_of(t)
    ending = t.to_level == Level.NONE or t.state == AlertState.RESOLVED
    active = a is not None and a.active == 1
    if kind == m.TEST:
        return a, _notice(m.TEST, t, f"test#{t.at!r}", t.to_level, t.to_level, Level.NONE), "test"
    if ending:
        if a is None or not active:
            return a, None, "clear of an alert that is not active"
        new = replace(a, level=0, state=int(AlertState.RESOLVED), last_at=t.at, active=0)
        clear = m.MAINTENANCE_CLEAR if a.kind == m.MAINTENANCE else m.CLEAR
        level = Level(a.level)
        return new, _notice(clear, t, a.episode, level, Level(a.max_level), level), "cleared"
    if t.state == AlertState.PENDING:
        return a, None, "pending (hold time not yet elapsed)"
    if a is None or not active:
        episode = f"{t.alert_id}#{t.at:.0f}"
        new = AlertRow(t.alert_id, t.site, t.rule, episode, t.at, int(t.to_level), int(t.to_level),
                       int(t.state), t.at, t.at, kind)  # fmt: skip
        return new, _notice(kind, t, episode, t.to_level, t.to_level, Level.NONE), "new episode"
    if int(t.to_level) == a.level:
        # The same level again (an engine restart replays its firing state): repeats are suppressed.
        return replace(a, last_at=max(a.last_at, t.at)), None, "repeat of the standing level"
    up = int(t.to_level) > a.level
    new = replace(a, level=int(t.to_level), max_level=max(a.max_level, int(t.to_level)), state=int(t.state),
                  level_since=t.at, last_at=t.at)  # fmt: skip
    k = (kind if up else m.DOWN) if a.kind != m.MAINTENANCE else m.MAINTENANCE
    notice = _notice(k, t, a.episode, t.to_level, Level(new.max_level), Level(a.level))
    return new, notice, "escalated" if up else "de-escalated"


def _notice(kind: str, t: Transition, episode: str, level: Level, audience: Level, prev: Level) -> m.Notice:
    return m.Notice(
        kind=kind,
        alert_id=t.alert_id,
        episode=episode,
        key=f"{kind}:{level.label}:{prev.label}:{t.at:.3f}",
        site=t.site,
        rule=t.rule,
        level=level,
        audience_level=audience,
        at=t.at,
        from_level=prev,
        value=t.value,
        message=t.message,
        labels=dict(t.labels),
    )


def escalation_due(a: AlertRow, now: float, min_level: Level, after_s: float) -> m.Notice | None:
    """An alert at or above min_level that no one acknowledged since it reached its level goes to the town.

    An acknowledgement (or an escalation) of a level covers the lower levels of the same episode: after
    red steps down to orange, an orange or red someone answered is not "orange nobody confirmed"."""
    if not a.active or a.kind != m.ALERT or a.level < min_level or a.escalated_level >= a.level:
        return None
    if a.acked_level >= a.level:
        return None
    if a.acked_at is not None and a.acked_at >= a.level_since:  # rows stored before acked_level existed
        return None
    # A level that began "later" than now: the hub's clock has been set back since (hub/app.py). How
    # long it stood unacknowledged is unknown, and the town told early beats the town told hours late.
    if -TOLERANCE_S <= now - a.level_since < after_s:
        return None
    level = Level(a.level)
    return m.Notice(
        kind=m.ESCALATION,
        alert_id=a.alert_id,
        episode=a.episode,
        key=f"escalation:{level.label}",
        site=a.site,
        rule=a.rule,
        level=level,
        audience_level=level,
        at=now,
        from_level=level,
        unacked_min=max(0, int((now - a.level_since) // 60)),
    )
