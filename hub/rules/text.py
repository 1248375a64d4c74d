"""Chinese message rendering for rule transitions: Beijing time and the template fields."""

from __future__ import annotations

import math
import string
import time
from collections.abc import Mapping
from typing import Any

from hub.rules.model import Level
from hub.rules.ruleset import Rule, RuleError, RuleSet

TEMPLATE_FIELDS = {
    "site",
    "site_name",
    "hazard",
    "hazard_zh",
    "level",
    "level_zh",
    "level_roman",
    "value",
    "grids",
    "time",
    "rule",
    "sensor",
}

BEIJING_OFFSET_S = 8 * 3600  # China has one time zone, UTC+8, and no daylight saving


def local_time(epoch: float) -> str:
    """Event time as villagers read it: Beijing time, e.g. '11月29日 19:30'."""
    if not math.isfinite(epoch):
        return "-"
    # gmtime of the shifted second: a tenth of the cost of datetime + astimezone + strftime, and every
    # transition renders one (storm mode emits thousands a second).
    t = time.gmtime(math.floor(epoch) + BEIJING_OFFSET_S)
    return f"{t.tm_mon}月{t.tm_mday}日 {t.tm_hour:02d}:{t.tm_min:02d}"


class _NoData:
    """A value with no data (NaN: every sensor of a group stale) as people read it, whatever the format."""

    def __format__(self, spec: str) -> str:
        return "--"


def _readable(v: Any) -> Any:
    return _NoData() if isinstance(v, float) and math.isnan(v) else v


class _Safe(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(
    rule: Rule, rs: RuleSet, level: Level, values: Mapping[str, Any], value: float | None, at: float
) -> str:
    site = rs.sites[rule.site]
    fields = _Safe(
        site=site.id,
        site_name=site.name,
        hazard=rule.hazard,
        hazard_zh=rule.labels.get("hazard_zh", ""),
        level=level.label,
        level_zh=level.zh,
        level_roman=level.roman,
        grids=",".join(site.grids),
        time=local_time(at),
        rule=rule.id,
        sensor="",
        value=_readable(value if value is not None else math.nan),
    )
    fields.update({k: _readable(v) for k, v in values.items()})
    template = rule.messages.get(int(level), "") if level else rule.message_clear
    try:
        return template.format_map(fields)
    except (ValueError, TypeError):
        # A value that cannot take the format spec (e.g. a condition under {x:.1f}); keep the text.
        return template


def check_template(text: str, fields: set[str], where: str, fld: str) -> str:
    try:
        for _, name, spec, _ in string.Formatter().parse(text):
            if name is None:
                continue
            if name not in fields:
                raise ValueError(f"unknown placeholder {{{name}}}; use {', '.join(sorted(fields))}")
            format(
                1.0
                if name
                not in (
                    "site",
                    "site_name",
                    "hazard",
                    "hazard_zh",
                    "level",
                    "level_zh",
                    "level_roman",
                    "grids",
                    "time",
                    "rule",
                    "sensor",
                )
                else "x",
                spec or "",
            )
    except ValueError as exc:
        raise RuleError(f"{where}: field {fld}: {exc}") from None
    return text


def per_level(spec: Any, default: str, where: str, fld: str) -> dict[int, str]:
    from hub.rules.levels import level_of

    if isinstance(spec, str):
        return dict.fromkeys(range(1, 5), spec or default)
    out = dict.fromkeys(range(1, 5), default)
    for name, v in spec.items():
        out[level_of(name, where, f"{fld}.{name}")] = ", ".join(v) if isinstance(v, list) else v
    return out
