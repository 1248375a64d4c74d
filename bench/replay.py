"""`ews replay` at scale: a million recorded rows through all three Fengshan rule files, timed.

    python -m bench.replay [--rows N] [--json]

Writes a CSV (time,sensor,quantity,value) of a long record at hazard point fs-hp01: three rain gauges, a
crack meter and a GNSS station at 1 min cadence, with a storm every few days (rain, then the slope
creeping faster), then runs `ews replay` on it in a child process, as an engineer would, and reports
wall and CPU time, rows/s, the transitions written and which engine ran (native or pure Python).
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.report import show

RULES = Path(__file__).resolve().parents[1] / "deploy" / "fengshan" / "rules"
SENSORS = (("fs-hp01-rg1", "rain_mm"), ("fs-hp01-rg2", "rain_mm"), ("fs-hp01-rg3", "rain_mm"))
T0 = datetime(2026, 4, 1, tzinfo=UTC).timestamp()


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    """rows / 5 minutes of record; storms of 12 h every 5 days push rain and then displacement up."""
    rng = random.Random(seed)
    crack = disp = 0.0
    with path.open("w", encoding="utf-8") as f:
        f.write("time,sensor,quantity,value\n")
        for minute in range(rows // 5):
            t = datetime.fromtimestamp(T0 + minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            phase = minute % (5 * 1440)
            wet = phase < 720
            for sensor, q in SENSORS:
                mm = round(rng.uniform(0.2, 1.6), 1) if wet else rng.choice((0.0, 0.0, 0.0, 0.1))
                f.write(f"{t},{sensor},{q},{mm}\n")
            creep = 0.02 if wet and phase > 360 else 0.0005
            crack += creep + rng.uniform(-0.01, 0.01)
            disp += creep * 0.5 + rng.uniform(-0.05, 0.05)
            f.write(f"{t},fs-hp01-cr1,crack_mm,{crack:.3f}\n")
            f.write(f"{t},fs-hp01-gn1,disp_mm,{disp:.3f}\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args(argv)
    from hub.rules.native import status

    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "record.csv"
        write_csv(csv, a.rows)
        rules = [
            x
            for f in ("flash_flood.yaml", "landslide.yaml", "health.yaml")
            for x in ("--rules", str(RULES / f))
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "ews.cli", "replay", *rules, "--input", str(csv)],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return 1
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out = {
        "engine": status().mode,
        "rows": a.rows,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "rows_per_s": round(a.rows / cpu) if cpu > 0 else math.nan,
        "transitions": len(proc.stdout.splitlines()),
        "peak_rss_mb": round(after.ru_maxrss / 1024),
    }
    show(out, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
