"""Rule-engine benchmark: readings/s for a province-scale rule mix, flatness, and a naive baseline side by side.

    python -m bench.engine [--json] [--quick]

One core, no I/O, CPU time (time.process_time, so other load on the machine does not count). Each
round's readings (10 minutes of event time, one per sensor) are built just before the clock starts for
that round, as the hub decodes a batch from MQTT just before it evaluates it, and fed to
Engine.evaluate in batches of `--batch` readings. The naive baseline runs
the same compiled rules with windows that rescan their readings on every read (the way periodic
query-based alerting works); before timing, both engines must produce identical transitions.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Iterable
from itertools import islice
from typing import Any

from bench.naive import NaiveWindow, naive_state
from bench.workload import RULES_PER_SITE, SENSORS_PER_SITE, build, stream, workload
from edge.wire import Reading
from hub.rules.engine import Engine, EngineState
from hub.rules.model import Transition
from hub.rules.native import status as engine_status
from hub.rules.windows import Window


def run(
    engine: Engine, state: EngineState, rounds: Iterable[list[Reading]], batch: int, collect: bool = True
) -> tuple[float, int, list[Transition]]:
    """Feed the rounds in batches; return (seconds, readings, transitions). Only the evaluate() calls
    are timed, not building a round (`rounds` may be a stream)."""
    trs: list[Transition] = []
    n = 0
    elapsed = 0.0
    if collect:
        gc.collect()
    gc.disable()
    try:
        for rnd in rounds:
            now = rnd[0].time
            start = time.process_time()  # CPU time of this process: the machine is shared
            for i in range(0, len(rnd), batch):
                state, out = engine.evaluate(state, rnd[i : i + batch], now)
                trs += out
            elapsed += time.process_time() - start
            n += len(rnd)
    finally:
        gc.enable()
    return elapsed, n, trs


def per_reading_us(
    engine: Engine,
    n_sites: int,
    warm: int,
    measure: int,
    batch: int,
    reps: int = 3,
    naive: bool = False,
    guards: bool = True,
) -> tuple[float, float]:
    """Best of `reps` consecutive measurements (µs per reading) after `warm` rounds; with `naive`, also
    the naive baseline measured on the same warmed series (its windows rescan what the series hold).
    guards=False evaluates every touched rule (the cost of the windows and rules themselves)."""
    st = engine.initial_state()
    if not guards:
        st.guards = None
    rounds = stream(n_sites, warm + measure * (reps + 1))
    run(engine, st, islice(rounds, warm), batch)
    costs = []
    for _ in range(reps):
        secs, n, _ = run(engine, st, islice(rounds, measure), batch)
        costs.append(secs / n * 1e6)
    best = min(costs)  # the least disturbed by other work on the machine
    naive_us = float("nan")
    if naive:
        st.slots = [NaiveWindow(x.series, x.length) if type(x) is Window else x for x in st.slots]
        secs, n, _ = run(engine, st, islice(rounds, max(1, measure // 4)), batch)
        naive_us = secs / n * 1e6
    return best, naive_us


def progress(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quick", action="store_true", help="smaller runs (smoke test)")
    p.add_argument("--batch", type=int, default=500, help="readings per evaluate() call")
    a = p.parse_args(argv)
    q = a.quick
    sites = 200 if q else 2000  # 2000 sites = 10,000 sensors and 20,000 rules
    res: dict[str, Any] = {
        "sensors": sites * SENSORS_PER_SITE,
        "rules": sites * RULES_PER_SITE,
        "batch": a.batch,
        "engine": engine_status().mode,  # native (mypyc build, `make native`) or pure Python
    }
    t = time.perf_counter()
    eng = build(sites)
    res["load_s"] = round(time.perf_counter() - t, 2)
    # Same alerts first: the incremental engine and the naive baseline on a shared stretch of storm.
    progress("checking that the incremental and naive engines agree")
    check_rounds = workload(sites, 12 * 6)
    _, _, t_inc = run(eng, eng.initial_state(), check_rounds, a.batch)
    _, _, t_naive = run(eng, naive_state(eng), check_rounds, a.batch)
    same = [(x.site, x.rule, x.at, x.to_level) for x in t_inc] == [
        (x.site, x.rule, x.at, x.to_level) for x in t_naive
    ]
    res["same_alerts"] = same
    res["check_transitions"] = len(t_inc)
    if not same:
        print("incremental and naive engines disagree; not timing", file=sys.stderr)
        print(json.dumps(res))
        return 1
    # Warm up a full day (the 1/3/6/24 h windows full, the 72 h ones a third full), then measure.
    warm, measure = (24, 12) if q else (144, 30)
    progress(f"throughput: {sites * SENSORS_PER_SITE} sensors, {sites * RULES_PER_SITE} rules")
    st = eng.initial_state()  # one engine state, as a hub runs
    rounds = stream(sites, warm + measure)
    run(eng, st, islice(rounds, warm), a.batch)
    secs, n, trs = run(eng, st, rounds, a.batch)
    res["readings_per_s"] = round(n / secs)
    res["transitions"] = len(trs)
    del st
    # Series gates on against off (hub/rules/gates.py), alternating round by round so both see the same
    # machine load. Two states share the caches here, so both run slower than the one above: the ratio
    # is the figure.
    progress("series gates on against off")
    on, off = eng.initial_state(), eng.initial_state()
    off.gating = False
    rounds = stream(sites, warm + measure)
    for rnd in islice(rounds, warm):
        run(eng, on, [rnd], a.batch, collect=False)
        run(eng, off, [rnd], a.batch, collect=False)
    on_secs = off_secs = 0.0
    on_trs: list[Transition] = []
    off_trs: list[Transition] = []
    for rnd in rounds:
        on_s, _, on_t = run(eng, on, [rnd], a.batch)
        off_s, _, off_t = run(eng, off, [rnd], a.batch)
        on_secs, off_secs = on_secs + on_s, off_secs + off_s
        on_trs += on_t
        off_trs += off_t
    if [(x.site, x.rule, x.at, x.to_level) for x in on_trs] != [
        (x.site, x.rule, x.at, x.to_level) for x in off_trs
    ] or len(on_trs) != len(trs):
        print("gated and ungated engines disagree", file=sys.stderr)
        return 1
    res["gates_speedup"] = round(off_secs / on_secs, 2)
    del on, off
    progress("naive baseline")
    nst = naive_state(eng)
    rounds = stream(sites, warm + measure)
    run(eng, nst, islice(rounds, warm), a.batch)
    nsecs, nn, _ = run(eng, nst, islice(rounds, 3 if q else 6), a.batch)
    res["naive_readings_per_s"] = round(nn / nsecs)
    res["speedup_vs_naive"] = round(res["readings_per_s"] / res["naive_readings_per_s"], 1)
    # Storm mode: every site in the storm cycle. Headroom guards skip only rules far from their
    # thresholds, so this is the figure that matters when a province is under heavy rain.
    progress("throughput with every site in a storm")
    wet = warm // 72 * 72 + 36  # measure inside a 6 h spell of heavy rain (rounds 36-71 of each 72)
    wet += 72 if wet < warm else 0
    st = eng.initial_state()
    rounds = stream(sites, wet + measure, storm_share=1.0)
    run(eng, st, islice(rounds, wet), a.batch)
    secs, n, trs = run(eng, st, rounds, a.batch)
    res["storm_readings_per_s"] = round(n / secs)
    res["storm_transitions"] = len(trs)
    # Flatness over rule counts: the same per-site mix with every window 1 h, so each configuration is
    # measured with full windows after the same 8 rounds; enough rounds for >= 40,000 readings.
    counts = (100, 1000, 10000) if q else (100, 1000, 10000, 100000)
    by_rules = {}
    for rules in counts:
        n_sites = rules // RULES_PER_SITE
        progress(f"flatness: {rules} rules")
        per_round = n_sites * SENSORS_PER_SITE
        us, _ = per_reading_us(build(n_sites, "1h"), n_sites, 8, max(4, 40000 // per_round), a.batch)
        by_rules[rules] = round(us, 3)
    res["us_per_reading_by_rules"] = by_rules
    res["flatness_rules"] = round(max(by_rules.values()) / min(by_rules.values()), 3)
    # Flatness over window length: every window 1 h, then every window 72 h, each measured full.
    # With every window 72 h long, 72 h of drizzle reaches the lower rows of tables written for 1-24 h,
    # so many more rules are active or close to a threshold and guards skip far fewer of them. The
    # unguarded figure isolates what window length itself costs.
    by_window, unguarded = {}, {}
    w_sites = 100 if q else 200
    for window, warm_rounds in (("1h", 8), ("72h", 72 * 6 + 2)):
        progress(f"flatness: {window} windows")
        weng = build(w_sites, window)
        us, naive_us = per_reading_us(weng, w_sites, warm_rounds, 40, a.batch, naive=True)
        by_window[window] = round(us, 3)
        res[f"naive_us_per_reading_{window}"] = round(naive_us, 3)
        unguarded[window] = round(per_reading_us(weng, w_sites, warm_rounds, 40, a.batch, guards=False)[0], 3)
    res["us_per_reading_by_window"] = by_window
    res["flatness_windows"] = round(max(by_window.values()) / min(by_window.values()), 3)
    res["us_per_reading_by_window_unguarded"] = unguarded
    res["flatness_windows_unguarded"] = round(max(unguarded.values()) / min(unguarded.values()), 3)
    if a.json:
        print(json.dumps(res))
    else:
        print(f"{'measure':<34}{'value':>14}")
        for k, v in res.items():
            print(f"{k:<34}{json.dumps(v):>14}" if not isinstance(v, dict) else f"{k:<34}{json.dumps(v)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
