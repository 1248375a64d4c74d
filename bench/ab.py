"""Two source trees' engines compared in lockstep: cost per reading at chosen rule counts, block by block.

    python -m bench.ab OLD_TREE NEW_TREE [--rules 100,10000,100000] [--blocks 5]

Each tree (a checkout with its own native build, `make native` in it) runs in its own child process,
which builds and warms bench.flatness's probes once and then measures one block per probe each time
it is told to. The children take turns block by block, so both see the same spells of this shared
machine's load, and each probe's best block counts. Measured one after the other, minutes apart, the
same build gave 1.6 and 4.0 µs per reading at 100 rules on the same day (docs/performance.md, round 8).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.flatness import TILE, Probe, hours_for
from bench.workload import RULES_PER_SITE, build


def child(counts: list[int]) -> None:
    """Runs in a tree: build the probes, then one block each per "go" line; "end" prints the best."""
    probes = {}
    for rules in counts:
        n_sites = rules // RULES_PER_SITE
        probes[rules] = Probe(build(n_sites, "1h"), n_sites, 8, hours_for(n_sites), 500, tile=TILE)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "go":
            break
        for p in probes.values():
            p.block()
        print("done", flush=True)
    print(json.dumps({str(k): p.best() for k, p in probes.items()}), flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("trees", nargs=2, type=Path, help="two source trees, each with its native build")
    p.add_argument("--rules", default="100,10000,100000", help="rule counts, comma-separated")
    p.add_argument("--blocks", type=int, default=5, help="blocks per probe; the best counts")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    counts = [int(x) for x in a.rules.split(",")]
    if a.child:
        child(counts)
        return 0
    kids = []
    for tree in a.trees:
        env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
        env.pop("EWS_PURE_PYTHON", None)
        kid = subprocess.Popen(
            # This file run as a script: a tree older than bench/ab.py can be measured too (its own
            # bench.flatness and engine are imported, from its PYTHONPATH).
            [
                sys.executable,
                str(Path(__file__).resolve()),
                *map(str, a.trees),
                "--rules",
                a.rules,
                "--child",
            ],
            cwd=tree,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert kid.stdin is not None and kid.stdout is not None
        if kid.stdout.readline().strip() != "ready":
            raise SystemExit(f"bench.ab: the child in {tree} did not start")
        kids.append(kid)
    for _ in range(a.blocks):
        for kid in kids:
            assert kid.stdin is not None and kid.stdout is not None
            kid.stdin.write("go\n")
            kid.stdin.flush()
            if kid.stdout.readline().strip() != "done":
                raise SystemExit("bench.ab: a child stopped mid-run")
    for tree, kid in zip(a.trees, kids, strict=True):
        out, _ = kid.communicate("end\n")
        costs = json.loads(out.strip().splitlines()[-1])
        ratio = max(costs.values()) / min(costs.values())
        print(f"{tree}: µs per reading {costs}, largest/smallest {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
