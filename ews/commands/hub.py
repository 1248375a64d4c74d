"""`ews hub --config FILE`: run the hub until SIGTERM; SIGHUP reloads the rules; watchdog heartbeats."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from ews import sdnotify

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser("hub", help="run the hub: ingest, store, rules, alerts and feeds")
    p.add_argument("--config", required=True, type=Path, metavar="FILE", help="hub config YAML")
    p.add_argument("--check", action="store_true", help="validate the config and its rule files, then exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hub.app import Hub
    from hub.clocks import synchronized
    from hub.config import ConfigError, load_hub_config
    from hub.rules.loader import load_ruleset

    try:
        cfg = load_hub_config(args.config)
        ruleset = load_ruleset(cfg.rules)
    except (ConfigError, ValueError, OSError) as exc:
        print(f"ews hub: {exc}", file=sys.stderr)
        return 2
    if args.check:
        for advice in ruleset.warnings:
            print(f"ews hub: warning: {advice}")
        print(
            f"ews hub: {args.config}: {len(ruleset.rules)} rules over {len(ruleset.sites)} sites: config OK"
        )
        return 0
    stop, reload = threading.Event(), threading.Event()
    hub = Hub(cfg)

    def halt(*_: object) -> None:
        stop.set()
        hub.stopping.set()  # a stop during start-up must not wait out the wait for InfluxDB (60 s)

    signal.signal(signal.SIGTERM, halt)
    signal.signal(signal.SIGINT, halt)
    signal.signal(signal.SIGHUP, lambda *_: reload.set())
    hub.start()
    heartbeat = sdnotify.Heartbeat.from_env(hub.healthy)
    if heartbeat:
        heartbeat.start()
    status = f"{len(ruleset.rules)} rules, {len(ruleset.sites)} sites"
    if synchronized() is False:  # shown by `systemctl status ews-hub`, where the installer looks
        status += "; clock NOT synchronized (NTP): gateway clocks are corrected against it"
        log.warning("hub clock not synchronized: check timedatectl; gateway clocks are corrected against it")
    sdnotify.ready(status)
    log.info("hub running config=%s", args.config)
    try:
        while not stop.wait(0.5):
            if reload.is_set():
                reload.clear()
                sdnotify.reloading()
                hub.reload_rules()
                sdnotify.ready()
    finally:
        sdnotify.stopping()
        if heartbeat:
            heartbeat.stop()
        hub.stop()
        log.info("hub stopped")
    return 0
