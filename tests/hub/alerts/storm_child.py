"""Child process for the storm restart test: a real dispatcher, a storm of transitions, killed and restarted.

Run as `python -m tests.hub.alerts.storm_child CONFIG.yaml N`. It submits N red transitions (N rules over
the three Fengshan sites) in two waves, as an engine would during a storm (and again after its own
restart), prints `started`, and runs until killed or until nothing is left to send; then it prints the
stats as one JSON line.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from hub.alerts.config import build_dispatcher, load
from hub.rules.model import AlertState, Level, Transition
from tests.hub.alerts.restart_child import DropRows, run_until_idle

SITES = ("fs-hp01", "fs-hp02", "fs-hp03")
T0 = 1_780_000_000.0


def storm(n: int) -> list[Transition]:
    return [
        Transition(f"r{i:03d}", SITES[i % 3], T0 + i % 7, Level.NONE, Level.RED, AlertState.FIRING, 81.0)
        for i in range(n)
    ]


def main(path: str, n: int) -> int:
    cfg = load(Path(path))
    d = build_dispatcher(cfg, DropRows())
    d.start()
    trs = storm(n)
    d.submit(trs[: n // 2])
    print("started", flush=True)
    time.sleep(0.01)
    d.submit(trs[n // 2 :])
    return run_until_idle(d, 90)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
