"""The stored history an engine's windows start from: read from InfluxDB, waited for at start-up, fetched late."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from hub.history import load_forecasts, load_history
from hub.influx import InfluxClient, InfluxError
from hub.rules.engine import Engine
from hub.rules.restart import forecasts_needed

log = logging.getLogger(__name__)

RETRY_S = 5.0  # how often a hub that started without its stored history asks InfluxDB again


class StoredHistory:
    """Reads what the windows need back from the store, for the hub's start-up and rule reloads.

    After a power cut the hub and InfluxDB start together, and InfluxDB may take a minute to load its
    shards. Windows built without the store forget the storm's rain so far, and a standing alert steps
    down on the new rain alone. So start-up waits for it up to `wait_s` (monotonic time: the demo's
    clock runs fast); past that the hub decides at once and `late` stays set until the windows are
    rebuilt from the store (the hub's ticker asks every RETRY_S).

    The store is read only once the points spilled while InfluxDB was down are in it (`spilled()`):
    the hub's writer replays them when InfluxDB answers, and history read before that lacked the
    rain of the outage."""

    def __init__(
        self,
        client: InfluxClient,
        clock: Callable[[], float],
        wait_s: float,
        stop: threading.Event,
        spilled: Callable[[], bool] = lambda: False,
    ) -> None:
        self.client, self.clock, self.wait_s, self.stop, self.spilled = client, clock, wait_s, stop, spilled
        self.late = False
        self._next = 0.0

    def load(self, engine: Engine) -> list[Any] | None:
        """The stored readings and forecasts the engine's windows need (the pipeline keeps those its
        partition owns); None when InfluxDB does not answer or spilled points are not in it yet."""
        if self.spilled():
            log.info("stored history waits: spilled points are not yet written to influx")
            return None
        try:
            now = self.clock()
            history = load_history(self.client, engine.history_needed(), now)
            history += load_forecasts(self.client, forecasts_needed(engine.ruleset), now)
        except InfluxError as exc:
            log.warning("stored history unavailable: influx unavailable error=%s", exc)
            return None
        return history

    def at_start(self, engine: Engine) -> list[Any]:
        """Start-up: wait for the store up to wait_s; empty, and `late` set, if it never answered."""
        deadline, pause = time.monotonic() + self.wait_s, 0.5
        while (history := self.load(engine)) is None:
            if time.monotonic() + pause > deadline or self.stop.wait(pause):
                self.late = True
                log.error(
                    "windows started without the stored history: influx did not answer within %.0f s; "
                    "they are rebuilt as soon as it does (until then 1-72 h sums hold only new readings)",
                    self.wait_s,
                )
                return []
            pause = min(2 * pause, 5.0)
        return history

    def due(self) -> bool:
        """Time to try the late rebuild again (it counts as one try)."""
        if not self.late or time.monotonic() < self._next:
            return False
        self._next = time.monotonic() + RETRY_S
        return True
