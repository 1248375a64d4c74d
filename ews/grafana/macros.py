"""Expand Grafana's InfluxQL macros and template variables the way the InfluxDB datasource does."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# Grafana rounds the raw interval (range / max data points) to one of these "nice" steps, in ms.
_NICE_STEPS_MS: tuple[tuple[int, int], ...] = (
    (15, 10),
    (35, 20),
    (75, 50),
    (150, 100),
    (350, 200),
    (750, 500),
    (1_500, 1_000),
    (3_500, 2_000),
    (7_500, 5_000),
    (12_500, 10_000),
    (17_500, 15_000),
    (25_000, 20_000),
    (45_000, 30_000),
    (90_000, 60_000),
    (210_000, 120_000),
    (450_000, 300_000),
    (750_000, 600_000),
    (1_050_000, 900_000),
    (1_500_000, 1_200_000),
    (2_700_000, 1_800_000),
    (5_400_000, 3_600_000),
    (9_000_000, 7_200_000),
    (16_200_000, 10_800_000),
    (24_300_000, 21_600_000),
    (32_400_000, 28_800_000),
    (86_400_000, 43_200_000),
    (604_800_000, 86_400_000),
)
_VAR = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)\]\]|\$(\w+)")
_REGEX_SPECIAL = re.compile(r"([\\^$.|?*+()\[\]{}/-])")


class MacroError(ValueError):
    """A query refers to a variable the dashboard does not define."""


def round_interval_ms(raw_ms: float) -> int:
    for limit, step in _NICE_STEPS_MS:
        if raw_ms < limit:
            return step
    return 604_800_000


def interval_text(ms: int) -> str:
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


@dataclass(frozen=True)
class Context:
    """A time range in epoch ms, the panel's data-point budget, and variable values (lists when multi)."""

    from_ms: int
    to_ms: int
    max_data_points: int = 1000
    min_interval_ms: int = 10_000  # the datasource's timeInterval (deploy/grafana: 10s)
    variables: Mapping[str, str | Sequence[str]] = field(default_factory=dict)

    @property
    def interval_ms(self) -> int:
        raw = (self.to_ms - self.from_ms) / max(self.max_data_points, 1)
        return max(round_interval_ms(raw), self.min_interval_ms)


def _regex_value(values: Sequence[str]) -> str:
    escaped = [_REGEX_SPECIAL.sub(r"\\\1", v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def _builtin(name: str, ctx: Context) -> str | None:
    interval = ctx.interval_ms
    return {
        "timeFilter": f"time >= {ctx.from_ms}ms and time <= {ctx.to_ms}ms",
        "__interval": interval_text(interval),
        "__interval_ms": str(interval),
        "__from": str(ctx.from_ms),
        "__to": str(ctx.to_ms),
        "__range_s": str((ctx.to_ms - ctx.from_ms) // 1000),
        "__range_ms": str(ctx.to_ms - ctx.from_ms),
        "__range": interval_text(ctx.to_ms - ctx.from_ms),
    }.get(name)


def expand(query: str, ctx: Context, where: str = "query") -> str:
    """Interpolate macros and variables. Multi-value variables become an escaped regex group `(a|b)`,
    as Grafana formats them for InfluxQL; single values are inserted raw (the query supplies quotes)."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3) or m.group(4)
        fmt = m.group(2)
        builtin = _builtin(name, ctx)
        if builtin is not None:
            return builtin
        if name not in ctx.variables:
            # $tag_x/$m/$col belong in a target's alias, never in the query Grafana sends.
            raise MacroError(f"{where}: undefined variable ${name}")
        value = ctx.variables[name]
        values = [value] if isinstance(value, str) else list(value)
        if fmt == "raw":
            return ",".join(values)
        if fmt == "regex" or not isinstance(value, str):
            return _regex_value(values)
        return values[0]

    return _VAR.sub(sub, query)


def variables_in(text: str) -> set[str]:
    return {m.group(1) or m.group(3) or m.group(4) for m in _VAR.finditer(text)}


BUILTINS = frozenset(
    {"timeFilter", "__interval", "__interval_ms", "__from", "__to", "__range", "__range_s", "__range_ms"}
)
