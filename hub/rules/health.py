"""Data health: staleness, stuck and out-of-range values become maintenance alerts and leave the rules."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hub.rules.model import AlertState, Level, Transition
from hub.rules.ruleset import HealthRule, RuleSet
from hub.rules.text import local_time
from hub.rules.windows import Series

SeriesKey = tuple[str, str]

_DEFAULT = {
    "stale": "{site_name}监测设备{sensor}数据中断，请尽快检修（维护告警）",
    "stuck": "{site_name}监测设备{sensor}读数长时间不变，疑似故障，已暂停用于预警（维护告警）",
    "range": "{site_name}监测设备{sensor}读数超出合理范围，已暂停用于预警（维护告警）",
}
_CLEAR = "{site_name}监测设备{sensor}已恢复正常"


@dataclass(frozen=True, slots=True)
class HealthEvent:
    rule: HealthRule
    key: SeriesKey
    raised: bool
    at: float
    value: float | None


class HealthPlan:
    """Which checks apply to which series; built once from the rule set."""

    def __init__(self, rs: RuleSet) -> None:
        self.stale: dict[SeriesKey, tuple[HealthRule, float]] = {}
        self.range: dict[SeriesKey, tuple[HealthRule, float, float]] = {}
        self.stuck: dict[SeriesKey, tuple[HealthRule, float]] = {}
        for hr in rs.health:
            for s in rs.sensors.values():
                key = (s.id, s.quantity)
                if hr.kind == "stale" and (hr.quantities is None or s.quantity in hr.quantities):
                    self.stale[key] = (hr, hr.periods * s.period_s)
                elif hr.kind == "range" and s.quantity in hr.ranges:
                    self.range[key] = (hr, *hr.ranges[s.quantity])
                elif hr.kind == "stuck" and s.quantity in hr.stuck_s:
                    self.stuck[key] = (hr, hr.stuck_s[s.quantity])
        self.checked = frozenset(self.range) | frozenset(self.stuck)

    def on_reading(self, ser: Series, t: float, v: float, events: list[HealthEvent]) -> bool:
        """Range and stuck checks for one reading; False if it must not feed the rules."""
        key = ser.key
        rng = self.range.get(key)
        if rng is not None:
            hr, lo, hi = rng
            if not lo <= v <= hi:
                _flag(ser, "range", True, hr, t, v, events)
                return False
            _flag(ser, "range", False, hr, t, v, events)
        st = self.stuck.get(key)
        if st is not None and t >= ser.seen:  # judge stuck on in-order readings only
            hr, limit = st
            if v != ser.last_v:
                ser.last_v, ser.changed_at = v, t
                _flag(ser, "stuck", False, hr, t, v, events)
            elif t - ser.changed_at >= limit:
                _flag(ser, "stuck", True, hr, t, v, events)
                return False
        return True

    def sweep(self, series: dict[SeriesKey, Series], now: float, events: list[HealthEvent]) -> None:
        """Staleness at event time `now`. A series never heard from gets a grace period from now."""
        for key, (hr, limit) in self.stale.items():
            ser = series[key]
            if ser.seen == -math.inf:
                ser.seen = now
            _flag(ser, "stale", now - ser.seen > limit, hr, now, None, events)


def _flag(
    ser: Series, flag: str, on: bool, hr: HealthRule, t: float, v: float | None, events: list[HealthEvent]
) -> None:
    if on == (flag in ser.flags):
        return
    if on:
        ser.flags.add(flag)
    else:
        ser.flags.discard(flag)
    ser.ok = not ser.flags
    events.append(HealthEvent(hr, ser.key, on, t, v))


def alert_rule(check: str, sensor: str) -> str:
    """The rule name of a health check's maintenance alert on one sensor (the hub asks it back)."""
    return f"{check}.{sensor}"


def health_transition(ev: HealthEvent, rs: RuleSet) -> Transition:
    """A maintenance alert for officers; never a villager audience."""
    sensor_id, quantity = ev.key
    sensor = rs.sensors[sensor_id]
    site = rs.sites[sensor.site]
    hr = ev.rule
    lv = hr.level if ev.raised else Level.NONE
    fields = {
        "site": site.id,
        "site_name": site.name,
        "hazard": "sensor",
        "hazard_zh": "监测设备",
        "level": lv.label,
        "level_zh": lv.zh,
        "level_roman": lv.roman,
        "grids": ",".join(site.grids),
        "time": local_time(ev.at),
        "rule": hr.id,
        "sensor": sensor_id,
        "value": ev.value if ev.value is not None else math.nan,
    }
    template = (hr.message or _DEFAULT[hr.kind]) if ev.raised else _CLEAR
    labels = {
        "site": site.id,
        "site_name": site.name,
        "grids": ",".join(site.grids),
        "grid": site.grids[0] if site.grids else "",
        "hazard": "sensor",
        "hazard_zh": "监测设备",
        "audience": "officers",
        "maintenance": "true",
        "sensor": sensor_id,
        "quantity": quantity,
        "check": hr.kind,
        "level": lv.label,
        "rule": hr.id,
    }
    return Transition(
        rule=alert_rule(hr.id, sensor_id),
        site=site.id,
        at=ev.at,
        from_level=Level.NONE if ev.raised else hr.level,
        to_level=lv,
        state=AlertState.FIRING if ev.raised else AlertState.RESOLVED,
        value=ev.value,
        labels=labels,
        message=template.format(**fields),
    )
