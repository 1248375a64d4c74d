"""Plain-text table of the end-to-end bench's JSON object (what `python -m bench.e2e` prints)."""

from __future__ import annotations

from typing import Any

HEAD = f"{'path':<22}{'rate/s':>8}{'n':>6}{'p50':>9}{'p99':>9}{'p99.9':>9}{'max':>9}{'loss':>6}{'dup':>5}{'cpu':>7}"


def _row(path: str, rate: Any, s: dict[str, Any], cpu: Any = "") -> str:
    lat = s["latency_ms"]
    cpu_txt = f"{cpu:.2f}" if isinstance(cpu, float) else str(cpu)
    return (
        f"{path:<22}{rate!s:>8}{lat['n']:>6}{lat['p50']:>9.3f}{lat['p99']:>9.3f}{lat['p99_9']:>9.3f}"
        f"{lat['max']:>9.3f}{s['loss']:>6}{s['duplicates']:>5}{cpu_txt:>7}"
    )


def table(out: dict[str, Any]) -> str:
    lines = ["End to end: publish -> mosquitto -> decider -> alert message received (latency in ms)", HEAD]
    for s in (out.get("floor") or {}).get("ladder", []):
        lines.append(_row("floor (minimal relay)", s["rate"], s, s["cpu"]))
    for s in out.get("ladder", []):
        if "decided" in s:
            lines.append(_row("hub decided", s["rate"], s["decided"], s["cpu"]))
        lines.append(_row("hub delivered", s["rate"], s))
    storm = out.get("storm")
    if storm:
        if "decided" in storm:
            lines.append(_row("storm decided", storm["sensors"], storm["decided"], storm["cpu"]))
        lines.append(_row("storm delivered", storm["sensors"], storm))
    peer = out.get("peer") or {}
    for variant in ("as_installed", "nodelay"):
        v = peer.get(variant) or {}
        for s in v.get("ladder", []):
            lines.append(_row(f"node-red {variant}", s["rate"], s, s["cpu"]))
        if "storm" in v:
            lines.append(
                _row(f"node-red {variant} storm", v["storm"]["sensors"], v["storm"], v["storm"]["cpu"])
            )
    if "skipped" in peer:
        lines.append(f"Node-RED peer not run: {peer['skipped']}")
    eq = out.get("equivalence", {})
    lines.append(f"equivalence on the fixed dataset: ours {eq.get('equal')}, " + ", ".join(
        f"node-red {k} {(peer.get(k) or {}).get('equivalence', {}).get('equal')}"
        for k in ("as_installed", "nodelay")
    ))  # fmt: skip
    for s in out.get("ladder", []):
        if "influx" in s:
            i = s["influx"]
            lines.append(f"influx at {s['rate']}/s: stored {i['stored']}/{s['readings']}, "
                         f"longest unstored {i['max_unstored_age_s']} s")  # fmt: skip
    sat = out.get("saturation") or {}
    if "stored_per_s" in sat:
        lines.append(f"saturation (batches of {sat['batch']}): decided {sat['decided_per_s']}/s, "
                     f"stored {sat['stored_per_s']}/s, hub cpu {sat['cpu']}")  # fmt: skip
    elif sat:
        lines.append(f"saturation: {sat.get('error')}")
    tot = out.get("influx_total") or {}
    if tot:
        lines.append(f"influx total: {tot['stored']}/{tot['published']} readings stored")
    for variant, steps in (out.get("ratios") or {}).items():
        lines.append(f"node-red {variant} / ours: {steps}")
    lines.append(f"wall time {out.get('wall_s')} s on {out.get('cpus')} CPUs; load average before "
                 f"{out.get('loadavg_before')}, after {out.get('loadavg_after')}")  # fmt: skip
    return "\n".join(lines)
