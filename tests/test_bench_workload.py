"""The engine bench's workload: tiled sites repeat the drawn ones, the feed's batch size changes nothing, and bench.ab runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench.workload import SENSORS_PER_SITE, build, run, stream
from hub.rules.model import Transition


def test_tiled_sites_repeat_the_drawn_ones() -> None:
    for rnd in stream(30, 4, tile=10):
        assert len(rnd) == 30 * SENSORS_PER_SITE
        assert len({r.sensor for r in rnd}) == len(rnd)  # every site keeps its own sensors
        values = [r.value for r in rnd]
        per_site = [values[i : i + SENSORS_PER_SITE] for i in range(0, len(values), SENSORS_PER_SITE)]
        assert per_site[10:20] == per_site[:10] and per_site[20:] == per_site[:10]


def test_without_tile_every_site_draws_its_own() -> None:
    """A tile as large as the province draws every site, so it equals no tile at all; and without a
    tile no two sites share their values."""
    rounds = list(stream(12, 3))
    assert rounds == list(stream(12, 3, tile=12))
    assert rounds != list(stream(12, 3, tile=6))
    for rnd in rounds:
        per_site = [
            tuple(r.value for r in rnd[i : i + SENSORS_PER_SITE]) for i in range(0, 60, SENSORS_PER_SITE)
        ]
        assert len(set(per_site)) == 12


def test_batch_size_does_not_change_the_transitions() -> None:
    """Each round starts with the hub's timer tick, so how a round is cut into batches is not seen in
    what the engine decides (before, the tick rode on the first batch only)."""
    rounds = list(stream(20, 24, tile=10))
    engine = build(20, "1h")
    _, n_one, whole = run(engine, engine.initial_state(), rounds, 10**9)
    _, n_many, cut = run(engine, engine.initial_state(), rounds, 7)
    assert n_one == n_many == 20 * SENSORS_PER_SITE * 24
    assert whole, "the 1 h mix must move some rules, or this compares nothing"

    def key(ts: list[Transition]) -> list[tuple[object, ...]]:
        # Each evaluate() call sorts its own transitions; across calls they come in batch order.
        # The sort is stable, so one rule's transitions at one instant keep their order.
        return sorted(((t.at, t.site, t.rule, t.from_level, t.to_level) for t in ts), key=lambda k: k[:3])

    assert key(whole) == key(cut)


def test_ab_runs_two_trees_in_lockstep() -> None:
    """bench.ab on this tree twice, one block at 100 rules: both children build, warm, measure and
    report a cost per reading (the figures themselves are the machine's, so only their form is checked)."""
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, "-m", "bench.ab", str(repo), str(repo), "--rules", "100", "--blocks", "1"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        m = re.search(r"\{'100': ([0-9.]+)\}, largest/smallest 1\.000$", line)
        assert m is not None and float(m.group(1)) > 0, line
