"""`ews cap show FILE|URL`: print a CAP message normalised to JSON, with its schema errors, for operators."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import requests

from hub.feeds.base import FeedError
from hub.feeds.cap import parse_index
from hub.feeds.capparse import alert_to_json, parse_alert
from hub.feeds.capschema import validate_cap


def read_source(source: str, timeout: float) -> bytes:
    if source.startswith(("http://", "https://")):
        resp = requests.get(source, timeout=timeout)
        if resp.status_code >= 400:
            raise OSError(f"HTTP {resp.status_code}")
        return resp.content
    return Path(source).read_bytes()


def show(args: argparse.Namespace) -> int:
    try:
        body = read_source(args.source, args.timeout)
        entries = parse_index(body, args.source, args.source)
    except (OSError, requests.RequestException, FeedError) as exc:
        print(f"ews cap: {args.source}: {exc}", file=sys.stderr)
        return 2
    if entries is not None:  # an Atom/RSS index: list what it points to
        for e in entries:
            print(json.dumps({"entry": e.url, "updated": e.version, "embedded": e.embedded is not None}))
        return 0
    errors = validate_cap(body)
    try:
        alert = parse_alert(body, args.source, require_valid=False)
    except FeedError as exc:
        print(f"ews cap: {args.source}: {exc}", file=sys.stderr)
        return 2
    doc: dict[str, Any] = {"source": args.source, "schema_valid": not errors, "schema_errors": errors}
    doc.update(alert_to_json(alert))
    print(json.dumps(doc, ensure_ascii=False, indent=2))
    return 0 if not errors else 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("cap", help="CAP 1.2 warning messages (预警信息)")
    sub = parser.add_subparsers(dest="cap_command", required=True, metavar="ACTION")
    p = sub.add_parser("show", help="print a CAP message (file or URL) normalised to JSON")
    p.add_argument("source", metavar="FILE|URL", help="CAP XML file, CAP URL or Atom/RSS index URL")
    p.add_argument("--timeout", type=float, default=15.0, help="HTTP timeout, seconds")
    p.set_defaults(func=show)
