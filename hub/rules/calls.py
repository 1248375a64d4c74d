"""The rule language's functions: window aggregates, group reducers and domain methods, with signatures."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub.rules import guards
from hub.rules.expr import Call, Dur, Name, Neg, Num, Str
from hub.rules.windows import Window

if TYPE_CHECKING:
    from hub.rules.compiler import C, Compiler, InputRef

MISSING = object()
WINDOW_AGGS = ("sum", "mean", "min", "max", "delta", "rate", "count")


# Rule closures receive the slots as list[Any]. Reading a window through these typed helpers makes
# the call native when compiled (a generic Python method call, boxing `now`, costs ~10x more).
def win_sum(W: list[Any], i: int, now: float) -> float:
    w: Window = W[i]
    return w.sum(now)


def win_rate(W: list[Any], i: int, now: float) -> float:
    w: Window = W[i]
    return w.rate(now)


def win_delta(W: list[Any], i: int, now: float) -> float:
    w: Window = W[i]
    return w.delta(now)


def group_sums(W: list[Any], slots: list[int], now: float) -> list[float]:
    """The window sums of a group's healthy members."""
    out: list[float] = []
    for i in slots:
        w: Window = W[i]
        if w.series.ok:
            out.append(w.sum(now))
    return out


def largest(xs: list[float]) -> float:
    """max() of the numbers that are not NaN, NaN when none is (a group with no healthy data)."""
    out = math.nan
    for x in xs:
        if x == x and not out >= x:
            out = x
    return out


def smallest(xs: list[float]) -> float:
    out = math.nan
    for x in xs:
        if x == x and not out <= x:
            out = x
    return out


def at_or_above(xs: list[float], lo: float) -> list[bool]:
    return [x >= lo for x in xs]


def count_true(xs: list[bool]) -> int:
    n = 0
    for x in xs:
        if x:
            n += 1
    return n


def bind(comp: Compiler, call: Call, spec: list[tuple[str, str, Any]]) -> dict[str, Any]:
    """Match arguments to a signature [(name, kind, default)]; kinds: input, dur, num, str, cond, *dur."""
    from hub.rules.compiler import CompileError

    out: dict[str, Any] = {}
    names = [s[0] for s in spec]
    given: dict[str, Any] = {}
    variadic = spec[-1][1].startswith("*") if spec else False
    for i, node in enumerate(call.args):
        if i < len(spec) - (1 if variadic else 0):
            given[names[i]] = node
        elif variadic:
            given.setdefault(names[-1], []).append(node)
        else:
            raise CompileError(f"{call.func}() takes at most {len(spec)} arguments ({', '.join(names)})")
    for key, node in call.kwargs:
        if key not in names:
            raise CompileError(f"{call.func}() has no argument {key!r}; it takes {', '.join(names)}")
        given[key] = node
    for name, kind, default in spec:
        node = given.get(name, MISSING)
        if node is MISSING:
            if default is MISSING:
                raise CompileError(f"{call.func}() needs argument {name!r} ({', '.join(names)})")
            out[name] = default
            continue
        where = f"{call.func}() argument {name!r}"
        if kind == "input":
            if not isinstance(node, Name) or node.name not in comp.inputs:
                raise CompileError(f"{where} must be an input name declared under inputs:")
            out[name] = comp.inputs[node.name]
        elif kind in ("dur", "*dur"):
            nodes = node if kind == "*dur" else [node]
            for n in nodes:
                if not isinstance(n, Dur) or n.seconds <= 0:
                    raise CompileError(f"{where} must be a positive duration like 30m, 1h or 3d")
            out[name] = [n.seconds for n in nodes] if kind == "*dur" else node.seconds
        elif kind == "num":
            sign = 1.0
            if isinstance(node, Neg):
                node, sign = node.operand, -1.0
            if not isinstance(node, Num):
                raise CompileError(f"{where} must be a number")
            out[name] = sign * node.value
        elif kind == "str":
            if not isinstance(node, Str):
                raise CompileError(f"{where} must be a quoted string")
            out[name] = node.value
        else:
            out[name] = comp.compile(node)
    return out


def per_member(
    comp: Compiler,
    inp: InputRef,
    make: Callable[[list[int]], Callable[[list[Any], float], float]],
    slots: list[int],
) -> C:
    """Scalar for a single-sensor input, a vector over healthy members for a group."""
    from hub.rules.compiler import C

    if not inp.group:
        return C("num", make(slots))
    per = [make([i]) for i in slots]
    pairs = list(zip(slots, per, strict=True))
    return C("vnum", lambda W, now: [f(W, now) for i, f in pairs if W[i].series.ok])


