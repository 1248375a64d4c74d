"""`ews report`: the printable after-action storm report (PDF/PNG) drawn from InfluxDB."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path


def parse_time(text: str) -> int:
    """Epoch seconds, or ISO 8601; a time without a zone is read as Beijing time (UTC+8)."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: use ISO 8601 (2025-07-20T08:00+08:00) or epoch seconds"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return int(when.timestamp())


def _run(args: argparse.Namespace) -> int:
    from ews.grafana.sites import FENGSHAN, find_site, load_deployment
    from ews.report.data import fetch
    from ews.report.render import ReportError, render
    from hub.influx import InfluxClient, InfluxConfig, InfluxError

    if Path(args.out).suffix.lower() not in (".pdf", ".png"):
        print(f"{args.out}: the report is written as .pdf or .png", file=sys.stderr)
        return 2
    if args.to <= args.from_:
        print("--to must be after --from", file=sys.stderr)
        return 2
    try:
        known = load_deployment(Path(args.deployment)) if args.deployment else FENGSHAN
        sites = tuple(find_site(known, s) for s in args.site) if args.site else known
    except (KeyError, ValueError, OSError) as exc:
        print(exc.args[0] if isinstance(exc, KeyError) else str(exc), file=sys.stderr)
        return 2
    cfg = InfluxConfig.model_validate(
        {
            "url": args.influx_url,
            "database": args.db,
            "username": args.influx_user,
            "password_env": args.influx_password_env,
            "token_env": args.influx_token_env,
        }
    )
    try:
        data = fetch(InfluxClient(cfg), sites, args.from_, args.to)
        written = render(data, Path(args.out))
    except (InfluxError, ReportError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("report", help="printable after-action storm report (PDF or PNG)")
    p.add_argument("--from", dest="from_", type=parse_time, required=True, help="start (ISO 8601 or epoch s)")
    p.add_argument("--to", type=parse_time, required=True, help="end (ISO 8601 or epoch s)")
    p.add_argument("--site", action="append", default=[], help="hazard point id (repeat; default: all)")
    p.add_argument("--out", required=True, help="storm.pdf, or storm.png (then storm-2.png, … per page)")
    p.add_argument(
        "--deployment",
        help="deployment directory (rules/, gateways/) to read the sites from (default: Fengshan)",
    )
    p.add_argument("--influx-url", default="http://127.0.0.1:8086")
    p.add_argument("--db", default="ews", help="InfluxDB database (default: ews)")
    p.add_argument("--influx-user", default=None, help="1.x user")
    p.add_argument("--influx-password-env", default=None, help="environment variable with the 1.x password")
    p.add_argument("--influx-token-env", default=None, help="environment variable with a 2.x/3.x token")
    p.set_defaults(func=_run)
