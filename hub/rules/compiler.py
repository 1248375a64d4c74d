"""Compile rule expressions into closures over a slot table (windows, series, forecasts); no eval."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hub.rules import calls, guards, slopes
from hub.rules.expr import Arith, BoolOp, Call, Cmp, Const, Dur, Name, Neg, Node, Not, Num, Str

Fn = Callable[[list[Any], float], Any]
SeriesKey = tuple[str, str]


class CompileError(ValueError):
    """An expression that parses but makes no sense (unknown function or name, wrong argument)."""


@dataclass(frozen=True, slots=True)
class InputRef:
    """A rule input: one series (scalar), a group of series (vector) or a site's forecast."""

    name: str
    keys: tuple[SeriesKey, ...]
    group: bool
    forecast: SeriesKey | None = None  # (site, quantity)


@dataclass(frozen=True, slots=True)
class SlotSpec:
    kind: str  # "memo" | "window" | "fit" | "series" | "forecast"
    key: SeriesKey
    length: float = 0.0
    minmax: bool = False


@dataclass
class Plan:
    """Every slot the compiled rules read, shared by all rules; the engine instantiates them per state."""

    slots: list[SlotSpec] = field(default_factory=list)
    index: dict[tuple[str, SeriesKey, float], int] = field(default_factory=dict)
    used: set[int] = field(default_factory=set)  # slots touched since the last reset (per rule)
    memos: int = 0

    def __post_init__(self) -> None:
        self._slot("memo", ("", ""))  # always slot 0

    def _slot(self, kind: str, key: SeriesKey, length: float = 0.0, minmax: bool = False) -> int:
        ident = (kind, key, length)
        i = self.index.get(ident)
        if i is None:
            i = self.index[ident] = len(self.slots)
            self.slots.append(SlotSpec(kind, key, length, minmax))
        elif minmax and not self.slots[i].minmax:
            self.slots[i] = SlotSpec(kind, key, length, True)
        self.used.add(i)
        return i

    def window(self, key: SeriesKey, length: float, minmax: bool = False) -> int:
        return self._slot("window", key, length, minmax)

    def memoize(self, fn: Fn) -> Fn:
        """Compute `fn` once per evaluation: slot 0 holds the evaluation counter and the cache."""
        k = self.memos = self.memos + 1

        def memo(W: list[Any], now: float) -> Any:
            m = W[0]
            hit = m.vals.get(k)
            if hit is not None and hit[0] == m.epoch:
                return hit[1]
            v = fn(W, now)
            m.vals[k] = (m.epoch, v)
            return v

        return memo

    def fit(self, key: SeriesKey, length: float) -> int:
        """An inverse-velocity (Fukuzono) regression window."""
        return self._slot("fit", key, length)

    def series(self, key: SeriesKey) -> int:
        return self._slot("series", key)

    def forecast(self, key: SeriesKey) -> int:
        return self._slot("forecast", key)


@dataclass(frozen=True, slots=True)
class C:
    """A compiled node: its type (num, bool, vnum, vbool), its closure and its value if constant.

    Headroom (see hub/rules/guards.py): `mono` marks a number (or group of numbers) that can rise by
    at most the positive increments of the series in `gkeys` (window sums and their max). `head` on a
    condition gives, while it is false, how much those increments must total before it can turn
    true (0.0 when true or unknown); on a vbool it gives (members true, least headroom of the rest).
    `slope` (see hub/rules/slopes.py): on a number, (kind, window slot, inverse) when it rises with one
    window's delta or rate; on a condition, (kind, slot, raw threshold) below which it stays false.
    """

    type: str
    fn: Fn
    const: Any = None
    mono: bool = False
    head: Fn | None = None
    gkeys: tuple[SeriesKey, ...] = ()
    slope: Any = None


def const(value: Any, typ: str = "num") -> C:
    return C(typ, lambda W, now: value, value)


def eps(c: float) -> float:
    # Sums of 0.1 mm tips are not exact in binary floating point; a relative 1e-9 keeps
    # "35.0 mm >= 35" true without ever moving a real threshold.
    return 1e-9 * max(1.0, abs(c))


_FLIP = {">=": "<=", ">": "<", "<=": ">=", "<": ">", "==": "==", "!=": "!="}
_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": lambda a, b: a / b if b else math.nan}


def _cmp_const(op: str, c: float) -> Callable[[float], bool]:
    e = eps(c)
    if op == ">=":
        lo = c - e
        return lambda x: x >= lo
    if op == ">":
        hi = c + e
        return lambda x: x > hi
    if op == "<=":
        hi = c + e
        return lambda x: x <= hi
    if op == "<":
        lo = c - e
        return lambda x: x < lo
    if op == "==":
        return lambda x: abs(x - c) <= e
    return lambda x: abs(x - c) > e


def _cmp_pair(op: str) -> Callable[[float, float], bool]:
    def test(a: float, b: float) -> bool:
        return _cmp_const(op, b)(a)

    return test


