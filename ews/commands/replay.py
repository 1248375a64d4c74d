"""`ews replay --rules FILE --input readings.csv`: run recorded data through the engine offline."""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import math
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


# Between two readings further apart, the engine is ticked every this much event time, as the hub's
# ticker does (every tick_s of its clock): `for:`, `clear_for`, validity and staleness advance without
# data. A minute, not the hub's second: a year of hourly readings stays a few hundred thousand ticks.
TICK_S = 60.0


def csv_text(path: Path) -> str:
    """The file as text: UTF-8 (with or without Excel's BOM), else GB18030, which Excel writes on a
    Chinese Windows; neither is named, with the byte, as an error of the file."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise ValueError(f"{path}: neither UTF-8 nor GB18030 text (byte {exc.start})") from None
        log.warning("replay input read as GB18030 (not UTF-8) path=%s", path)
        return text


def read_csv(path: Path, errors: list[str]) -> Iterator[Reading]:
    """Rows as readings; a bad row is reported with its line number and skipped."""
    with io.StringIO(csv_text(path), newline="") as f:
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
                value = float(row[iv])
                if not math.isfinite(value):  # as the hub's wire refuses it (edge/wire.py)
                    raise ValueError(f"value must be a finite number, not {row[iv].strip()!r}")
                yield Reading(row[isn].strip(), row[iq].strip(), value, parse_time(row[it]), n, quality)
            except (ValueError, IndexError) as exc:
                errors.append(f"{path}:{n}: {exc}")


def infer_sensors(rs: RuleSet, gaps: dict[tuple[str, str], float | None]) -> list[Sensor]:
    """Undeclared sensors: site = the longest site id the sensor id starts with; period = median gap.

    A sensor has one quantity. One whose rows carry several (rain and its battery) is inferred as the
    one the rules read (a quantity some rule or declared sensor uses), else the first; logged."""
    wanted = {q for r in rs.rules for _, q in r.deps} | {s.quantity for s in rs.sensors.values()}
    by_id: dict[str, list[str]] = {}
    for sid, q in gaps:
        if sid not in rs.sensors:
            by_id.setdefault(sid, []).append(q)
    out = []
    for sid, quantities in by_id.items():
        site = max((s for s in rs.sites if sid.startswith(s)), key=len, default=None)
        if site is None:
            log.warning("replay sensor skipped sensor=%s reason=no site id is a prefix of it", sid)
            continue
        q = next((q for q in quantities if q in wanted), quantities[0])
        if len(quantities) > 1:
            log.warning("replay sensor inferred sensor=%s quantity=%s ignored=%s", sid, q,
                        ",".join(x for x in quantities if x != q))  # fmt: skip
        gap = gaps[(sid, q)]
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
        # JSON has no NaN or inf (a health alert carries the raw value that failed its range check).
        "value": None if t.value is None or not math.isfinite(t.value) else round(t.value, 6),
    }
    return json.dumps(doc, ensure_ascii=False)


def run(rules: list[Path], csv_path: Path, out: TextIO) -> tuple[int, int, list[str]]:
    """Replay; returns (readings, transitions, row errors). Rows may come in any order (a logger's export
    grouped by sensor, a platform's newest first): they are replayed in time order, as the hub receives
    them, and readings sharing a time go in one batch. Between readings the engine is ticked (TICK_S)."""
    errors: list[str] = []
    readings = sorted(read_csv(csv_path, errors), key=lambda r: r.time)  # stable: file order within a time
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

    def evaluate(batch: list[Reading], now: float) -> None:
        nonlocal state, count
        state, trs = engine.evaluate(state, batch, now)
        for t in trs:
            out.write(line(t) + "\n")
        count += len(trs)

    k = 0
    while k < len(readings):
        t = readings[k].time
        j = k
        while j < len(readings) and readings[j].time == t:
            j += 1
        evaluate(readings[k:j], t)
        if j < len(readings):
            tick = t + TICK_S
            while tick < readings[j].time:
                evaluate([], tick)
                tick += TICK_S
        k = j
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
