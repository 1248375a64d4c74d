"""Child process for the restart test: a real dispatcher built from a config file, killed and restarted.

Run as `python -m tests.hub.alerts.restart_child CONFIG.yaml`. It submits one red transition (what the
engine emits, and emits again after its own restart), prints `started` and keeps running until killed
or until nothing is left to send, then prints the stats as one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from hub.alerts.config import build_dispatcher, load
from hub.alerts.dispatcher import Dispatcher
from hub.rules.model import AlertState, Level, Transition


class DropRows:
    """Rows are not under test here (see test_rows_influx.py)."""

    def put(self, row: str) -> None:
        pass


def run_until_idle(d: Dispatcher, timeout: float) -> int:
    """Deliver until nothing is left (or `timeout`), print the stats as one JSON line, stop."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if d.idle():
            break
    print(json.dumps(d.stats(), ensure_ascii=False), flush=True)
    d.stop()
    return 0


def main(path: str) -> int:
    cfg = load(Path(path))
    d = build_dispatcher(cfg, DropRows())
    d.start()
    d.submit([Transition("rain", "fs-hp01", 1_780_000_000.0, Level.NONE, Level.RED, AlertState.FIRING, 81.0)])
    print("started", flush=True)
    return run_until_idle(d, 60)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
