"""`ews rules check FILE...`: validate rule files and print what each rule watches."""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

from hub.rules.engine import Engine
from hub.rules.loader import load_ruleset
from hub.rules.model import Level
from hub.rules.ruleset import RuleError, RuleSet


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("rules", help="work with rule files")
    sub = p.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    c = sub.add_parser("check", help="validate rule files and print what each rule watches")
    c.add_argument("files", nargs="+", type=Path, help="rule files (YAML), loaded together")
    c.set_defaults(func=check)


def _duration(s: float) -> str:
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= n and s % n == 0:
            return f"{int(s // n)}{unit}"
    return f"{s:g}s"


def describe(rs: RuleSet) -> list[str]:
    """Human-readable summary: sites, sensors, each rule instance with the series and windows it reads."""
    lines = [
        f"{len(rs.sites)} sites, {len(rs.sensors)} sensors, {len(rs.rules)} rule instances, {len(rs.health)} health checks"
    ]
    for r in rs.rules:
        watch: dict[str, list[str]] = defaultdict(list)
        for i in r.slots:
            spec = rs.plan.slots[i]
            name = f"{spec.key[0]}/{spec.key[1]}"
            if spec.kind == "window":
                watch[name].append(_duration(spec.length))
            elif spec.kind == "fit":
                watch[name].append(f"inverse velocity {_duration(spec.length)}")
            elif spec.kind == "series":
                watch[name].append("last")
            else:
                watch[f"forecast {spec.key[1]} @ {spec.key[0]}"].append("ahead")
        audience = ", ".join(f"{Level(lv).label}→{a}" for lv, a in sorted(r.audience.items()))
        lines.append(f"rule {r.id} @ {r.site} ({r.hazard}) [{r.file}]")
        for name, wins in watch.items():
            lines.append(f"    watches {name}: {', '.join(dict.fromkeys(wins))}")
        extra = [
            f"for {_duration(r.for_s)}" if r.for_s else "",
            f"min {_duration(r.min_time_s)} at a level" if r.min_time_s else "",
            f"clear after {_duration(r.clear_for_s)}" if r.clear_for_s else "",
            f"validity {_duration(r.validity_s)}" if r.validity_s else "",
        ]
        lines.append(f"    audience {audience}" + "".join(f"; {e}" for e in extra if e))
    for h in rs.health:
        lines.append(f"health {h.id}: {h.kind} → {h.level.label} maintenance alert for officers")
    return lines


def check(args: argparse.Namespace) -> int:
    try:
        rs = load_ruleset(args.files)
    except RuleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in describe(rs):
        print(line)
    for advice in rs.warnings:
        print(f"warning: {advice}")
    need = Engine(rs).history_needed()
    longest = max(need.values(), default=0.0)
    warned = f", {len(rs.warnings)} warning(s) above" if rs.warnings else ""
    print(f"ok: history needed at start-up: {len(need)} series, longest {_duration(longest)}{warned}")
    return 0
