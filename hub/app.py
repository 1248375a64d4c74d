"""Composition root of the hub process: store, engine, pipeline, dispatcher, feeds, ingest and the ticker."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from edge.mqttlink import make_client
from hub.alerts.config import build_dispatcher
from hub.alerts.dispatcher import Dispatcher
from hub.alerts.inbound import InboundPoller
from hub.clocks import Clocks
from hub.config import HubConfig
from hub.feeds.base import FeedEvent
from hub.feeds.registry import build_feed
from hub.feeds.runner import FeedRunner, mqtt_publisher
from hub.history import load_maintenance
from hub.influx import InfluxClient, InfluxError
from hub.ingest import Ingest
from hub.pipeline import LATE_S, Pipeline
from hub.reading_lines import warning_line
from hub.rules.engine import Engine
from hub.rules.loader import load_ruleset
from hub.rules.model import Level
from hub.rules.native import status as engine_status
from hub.rules.ruleset import RuleSet
from hub.store import Store
from hub.stored import StoredHistory

log = logging.getLogger(__name__)
SET_BACK_S = 60.0  # the hub's clock went back further than this between ticks: NTP set a wrong clock right
MAX_MAINT_MIN = 7 * 1440.0  # a sensor's maintenance window is work on site; `inf` muted it for ever


def _advise(ruleset: RuleSet) -> None:
    """Rules that load but will misbehave (hub/rules/lint.py) reach the log at every start and reload,
    where `ews rules check` is not run (a file edited in place and reloaded with SIGHUP)."""
    for advice in ruleset.warnings:
        log.warning("rule warning: %s", advice)


class _Rows:
    """The dispatcher's row sink on top of the store, so its rows share batching and the disk spill."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def put(self, row: str) -> None:
        self.store.put([row])


