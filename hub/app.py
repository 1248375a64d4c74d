"""Composition root of the hub process: store, engine, pipeline, dispatcher, ingest and the ticker."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from hub.alerts.config import build_dispatcher
from hub.alerts.dispatcher import Dispatcher
from hub.config import HubConfig
from hub.history import load_history
from hub.influx import InfluxClient, InfluxError
from hub.ingest import Ingest
from hub.pipeline import Pipeline
from hub.rules.engine import Engine
from hub.rules.loader import load_ruleset
from hub.store import Store

log = logging.getLogger(__name__)


class _Rows:
    """The dispatcher's row sink, backed by the store so its rows share batching and the disk spill."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def put(self, row: str) -> None:
        self.store.put([row])


class Hub:
    """Wires the hub's parts together; constructors only assign, start() does the I/O."""

    def __init__(self, cfg: HubConfig, clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.dispatcher: Dispatcher | None = None
        self.clock = clock
        self.client = InfluxClient(cfg.influx)
        self.store = Store(self.client, cfg.store)
        self.ruleset: Any = None
        self.pipeline: Pipeline | None = None
        self.ingest: Ingest | None = None
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def start(self) -> None:
        self.ruleset = load_ruleset(self.cfg.rules)
        engine = Engine(self.ruleset)
        self.dispatcher = build_dispatcher(self.cfg.alerts, _Rows(self.store))
        sensor_sites = {sid: s.site for sid, s in self.ruleset.sensors.items()}
        sites = frozenset(self.cfg.sites) if self.cfg.sites is not None else None
        self.pipeline = Pipeline(engine, sensor_sites, self.store, self.dispatcher, self.clock, sites)
        try:
            self.client.create_database()
        except InfluxError as exc:  # decisions go on without the store; writes spill and wait
            log.error("influx unavailable at start url=%s error=%s", self.cfg.influx.url, exc)
        self.store.start()
        self.dispatcher.start()
        if self.cfg.rebuild_on_start:
            self._rebuild(engine)
        suffix = "-".join(sorted(self.cfg.sites)) if self.cfg.sites else "all"
        self.ingest = Ingest(
            self.cfg.mqtt,
            f"ews-{self.cfg.hub_id}-{suffix}"[:64],
            self.pipeline.handle_batch,
            self.clock,
            on_command=self._on_command,
            on_lines=self.store.put,
        )
        self.ingest.start()
        self._ticker = threading.Thread(target=self._tick_loop, name="hub-ticker", daemon=True)
        self._ticker.start()

    def _rebuild(self, engine: Engine) -> None:
        assert self.pipeline is not None
        try:
            history = load_history(self.client, engine.history_needed(), self.clock())
        except InfluxError as exc:
            log.error("window rebuild skipped: influx unavailable error=%s", exc)
            return
        history = [r for r in history if self.pipeline.owns(r.sensor)]
        n = self.pipeline.warm_up(history)
        log.info("windows rebuilt readings=%d", n)

    def _on_command(self, verb: str, doc: dict[str, Any]) -> None:
        if self.dispatcher is not None:
            self.dispatcher.handle_command(verb, doc, str(doc.get("who", "")), self.clock())

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.cfg.tick_s):
            if self.pipeline is None:
                continue
            try:
                self.pipeline.tick()
                if self.dispatcher is not None:
                    self.dispatcher.tick(self.clock())
            except Exception:  # the ticker must survive a bug in one evaluation
                log.exception("tick failed")

    def stop(self) -> None:
        self._stop.set()
        if self.ingest:
            self.ingest.stop()
        if self._ticker:
            self._ticker.join(5)
        if self.dispatcher is not None:
            self.dispatcher.stop()
        self.store.stop()
