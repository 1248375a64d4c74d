"""The bench's province-scale workload: hazard points with a realistic rule mix, their readings, and the timed feed."""

from __future__ import annotations

import gc
import random
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from edge.wire import Batch, Reading, decode_batch, encode_batch
from hub.rules.engine import Engine, EngineState
from hub.rules.loader import load_ruleset
from hub.rules.model import Transition

T0 = 1_782_000_000.0
STEP = 600.0  # one reading per sensor every 10 minutes of event time
SENSORS_PER_SITE = 5  # 3 rain gauges, 1 GNSS displacement, 1 crack meter
RULES_PER_SITE = 10


def rules_yaml(n_sites: int, window: str | None = None) -> str:
    """A realistic mix per hazard point: 1/3/6/24/72 h sums, k-of-n, rates, tangent angle, combinations.

    With `window` every duration is replaced by it (the window-length flatness runs)."""

    def w(d: str) -> str:
        return window or d

    sites = "\n".join(
        f"  - {{id: p{i}, name: 点{i}, lat: 24.6, lon: 112.55, hazard: landslide, grids: [g{i}]}}"
        for i in range(n_sites)
    )
    sensors = "\n".join(
        f"  - {{id: p{i}-rg{k}, site: p{i}, quantity: rain_mm, period_s: 600}}"
        for i in range(n_sites)
        for k in range(3)
    )
    sensors += "\n" + "\n".join(
        f"  - {{id: p{i}-gn, site: p{i}, quantity: disp_mm, period_s: 600}}\n"
        f"  - {{id: p{i}-cr, site: p{i}, quantity: crack_mm, period_s: 600}}"
        for i in range(n_sites)
    )
    common = "    inputs: {rain: {quantity: rain_mm}, gn: {sensor: '{site}-gn'}, cr: {sensor: '{site}-cr'}, rg0: {sensor: '{site}-rg0'}}\n"
    rules = [
        (
            "flash",
            f"""    values: {{r1: 'sum(rain, {w("1h")})', r3: 'sum(rain, {w("3h")})', r6: 'sum(rain, {w("6h")})', r24: 'sum(rain, {w("24h")})'}}
    thresholds: {{r1: [35, 45, 60, 80], r3: [55, 75, 100, 120], r6: [70, 95, 120, 150], r24: [100, 130, 160, 200]}}
    hysteresis: 0.2""",
        ),
        (
            "rain72",
            f"    levels: {{blue: 'sum(rain, {w('72h')}) >= 150', yellow: 'sum(rain, {w('72h')}) >= 250'}}",
        ),
        ("kofn1", f"    levels: {{yellow: 'at_least(2, sum(rain, {w('1h')}) >= 30)'}}"),
        ("kofn3", f"    levels: {{orange: 'at_least(2, sum(rain, {w('3h')}) >= 70)'}}"),
        (
            "tangent",
            f"""    values: {{a: 'tangent_angle(gn, {w("24h")}, 2.0)'}}
    thresholds: {{a: [45, 60, 80, 85]}}
    hysteresis: 0.1
    for: 30m""",
        ),
        ("crack1", f"    levels: {{yellow: 'rate(cr, {w('1h')}) >= 2.5', red: 'rate(cr, {w('1h')}) >= 18'}}"),
        ("crack6", f"    levels: {{blue: 'rate(cr, {w('6h')}) * 24 >= 10'}}"),
        (
            "combo",
            f"    levels: {{orange: 'max_of(sum(rain, {w('24h')})) >= 80 and tangent_angle(gn, {w('24h')}, 2.0) >= 60'}}",
        ),
        ("gnss", f"    levels: {{yellow: 'rate(gn, {w('24h')}) * 24 >= 20'}}"),
        ("gauge6", f"    levels: {{blue: 'sum(rg0, {w('6h')}) >= 70'}}"),
    ]
    body = []
    for rid, text in rules:
        body.append(f"  - id: {rid}\n" + common + text)
    return f"sites:\n{sites}\nsensors:\n{sensors}\nrules:\n" + "\n".join(body) + "\n"


def build(n_sites: int, window: str | None = None) -> Engine:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(rules_yaml(n_sites, window), encoding="utf-8")
        return Engine(load_ruleset([path]), tick_s=600.0, sweep_s=3600.0, health_s=600.0)


def workload(
    n_sites: int, rounds: int, seed: int = 1, start_round: int = 0, storm_share: float = 0.02
) -> list[list[Reading]]:
    """`rounds` rounds of readings, built at once (for feeding the same stretch to two engines)."""
    return list(stream(n_sites, rounds, seed, start_round, storm_share))


