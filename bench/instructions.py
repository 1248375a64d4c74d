"""Instructions per reading at each rule count, counted by callgrind: the work behind flatness_rules, without the machine's noise.

    python -m bench.instructions [--json] [--quick] [--hours N] [--cache]

CPU time per reading mixes the work done with where its data sits: at 100 rules the engine's state
fits in the core's L2 cache, at 100,000 it does not, and on a shared machine the time also drifts
with the neighbours' load. Callgrind (valgrind's instruction counter, `apt install valgrind`) counts
the instructions executed instead: the same on every run, and blind to the memory hierarchy. Each
size runs in its own child process under callgrind, instrumented (`callgrind_control`) only for the
measured rounds and counting only inside Engine.evaluate of the native build. The workload is
bench.flatness's: the same per-site mix at every size (TILE), every window 1 h. Every size measures
the same stretch of event time (`--hours`, after 8 rounds and one hour of warm-up), so each does the
same work per site by construction: any difference per reading comes from the rule count.

With `--cache`, callgrind also simulates this machine's data caches (48 KiB L1d, 12-way; 2 MiB L2
per core, 16-way, as its last level) and the figures include misses per reading: where the time per
reading grows with the rule count while the instructions do not, this shows the memory behind it.
The last warm-up hour already runs simulated, so the caches hold what a running hub's would and the
misses counted are the steady state's. Simulation makes each run about 3x slower.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.flatness import ROUNDS_PER_HOUR, TILE, ratio
from bench.report import show
from bench.workload import RULES_PER_SITE, build, run, stream
from hub.rules.native import status as engine_status

WARM = 8
EVALUATE = "CPyPy_engine___Engine___evaluate"  # mypyc's entry point for Engine.evaluate
CACHES = ("--cache-sim=yes", "--D1=49152,12,64", "--LL=2097152,16,64")  # lscpu on this machine


def child(rules: int, hours: int, batch: int, cache: bool) -> None:
    """Runs under callgrind: warm up uninstrumented, then count the measured rounds' evaluate() calls."""
    if engine_status().mode != "native":
        raise SystemExit("bench.instructions counts the native engine: run `make native` first")
    n_sites = rules // RULES_PER_SITE
    engine = build(n_sites, "1h")
    state = engine.initial_state()
    warm = WARM + ROUNDS_PER_HOUR
    rounds = list(stream(n_sites, warm + hours * ROUNDS_PER_HOUR, tile=TILE))
    pid = str(os.getpid())
    run(engine, state, rounds[:WARM], batch)
    if cache:
        # The simulated caches start empty when instrumentation starts: the last warm-up hour runs
        # under it and its counts are then zeroed, so the misses counted are the steady state's and
        # not the first touch of every object (at 100 rules that first touch was most of them).
        subprocess.run(["callgrind_control", "-i", "on", pid], check=True, stdout=subprocess.DEVNULL)
    run(engine, state, rounds[WARM:warm], batch, collect=False)
    subprocess.run(["callgrind_control", "-i", "on", pid], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["callgrind_control", "-z", pid], check=True, stdout=subprocess.DEVNULL)
    # collect=False: no gc.collect() inside the counted span; run() keeps the collector off while feeding.
    run(engine, state, rounds[warm:], batch, collect=False)
    subprocess.run(["callgrind_control", "-i", "off", pid], check=True, stdout=subprocess.DEVNULL)
    print(json.dumps({"readings": sum(len(r) for r in rounds[warm:])}))


def count(rules: int, hours: int, batch: int, cache: bool = False) -> tuple[float, float | None]:
    """(instructions, simulated L2 misses or None) per measured reading at `rules` rules, from a child
    process under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            # Only inside evaluate(): not the warm-up, nor the timer calls and the spawning of
            # callgrind_control around the measured rounds.
            "--collect-atstart=no",
            f"--toggle-collect={EVALUATE}",
            f"--callgrind-out-file={out}",
            *(CACHES if cache else ()),
            sys.executable,
            "-m",
            "bench.instructions",
            "--child",
            str(rules),
            "--hours",
            str(hours),
            "--batch",
            str(batch),
            *(["--cache"] if cache else []),
        ]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(
                f"bench.instructions: callgrind run at {rules} rules failed:\n{p.stderr[-2000:]}"
            )
        readings = json.loads(p.stdout.strip().splitlines()[-1])["readings"]
        m = re.search(r"Collected : (\d+)", p.stderr)
        if m is None:
            raise SystemExit(
                f"bench.instructions: no instruction count in callgrind's output at {rules} rules"
            )
        misses = None
        if cache:
            mm = re.search(r"LL misses:\s*([\d,]+)", p.stderr)
            if mm is None:
                raise SystemExit(
                    f"bench.instructions: no cache figures in callgrind's output at {rules} rules"
                )
            misses = int(mm.group(1).replace(",", "")) / readings
        return int(m.group(1)) / readings, misses


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quick", action="store_true", help="100 to 10,000 rules only (100,000 takes ~15 min)")
    p.add_argument("--hours", type=int, default=2, help="hours of event time measured at every size")
    p.add_argument("--batch", type=int, default=500, help="readings per evaluate() call")
    p.add_argument("--cache", action="store_true", help="also simulate the caches: L2 misses per reading")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child is not None:
        child(a.child, a.hours, a.batch, a.cache)
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("bench.instructions needs valgrind (apt install valgrind)", file=sys.stderr)
        return 2
    counts = (100, 1000, 10000) if a.quick else (100, 1000, 10000, 100000)
    per, misses = {}, {}
    for rules in counts:
        print(f"bench: counting instructions at {rules} rules", file=sys.stderr, flush=True)
        ins, miss = count(rules, a.hours, a.batch, a.cache)
        per[str(rules)] = round(ins)
        if miss is not None:
            misses[str(rules)] = round(miss, 1)
    res: dict[str, object] = {
        "instructions_per_reading_by_rules": per,
        "flatness_rules_instructions": ratio(per),
    }
    if a.cache:
        res["l2_misses_per_reading_by_rules"] = misses
    show(res, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
