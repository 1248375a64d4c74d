"""`ews demo`: play the Fengshan typhoon storm end to end and print the timeline and a JSON summary."""

from __future__ import annotations

import argparse
import json
import os

from ews.demo import DemoOptions, run_demo


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="play a compressed typhoon storm over three Fengshan hazard points")
    p.add_argument("--mqtt", type=_hostport, default=os.environ.get("EWS_DEMO_MQTT") or None,
                   help="use a running broker HOST:PORT (env EWS_DEMO_MQTT) instead of starting mosquitto")  # fmt: skip
    p.add_argument("--influx-url", default=os.environ.get("EWS_DEMO_INFLUX") or None,
                   help="use a running InfluxDB (env EWS_DEMO_INFLUX) instead of starting influxd")  # fmt: skip
    p.add_argument("--database", default="ews_demo", help="InfluxDB database (default ews_demo)")
    p.add_argument("--hours", type=float, default=26.0, help="storm hours to play (default 26)")
    p.add_argument("--speed", type=float, default=1250.0, help="storm seconds per wall second (default 1250)")
    p.add_argument("--kill-broker-at", type=float, default=None, metavar="HOUR",
                   help="stop the demo's own broker at this storm hour (link outage drill)")  # fmt: skip
    p.add_argument(
        "--kill-broker-for", type=float, default=10.0, metavar="SECONDS", help="outage length, wall seconds"
    )
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if isinstance(args.mqtt, str):
        args.mqtt = _hostport(args.mqtt)
    opts = DemoOptions(
        hours=args.hours, speed=args.speed, mqtt=args.mqtt, influx_url=args.influx_url, database=args.database,
        kill_broker_at_h=args.kill_broker_at, kill_broker_for_s=args.kill_broker_for,
        out=lambda s: print(s, flush=True),
    )  # fmt: skip
    result = run_demo(opts)
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0 if result["lost"] == 0 else 1
