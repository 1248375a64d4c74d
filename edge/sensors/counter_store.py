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
        for key, row in doc.items():
            state = _state(row)
            if state is None:
                log.warning("counter state entry skipped path=%s key=%s entry=%.60r", path, key, row)
                continue
            out[str(key)] = state
        return out
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        log.warning("counter state unreadable, starting fresh path=%s error=%s", path, exc)
        return {}


def _state(row: object) -> CounterState | None:
    """[raw, time] as every version wrote it, or [raw, time, pending_raw, pending_time] after a jump."""
    if not isinstance(row, list) or len(row) not in (2, 4):
        return None
    if not all(_count(v) for v in row[0::2]) or not all(_time(v) for v in row[1::2]):
        return None
    pending = (row[2], float(row[3])) if len(row) == 4 else None
    return CounterState(row[0], float(row[1]), pending)


def _count(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _time(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def save(path: Path | None, states: dict[str, CounterState]) -> None:
    """Atomic and durable: write a temporary file, fsync, rename. Errors are logged, not raised: a state
    file that cannot be written costs at most the rain of the next restart, a raise would cost the reading."""
    if path is None:
        return
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({k: [s.raw, s.time, *(s.pending or ())] for k, s in states.items()}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("counter state not saved path=%s error=%s", path, exc)
