"""`ews replay --rules FILE --input readings.csv`: run recorded data through the engine offline."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from edge.wire import Reading
from hub.rules.engine import Engine
from hub.rules.loader import load_ruleset
from hub.rules.model import Transition
from hub.rules.periods import median_gaps, slow_sensors, slow_warning
from hub.rules.ruleset import RuleError, RuleSet, Sensor

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("replay", help="replay recorded readings (CSV) through rule files")
    p.add_argument("--rules", action="append", type=Path, required=True, help="rule file (repeatable)")
    p.add_argument("--input", type=Path, required=True, help="CSV with columns time,sensor,quantity,value")
    p.set_defaults(func=replay)


def parse_time(text: str) -> float:
    """ISO 8601; a time without an offset is taken as UTC (the system's event-time convention)."""
    t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


def read_csv(path: Path, errors: list[str]) -> Iterator[Reading]:
    """Rows as readings; a bad row is reported with its line number and skipped."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        missing = {"time", "sensor", "quantity", "value"} - set(header)
        if missing:
            raise ValueError(f"{path}: header lacks column(s) {', '.join(sorted(missing))}")
        it, isn, iq, iv = (header.index(c) for c in ("time", "sensor", "quantity", "value"))
        iqual = header.index("quality") if "quality" in header else None
        for n, row in enumerate(reader, start=2):
            if len(row) < len(header):
                errors.append(f"{path}:{n}: {len(row)} columns, the header has {len(header)}")
                continue
            try:
                quality = row[iqual].strip() if iqual is not None and row[iqual].strip() else "good"
                yield Reading(
                    row[isn].strip(), row[iq].strip(), float(row[iv]), parse_time(row[it]), n, quality
                )
            except (ValueError, IndexError) as exc:
                errors.append(f"{path}:{n}: {exc}")


def infer_sensors(rs: RuleSet, gaps: dict[tuple[str, str], float | None]) -> list[Sensor]:
    """Undeclared sensors: site = the longest site id the sensor id starts with; period = median gap."""
    out = []
    for (sid, q), gap in gaps.items():
        if sid in rs.sensors:
            continue
        site = max((s for s in rs.sites if sid.startswith(s)), key=len, default=None)
        if site is None:
            log.warning("replay sensor skipped sensor=%s reason=no site id is a prefix of it", sid)
            continue
        out.append(Sensor(sid, site, q, gap if gap is not None else 3600.0, declared=False))
    return out


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def line(t: Transition) -> str:
    doc = {
        "at": iso(t.at),
        "rule": t.rule,
        "site": t.site,
        "from": t.from_level.label,
        "to": t.to_level.label,
        "value": None if t.value is None else round(t.value, 6),
    }
    return json.dumps(doc, ensure_ascii=False)


def run(rules: list[Path], csv_path: Path, out: TextIO) -> tuple[int, int, list[str]]:
    """Replay; returns (readings, transitions, row errors). Readings sharing a time go in one batch."""
    errors: list[str] = []
    readings = list(read_csv(csv_path, errors))
    rs = load_ruleset(rules)
    gaps = median_gaps(readings)
    extra = infer_sensors(rs, gaps)
    if extra:
        rs = load_ruleset(rules, extra_sensors=extra)
    for sid, period, gap in slow_sensors(rs, gaps):
        log.warning("replay %s", slow_warning(sid, period, gap))
    engine = Engine(rs)
    state = engine.initial_state()
    count = 0
    batch: list[Reading] = []
    for r in readings:
        if batch and r.time != batch[0].time:
            state, trs = engine.evaluate(state, batch, batch[0].time)
            for t in trs:
                out.write(line(t) + "\n")
            count += len(trs)
            batch = []
        batch.append(r)
    if batch:
        state, trs = engine.evaluate(state, batch, batch[0].time)
        for t in trs:
            out.write(line(t) + "\n")
        count += len(trs)
    c = state.counters
    log.info(
        "replay done readings=%d transitions=%d bad_rows=%d unknown=%d unhealthy=%d",
        len(readings),
        count,
        len(errors),
        c["unknown"],
        c["unhealthy"],
    )
    return len(readings), count, errors


def replay(args: argparse.Namespace) -> int:
    try:
        _, _, errors = run(args.rules, args.input, sys.stdout)
    except (RuleError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for e in errors[:20]:
        print(f"skipped row {e}", file=sys.stderr)
    if len(errors) > 20:
        print(f"... {len(errors) - 20} more bad rows", file=sys.stderr)
    return 0
