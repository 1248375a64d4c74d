"""End-to-end benchmark: edge publish → mosquitto → hub → alert message received, beside Node-RED.

    python -m bench.e2e [--json] [--quick] [--no-peer]

Starts its own mosquitto and influxd (free loopback ports, a temporary directory), the hub (hub.app.Hub:
ingest, pipeline, engine, store, dispatcher with the mqtt_alert channel) in one process, a load
generator in another and the alert subscriber in a third. Latency is the subscriber's arrival time
minus the `sent` (CLOCK_MONOTONIC) of the batch that carried the crossing reading. Workload and
method: bench/e2e_workload.py, bench/e2e_rules.yaml and docs/performance.md ("End to end").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import e2e_floor
from bench import e2e_nodered as nr
from bench.e2e_hub import bench_config
from bench.e2e_run import Child, Phases, hub_child, start_children
from bench.e2e_stats import proc_cpu_s
from bench.e2e_workload import write_sites
from ews.servers import Influxd, Mosquitto, free_port

FULL = {"sensors": 10_000, "rates": [20, 500, 2000, 5000, 10_000], "seconds": 15.0, "low_seconds": 20.0,
        "storm": 1000, "saturation": 500_000, "batch": 500, "peer_rates": [20, 500, 2000, 5000, 10_000],
        "floor_rates": [20, 2000, 5000]}  # fmt: skip
QUICK = {"sensors": 1000, "rates": [20, 500], "seconds": 2.0, "low_seconds": 2.0,
         "storm": 100, "saturation": 20_000, "batch": 500, "peer_rates": [500],
         "floor_rates": [500]}  # fmt: skip


def run(
    plan: dict[str, Any], workdir: Path, peer: bool, say: Any, switch_interval: float | None = None
) -> dict[str, Any]:
    # The machine may be shared: the load average says how much other work competed with the bench.
    out: dict[str, Any] = {
        "plan": plan,
        "cpus": os.cpu_count(),
        "loadavg_before": os.getloadavg(),
        "switch_interval_s": switch_interval,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with Mosquitto(workdir / "mosquitto") as broker, Influxd(workdir / "influxd") as influxd:
        rules = write_sites(workdir, plan["sensors"])
        sub, load = start_children("127.0.0.1", broker.port)
        try:
            out["floor"] = run_floor(plan, broker.port, sub, load, say)
            say(f"hub: loading {plan['sensors']} rules")
            cfg = bench_config(workdir / "hub", "127.0.0.1", broker.port, influxd.url, rules)
            hub = hub_child(cfg, switch_interval)
            ours = Phases(sub, load, hub, influxd.url, plan["sensors"])
            try:
                out["equivalence"] = ours.equivalence()
                say(f"equivalence (ours vs reference): {out['equivalence']['equal']}")
                out["ladder"] = []
                for rate in plan["rates"]:
                    secs = plan["low_seconds"] if rate < 500 else plan["seconds"]
                    step = ours.step(rate, secs, check_influx=rate >= 500)
                    out["ladder"].append(step)
                    say(f"step {rate}/s: {step['latency_ms']} loss={step['loss']} dup={step['duplicates']}")
                out["storm"] = ours.storm(plan["storm"])
                say(f"storm: {out['storm']['latency_ms']}")
                out["saturation"] = ours.saturation(plan["saturation"], plan["batch"], plan["sensors"])
                say(f"saturation: {out['saturation']}")
            finally:
                hub.stop()
            out["influx_total"] = influx_total(influxd.url, ours.readings)
            out["peer"] = run_peer(plan, workdir, broker.port, sub, load, say) if peer else {
                "skipped": "--no-peer given"}  # fmt: skip
        finally:
            sub.stop()
            load.stop()
    out["ratios"] = ratios(out)
    out["loadavg_after"] = os.getloadavg()
    return out


def run_floor(plan: dict[str, Any], port: int, sub: Child, load: Child, say: Any) -> dict[str, Any]:
    """The minimal relay (bench/e2e_floor.py) on the same load, before the hub starts."""
    floor = Child("floor-relay", e2e_floor.serve, "127.0.0.1", port)
    try:
        phases = Phases(sub, load, None, None, plan["sensors"])
        assert floor.pid is not None
        pid = floor.pid
        phases.cpu_of = lambda: proc_cpu_s(pid)
        res: dict[str, Any] = {"ladder": []}
        for rate in plan["floor_rates"]:
            secs = plan["low_seconds"] if rate < 500 else plan["seconds"]
            step = phases.step(rate, secs, check_influx=False)
            res["ladder"].append(step)
            say(f"floor {rate}/s: {step['latency_ms']} loss={step['loss']}")
        return res
    finally:
        floor.stop()


def influx_total(url: str, published: int) -> dict[str, int]:
    from hub.influx import InfluxClient, InfluxConfig

    stored = InfluxClient(InfluxConfig(url=url, database="bench")).count("bench_x")
    return {"published": published, "stored": stored, "missing": published - stored}


def run_peer(
    plan: dict[str, Any], workdir: Path, port: int, sub: Child, load: Child, say: Any
) -> dict[str, Any]:
    """Node-RED as installed, then with no-delay forced on: equivalence first, then the same steps."""
    try:
        red = nr.find_red()
    except nr.PeerUnavailable as exc:
        say(f"Node-RED peer not run: {exc}")
        return {"skipped": str(exc)}
    out: dict[str, Any] = {"version": nr.version(red)}
    for variant, nodelay in (("as_installed", False), ("nodelay", True)):
        peer = nr.NodeRed(red, workdir / f"nodered-{variant}", port, free_port(), nodelay)
        try:
            peer.start()
        except nr.PeerUnavailable as exc:
            say(f"Node-RED {variant} did not start: {exc}")
            out[variant] = {"skipped": str(exc)}
            continue
        try:
            phases = Phases(sub, load, None, None, plan["sensors"])
            phases.cpu_of = peer.cpu_s
            res: dict[str, Any] = {"equivalence": phases.equivalence(), "ladder": []}
            say(f"Node-RED {variant} equivalence: {res['equivalence']['equal']}")
            if res["equivalence"]["equal"]:
                for rate in plan["peer_rates"]:
                    secs = plan["low_seconds"] if rate < 500 else plan["seconds"]
                    step = phases.step(rate, secs, check_influx=False)
                    res["ladder"].append(step)
                    say(f"Node-RED {variant} {rate}/s: {step['latency_ms']} loss={step['loss']}")
                res["storm"] = phases.storm(plan["storm"])
                say(f"Node-RED {variant} storm: {res['storm']['latency_ms']}")
            out[variant] = res
        finally:
            peer.stop()
    return out


def ratios(out: dict[str, Any]) -> dict[str, Any]:
    """Node-RED figure / our figure (above 1: we are faster or lighter), per variant and step.

    vs_decided compares like with like (the rule's output on the wire); vs_delivered compares with our
    alert message after the dispatcher's durable bookkeeping, which Node-RED does not do at all."""
    peer = out.get("peer") or {}
    ours = {s["rate"]: s for s in out.get("ladder", [])}
    res: dict[str, Any] = {}
    keys = ("p50", "p99", "p99_9", "max")
    for variant in ("as_installed", "nodelay"):
        v = peer.get(variant) or {}
        for s in v.get("ladder", []):
            o = ours.get(s["rate"])
            if o is None:
                continue
            lat = s["latency_ms"]
            row: dict[str, Any] = {"vs_delivered": {k: _ratio(lat[k], o["latency_ms"][k]) for k in keys}}
            if "decided" in o:
                row["vs_decided"] = {k: _ratio(lat[k], o["decided"]["latency_ms"][k]) for k in keys}
            row["cpu"] = _ratio(s["cpu"], o["cpu"])
            res.setdefault(variant, {})[str(s["rate"])] = row
        storm = out.get("storm")
        if "storm" in v and storm:
            p99 = v["storm"]["latency_ms"]["p99"]
            res.setdefault(variant, {})["storm_p99"] = {
                "vs_delivered": _ratio(p99, storm["latency_ms"]["p99"]),
                "vs_decided": _ratio(p99, storm["decided"]["latency_ms"]["p99"])
                if "decided" in storm
                else None,
            }
    return res


def _ratio(a: float, b: float) -> float | None:
    try:
        return round(a / b, 2) if b > 0 else None
    except TypeError:
        return None


def check(out: dict[str, Any]) -> list[str]:
    """What makes the run a failure (exit 1): wrong, lost or repeated alerts, readings missing in
    InfluxDB, or a peer that disagreed on the fixed dataset (and so was not timed)."""
    problems = []
    if not out["equivalence"]["equal"]:
        problems.append(f"the hub's alerts differ from the reference: {out['equivalence']}")
    for s in [*out.get("ladder", []), out.get("storm") or {}]:
        for path in (s, s.get("decided")):
            if path and (path["loss"] or path["duplicates"] or path["unexpected"]):
                problems.append(f"alerts lost, repeated or unexpected: {s.get('rate') or s.get('sensors')}")
    if (out.get("influx_total") or {}).get("missing"):
        problems.append(f"readings missing in InfluxDB: {out['influx_total']}")
    if "error" in (out.get("saturation") or {}):
        problems.append(f"saturation: {out['saturation']['error']}")
    for variant in ("as_installed", "nodelay"):
        eq = ((out.get("peer") or {}).get(variant) or {}).get("equivalence")
        if eq is not None and not eq["equal"]:
            problems.append(f"Node-RED {variant} disagreed on the fixed dataset (not timed): {eq}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--quick", action="store_true", help="a short smoke run (seconds), for CI")
    ap.add_argument("--no-peer", action="store_true", help="do not run the Node-RED peer")
    ap.add_argument("--switch-interval", type=float, default=None, metavar="S",
                    help="sys.setswitchinterval in the hub process (default: Python's 0.005)")  # fmt: skip
    args = ap.parse_args(argv)
    plan = QUICK if args.quick else FULL
    t0 = time.monotonic()

    def say(msg: str) -> None:
        print(f"[{time.monotonic() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="ews-bench-e2e-") as tmp:
        out = run(plan, Path(tmp), not args.no_peer, say, args.switch_interval)
    out["wall_s"] = round(time.monotonic() - t0, 1)
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
    else:
        from bench.e2e_table import table

        print(table(out))
    problems = check(out)
    for p in problems:
        print(f"bench.e2e: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
