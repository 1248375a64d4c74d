"""Field settings shared by the dashboards' panels: thresholds, value mappings and per-column overrides."""

from __future__ import annotations

from typing import Any

from ews.grafana.thresholds import LEVEL_COLOR, LEVEL_ZH, Limits

Json = dict[str, Any]


def threshold_steps(limits: Limits | None, base: str = "green") -> Json:
    steps: list[Json] = [{"color": base, "value": None}]
    if limits is not None:
        steps += [{"color": LEVEL_COLOR[name], "value": bound} for name, bound in limits.steps()]
    return {"mode": "absolute", "steps": steps}


def null_text(text: str, color: str) -> Json:
    """A mapping that shows `text` in `color` where a cell or value is empty."""
    return {"type": "special", "options": {"match": "null", "result": {"text": text, "color": color}}}


def level_mappings(null_is_none: bool = True) -> list[Json]:
    """Value mappings 0..4 → Chinese level names with their colours (for level_num fields).

    Timelines pass null_is_none=False: there a null means "no transition known yet", and painting it
    无预警 green would call a site calm while a level set before the range still stands."""
    options: Json = {"0": {"text": "无预警", "color": "green", "index": 0}}
    for i, name in enumerate(("blue", "yellow", "orange", "red"), start=1):
        options[str(i)] = {"text": LEVEL_ZH[name], "color": LEVEL_COLOR[name], "index": i}
    values: Json = {"type": "value", "options": options}
    return [values, null_text("无预警", "green")] if null_is_none else [values]


def level_thresholds() -> Json:
    steps: list[Json] = [{"color": "green", "value": None}]
    steps += [{"color": c, "value": float(i)} for i, c in enumerate(("blue", "yellow", "orange", "red"), 1)]
    return {"mode": "absolute", "steps": steps}


def up_down_mappings(up: str, down: str) -> list[Json]:
    """1/0 health values (gateway online, feed working) as green `up` / red `down` text."""
    options = {
        "1": {"text": up, "color": "green", "index": 0},
        "0": {"text": down, "color": "red", "index": 1},
    }
    return [{"type": "value", "options": options}]


def up_down_thresholds() -> Json:
    """Red below 1, green at 1: colours a 1/0 health value."""
    return {"mode": "absolute", "steps": [{"color": "red", "value": None}, {"color": "green", "value": 1}]}


def name_overrides(names: dict[str, str]) -> list[Json]:
    """Show Chinese names for series aliased by id (site, gateway)."""
    return [column(key, {"id": "displayName", "value": text}) for key, text in names.items()]


def value_text_mappings(names: dict[str, str]) -> list[Json]:
    """Table cells holding ids (site, grid) shown with their Chinese names."""
    options = {key: {"text": text, "index": i} for i, (key, text) in enumerate(names.items())}
    return [{"type": "value", "options": options}] if options else []


def column(name: str, *properties: Json) -> Json:
    """An override of the field (series or table column) called `name`."""
    return {"matcher": {"id": "byName", "options": name}, "properties": list(properties)}


def names_column(name: str, names: dict[str, str]) -> Json:
    """A table column of ids (site, gateway) shown by their Chinese names."""
    return column(name, {"id": "mappings", "value": value_text_mappings(names)})


def age_column(name: str) -> Json:
    """A table column of times shown as their age ("3 minutes ago")."""
    return column(name, {"id": "unit", "value": "dateTimeFromNow"})


def coloured_column(name: str, mappings: list[Json], cell: str = "color-text") -> Json:
    """A table column whose mapped values colour the text (or the background)."""
    return column(
        name, {"id": "mappings", "value": mappings}, {"id": "custom.cellOptions", "value": {"type": cell}}
    )