def stream(
    n_sites: int,
    rounds: int,
    seed: int = 1,
    start_round: int = 0,
    storm_share: float = 0.02,
    tile: int | None = None,
) -> Iterator[list[Reading]]:
    """One list per round (10 min of event time), built when asked for: a reading from every sensor.
    ~2 % of sites storm (6 h of heavy rain, 6 h dry, and so on).

    With `tile`, only the first `tile` sites draw their own data and site i repeats site i % tile's
    values, so runs of different sizes see the same mix per site (the rule-count flatness runs: with
    10 sites drawn at random, the share of storming or noisy sites is a sample of 10, not 2 %)."""
    rng = random.Random(seed)
    drawn = n_sites if tile is None else min(tile, n_sites)
    storm = {i for i in range(drawn) if rng.random() < storm_share}
    for k in range(start_round, start_round + rounds):
        t = T0 + k * STEP
        values = []  # drawn in the same order as before tiling existed, so seeds keep their streams
        for i in range(drawn):
            wet = i in storm and (k // 36) % 2 == 1
            rain = [
                round(rng.uniform(3, 12) if wet else rng.choice((0.0, 0.0, 0.1, 0.5)), 1) for _ in range(3)
            ]
            gn = k * (0.2 if wet else 0.01) + rng.uniform(-0.5, 0.5)
            cr = k * (0.3 if wet else 0.005) + rng.uniform(-0.05, 0.05)
            values.append((rain, gn, cr))
        rnd = []
        for i in range(n_sites):
            rain, gn, cr = values[i % drawn]
            for g in range(3):
                rnd.append(Reading(f"p{i}-rg{g}", "rain_mm", rain[g], t, k))
            rnd.append(Reading(f"p{i}-gn", "disp_mm", gn, t, k))
            rnd.append(Reading(f"p{i}-cr", "crack_mm", cr, t, k))
        yield rnd


def decoded(readings: list[Reading]) -> list[Reading]:
    """The readings as the hub's ingest hands them to the engine: sent as one MQTT message and decoded
    from it just before evaluation (edge/wire.py), so they are freshly made and in the cache. A round at
    100,000 rules is 50,000 readings; fed straight from the round, the early batches' readings had left
    the cache by the time they were fed at the large rule counts only, and the bench charged that to
    the engine."""
    batch, errors = decode_batch(encode_batch(Batch("bench", tuple(readings))), "bench")
    if errors:
        raise ValueError(f"bench: the wire rejected its own readings: {errors[0]}")
    return list(batch.readings)


# Written over before each evaluate() with `cold`: four times this machine's 2 MiB L2 (lscpu).
JUNK = bytearray(8 << 20)


def evict() -> None:
    """Push the engine's state and code out of the core's caches, as the rest of a hub does between
    two batches (ingest, InfluxDB, mosquitto and Grafana share the machine): one write per cache line."""
    JUNK[::64] = bytes(len(JUNK) // 64)


def run(
    engine: Engine,
    state: EngineState,
    rounds: Iterable[list[Reading]],
    batch: int,
    collect: bool = True,
    cold: bool = False,
) -> tuple[float, int, list[Transition]]:
    """Tick, then feed each round in batches; return (seconds, readings, transitions). Only the
    evaluate() calls are timed, not building a round (`rounds` may be a stream) nor decoding a batch,
    nor, with `cold`, evicting the caches before each call."""
    trs: list[Transition] = []
    n = 0
    elapsed = 0.0
    if collect:
        gc.collect()
    gc.disable()
    try:
        for rnd in rounds:
            now = rnd[0].time
            if cold:
                evict()
            start = time.process_time()  # CPU time of this process: the machine is shared
            # The hub's timer tick comes first (hub/pipeline.py: evaluate with no readings), then the
            # round's readings in batches. Every run, small or large, so sees the same per-site work;
            # before, the tick rode on the first batch, and only rounds longer than one batch had
            # rules re-evaluated by the tick before their readings came in.
            state, out = engine.evaluate(state, (), now)
            elapsed += time.process_time() - start
            trs += out
            for i in range(0, len(rnd), batch):
                readings = decoded(rnd[i : i + batch])
                if cold:
                    evict()
                start = time.process_time()
                state, out = engine.evaluate(state, readings, now)
                elapsed += time.process_time() - start
                trs += out
            n += len(rnd)
    finally:
        gc.enable()
    return elapsed, n, trs