class Compiler:
    """Compiles one rule's expressions; named values may refer to each other but not in a cycle."""

    def __init__(
        self,
        plan: Plan,
        inputs: Mapping[str, InputRef],
        values: Mapping[str, Node],
        shared: frozenset[str] = frozenset(),
    ) -> None:
        self.shared = shared  # named values read more than once per evaluation: computed once
        self.plan = plan
        self.inputs = inputs
        self.values = values
        self.done: dict[str, C] = {}
        self.stack: list[str] = []

    def named(self, name: str) -> C:
        if name in self.done:
            return self.done[name]
        if name in self.stack:
            cycle = " -> ".join([*self.stack[self.stack.index(name) :], name])
            raise CompileError(f"cyclic reference {cycle}")
        self.stack.append(name)
        try:
            out = self.compile(self.values[name])
        finally:
            self.stack.pop()
        if name in self.shared and out.const is None:
            out = C(out.type, self.plan.memoize(out.fn), None, out.mono, out.head, out.gkeys, out.slope)
        self.done[name] = out
        return out

    def compile(self, node: Node) -> C:
        if isinstance(node, Num):
            return const(node.value)
        if isinstance(node, Const):
            return const(node.value, "bool")
        if isinstance(node, Dur | Str):
            raise CompileError(
                f"{'a duration' if isinstance(node, Dur) else 'a string'} is only allowed as a function argument"
            )
        if isinstance(node, Name):
            if node.name in self.values:
                return self.named(node.name)
            if node.name in self.inputs:
                raise CompileError(
                    f"input {node.name!r} must be used inside a function, e.g. sum({node.name}, 1h)"
                )
            raise CompileError(f"unknown name {node.name!r}; declare it under inputs: or values:")
        if isinstance(node, Call):
            return calls.compile_call(self, node)
        if isinstance(node, Neg):
            x = self.number(node.operand, "-")
            return self.elementwise(x, const(-1.0), operator.mul)
        if isinstance(node, Arith):
            a, b = self.number(node.left, node.op), self.number(node.right, node.op)
            out = self.elementwise(a, b, _ARITH[node.op])
            slope = slopes.arith(node.op, a, b) if out.type == "num" and out.const is None else None
            return replace(out, slope=slope) if slope is not None else out
        if isinstance(node, Cmp):
            return self.comparison(node)
        if isinstance(node, Not):
            f = self.condition(node.operand).fn
            return C("bool", lambda W, now: not f(W, now))
        if isinstance(node, BoolOp):
            cs = [self.condition(o) for o in node.operands]
            fs = tuple(c.fn for c in cs)
            head, gkeys = guards.boolop_head(node.op, cs)
            sl = slopes.either(node.op, [c.slope for c in cs])
            if node.op == "and":
                if len(fs) == 2:
                    f0, f1 = fs
                    return C("bool", lambda W, now: f0(W, now) and f1(W, now), None, False, head, gkeys, sl)
                return C("bool", lambda W, now: all(f(W, now) for f in fs), None, False, head, gkeys, sl)
            if len(fs) == 2:
                f0, f1 = fs
                return C("bool", lambda W, now: f0(W, now) or f1(W, now), None, False, head, gkeys, sl)
            return C("bool", lambda W, now: any(f(W, now) for f in fs), None, False, head, gkeys, sl)
        raise CompileError(f"cannot compile {node!r}")

    def number(self, node: Node, where: str) -> C:
        c = self.compile(node)
        if c.type not in ("num", "vnum"):
            raise CompileError(f"{where!r} needs a number, got a condition")
        return c

    def condition(self, node: Node) -> C:
        """A boolean; a vector of booleans (one per sensor of a group) counts as true if any is."""
        c = self.compile(node)
        if c.type == "bool":
            return c
        if c.type == "vbool":
            f = c.fn
            return C("bool", lambda W, now: any(f(W, now)), None, False, guards.any_head(c.head), c.gkeys)
        raise CompileError("a condition is needed here (e.g. sum(rain, 1h) >= 35), got a number")

    def elementwise(self, a: C, b: C, op: Callable[[Any, Any], Any]) -> C:
        fa, fb = a.fn, b.fn
        if a.const is not None and b.const is not None:
            return const(op(a.const, b.const))
        if a.type == "vnum" and b.type == "vnum":
            raise CompileError(
                "arithmetic between two sensor groups is ambiguous; reduce one with max_of(...) etc."
            )
        if a.type == "vnum":
            return C("vnum", lambda W, now: [op(x, fb(W, now)) for x in fa(W, now)])
        if b.type == "vnum":
            return C("vnum", lambda W, now: [op(fa(W, now), y) for y in fb(W, now)])
        if b.const is not None:
            k = b.const
            return C("num", lambda W, now: op(fa(W, now), k))
        return C("num", lambda W, now: op(fa(W, now), fb(W, now)))

    def comparison(self, node: Cmp) -> C:
        a, b = self.number(node.left, node.op), self.number(node.right, node.op)
        op = node.op
        if a.const is not None and b.const is None:
            a, b, op = b, a, _FLIP[op]
        fa = a.fn
        if b.const is not None:
            test = _cmp_const(op, float(b.const))
            head = guards.cmp_head(a, op, float(b.const))
            gk = a.gkeys if head is not None else ()
            if a.type == "vnum":
                if op == ">=":  # k-of-n over a group: the common case, a native loop
                    lo_ = float(b.const) - eps(float(b.const))
                    return C(
                        "vbool", lambda W, now: calls.at_or_above(fa(W, now), lo_), None, False, head, gk
                    )
                return C("vbool", lambda W, now: [test(x) for x in fa(W, now)], None, False, head, gk)
            sl = slopes.cmp(a, op, guards.limit(op, float(b.const))) if op in (">=", ">") else None
            if op == ">=":  # the common case, kept to one call
                lo = float(b.const) - eps(float(b.const))

                def ge(W: list[Any], now: float) -> bool:
                    x: float = fa(W, now)  # typed: a native comparison when compiled
                    return x >= lo

                return C("bool", ge, None, False, head, gk, sl)
            return C("bool", lambda W, now: test(fa(W, now)), None, False, head, gk, sl)
        pair = _cmp_pair(op)
        fb = b.fn
        if a.type == "vnum" or b.type == "vnum":
            vec = self.elementwise(a, b, pair)
            return C("vbool", vec.fn)
        return C("bool", lambda W, now: pair(fa(W, now), fb(W, now)))