def _window(comp: Compiler, call: Call) -> C:
    from hub.rules.compiler import C

    a = bind(comp, call, [("input", "input", MISSING), ("window", "dur", MISSING)])
    inp: InputRef = a["input"]
    agg = call.func
    # A scalar delta keeps its window's least value too: its slope guard reads it (slopes.py).
    minmax = agg in ("min", "max") or (agg == "delta" and not inp.group)
    slots = [comp.plan.window(k, a["window"], minmax) for k in inp.keys]
    if not inp.group:
        i = slots[0]
        if agg == "sum":
            return C("num", lambda W, now: win_sum(W, i, now), None, True, None, inp.keys)
        if agg == "rate":  # rate and delta rise with one window: slope guards (hub/rules/slopes.py)
            return C("num", lambda W, now: win_rate(W, i, now), slope=("rate", i, _same))
        if agg == "delta":
            return C("num", lambda W, now: win_delta(W, i, now), slope=("delta", i, _same))
        return C("num", lambda W, now: getattr(W[i], agg)(now))
    if agg == "sum":  # the hot case, spelled out so it costs one call per member
        return C(
            "vnum",
            lambda W, now: group_sums(W, slots, now),
            None,
            True,
            None,
            inp.keys,
        )
    return C("vnum", lambda W, now: [getattr(W[i], agg)(now) for i in slots if W[i].series.ok])


def _same(x: float) -> float:
    return x


def _last(comp: Compiler, call: Call) -> C:
    from hub.rules.compiler import C

    inp: InputRef = bind(comp, call, [("input", "input", MISSING)])["input"]
    slots = [comp.plan.series(k) for k in inp.keys]
    if not inp.group:
        i = slots[0]
        return C("num", lambda W, now: W[i].last())
    return C("vnum", lambda W, now: [W[i].last() for i in slots if W[i].ok])


def _reducer(comp: Compiler, call: Call) -> C:
    from hub.rules.compiler import C, CompileError

    name = call.func
    if name == "at_least" and len(call.args) > 2:
        # k-of-n corroboration across different evidence: at_least(2, a >= 1, b >= 2, c >= 3)
        k = bind(comp, Call(name, call.args[:1]), [("k", "num", MISSING)])["k"]
        fs = tuple(comp.condition(node).fn for node in call.args[1:])
        n = len(fs)

        def k_of_n(W: list[Any], now: float) -> bool:
            need, left = k, n
            for f in fs:  # stop as soon as the answer is known
                if f(W, now):
                    need -= 1
                    if need <= 0:
                        return True
                left -= 1
                if left < need:
                    return False
            return need <= 0

        return C("bool", k_of_n)
    if name == "at_least":
        a = bind(comp, call, [("k", "num", MISSING), ("condition", "expr", MISSING)])
        k, c = a["k"], a["condition"]
    else:
        c = bind(comp, call, [("values", "expr", MISSING)])["values"]
    want = "bool" if name in ("any_of", "all_of", "at_least", "count_of") else "num"
    if c.type not in (want, "v" + want):
        raise CompileError(
            f"{name}() needs {'conditions' if want == 'bool' else 'numbers'} over a sensor group"
        )
    f = c.fn if c.type.startswith("v") else (lambda W, now, g=c.fn: [g(W, now)])
    vhead = c.head if c.type == "vbool" else None
    if name == "at_least":
        head = guards.at_least_head(k, vhead)
        return C(
            "bool", lambda W, now: count_true(f(W, now)) >= k, None, False, head, c.gkeys if head else ()
        )
    if name == "count_of":
        return C("num", lambda W, now: float(sum(f(W, now))))
    if name == "any_of":
        head = guards.any_head(vhead)
        return C("bool", lambda W, now: any(f(W, now)), None, False, head, c.gkeys if head else ())
    if name == "all_of":
        # No healthy member is not "all agree": an empty group never fires.
        return C("bool", lambda W, now: bool(xs := f(W, now)) and all(xs))
    if name in ("max_of", "min_of"):
        # max and min of a group rise no faster than its fastest member: still bounded by the increments
        pick = largest if name == "max_of" else smallest
        gk = c.gkeys if c.mono else ()
        return C("num", lambda W, now: pick(f(W, now)), None, c.mono, None, gk)
    aggs: dict[str, Callable[[list[float]], float]] = {
        "sum_of": sum,
        "mean_of": lambda xs: sum(xs) / len(xs),
    }
    agg = aggs[name]
    return C("num", lambda W, now: agg(xs) if (xs := [x for x in f(W, now) if x == x]) else math.nan)


def _abs(comp: Compiler, call: Call) -> C:
    from hub.rules.compiler import C

    c = bind(comp, call, [("x", "expr", MISSING)])["x"]
    f = c.fn
    if c.type == "vnum":
        return C("vnum", lambda W, now: [abs(x) for x in f(W, now)])
    return C("num", lambda W, now: abs(f(W, now)))


FUNCTIONS: dict[str, Callable[[Compiler, Call], C]] = {
    **dict.fromkeys(WINDOW_AGGS, _window),
    "last": _last,
    **dict.fromkeys(
        ("max_of", "min_of", "sum_of", "mean_of", "any_of", "all_of", "count_of", "at_least"), _reducer
    ),
    "abs": _abs,
}


def compile_call(comp: Compiler, call: Call) -> C:
    from hub.rules.compiler import CompileError
    from hub.rules.domain_calls import DOMAIN  # the published methods, kept in their own module

    handler = FUNCTIONS.get(call.func) or DOMAIN.get(call.func)
    if handler is None:
        known = ", ".join(sorted([*FUNCTIONS, *DOMAIN]))
        raise CompileError(f"unknown function {call.func!r}; known: {known}")
    return handler(comp, call)