class Hub:
    """Wires the hub's parts together; constructors only assign, start() does the I/O."""

    def __init__(self, cfg: HubConfig, clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.clock = clock
        self.client = InfluxClient(cfg.influx)
        self.store = Store(self.client, cfg.store)
        self.dispatcher: Dispatcher | None = None
        self.ruleset: Any = None
        self.pipeline: Pipeline | None = None
        self.ingest: Ingest | None = None
        self.feeds: FeedRunner | None = None
        self._feed_client: mqtt.Client | None = None
        self.stopping = threading.Event()  # set to stop; a signal handler may set it to end a start-up wait
        self._rules_lock = threading.Lock()  # a reload and a late rebuild each swap the engine whole
        self.stored = StoredHistory(
            self.client, clock, cfg.history_wait_s, self.stopping, self.store.spill_waiting
        )
        self._ticker: threading.Thread | None = None
        self.last_tick = time.monotonic()
        self._maintenance_read = False

    @property
    def client_suffix(self) -> str:
        return "-".join(sorted(self.cfg.sites)) if self.cfg.sites else "all"

    def start(self) -> None:
        log.info("rule engine %s", engine_status().line())  # native (mypyc) or pure Python, and why
        self.ruleset = load_ruleset(self.cfg.rules)
        _advise(self.ruleset)
        engine = Engine(self.ruleset)
        self.dispatcher = build_dispatcher(self.cfg.alerts, _Rows(self.store))
        sites = frozenset(self.cfg.sites) if self.cfg.sites is not None else None
        self.pipeline = Pipeline(
            engine,
            self._sensor_sites(),
            self.store,
            self.dispatcher,
            self.clock,
            sites,
            self.cfg.store_unassigned,
        )
        try:
            self.client.create_database()
        except InfluxError as exc:  # decisions go on without the store; writes spill and wait
            log.error("influx unavailable at start url=%s error=%s", self.cfg.influx.url, exc)
        self.store.start()
        self.dispatcher.decides = self.pipeline.decides
        self.dispatcher.start()
        if self.cfg.rebuild_on_start:
            levels = {
                (a.site, a.rule): (Level(a.level), a.level_since)
                for a in self.dispatcher.state.active_alerts()
                if a.kind == "alert"
            }
            n = self.pipeline.warm_up(self.stored.at_start(engine), levels)
            log.info("windows rebuilt readings=%d standing_alerts=%d", n, len(levels))
        # After the wait for InfluxDB (a power cut starts both at once), or else at the late rebuild.
        self._maintenance_read = self._reopen_maintenance()
        self.ingest = Ingest(
            self.cfg.mqtt,
            f"ews-{self.cfg.hub_id}-{self.client_suffix}"[:64],
            self.pipeline.handle_batch,
            self.clock,
            on_command=self._on_command,
            on_lines=self.store.put,
            gateway_sensors=self.cfg.gateway_sensors,
        )
        self.ingest.start()
        self._start_feeds()
        self._ticker = threading.Thread(target=self._tick_loop, name="hub-ticker", daemon=True)
        self._ticker.start()
        # SMS replies (acks, evacuation reports) read from the modem into the dispatcher.
        InboundPoller(
            self.dispatcher.channels,
            self.dispatcher.handle_sms,
            self.clock,
            self.cfg.inbound_poll_s,
            self.stopping,
        ).start()

    def _reopen_maintenance(self) -> bool:
        """Sensor maintenance windows survive a restart: they are read back from the store, the open ones
        and those that ended within LATE_S (their test readings may still arrive late). False: not read."""
        assert self.pipeline is not None
        now = self.clock()
        try:
            windows = load_maintenance(self.client, now, LATE_S)
        except InfluxError as exc:
            log.error("maintenance windows not read back yet: influx unavailable error=%s", exc)
            return False
        for sensor, start, until, who in windows:
            if not self.pipeline.owns(sensor):
                continue
            if until > now:
                self.pipeline.maintain(sensor, until, who, record=False, start=start)
            else:
                self.pipeline.recall(sensor, start, until, who)
        return True

    def _sensor_sites(self) -> dict[str, str]:
        return {sid: s.site for sid, s in self.ruleset.sensors.items()}

    def _points(self) -> list[tuple[str, float, float]]:
        return [(sid, s.lat, s.lon) for sid, s in self.ruleset.sites.items() if s.lat is not None]

    def _rebuild_late(self) -> None:
        """InfluxDB answered after start-up stopped waiting: rebuild the windows from the store plus the
        readings received since, as a reload does (no reading counts twice; the levels stand)."""
        assert self.pipeline is not None
        with self._rules_lock:
            engine = Engine(self.ruleset)
            history = self.stored.load(engine)
            if history is None:
                return
            n = self.pipeline.swap_engine(engine, history, self._sensor_sites())
            self.stored.late = False
        log.warning("windows rebuilt late from the store readings=%d", n)
        if not self._maintenance_read:  # a technician's test tips must not count as rain meanwhile
            self._maintenance_read = self._reopen_maintenance()

    def _start_feeds(self) -> None:
        if not self.cfg.feeds:
            return
        # Feed readings travel through the broker like gateway readings: one ingest path, one store.
        client = make_client(self.cfg.mqtt, f"ews-{self.cfg.hub_id}-feeds-{self.client_suffix}"[:64])
        client.connect_async(self.cfg.mqtt.host, self.cfg.mqtt.port, self.cfg.mqtt.keepalive_s)
        client.loop_start()
        self._feed_client = client
        feeds = [build_feed(c) for c in self.cfg.feeds]
        self.feeds = FeedRunner(
            feeds, self._points(), mqtt_publisher(client), on_event=self._on_feed_event, clock=self.clock
        )
        self.feeds.start()

    def _on_feed_event(self, ev: FeedEvent) -> None:
        source = f"{ev.sender} {ev.identifier}"
        self.store.put([warning_line(ev.site, ev.event, ev.action, ev.headline, source, ev.level, ev.time)])
        log.info("official warning feed=%s site=%s action=%s level=%d id=%s",
                 ev.feed, ev.site, ev.action, ev.level, ev.identifier)  # fmt: skip

    def reload_rules(self, paths: list[Path] | None = None) -> bool:
        """SIGHUP: load the rule files again; keep the running rules if the new ones are invalid."""
        assert self.pipeline is not None
        try:
            ruleset = load_ruleset(paths or self.cfg.rules)
        except (ValueError, OSError) as exc:
            log.error("rules reload refused, keeping the running rules error=%s", exc)
            return False
        _advise(ruleset)
        with self._rules_lock:
            old_ruleset, self.ruleset = self.ruleset, ruleset
            engine = Engine(ruleset)
            history = self.stored.load(engine)
            # Without the store the new windows hold only the readings the running engine kept (a
            # series only the new files read starts empty): rebuild them once the store answers.
            self.stored.late = history is None
            self.pipeline.swap_engine(engine, history or [], self._sensor_sites())
        if self.feeds is not None:
            self.feeds.set_points(self._points())
        log.info(
            "rules reloaded rules=%d sensors=%d (was %d rules)",
            len(ruleset.rules),
            len(ruleset.sensors),
            len(old_ruleset.rules),
        )
        return True

    def healthy(self) -> bool:
        """For the systemd watchdog: the ticker and store writer run, the broker session is up (or re-made)."""
        ticking = time.monotonic() - self.last_tick < max(10.0, 5 * self.cfg.tick_s)
        return ticking and self.store.alive() and self.ingest is not None and self.ingest.client is not None

    def _on_command(self, verb: str, doc: dict[str, Any]) -> None:
        who = str(doc.get("who", ""))
        if verb == "silence" and "sensor" in doc:
            # A sensor's maintenance window keeps its readings out of the rules (the pipeline and the
            # engine); a site or rule silence mutes people (the dispatcher).
            self._maintenance_command(doc, who)
        elif self.dispatcher is not None:
            res = self.dispatcher.handle_command(verb, doc, who, self.clock())
            if not res.get("ok"):  # the sender sees the command_audit row; the log says why
                log.warning("command refused verb=%s who=%s error=%s", verb, who, res.get("error"))

    def _maintenance_command(self, doc: dict[str, Any], who: str) -> None:
        assert self.pipeline is not None
        sensor = doc.get("sensor")
        try:
            minutes = float(doc.get("minutes", 60))
        except (TypeError, ValueError):
            minutes = math.nan
        if (
            not isinstance(sensor, str)
            or sensor not in self.ruleset.sensors
            or not 0 <= minutes <= MAX_MAINT_MIN  # 0 closes the window
        ):
            log.warning("maintenance command refused who=%s: bad sensor or minutes in %.120r", who, doc)
            return
        if self.pipeline.owns(sensor):
            self.pipeline.maintain(sensor, self.clock() + minutes * 60, who)

    def _tick_loop(self) -> None:
        wall = self.clock()
        while not self.stopping.wait(self.cfg.tick_s):
            self.last_tick = time.monotonic()
            if self.pipeline is None:
                continue
            try:
                wall, was = self.clock(), wall
                if wall < was - SET_BACK_S:
                    # The engine's time never goes back: it would find all rain too old for the short windows.
                    log.warning("hub clock set back by_s=%.0f: rebuilding the windows", was - wall)
                    self.pipeline.clocks = Clocks()  # what it learnt of the gateways' clocks, it learnt wrong
                    self.reload_rules()
                self.pipeline.tick()
                if self.stored.due():
                    self._rebuild_late()
                if self.dispatcher is not None:
                    self.dispatcher.tick(self.clock())
            except Exception:  # the ticker must survive a bug in one evaluation
                log.exception("tick failed")

    def stop(self) -> None:
        self.stopping.set()
        if self.feeds is not None:
            self.feeds.stop(wait=False)
        if self._feed_client is not None:
            self._feed_client.disconnect()
            self._feed_client.loop_stop()
        if self.ingest:
            self.ingest.stop()
        if self._ticker:
            self._ticker.join(5)
        if self.dispatcher is not None:
            self.dispatcher.stop()
        self.store.stop()
