"""`ews dashboards check|generate|push`: validate, regenerate and upload the Grafana dashboards."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def _check(args: argparse.Namespace) -> int:
    from ews.grafana.check import check_dir
    from ews.grafana.generate import stale

    problems = [str(p) for p in check_dir(Path(args.dir), frozenset(args.datasource_uid))]
    if args.generated:
        problems += [
            f"{args.dir}/{name}: differs from `ews dashboards generate`" for name in stale(Path(args.dir))
        ]
    if args.influx_url and not problems:
        problems += _run_queries(args)
    for p in problems:
        print(p, file=sys.stderr)
    n = len(list(Path(args.dir).glob("*.json")))
    print(f"{n} dashboards checked, {len(problems)} problems")
    return 1 if problems else 0


def _run_queries(args: argparse.Namespace) -> list[str]:
    """Run every query of every dashboard against a live database; report errors, print empty ones."""
    import time

    from ews.grafana.check import load
    from ews.grafana.runner import assignments, run, variable_choices
    from hub.influx import InfluxClient, InfluxConfig, InfluxError

    cfg = InfluxConfig.model_validate(
        {"url": args.influx_url, "database": args.db, "token_env": args.influx_token_env}
    )
    client = InfluxClient(cfg)
    to_ms = int(time.time() * 1000)
    from_ms = to_ms - int(args.hours * 3600_000)
    problems, empty, total = [], set(), 0
    for path in sorted(Path(args.dir).glob("*.json")):
        dash = load(path)
        try:
            choices = variable_choices(client, dash)
        except InfluxError as exc:
            problems.append(f"{path}: variables: {exc}")
            continue
        for variables in assignments(choices)[:1]:
            for o in run(client, dash, from_ms, to_ms, variables):
                total += 1
                if o.error:
                    problems.append(f"{path}: {o.where}: {o.error}")
                elif not o.series:
                    empty.add(f"{path.name}: {o.where}")
    for where in sorted(empty):
        print(f"no data: {where}")
    print(f"{total} queries run against {args.influx_url}/{args.db}, {len(empty)} without data")
    return problems


def _generate(args: argparse.Namespace) -> int:
    from ews.grafana.generate import write
    from ews.grafana.sites import FENGSHAN, load_deployment

    try:
        sites = load_deployment(Path(args.deployment)) if args.deployment else FENGSHAN
    except (ValueError, OSError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    gaz = Path(args.gazetteer) if args.gazetteer else None
    for path in write(Path(args.out), gaz, sites):
        print(path)
    return 0


def _push(args: argparse.Namespace) -> int:
    from ews.grafana.push import PushError, PushTarget, push

    token = args.token or os.environ.get(args.token_env, "")
    if not token:
        print(f"no Grafana token: pass --token or set ${args.token_env}", file=sys.stderr)
        return 2
    mapping = {}
    for item in args.map_datasource:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            print(f"--map-datasource {item!r}: expected OLD_UID=NEW_UID", file=sys.stderr)
            return 2
        mapping[old] = new
    files = [Path(f) for f in args.files] or sorted(Path(args.dir).glob("*.json"))
    target = PushTarget(args.url, token, args.folder_uid, args.folder_title, not args.no_overwrite)
    try:
        results = push(files, target, mapping, args.datasource_name)
    except PushError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    for r in results:
        print(f"{r.get('uid')} {r.get('url')} version={r.get('version')}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("dashboards", help="check, generate or upload the Grafana dashboards")
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    c = sub.add_parser("check", help="validate datasource uids, panel ids and variables")
    c.add_argument("--dir", default="dashboards", help="directory of dashboard JSON (default: dashboards)")
    c.add_argument(
        "--datasource-uid", action="append", default=["ews-influx"], help="allowed InfluxDB datasource uid"
    )
    c.add_argument("--generated", action="store_true", help="also fail when files differ from the generator")
    c.add_argument("--influx-url", help="also run every query (macros expanded) against this InfluxDB")
    c.add_argument("--db", default="ews", help="database for --influx-url (default: ews)")
    c.add_argument("--hours", type=float, default=24.0, help="time range for --influx-url: the last N hours")
    c.add_argument("--influx-token-env", default=None, help="environment variable with a 2.x/3.x token")
    c.set_defaults(func=_check)

    g = sub.add_parser("generate", help="write the dashboards (and the Geomap gazetteer) from code")
    g.add_argument("--out", default="dashboards", help="output directory (default: dashboards)")
    g.add_argument(
        "--gazetteer",
        default="deploy/grafana/gazetteer",
        help="where to write fengshan-sites.json ('' = skip)",
    )
    g.add_argument(
        "--deployment",
        help="deployment directory (rules/, gateways/) to read the sites from (default: Fengshan)",
    )
    g.set_defaults(func=_generate)

    u = sub.add_parser("push", help="upload through the Grafana HTTP API (grafana-client)")
    u.add_argument("files", nargs="*", help="dashboard files (default: every *.json in --dir)")
    u.add_argument("--dir", default="dashboards")
    u.add_argument("--url", required=True, help="Grafana base URL, e.g. http://127.0.0.1:3000")
    u.add_argument("--token", default="", help="service-account token (prefer --token-env: argv is visible)")
    u.add_argument("--token-env", default="GRAFANA_TOKEN", help="environment variable holding the token")
    u.add_argument("--folder-uid", default="ews")
    u.add_argument("--folder-title", default="凤山预警")
    u.add_argument("--no-overwrite", action="store_true", help="fail if a dashboard with the uid exists")
    u.add_argument(
        "--map-datasource", action="append", default=[], metavar="OLD=NEW", help="replace a datasource uid"
    )
    u.add_argument("--datasource-name", help="look up the InfluxDB datasource uid by name on that Grafana")
    u.set_defaults(func=_push)
