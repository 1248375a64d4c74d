"""Pure CAP warning state: apply Alert/Update/Cancel by references, expire, and level per site over time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from edge.wire import Reading
from hub.feeds.base import FeedEvent, Point
from hub.feeds.capparse import CapAlert, CapInfo, area_covers, pick_info

Key = tuple[str, str]  # (sender, identifier)
FORGET_AFTER_S = 7 * 86400.0  # ended warnings are remembered this long so replays stay ignored


@dataclass
class Ended:
    alert: CapAlert | None  # None: ended by an Update/Cancel before the message itself arrived
    at: float
    reason: str  # "cancelled", "superseded", "expired", "lifted"


@dataclass
class CapState:
    """Warnings in force by key, ended ones (to ignore replays) and the last level told per site."""

    active: dict[Key, CapAlert] = field(default_factory=dict)
    ended: dict[Key, Ended] = field(default_factory=dict)
    levels: dict[str, tuple[int, Key | None]] = field(default_factory=dict)


def _end(state: CapState, key: Key, now: float, reason: str) -> None:
    alert = state.active.pop(key, None)
    if alert is not None:
        state.ended[key] = Ended(alert, now, reason)
    elif key not in state.ended:
        # Referenced but not (yet) known: its fetch failed, or it comes later in the index. Remember it
        # as ended so it cannot come into force when it does arrive (a cancelled warning for hours).
        state.ended[key] = Ended(None, now, reason)


def apply(state: CapState, alert: CapAlert, now: float, accept_status: Sequence[str] = ("Actual",)) -> str:
    """Fold one message into the state; returns what happened (for logs and tests)."""
    if alert.status not in accept_status:
        return f"ignored: status {alert.status}"
    if alert.msg_type not in ("Alert", "Update", "Cancel"):
        return f"ignored: msgType {alert.msg_type}"
    refs = [(s, i) for s, i, _sent in alert.references]
    # "解除…预警" sent as an Alert ends the referenced warnings just like a Cancel.
    lifted = bool(alert.infos) and all(i.lifted for i in alert.infos)
    ends_refs = alert.msg_type in ("Update", "Cancel") or lifted
    reason = {"Update": "superseded", "Cancel": "cancelled"}.get(alert.msg_type, "lifted")
    early = state.ended.get(alert.key)
    if early is not None and early.alert is None:
        # Ended before it arrived (an Update fetched after the Cancel of it): it never comes into force,
        # but what it referenced is over all the same, or an older warning would outlive the chain.
        early.alert = alert
        for ref in refs if ends_refs else ():
            _end(state, ref, now, reason)
        return f"ignored: already {early.reason}"
    if alert.key in state.ended or alert.key in state.active:
        return "ignored: already seen"
    for ref in refs if ends_refs else ():
        _end(state, ref, now, reason)
    if alert.msg_type == "Cancel" or lifted:
        state.ended[alert.key] = Ended(alert, now, "cancelled")
        return f"cancelled {len(refs)} reference(s)"
    state.active[alert.key] = alert
    return f"active ({alert.msg_type}, {len(refs)} reference(s))"


def info_window(alert: CapAlert, info: CapInfo, default_validity_s: float) -> tuple[float, float]:
    start = info.effective if info.effective is not None else alert.sent
    end = info.expires if info.expires is not None else alert.sent + default_validity_s
    return start, end


def expire(state: CapState, now: float, default_validity_s: float) -> None:
    """End warnings whose every info has expired, and forget long-ended ones."""
    for key, alert in list(state.active.items()):
        ends = [info_window(alert, i, default_validity_s)[1] for i in alert.infos] or [alert.sent]
        if max(ends) <= now:
            _end(state, key, now, "expired")
    for key in [k for k, e in state.ended.items() if now - e.at > FORGET_AFTER_S]:
        del state.ended[key]


def _best(
    state: CapState, point: Point, geocodes: Sequence[str], now: float, default_validity_s: float
) -> tuple[int, Key | None]:
    best: tuple[int, Key | None] = (0, None)
    for key, alert in state.active.items():
        for info in alert.infos:
            start, end = info_window(alert, info, default_validity_s)
            if not start <= now < end or info.level <= best[0]:
                continue
            if any(area_covers(a, point.lat, point.lon, geocodes) for a in info.areas):
                best = (info.level, key)
    return best


def _matching(
    alert: CapAlert, point: Point, geocodes: Sequence[str], level: int, now: float, default_validity_s: float
) -> list[CapInfo]:
    """The info blocks that put `level` over the point (one per language), to describe the event."""
    out = []
    for info in alert.infos:
        start, end = info_window(alert, info, default_validity_s)
        covers = any(area_covers(a, point.lat, point.lon, geocodes) for a in info.areas)
        if info.level == level and start <= now < end and covers:
            out.append(info)
    return out


def site_levels(
    state: CapState,
    points: Sequence[Point],
    site_geocodes: Mapping[str, Sequence[str]],
    now: float,
    *,
    feed: str,
    languages: Sequence[str],
    default_validity_s: float,
) -> tuple[list[Reading], list[FeedEvent]]:
    """A warning_level reading for every site (0 = none in force) and an event where the level changed."""
    expire(state, now, default_validity_s)
    readings: list[Reading] = []
    events: list[FeedEvent] = []
    for point in points:
        level, key = _best(state, point, site_geocodes.get(point.site, ()), now, default_validity_s)
        readings.append(Reading(f"{feed}@{point.site}", "warning_level", float(level), now, source="warning"))
        prev_level, prev_key = state.levels.get(point.site, (0, None))
        if (level, key) == (prev_level, prev_key):
            continue
        state.levels[point.site] = (level, key)
        if key is not None:
            alert = state.active[key]
            action = "issued" if prev_level == 0 else "updated"
        elif prev_key is not None and (gone := state.ended.get(prev_key)) and gone.alert is not None:
            alert = gone.alert
            action = "cancelled" if gone.reason in ("superseded", "lifted") else gone.reason
        else:
            continue
        info = pick_info(
            _matching(alert, point, site_geocodes.get(point.site, ()), level, now, default_validity_s)
            or alert.infos,
            languages,
        )
        events.append(
            FeedEvent(
                feed=feed,
                site=point.site,
                action=action,
                level=level,
                time=now,
                identifier=alert.identifier,
                sender=alert.sender,
                event=info.event if info else "",
                headline=info.headline if info else "",
                sent=alert.sent,
                expires=info.expires if info else None,
            )
        )
    return readings, events
