"""Dispatcher throughput: 1,000 simultaneous transitions through the real dispatcher to a real mosquitto."""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from edge.mqttlink import MqttConfig, make_client
from ews.servers import Mosquitto
from hub.alerts import messages as m
from hub.alerts.config import AlertsConfig, build_dispatcher
from hub.rules.model import AlertState, Level, Transition

# (name, intake_batch, mqtt max_inflight): what each mode changes, everything else identical.
MODES = {
    "per-transition": (1, 1),  # one SQLite commit per transition, one PUBACK awaited per message
    "main": (100, 1),  # main before this branch: groups of 100 per commit, one PUBACK at a time
    "group": (1000, 1000),  # this branch: a whole storm in one commit, PUBACKs confirmed together
}


class NullSink:
    """RowSink that drops rows: InfluxDB writing is the store's job and is benched in bench/e2e."""

    def put(self, row: str) -> None:
        pass


def run_mode(workdir: Path, port: int, mode: str, n: int) -> dict[str, Any]:
    intake_batch, inflight = MODES[mode]
    mqtt = MqttConfig(host="127.0.0.1", port=port)
    site_ids = [f"bs-{i:04d}" for i in range(n)]
    sites = [
        {"id": sid, "name": f"测试点{i}", "hazard": "landslide", "lat": 24.6, "lon": 112.55}
        for i, sid in enumerate(site_ids)
    ]
    cfg = AlertsConfig.model_validate(
        {
            "state_path": workdir / f"{mode}.sqlite",
            "directory": {"sites": sites},
            "dispatch": {
                "intake_batch": intake_batch,
                "policy": {"person_channels": {}, "record_channels": {"mqtt_alert": [m.ALERT, m.CLEAR]}},
            },
            "channels": {
                "mqtt_alert": {
                    "kind": "mqtt_alert",
                    "mqtt": mqtt.model_dump(),
                    "client_id": f"bench-dispatch-{mode}",
                    "max_inflight": inflight,
                }
            },
        }
    )
    rule = mode.replace("-", "_")
    ctx = mp.get_context("spawn")
    ready, out = ctx.Event(), ctx.Queue()
    sub = ctx.Process(target=subscribe, args=(port, rule, n, ready, out), daemon=True)
    sub.start()  # its own process, as the hub's subscribers are: it competes for no GIL here
    ready.wait(30)
    d = build_dispatcher(cfg, NullSink())
    d.start()
    time.sleep(0.5)  # both clients connected
    at = time.time()
    storm = [
        Transition(rule, sid, at, Level.NONE, Level.ORANGE, AlertState.FIRING, 600.0, {}, "storm")
        for sid in site_ids
    ]
    cpu0 = time.process_time()
    t0 = time.monotonic()
    d.submit(storm)
    arrived: dict[str, float] = out.get(timeout=180)
    wall = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    deadline = time.monotonic() + 30
    while not d.idle() and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = d.stats()
    d.stop()
    d.state.close()
    sub.join(10)
    lat = sorted((v - t0) * 1000 for v in arrived.values())
    return {
        "mode": mode,
        "intake_batch": intake_batch,
        "max_inflight": inflight,
        "alerts": n,
        "delivered": len(arrived),
        "lost": n - len(arrived),
        "duplicates": stats["duplicates"],
        "alerts_per_s": len(arrived) / max(lat[-1] / 1000, 1e-9) if lat else 0.0,
        "p50_ms": _pct(lat, 0.50),
        "p99_ms": _pct(lat, 0.99),
        "max_ms": lat[-1] if lat else float("nan"),
        "cpu_s": cpu,
        "wall_s": wall,
    }


def subscribe(port: int, rule: str, n: int, ready: Any, out: Any) -> None:
    """Subscriber process: the arrival time (system-wide CLOCK_MONOTONIC) of each alert message."""
    arrived: dict[str, float] = {}
    done = threading.Event()

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        t = time.monotonic()
        if msg.retain:  # a state left from before this run
            return
        arrived.setdefault(json.loads(msg.payload)["alert_id"], t)
        if len(arrived) >= n:
            done.set()

    cfg = MqttConfig(host="127.0.0.1", port=port)
    c = make_client(cfg, f"bench-dispatch-sub-{rule}")
    c.on_message = on_message
    c.on_subscribe = lambda *_a: ready.set()
    c.connect(cfg.host, cfg.port)
    c.subscribe(f"ews/v1/alert/+/{rule}", qos=1)
    c.loop_start()
    done.wait(120)
    c.loop_stop()
    c.disconnect()
    out.put(dict(arrived))


def _pct(xs: list[float], q: float) -> float:
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.dispatch", description=__doc__)
    ap.add_argument("--alerts", type=int, default=1000, help="simultaneous transitions (one per site)")
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma list of {', '.join(MODES)}")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    opts = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    results = []
    with tempfile.TemporaryDirectory(prefix="ews-bench-dispatch-") as tmp, Mosquitto(Path(tmp) / "mq") as mq:
        for mode in opts.modes.split(","):
            results.append(run_mode(Path(tmp), mq.port, mode, opts.alerts))
    base = {r["mode"]: r for r in results}
    ratios = {}
    if "group" in base:
        g = base["group"]
        for name, r in base.items():
            if name != "group":
                ratios[f"group_vs_{name}"] = {
                    "alerts_per_s": g["alerts_per_s"] / r["alerts_per_s"] if r["alerts_per_s"] else None,
                    "p99": r["p99_ms"] / g["p99_ms"] if g["p99_ms"] else None,
                }
    if opts.json:
        print(json.dumps({"results": results, "ratios": ratios}))
    else:
        print(f"{'mode':<16}{'batch':>6}{'inflight':>9}{'alerts/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
              f"{'max ms':>9}{'cpu s':>7}{'lost':>6}{'dup':>5}")  # fmt: skip
        for r in results:
            print(f"{r['mode']:<16}{r['intake_batch']:>6}{r['max_inflight']:>9}{r['alerts_per_s']:>10.0f}"
                  f"{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{r['max_ms']:>9.1f}{r['cpu_s']:>7.2f}"
                  f"{r['lost']:>6}{r['duplicates']:>5}")  # fmt: skip
        for k, v in ratios.items():
            print(f"{k}: alerts/s x{v['alerts_per_s']:.1f}, p99 x{v['p99']:.1f} (above 1: group is better)")
    return 1 if any(r["lost"] or r["duplicates"] for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
