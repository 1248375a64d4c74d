"""Counter baselines on disk, so rain a gauge counted while the gateway was down is not lost at restart."""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

from edge.sensors.counter import CounterState

log = logging.getLogger(__name__)


def load(path: Path | None) -> dict[str, CounterState]:
    """Saved states by key; a missing or unreadable file is an empty start (logged), never a crash."""
    if path is None or not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        out = {}
        for key, (raw, t) in doc.items():
            if isinstance(raw, int) and raw >= 0 and isinstance(t, int | float) and math.isfinite(t):
                out[str(key)] = CounterState(raw, float(t))
        return out
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        log.warning("counter state unreadable, starting fresh path=%s error=%s", path, exc)
        return {}


def save(path: Path | None, states: dict[str, CounterState]) -> None:
    """Atomic and durable: write a temporary file, fsync, rename. Errors are logged, not raised: a state
    file that cannot be written costs at most the rain of the next restart, a raise would cost the reading."""
    if path is None:
        return
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({k: [s.raw, s.time] for k, s in states.items()}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("counter state not saved path=%s error=%s", path, exc)
