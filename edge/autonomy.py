"""Local autonomy: when the hub is out of reach, a few local rules drive the on-site siren relay."""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge.relay import Relay, RelayConfig, RelayError
from edge.wire import Reading

log = logging.getLogger(__name__)

ALARM_QUANTITY = "local_alarm"  # 1: the gateway switched its relay on by a local rule, 0: off again
FUTURE_S = 300.0  # readings further ahead of the clock than this were stamped before it was set back


class LocalRule(BaseModel):
    """One red-level condition the gateway can judge alone, e.g. 1 h rain sum >= 80 mm."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Rule name, used in logs, e.g. rain-1h-red")
    quantity: str = Field(default="rain_mm", description="Quantity the rule watches")
    sensors: list[str] = Field(
        default_factory=list, description="Sensor ids to watch (each judged alone); empty: every sensor"
    )
    window_s: float = Field(gt=0, description="Window over event time, seconds")
    agg: Literal["sum", "max", "delta"] = Field(
        default="sum", description="sum (rain), max (water level), delta = last - first (crack growth)"
    )
    threshold: float = Field(description="Fires when the aggregate is at or above this")
    clear_below: float | None = Field(
        default=None, description="Clears when the aggregate falls below this (hysteresis); default threshold"
    )

    @model_validator(mode="after")
    def _hysteresis_below(self) -> LocalRule:
        if self.clear_below is not None and self.clear_below > self.threshold:
            raise ValueError(f"rule {self.name}: clear_below must not exceed threshold")
        return self


class AutonomyConfig(BaseModel):
    """When and how the gateway sounds its own siren while the hub is unreachable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=False, description="Allow the gateway to act on its own")
    unreachable_s: float = Field(
        default=1800.0, gt=0, description="Act only after the hub's broker has been out of reach this long"
    )
    check_s: float = Field(default=10.0, gt=0, description="How often the local rules are judged, seconds")
    min_on_s: float = Field(default=300.0, ge=0, description="Keep the relay on at least this long")
    max_on_s: float | None = Field(
        default=None, gt=0, description="Switch off after this long even if still firing (None: no limit)"
    )
    relay: RelayConfig | None = Field(default=None, description="The siren or light relay")
    rules: list[LocalRule] = Field(default_factory=list, description="Red-level conditions judged locally")


class LocalRules:
    """Pure: per-sensor windows over event time and rule state with hysteresis. Time is passed in."""

    def __init__(self, rules: list[LocalRule]) -> None:
        self.rules = rules
        self._windows: dict[tuple[int, str], deque[tuple[float, float]]] = defaultdict(deque)
        self._firing: set[tuple[int, str]] = set()

    def observe(self, readings: Iterable[Reading]) -> None:
        for r in readings:
            if r.quality == "bad" or r.source not in ("sensor",):
                continue
            for i, rule in enumerate(self.rules):
                if r.quantity == rule.quantity and (not rule.sensors or r.sensor in rule.sensors):
                    self._windows[(i, r.sensor)].append((r.time, r.value))

    def _aggregate(self, rule: LocalRule, window: deque[tuple[float, float]], now: float) -> float | None:
        # Readings come in out of time order (a LoRa node's kept frames, an SL651 backlog), so each is
        # judged by its own time, not by where it sits. Those further ahead than FUTURE_S were stamped
        # before the clock was set back: that rain did not fall hours from now, and left in the window
        # it would sound the siren again once the clock got there.
        kept = [(t, v) for t, v in window if now - rule.window_s < t <= now + FUTURE_S]
        if len(kept) < len(window):
            window.clear()
            window.extend(kept)
        inside = [(t, v) for t, v in kept if t <= now]
        if not inside:
            return None
        if rule.agg == "sum":
            return sum(v for _, v in inside)
        if rule.agg == "max":
            return max(v for _, v in inside)
        return max(inside, key=itemgetter(0))[1] - min(inside, key=itemgetter(0))[1]

    def evaluate(self, now: float) -> list[str]:
        """Names of the rules firing at `now` (each with the sensor that makes it fire)."""
        firing: list[str] = []
        for key, window in self._windows.items():
            rule = self.rules[key[0]]
            value = self._aggregate(rule, window, now)
            clear_at = rule.threshold if rule.clear_below is None else rule.clear_below
            if value is not None and value >= rule.threshold:
                self._firing.add(key)
            elif value is None or value < clear_at:
                self._firing.discard(key)
            if key in self._firing:
                firing.append(f"{rule.name}:{key[1]}")
        return sorted(firing)


class Autonomy:
    """Shell: judges the rules on a schedule, drives the relay, and queues each switch as a reading."""

    def __init__(
        self,
        gateway: str,
        cfg: AutonomyConfig,
        relay: Relay | None,
        queue: Callable[[list[Reading]], None],
    ) -> None:
        self.sensor = f"{gateway}-autonomy"
        self.cfg = cfg
        self.relay = relay
        self.queue = queue
        self.rules = LocalRules(cfg.rules)
        self.on_since: float | None = None
        self._latched_off = False  # max_on_s expired: stay off until the condition clears
        self._relay_state: bool | None = None  # None: unknown, so the first tick switches it (off at boot)
        self._relay_failing = False
        self.activations = 0

    def observe(self, readings: Iterable[Reading]) -> None:
        if self.cfg.enabled:
            self.rules.observe(readings)

    def tick(self, now: float, down_since: float | None) -> None:
        if not self.cfg.enabled:
            return
        firing = self.rules.evaluate(now)
        hub_out = down_since is not None and now - down_since >= self.cfg.unreachable_s
        if self.on_since is None:
            if not firing:
                self._latched_off = False
            elif hub_out and not self._latched_off:
                self.on_since = now
                self.activations += 1
                log.warning(
                    "local alarm on sensor=%s rules=%s hub_down_s=%.0f",
                    self.sensor,
                    firing,
                    now - (down_since or now),
                )
                self.queue([Reading(self.sensor, ALARM_QUANTITY, 1.0, now)])
        else:
            if self.on_since > now:  # the clock was set back: count the siren's time on from now
                self.on_since = now
            held = now - self.on_since
            expired = self.cfg.max_on_s is not None and held >= self.cfg.max_on_s
            if (not firing and held >= self.cfg.min_on_s) or expired:
                self._latched_off = expired and bool(firing)
                self.on_since = None
                log.warning(
                    "local alarm off sensor=%s held_s=%.0f still_firing=%s", self.sensor, held, firing
                )
                self.queue([Reading(self.sensor, ALARM_QUANTITY, 0.0, now)])
        self._drive(self.on_since is not None)

    def _drive(self, on: bool) -> None:
        """Switch the relay when its state differs; a failed switch is retried on the next tick."""
        if self.relay is None or self._relay_state is on:
            return
        try:
            self.relay.set(on)
        except RelayError as exc:
            if not self._relay_failing:
                log.error("relay failed sensor=%s want_on=%s error=%s", self.sensor, on, exc)
                self._relay_failing = True
            self._relay_state = None
            return
        if self._relay_failing:
            log.info("relay back sensor=%s on=%s", self.sensor, on)
            self._relay_failing = False
        self._relay_state = on
