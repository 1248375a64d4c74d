"""`ews hub --config FILE`: run the hub until SIGTERM; SIGHUP reloads the rules; watchdog heartbeats."""

from __future__ import annotations

import argparse
import ctypes
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ews import sdnotify

if TYPE_CHECKING:
    from hub.config import HubConfig

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
    p.add_argument(
        "--check",
        action="store_true",
        help="validate the config and its rule files, and that the state and spill directories are "
        "writable (judged as the user running it: run it as ews), then exit",
    )
    p.set_defaults(func=run)


def check_written_paths(cfg: HubConfig) -> bool:
    """--check: the hub can create its alert state and spill directories. A config that validates but
    points them where the service cannot write (the config directory, read-only to it) used to pass here
    and then crash-loop under systemd."""
    from hub.config import STATE_DIR, outside_state_dir, write_problem, written_paths

    ok = True
    for key, directory, file in written_paths(cfg):
        problem = write_problem(directory, file)
        if problem:
            print(f"ews hub: {key} {file or directory}: {problem}", file=sys.stderr)
            ok = False
            continue
        print(f"ews hub: {key} {file or directory}: writable")
        if outside_state_dir(directory):  # fine for a test or a demo, fatal under the shipped unit
            print(
                f"ews hub: warning: {key} {file or directory} is outside {STATE_DIR}, the only directory "
                "ews-hub.service lets the hub write (ReadWritePaths): the service would fail there"
            )
    return ok


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
        if not check_written_paths(cfg):
            return 1
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
