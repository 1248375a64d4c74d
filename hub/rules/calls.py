"""The rule language's functions: window aggregates, group reducers and domain methods, with signatures."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub.rules import functions as fx
from hub.rules.expr import Call, Dur, Name, Neg, Num, Str

if TYPE_CHECKING:
    from hub.rules.compiler import C, Compiler, InputRef

_MISSING = object()
WINDOW_AGGS = ("sum", "mean", "min", "max", "delta", "rate", "count")


def _bind(comp: Compiler, call: Call, spec: list[tuple[str, str, Any]]) -> dict[str, Any]:
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
        node = given.get(name, _MISSING)
        if node is _MISSING:
            if default is _MISSING:
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


def _per_member(
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

    a = _bind(comp, call, [("input", "input", _MISSING), ("window", "dur", _MISSING)])
    inp: InputRef = a["input"]
    agg = call.func
    slots = [comp.plan.window(k, a["window"], agg in ("min", "max")) for k in inp.keys]
    if not inp.group:
        i = slots[0]
        if agg == "sum":
            return C("num", lambda W, now: W[i].sum(now))
        return C("num", lambda W, now: getattr(W[i], agg)(now))
    if agg == "sum":  # the hot case, spelled out so it costs one call per member
        return C("vnum", lambda W, now: [W[i].sum(now) for i in slots if W[i].series.ok])
    return C("vnum", lambda W, now: [getattr(W[i], agg)(now) for i in slots if W[i].series.ok])


def _last(comp: Compiler, call: Call) -> C:
    from hub.rules.compiler import C

    inp: InputRef = _bind(comp, call, [("input", "input", _MISSING)])["input"]
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
        k = _bind(comp, Call(name, call.args[:1]), [("k", "num", _MISSING)])["k"]
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
        a = _bind(comp, call, [("k", "num", _MISSING), ("condition", "expr", _MISSING)])
        k, c = a["k"], a["condition"]
    else:
        c = _bind(comp, call, [("values", "expr", _MISSING)])["values"]
    want = "bool" if name in ("any_of", "all_of", "at_least", "count_of") else "num"
    if c.type not in (want, "v" + want):
        raise CompileError(
            f"{name}() needs {'conditions' if want == 'bool' else 'numbers'} over a sensor group"
        )
    f = c.fn if c.type.startswith("v") else (lambda W, now, g=c.fn: [g(W, now)])
    if name == "at_least":
        return C("bool", lambda W, now: sum(f(W, now)) >= k)
    if name == "count_of":
        return C("num", lambda W, now: float(sum(f(W, now))))
    if name == "any_of":
        return C("bool", lambda W, now: any(f(W, now)))
    if name == "all_of":
        # No healthy member is not "all agree": an empty group never fires.
        return C("bool", lambda W, now: bool(xs := f(W, now)) and all(xs))
    aggs: dict[str, Callable[[list[float]], float]] = {
        "max_of": max,
        "min_of": min,
        "sum_of": sum,
        "mean_of": lambda xs: sum(xs) / len(xs),
    }
    agg = aggs[name]
    return C("num", lambda W, now: agg(xs) if (xs := [x for x in f(W, now) if x == x]) else math.nan)


def _tangent(comp: Compiler, call: Call) -> C:
    a = _bind(
        comp, call, [("input", "input", _MISSING), ("window", "dur", _MISSING), ("steady", "num", _MISSING)]
    )
    length, v = a["window"], a["steady"]
    slots = [comp.plan.window(k, length) for k in a["input"].keys]

    def make(ix: list[int]) -> Callable[[list[Any], float], float]:
        i = ix[0]
        return lambda W, now: fx.tangent_angle_deg(W[i].delta(now), length, v)

    return _per_member(comp, a["input"], make, slots)


def _ttf(comp: Compiler, call: Call) -> C:
    a = _bind(comp, call, [("input", "input", _MISSING), ("window", "dur", _MISSING), ("min_r2", "num", 0.0)])
    slots = [comp.plan.fit(k, a["window"]) for k in a["input"].keys]
    want_r2, min_r2 = call.func == "ttf_r2", a["min_r2"]

    def make(ix: list[int]) -> Callable[[list[Any], float], float]:
        i = ix[0]

        def fn(W: list[Any], now: float) -> float:
            t_fail, r2 = W[i].fit(now)
            if want_r2:
                return r2
            if math.isinf(t_fail) or not r2 >= min_r2:
                return math.inf
            return max(0.0, (t_fail - now) / 3600.0)

        return fn

    return _per_member(comp, a["input"], make, slots)


def _id_ratio(comp: Compiler, call: Call) -> C:
    a = _bind(
        comp,
        call,
        [
            ("input", "input", _MISSING),
            ("a", "num", _MISSING),
            ("b", "num", _MISSING),
            ("durations", "*dur", _MISSING),
        ],
    )
    durs, ca, cb = a["durations"], a["a"], a["b"]
    keys = a["input"].keys

    def make(ix: list[int]) -> Callable[[list[Any], float], float]:
        ws = [comp.plan.window(keys[ix[0]], d) for d in durs]
        return lambda W, now: fx.id_ratio([W[i].sum(now) for i in ws], durs, ca, cb)

    return _keyed(comp, a["input"], make)


def _keyed(
    comp: Compiler, inp: InputRef, make: Callable[[list[int]], Callable[[list[Any], float], float]]
) -> C:
    """Like _per_member for functions that need several windows per member; health via its series slot."""
    from hub.rules.compiler import C

    if not inp.group:
        return C("num", make([0]))
    pairs = [(comp.plan.series(k), make([j])) for j, k in enumerate(inp.keys)]
    return C("vnum", lambda W, now: [f(W, now) for i, f in pairs if W[i].ok])


def _cumulative(comp: Compiler, call: Call) -> C:
    spec = [
        ("input", "input", _MISSING),
        ("recent", "dur", 3 * 86400.0),
        ("antecedent", "dur", 15 * 86400.0),
        ("intercept", "num", _MISSING),
        ("slope", "num", _MISSING),
        ("unit", "str", "mm"),
    ]
    a = _bind(comp, call, spec)
    from hub.rules.compiler import CompileError

    units = {"mm": 1.0, "in": fx.INCH_MM}
    if a["unit"] not in units:
        raise CompileError('cumulative_ratio() unit must be "mm" or "in"')
    unit, recent, total = units[a["unit"]], a["recent"], a["recent"] + a["antecedent"]
    keys = a["input"].keys

    def make(ix: list[int]) -> Callable[[list[Any], float], float]:
        wr, wt = comp.plan.window(keys[ix[0]], recent), comp.plan.window(keys[ix[0]], total)
        return lambda W, now: fx.cumulative_ratio(
            W[wr].sum(now), W[wt].sum(now) - W[wr].sum(now), a["intercept"], a["slope"], unit
        )

    return _keyed(comp, a["input"], make)


def _antecedent(comp: Compiler, call: Call) -> C:
    from hub.rules.compiler import CompileError

    a = _bind(comp, call, [("input", "input", _MISSING), ("k", "num", 0.84), ("days", "num", 15.0)])
    days, k = int(a["days"]), a["k"]
    if not 1 <= days <= 60 or days != a["days"] or not 0 < k <= 1:
        raise CompileError("effective_antecedent() needs whole days in 1..60 and 0 < k <= 1")
    keys = a["input"].keys

    def make(ix: list[int]) -> Callable[[list[Any], float], float]:
        ws = [comp.plan.window(keys[ix[0]], d * fx.DAY_S) for d in range(1, days + 1)]

        def fn(W: list[Any], now: float) -> float:
            sums = [W[i].sum(now) for i in ws]
            return fx.effective_antecedent([s - p for s, p in zip(sums, [0.0, *sums[:-1]], strict=True)], k)

        return fn

    return _keyed(comp, a["input"], make)


def _forecast_sum(comp: Compiler, call: Call) -> C:
    from hub.rules.compiler import C, CompileError

    a = _bind(comp, call, [("input", "input", _MISSING), ("horizon", "dur", _MISSING)])
    inp, horizon = a["input"], a["horizon"]
    if inp.forecast is None:
        raise CompileError("forecast_sum() needs a forecast input, e.g. inputs: {fc: {forecast: rain_mm}}")
    i = comp.plan.forecast(inp.forecast)
    return C("num", lambda W, now: W[i].ahead(now, horizon))


def _abs(comp: Compiler, call: Call) -> C:
    from hub.rules.compiler import C

    c = _bind(comp, call, [("x", "expr", _MISSING)])["x"]
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
    "tangent_angle": _tangent,
    "ttf_hours": _ttf,
    "ttf_r2": _ttf,
    "id_ratio": _id_ratio,
    "cumulative_ratio": _cumulative,
    "effective_antecedent": _antecedent,
    "forecast_sum": _forecast_sum,
    "abs": _abs,
}


def compile_call(comp: Compiler, call: Call) -> C:
    from hub.rules.compiler import CompileError

    handler = FUNCTIONS.get(call.func)
    if handler is None:
        raise CompileError(f"unknown function {call.func!r}; known: {', '.join(sorted(FUNCTIONS))}")
    return handler(comp, call)
