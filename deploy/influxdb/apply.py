"""Apply setup.iql (database, retention policies, downsampling CQs) idempotently; backfill aggregates."""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from pathlib import Path

from hub.influx import InfluxClient, InfluxConfig, InfluxError

log = logging.getLogger("ews.deploy.influxdb")

SETUP = Path(__file__).with_name("setup.iql")
_CQ_RE = re.compile(r'^CREATE CONTINUOUS QUERY "(?P<name>[^"]+)" ON .*? BEGIN (?P<select>.*) END$')


def statements(text: str, database: str) -> list[str]:
    """The file's statements with the database filled in; `--` comments and blank lines dropped."""
    body = "\n".join(ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("--"))
    parts = re.split(r";\s*$", body, flags=re.M)
    return [s.strip().replace("@@DB@@", database) for s in parts if s.strip()]


def _apply_one(client: InfluxClient, stmt: str) -> str:
    """Run one statement; bring an existing policy or CQ in line with it. Returns what was done."""
    try:
        client.query(stmt, db=False)
        return "ok"
    except InfluxError as exc:
        if "already exists" not in str(exc):
            raise
    # InfluxDB 1.x accepts a CREATE identical to what exists and refuses a different one.
    if stmt.startswith("CREATE RETENTION POLICY"):
        client.query("ALTER" + stmt[len("CREATE") :], db=False)
        return "altered"
    match = _CQ_RE.match(stmt)
    if match:
        on = stmt.split(" ON ", 1)[1].split(" ", 1)[0]
        client.query(f'DROP CONTINUOUS QUERY "{match["name"]}" ON {on}', db=False)
        client.query(stmt, db=False)
        return "replaced"
    raise InfluxError(f"cannot reconcile existing object for: {stmt:.120}", recoverable=False)


def apply(client: InfluxClient, text: str) -> dict[str, str]:
    """Apply every statement; the result maps a statement's head to ok / altered / replaced."""
    done = {}
    for stmt in statements(text, client.cfg.database):
        outcome = _apply_one(client, stmt)
        head = " ".join(stmt.split()[:4])
        done[head] = outcome
        log.info("influx setup statement=%r outcome=%s", head, outcome)
    return done


def backfill(client: InfluxClient, text: str, start_s: int, end_s: int) -> int:
    """Run each CQ's query over [start, end) once, e.g. after a gateway outage longer than RESAMPLE FOR."""
    n = 0
    for stmt in statements(text, client.cfg.database):
        match = _CQ_RE.match(stmt)
        if match:
            select = match["select"].replace(
                " WHERE ", f" WHERE time >= {start_s}s AND time < {end_s}s AND ", 1
            )
            client.query(select)
            n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--url", default="http://127.0.0.1:8086")
    p.add_argument("--database", default="ews")
    p.add_argument("--file", type=Path, default=SETUP)
    p.add_argument("--username", help="admin user, when influxd has auth enabled")
    p.add_argument("--password-env", help="environment variable holding that user's password")
    p.add_argument("--wait", type=float, default=30.0, help="seconds to wait for influxd to answer")
    p.add_argument("--backfill-hours", type=float, help="also recompute aggregates for the last N hours")
    args = p.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"
    )
    cfg = {
        "url": args.url,
        "database": args.database,
        "username": args.username,
        "password_env": args.password_env,
    }
    client = InfluxClient(InfluxConfig.model_validate(cfg))
    text = args.file.read_text(encoding="utf-8")
    deadline = time.monotonic() + args.wait
    while True:  # influxd may still be opening its shards right after `systemctl start`
        try:
            apply(client, text)
            break
        except InfluxError as exc:
            if not exc.recoverable or time.monotonic() > deadline:
                log.error("influx setup failed url=%s error=%s", args.url, exc)
                return 1
            time.sleep(1)
    if args.backfill_hours:
        now = int(time.time())
        backfill(client, text, now - int(args.backfill_hours * 3600), now)
    return 0


if __name__ == "__main__":
    sys.exit(main())
