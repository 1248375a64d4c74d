"""Level functions of a rule: the threshold table (any row, hysteresis) and per-level expressions."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from librt.vecs import vec
from mypy_extensions import i64

from hub.rules import guards, slopes
from hub.rules.calls import largest
from hub.rules.compiler import C, CompileError, Compiler, eps
from hub.rules.expr import ExprError, parse_expr
from hub.rules.model import Level
from hub.rules.ruleset import RuleError

if TYPE_CHECKING:
    from hub.rules.loader import RuleModel


def field_error(where: str, fld: str, exc: Exception) -> RuleError:
    return RuleError(f"{where}: field {fld}: {exc}")


def as_number(c: C) -> Callable[[list[Any], float], float]:
    """A number from a scalar, or the largest healthy member of a group (any gauge counts)."""
    f = c.fn
    if c.type == "num":
        return f
    if c.type == "vnum":
        return lambda W, now: largest(f(W, now))
    raise CompileError("a number is needed here, got a condition")


class Row:
    """One row of a threshold table: its value and, per level it sets, the trigger and hold limits.

    The limits are unboxed vectors scanned in place: a rule's rows are cold whenever a reading wakes it
    at province scale, and a list of boxed floats searched with bisect cost a cache miss per float."""

    __slots__ = ("fn", "up", "lv", "down", "by_level")

    def __init__(
        self, fn: Any, up: list[float], lv: list[int], down: list[float] | None, by_level: dict[int, float]
    ) -> None:
        self.fn = fn
        self.up = vec[float](up)  # trigger limit of each level, rising
        self.lv = vec[i64](lv)  # the level each limit sets
        self.down = vec[float](down if down is not None else [])  # hold limits (hysteresis), or none
        self.by_level = by_level  # level -> its threshold as written (extension rules)


def reached(limits: vec[float], v: float) -> int:
    """How many of the rising limits v reaches (bisect_right on a handful of unboxed floats)."""
    k = 0
    n = len(limits)
    while k < n and limits[k] <= v:
        k += 1
    return k


def levels_table(model: RuleModel, comp: Compiler, where: str) -> tuple[Any, Any, Any, tuple[Any, ...], Any]:
    """(levels, extend, headroom or None, the series the headroom watches, slope guard or None)."""
    rows: list[Row] = []
    mono: list[C] = []
    slope_rows: list[slopes.SlopeCond | None] = []
    assert model.thresholds is not None
    for key, thresholds in model.thresholds.items():
        fld = f"thresholds.{key}"
        try:
            c = comp.named(key) if key in comp.values else comp.compile(parse_expr(key))
            fn = as_number(c)
            if c.mono:
                mono.append(c)
        except (CompileError, ExprError) as exc:
            raise field_error(where, fld, exc) from None
        if len(thresholds) != 4:
            raise RuleError(
                f"{where}: field {fld}: give 4 thresholds [blue, yellow, orange, red] (null to skip)"
            )
        pairs = [(t, lv) for lv, t in enumerate(thresholds, start=1) if t is not None]
        if any(b[0] <= a[0] for a, b in zip(pairs, pairs[1:], strict=False)):
            raise RuleError(f"{where}: field {fld}: thresholds must rise from blue to red")
        lowest = pairs[0][0] if pairs else None
        slope_rows.append(slopes.cmp(c, ">=", guards.limit(">=", lowest)) if lowest is not None else None)
        up = [t - eps(t) for t, _ in pairs]
        down = [t * (1 - model.hysteresis) - eps(t) for t, _ in pairs] if model.hysteresis else None
        rows.append(Row(fn, up, [lv for _, lv in pairs], down, {lv: t for t, lv in pairs}))

    def levels(W: list[Any], now: float, current: int) -> tuple[int, int]:
        raw = held = 0
        for row in rows:
            v: float = row.fn(W, now)
            if v != v:  # NaN (no data) never raises a level
                continue
            k = reached(row.up, v)
            if k and row.lv[k - 1] > raw:
                raw = row.lv[k - 1]
            k = reached(row.down, v)
            if k and row.lv[k - 1] > held:
                held = row.lv[k - 1]
        return raw, max(raw, min(held, current))

    extend = None
    if model.extend_ratio is not None:
        ratio = model.extend_ratio

        def extend(W: list[Any], now: float, level: int) -> bool:
            for row in rows:
                t = row.by_level.get(level)
                if t is not None and row.fn(W, now) >= ratio * t - eps(t):
                    return True
            return False

    head = None
    if len(mono) == len(rows):  # raw is 0 while every row stays below its lowest threshold
        rows_up = [(r.fn, guards.limit(">=", r.by_level[r.lv[0]])) for r in rows if len(r.lv)]
        head = guards.least([guards.below(f, m) for f, m in rows_up])
    slope = None if head else slopes.least(slope_rows)
    return levels, extend, head, guards.union(mono) if head else (), slope


def levels_expr(model: RuleModel, comp: Compiler, where: str) -> tuple[Any, Any, tuple[Any, ...], Any]:
    """(levels, headroom or None, the series the headroom watches, slope guard or None)."""
    assert model.levels is not None
    trig: list[tuple[int, Any]] = []
    holds: list[tuple[int, Any]] = []
    heads: list[C] = []
    for name, text in model.levels.items():
        lv = level_of(name, where, f"levels.{name}")
        c = cond_c(comp, text, where, f"levels.{name}")
        trig.append((lv, c.fn))
        heads.append(c)
    for name, text in model.clear.items():
        lv = level_of(name, where, f"clear.{name}")
        if lv not in dict(trig):
            raise RuleError(f"{where}: field clear.{name}: no trigger for this level under levels:")
        ended = cond(comp, text, where, f"clear.{name}")
        trig_lv = dict(trig)[lv]
        holds.append((lv, lambda W, now, e=ended, t=trig_lv: t(W, now) or not e(W, now)))
    trig.sort(reverse=True, key=lambda p: p[0])
    holds.sort(reverse=True, key=lambda p: p[0])

    def levels(W: list[Any], now: float, current: int) -> tuple[int, int]:
        raw = 0
        for lv, f in trig:
            if f(W, now):
                raw = lv
                break
        if raw < current:
            for lv, g in holds:
                if raw < lv <= current and g(W, now):
                    return raw, lv
        return raw, raw

    if all(c.head is not None for c in heads):  # raw is 0 while no trigger holds
        return levels, guards.least([c.head for c in heads if c.head is not None]), guards.union(heads), None
    return levels, None, (), slopes.least([c.slope for c in heads])


def cond_c(comp: Compiler, text: str, where: str, fld: str) -> C:
    try:
        return comp.condition(parse_expr(text))
    except (CompileError, ExprError) as exc:
        raise field_error(where, fld, exc) from None


def cond(comp: Compiler, text: str, where: str, fld: str) -> Any:
    return cond_c(comp, text, where, fld).fn


def level_of(name: str, where: str, fld: str) -> int:
    try:
        lv = Level.parse(name)
    except ValueError as exc:
        raise field_error(where, fld, exc) from None
    if lv == Level.NONE:
        raise RuleError(f"{where}: field {fld}: level none cannot be raised")
    return int(lv)
