"""Rule-engine benchmark: readings/s for a province-scale rule mix, flatness, and a naive baseline side by side.

    python -m bench.engine [--json] [--quick] [--cold]

One core, no I/O, CPU time (time.process_time, so other load on the machine does not count). Each
round's readings (10 minutes of event time, one per sensor) are built just before the clock starts for
that round, as the hub decodes a batch from MQTT just before it evaluates it. Each round starts with
the hub's timer tick (evaluate with no readings), then its readings go to Engine.evaluate in batches
of `--batch` readings. The flatness figures come from bench/flatness.py. The naive baseline runs
the same compiled rules with windows that rescan their readings on every read (the way periodic
query-based alerting works); before timing, both engines must produce identical transitions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import islice
from typing import Any

from bench.flatness import by_rule_count, by_window_length
from bench.naive import naive_state
from bench.report import show
from bench.workload import RULES_PER_SITE, SENSORS_PER_SITE, build, run, stream, workload
from hub.rules.model import Transition
from hub.rules.native import status as engine_status


def progress(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quick", action="store_true", help="smaller runs (smoke test)")
    p.add_argument("--batch", type=int, default=500, help="readings per evaluate() call")
    p.add_argument(
        "--cold",
        action="store_true",
        help="also measure the rule counts with the caches evicted before every evaluate()",
    )
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
    res.update(by_rule_count(q, a.batch, progress))
    if a.cold:
        res.update(by_rule_count(q, a.batch, progress, cold=True))
    res.update(by_window_length(q, a.batch, progress))
    show(res, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
