"""Test helper: wait for the readings a listening driver hands to its queue (real sockets, ptys, brokers)."""

from __future__ import annotations

import queue
import time

from edge.wire import Reading


def drain(q: queue.Queue[Reading], n: int, timeout: float = 5.0) -> list[Reading]:
    """Up to `n` readings, returning as soon as `n` arrived or after `timeout` seconds with what came."""
    out: list[Reading] = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        try:
            out.append(q.get(timeout=0.05))
        except queue.Empty:
            pass
    return out
