"""`ews feeds fetch NAME --config FILE`: poll one feed once and print what would be stored, as JSON lines."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from edge.wire import Batch, Reading
from hub.feeds.base import FeedEvent, Point, as_points
from hub.feeds.registry import build_feed, check_unique_names, parse_feed_config
from hub.feeds.runner import FeedRunner


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()


def reading_json(r: Reading) -> dict[str, Any]:
    return {
        "type": "reading",
        "sensor": r.sensor,
        "quantity": r.quantity,
        "value": r.value,
        "time": r.time,
        "time_utc": _iso(r.time),
        "issued": r.issued,
        "issued_utc": _iso(r.issued),
        "source": r.source,
        "quality": r.quality,
        "seq": r.seq,
    }


def load(path: Path, extra_sites: list[str]) -> tuple[list[Any], tuple[Point, ...]]:
    """`feeds:` (a list of feed configs) and `sites:` ({id, lat, lon} mappings) from one YAML file."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(doc, dict) or not isinstance(doc.get("feeds"), list):
        raise ValueError(f"{path}: needs a top-level `feeds:` list")
    configs = []
    for i, raw in enumerate(doc["feeds"]):
        try:
            configs.append(parse_feed_config(raw))
        except (ValidationError, ValueError) as exc:
            raise ValueError(f"{path}: feeds[{i}]: {exc}") from None
    check_unique_names(configs)
    sites: list[Any] = list(doc.get("sites") or [])
    for text in extra_sites:
        site, lat, lon = text.split(",")
        sites.append((site, float(lat), float(lon)))
    return configs, as_points(sites)


def fetch(args: argparse.Namespace) -> int:
    try:
        configs, points = load(Path(args.config), args.site or [])
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"ews feeds: {exc}", file=sys.stderr)
        return 2
    chosen = [c for c in configs if c.name == args.name]
    if not chosen:
        print(
            f"ews feeds: no feed {args.name!r} in {args.config}; have: {', '.join(c.name for c in configs)}"
        )
        return 2
    if not points:
        print(
            "ews feeds: no sites to watch: add `sites:` to the file or pass --site ID,LAT,LON",
            file=sys.stderr,
        )
        return 2
    batches: list[Batch] = []
    events: list[FeedEvent] = []
    clock = (lambda: args.now) if args.now is not None else None
    kwargs: dict[str, Any] = {"on_event": events.append}
    if clock is not None:
        kwargs["clock"] = clock
    runner = FeedRunner([build_feed(chosen[0])], points, batches.append, **kwargs)
    result = runner.poll(args.name)
    for batch in batches:
        for r in batch.readings:
            print(json.dumps(reading_json(r), ensure_ascii=False))
    for event in events:
        print(json.dumps(event.to_json(), ensure_ascii=False))
    st = runner.status[args.name]
    if result is None:
        print(f"ews feeds: {args.name} failed: {st.last_error}", file=sys.stderr)
        return 1
    for err in result.errors:
        print(f"ews feeds: {args.name}: part failed: {err.kind}: {err.source}: {err}", file=sys.stderr)
    for note in result.notes:
        print(f"ews feeds: {args.name}: note: {note}", file=sys.stderr)
    return 1 if result.errors else 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("feeds", help="forecast and warning feeds (预报预警数据源)")
    sub = parser.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    p = sub.add_parser("fetch", help="fetch one feed once and print what would be stored (JSON lines)")
    p.add_argument("name", help="feed name from the config")
    p.add_argument("--config", required=True, help="YAML with `feeds:` and `sites:` (id, lat, lon)")
    p.add_argument("--site", action="append", metavar="ID,LAT,LON", help="extra hazard point to watch")
    p.add_argument("--now", type=float, default=None, help="poll time, epoch seconds (default: now)")
    p.set_defaults(func=fetch)
