"""What the rule engine remembers between calls: series, windows, alerts, guards, gates."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from librt.vecs import vec
from mypy_extensions import i64

from hub.rules import gates
from hub.rules.forecast import Forecast
from hub.rules.lifecycle import Alert
from hub.rules.silences import Silence
from hub.rules.wake import Wake
from hub.rules.windows import Series

SeriesKey = tuple[str, str]


@dataclass
class EngineState:
    """Everything the engine remembers. evaluate() updates it in place and returns it; deep-copy to fork."""

    now: float = -math.inf
    series: dict[SeriesKey, Series] = field(default_factory=dict)
    # sensor -> its series when it has only one (most do): a reading is found without building a
    # (sensor, quantity) tuple and hashing it, which was a tenth of the engine's time.
    by_sensor: dict[str, Series] = field(default_factory=dict)
    forecasts: dict[SeriesKey, Forecast] = field(default_factory=dict)
    slots: list[Any] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    active: set[int] = field(default_factory=set)
    silences: list[Silence] = field(default_factory=list)
    muted: dict[str, float] = field(default_factory=dict)  # sensor in a maintenance window -> its start
    next_silence_edge: float = math.inf
    last_tick: float = -math.inf
    last_sweep: float = -math.inf
    last_health: float = -math.inf
    counters: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("bad", "unknown", "duplicate", "unhealthy", "muted"), 0)
    )
    # Per rule: None or why it may be skipped while quiet (gates.Guard: headroom guards.py, slopes.py).
    # guards=None switches them off (the brute-force baseline the tests compare against).
    guards: list[gates.Guard | None] | None = None
    guard_series: list[tuple[Series, ...]] = field(default_factory=list)
    # Per rule, the epoch and expiry of its guard (-1 when it has none), in flat vectors: the hourly
    # sweep skips a rule whose guard stands without touching the rule's objects (gates.set_guard).
    hold_epoch: vec[i64] = field(default_factory=lambda: vec[i64]())
    hold_until: vec[float] = field(default_factory=lambda: vec[float]())
    grants: list[tuple[float, ...]] = field(default_factory=list)  # per rule, per guard series (gates.py)
    dep_series: list[tuple[Series, ...]] = field(default_factory=list)
    health_epoch: int = 0  # bumped whenever a series' data health changes (group membership)
    gating: bool = True  # series gates (gates.py); off, every reading wakes its rules (for comparison)
    wake: Wake = field(default_factory=lambda: Wake(0))  # the rules the current evaluate() decides


class Memo:
    """Per-evaluation cache of named values read by several conditions (slot 0 of every state)."""

    __slots__ = ("epoch", "vals")

    def __init__(self) -> None:
        self.epoch = 0
        self.vals: dict[int, tuple[int, Any]] = {}
