"""Rule-language functions for the published warning methods (sources in hub/rules/functions.py)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from hub.rules import functions as fx
from hub.rules import slopes
from hub.rules.calls import MISSING, bind, per_member, win_rate
from hub.rules.expr import Call

if TYPE_CHECKING:
    from hub.rules.compiler import C, Compiler, InputRef


def _tangent(comp: Compiler, call: Call) -> C:
    a = bind(
        comp, call, [("input", "input", MISSING), ("window", "dur", MISSING), ("steady", "num", MISSING)]
    )
    length, v = a["window"], a["steady"]
    slots = [comp.plan.window(k, length) for k in a["input"].keys]

    def make(ix: list[int]) -> Callable[[list[Any], float], float]:
        i = ix[0]
        # ΔS over the Δt the window's readings span, as rate() does: divided by the window's length,
        # a window with a gap in it (or hourly readings, which span 23 h of a 24 h window) read low.
        return lambda W, now: fx.tangent_angle_deg(win_rate(W, i, now), 3600.0, v)

    c = per_member(comp, a["input"], make, slots)
    if c.type == "num" and v > 0:  # the angle rises with the window's rate: a slope guard
        return replace(c, slope=("rate", slots[0], slopes.tangent_inverse(v)))
    return c


def _ttf(comp: Compiler, call: Call) -> C:
    # min_r2 0.8 unless the rule says: a poor fit of noisy GNSS "predicts" failures (docs/rules.md).
    a = bind(comp, call, [("input", "input", MISSING), ("window", "dur", MISSING), ("min_r2", "num", 0.8)])
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

    return per_member(comp, a["input"], make, slots)


def _id_ratio(comp: Compiler, call: Call) -> C:
    a = bind(
        comp,
        call,
        [
            ("input", "input", MISSING),
            ("a", "num", MISSING),
            ("b", "num", MISSING),
            ("durations", "*dur", MISSING),
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
    """Like per_member for functions that need several windows per member; health via its series slot."""
    from hub.rules.compiler import C

    if not inp.group:
        return C("num", make([0]))
    pairs = [(comp.plan.series(k), make([j])) for j, k in enumerate(inp.keys)]
    return C("vnum", lambda W, now: [f(W, now) for i, f in pairs if W[i].ok])


def _cumulative(comp: Compiler, call: Call) -> C:
    spec = [
        ("input", "input", MISSING),
        ("recent", "dur", 3 * 86400.0),
        ("antecedent", "dur", 15 * 86400.0),
        ("intercept", "num", MISSING),
        ("slope", "num", MISSING),
        ("unit", "str", "mm"),
    ]
    a = bind(comp, call, spec)
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

    a = bind(comp, call, [("input", "input", MISSING), ("k", "num", 0.84), ("days", "num", 15.0)])
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

    a = bind(comp, call, [("input", "input", MISSING), ("horizon", "dur", MISSING)])
    inp, horizon = a["input"], a["horizon"]
    if inp.forecast is None:
        raise CompileError("forecast_sum() needs a forecast input, e.g. inputs: {fc: {forecast: rain_mm}}")
    i = comp.plan.forecast(inp.forecast)
    return C("num", lambda W, now: W[i].ahead(now, horizon))


DOMAIN: dict[str, Callable[[Compiler, Call], C]] = {
    "tangent_angle": _tangent,
    "ttf_hours": _ttf,
    "ttf_r2": _ttf,
    "id_ratio": _id_ratio,
    "cumulative_ratio": _cumulative,
    "effective_antecedent": _antecedent,
    "forecast_sum": _forecast_sum,
}
