"""`ews edge --config FILE`: run one gateway agent until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

from ews import sdnotify

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("edge", help="run a gateway agent (sensors → outbox → MQTT)")
    p.add_argument("--config", required=True, metavar="FILE", help="gateway config YAML")
    p.add_argument(
        "--check", action="store_true", help="validate the config and load its relay's driver, then exit"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edge.agent import Agent, AgentError
    from edge.config import ConfigError, load_gateway_config

    try:
        cfg = load_gateway_config(args.config)
    except ConfigError as exc:
        print(f"ews edge: {exc}", file=sys.stderr)
        return 2
    if args.check:
        from edge.relay import relay_problem

        problem = relay_problem(cfg.autonomy.relay) if cfg.autonomy.relay is not None else None
        if problem:
            print(f"ews edge: {args.config}: {problem}", file=sys.stderr)
            return 1
        print(f"ews edge: {args.config}: gateway {cfg.id} with {len(cfg.sensors)} sensors: config OK")
        return 0
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    agent = Agent(cfg)
    try:
        agent.start()
    except AgentError as exc:
        print(f"ews edge: {args.config}: {exc}", file=sys.stderr)
        agent.stop()
        return 1
    heartbeat = sdnotify.Heartbeat.from_env(agent.healthy)  # systemd WatchdogSec (deploy/systemd)
    if heartbeat:
        heartbeat.start()
    sdnotify.ready(f"gateway {cfg.id}, {len(cfg.sensors)} sensors")
    while not stop.wait(1.0):
        pass
    sdnotify.stopping()
    if heartbeat:
        heartbeat.stop()
    agent.stop()
    log.info("edge stats %s", agent.stats())
    return 0
