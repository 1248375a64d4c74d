"""`ews alerts check|plan|status FILE`: validate the config, dry-run who an alert reaches, show the live state."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("alerts", help="check the alerts config; dry-run who an alert would reach")
    sub = p.add_subparsers(dest="alerts_cmd", required=True, metavar="ACTION")
    check = sub.add_parser("check", help="validate the alerts config (directory, routing, channels)")
    check.add_argument("config", type=Path, metavar="FILE", help="alerts YAML")
    check.set_defaults(func=run_check)
    plan = sub.add_parser(
        "plan", help="list the deliveries an alert would make, in sending order (sends nothing)"
    )
    plan.add_argument("config", type=Path, metavar="FILE", help="alerts YAML")
    plan.add_argument("--site", required=True, help="site id, e.g. fs-hp01")
    plan.add_argument("--level", default="red", help="blue, yellow, orange or red (default red)")
    plan.add_argument("--kind", default="alert", help="alert, clear, escalation, test or maintenance")
    plan.set_defaults(func=run_plan)
    status = sub.add_parser("status", help="active alerts, acknowledgements, evacuation and delivery counts")
    status.add_argument("config", type=Path, metavar="FILE", help="alerts YAML (its state_path is read)")
    status.set_defaults(func=run_status)


def run_check(args: argparse.Namespace) -> int:
    from hub.alerts.config import load

    try:
        cfg = load(args.config)
    except ValueError as exc:
        print(f"ews alerts: {exc}", file=sys.stderr)
        return 2
    d = cfg.directory
    print(f"ews alerts: {args.config}: {len(d.sites)} sites, {len(d.grids)} grids, {len(d.recipients)} recipients, "
          f"channels {', '.join(sorted(cfg.channels))}: config OK")  # fmt: skip
    return 0


def run_plan(args: argparse.Namespace) -> int:
    from hub.alerts import messages as m
    from hub.alerts.config import load
    from hub.alerts.directory import mask_address
    from hub.alerts.routing import eta_s, plan
    from hub.rules.model import Level

    try:
        cfg = load(args.config)
        level = Level.parse(args.level)
    except ValueError as exc:
        print(f"ews alerts: {exc}", file=sys.stderr)
        return 2
    if cfg.directory.site(args.site) is None:
        print(f"ews alerts: {args.config}: unknown site {args.site!r}", file=sys.stderr)
        return 2
    n = m.Notice(
        args.kind, f"{args.site}/plan", f"{args.site}/plan#0", "plan", args.site, "plan", level, level, 0.0
    )
    planned = plan(n, cfg.directory, cfg.dispatch.policy)
    for i, p in enumerate(planned, 1):
        who = mask_address(p.address)
        print(f"{i:3d} {p.channel:<12} {p.audience:<13} {p.recipient_id:<12} {who:<12} {p.text}")
    print(f"deliveries={len(planned)} eta_s={eta_s(planned, cfg.dispatch.rate_limits):.0f}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from hub.alerts.config import load
    from hub.alerts.state import StateStore
    from hub.rules.model import Level

    try:
        cfg = load(args.config)
    except ValueError as exc:
        print(f"ews alerts: {exc}", file=sys.stderr)
        return 2
    if not cfg.state_path.exists():
        print(f"ews alerts: no state yet at {cfg.state_path}")
        return 0
    state = StateStore(cfg.state_path)
    state.open()
    try:
        active = state.active_alerts()
        print(f"active alerts: {len(active)}")
        for a in sorted(active, key=lambda a: (-a.level, a.alert_id)):
            acked = f"acked by {a.acked_by}" if a.acked_by else "NOT acknowledged"
            esc = ", escalated to town" if a.escalated_level else ""
            progress = " ".join(f"{g}:{d}/{t}" for g, (d, t) in sorted(state.evacuation(a.episode).items()))
            print(f"  {Level(a.level).label:<7} {a.alert_id:<40} {acked}{esc}  {progress}")
        for chan, by_status in sorted(state.counts().items()):
            print(f"  {chan:<12} " + " ".join(f"{k}={v}" for k, v in sorted(by_status.items())))
    finally:
        state.close()
    return 0
