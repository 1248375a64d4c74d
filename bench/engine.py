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
import random
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from bench.naive import NaiveWindow, naive_state
from edge.wire import Reading
from hub.rules.engine import Engine, EngineState
from hub.rules.loader import load_ruleset
from hub.rules.model import Transition
from hub.rules.native import status as engine_status
from hub.rules.windows import Window

T0 = 1_782_000_000.0
STEP = 600.0  # one reading per sensor every 10 minutes of event time
SENSORS_PER_SITE = 5  # 3 rain gauges, 1 GNSS displacement, 1 crack meter
RULES_PER_SITE = 10


def rules_yaml(n_sites: int, window: str | None = None) -> str:
    """A realistic mix per hazard point: 1/3/6/24/72 h sums, k-of-n, rates, tangent angle, combinations.

    With `window` every duration is replaced by it (the window-length flatness runs)."""

    def w(d: str) -> str:
        return window or d

    sites = "\n".join(
        f"  - {{id: p{i}, name: 点{i}, lat: 24.6, lon: 112.55, hazard: landslide, grids: [g{i}]}}"
        for i in range(n_sites)
    )
    sensors = "\n".join(
        f"  - {{id: p{i}-rg{k}, site: p{i}, quantity: rain_mm, period_s: 600}}"
        for i in range(n_sites)
        for k in range(3)
    )
    sensors += "\n" + "\n".join(
        f"  - {{id: p{i}-gn, site: p{i}, quantity: disp_mm, period_s: 600}}\n"
        f"  - {{id: p{i}-cr, site: p{i}, quantity: crack_mm, period_s: 600}}"
        for i in range(n_sites)
    )
    common = "    inputs: {rain: {quantity: rain_mm}, gn: {sensor: '{site}-gn'}, cr: {sensor: '{site}-cr'}, rg0: {sensor: '{site}-rg0'}}\n"
    rules = [
        (
            "flash",
            f"""    values: {{r1: 'sum(rain, {w("1h")})', r3: 'sum(rain, {w("3h")})', r6: 'sum(rain, {w("6h")})', r24: 'sum(rain, {w("24h")})'}}
    thresholds: {{r1: [35, 45, 60, 80], r3: [55, 75, 100, 120], r6: [70, 95, 120, 150], r24: [100, 130, 160, 200]}}
    hysteresis: 0.2""",
        ),
        (
            "rain72",
            f"    levels: {{blue: 'sum(rain, {w('72h')}) >= 150', yellow: 'sum(rain, {w('72h')}) >= 250'}}",
        ),
        ("kofn1", f"    levels: {{yellow: 'at_least(2, sum(rain, {w('1h')}) >= 30)'}}"),
        ("kofn3", f"    levels: {{orange: 'at_least(2, sum(rain, {w('3h')}) >= 70)'}}"),
        (
            "tangent",
            f"""    values: {{a: 'tangent_angle(gn, {w("24h")}, 2.0)'}}
    thresholds: {{a: [45, 60, 80, 85]}}
    hysteresis: 0.1
    for: 30m""",
        ),
        ("crack1", f"    levels: {{yellow: 'rate(cr, {w('1h')}) >= 2.5', red: 'rate(cr, {w('1h')}) >= 18'}}"),
        ("crack6", f"    levels: {{blue: 'rate(cr, {w('6h')}) * 24 >= 10'}}"),
        (
            "combo",
            f"    levels: {{orange: 'max_of(sum(rain, {w('24h')})) >= 80 and tangent_angle(gn, {w('24h')}, 2.0) >= 60'}}",
        ),
        ("gnss", f"    levels: {{yellow: 'rate(gn, {w('24h')}) * 24 >= 20'}}"),
        ("gauge6", f"    levels: {{blue: 'sum(rg0, {w('6h')}) >= 70'}}"),
    ]
    body = []
    for rid, text in rules:
        body.append(f"  - id: {rid}\n" + common + text)
    return f"sites:\n{sites}\nsensors:\n{sensors}\nrules:\n" + "\n".join(body) + "\n"


def build(n_sites: int, window: str | None = None) -> Engine:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(rules_yaml(n_sites, window), encoding="utf-8")
        return Engine(load_ruleset([path]), tick_s=600.0, sweep_s=3600.0, health_s=600.0)


def workload(
    n_sites: int, rounds: int, seed: int = 1, start_round: int = 0, storm_share: float = 0.02
) -> list[list[Reading]]:
    return list(stream(n_sites, rounds, seed, start_round, storm_share))


def stream(
    n_sites: int, rounds: int, seed: int = 1, start_round: int = 0, storm_share: float = 0.02
) -> Iterator[list[Reading]]:
    """One list per round (10 min of event time), built when asked for: a reading from every sensor.
    ~2 % of sites storm (6 h of heavy rain, 6 h dry, and so on)."""
    rng = random.Random(seed)
    storm = {i for i in range(n_sites) if rng.random() < storm_share}
    for k in range(start_round, start_round + rounds):
        t = T0 + k * STEP
        rnd = []
        for i in range(n_sites):
            wet = i in storm and (k // 36) % 2 == 1
            for g in range(3):
                rnd.append(
                    Reading(
                        f"p{i}-rg{g}",
                        "rain_mm",
                        round(rng.uniform(3, 12) if wet else rng.choice((0.0, 0.0, 0.1, 0.5)), 1),
                        t,
                        k,
                    )
                )
            rnd.append(
                Reading(f"p{i}-gn", "disp_mm", k * (0.2 if wet else 0.01) + rng.uniform(-0.5, 0.5), t, k)
            )
            rnd.append(
                Reading(f"p{i}-cr", "crack_mm", k * (0.3 if wet else 0.005) + rng.uniform(-0.05, 0.05), t, k)
            )
        yield rnd


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
    st, off = eng.initial_state(), eng.initial_state()
    off.gating = False  # the same engine with series gates off (hub/rules/gates.py), side by side
    rounds = stream(sites, warm + measure)
    for rnd in islice(rounds, warm):
        run(eng, st, [rnd], a.batch, collect=False)
        run(eng, off, [rnd], a.batch, collect=False)
    secs = off_secs = 0.0
    n = 0
    trs: list[Transition] = []
    off_trs: list[Transition] = []
    for rnd in rounds:  # alternate round by round: both see the same machine load
        on_s, got, on_t = run(eng, st, [rnd], a.batch)
        off_s, _, off_t = run(eng, off, [rnd], a.batch)
        secs, off_secs, n = secs + on_s, off_secs + off_s, n + got
        trs += on_t
        off_trs += off_t
    if [(x.site, x.rule, x.at, x.to_level) for x in trs] != [
        (x.site, x.rule, x.at, x.to_level) for x in off_trs
    ]:
        print("gated and ungated engines disagree", file=sys.stderr)
        return 1
    res["readings_per_s"] = round(n / secs)
    res["transitions"] = len(trs)
    res["ungated_readings_per_s"] = round(n / off_secs)
    res["gates_speedup"] = round(off_secs / secs, 2)
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
