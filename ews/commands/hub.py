"""`ews hub --config FILE`: run the hub until SIGTERM; SIGHUP reloads the rules; watchdog heartbeats."""

from __future__ import annotations

import argparse
import ctypes
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from ews import sdnotify

log = logging.getLogger(__name__)
TIME_ERROR = 5  # adjtimex's clock state when no NTP (or PTP, GPS) daemon keeps the clock


def synchronized() -> bool | None:
    """Whether the kernel counts this machine's clock as synchronized (adjtimex, as `timedatectl` asks);
    None when it cannot be asked (not Linux). The hub corrects every gateway and sensor clock against
    its own (hub/clocks.py), so an unsynchronized hub clock is worth saying out loud."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        state = libc.adjtimex(ctypes.create_string_buffer(512))  # a zeroed struct timex: modes 0, read only
    except (OSError, AttributeError):
        return None
    return None if state < 0 else state != TIME_ERROR


def register(sub: Any) -> None:
    p = sub.add_parser("hub", help="run the hub: ingest, store, rules, alerts and feeds")
    p.add_argument("--config", required=True, type=Path, metavar="FILE", help="hub config YAML")
    p.add_argument("--check", action="store_true", help="validate the config and its rule files, then exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hub.app import Hub
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
