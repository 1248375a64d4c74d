"""Load generator process: publishes gateway sweeps like the edge (wire batches, QoS 1, TCP_NODELAY)."""

from __future__ import annotations

import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from bench.e2e_workload import (
    MAX_SENSORS,
    PER_GATEWAY,
    SensorStates,
    gateway_of,
    is_probe,
    probe_key,
    sensor_id,
)
from edge.mqttlink import MqttConfig, make_client
from edge.wire import Batch, Reading, encode_batch, readings_topic


class Generator:
    """One paho client publishing for many simulated gateways; each gateway keeps its own seq counter.

    A gateway polls its ten sensors in one sweep and publishes the sweep as one batch at once (the edge
    never waits to fill a batch). Sweeps of all gateways are spread evenly over time. `sent` in each
    batch is CLOCK_MONOTONIC (time.monotonic is system-wide on Linux) for the latency join.
    """

    def __init__(self, host: str, port: int) -> None:
        self.client = make_client(MqttConfig(host=host, port=port), "bench-load")
        self.client.max_inflight_messages_set(100)
        self.connected = threading.Event()
        self.client.on_connect = lambda *_a: self.connected.set()
        self.client.connect(host, port, 30)
        self.client.loop_start()
        if not self.connected.wait(10):
            raise RuntimeError(f"load generator: no CONNACK from {host}:{port}")
        self.states = SensorStates()
        self.seq: dict[str, int] = {}
        self.topics: dict[str, str] = {}

    def _publish(self, gateway: str, rows: list[tuple[int, float]], now: float) -> float:
        seq = self.seq.get(gateway, 0)
        readings = []
        for i, v in rows:
            seq += 1
            readings.append(Reading(sensor_id(i), "bench_x", v, now, seq))
        self.seq[gateway] = seq
        topic = self.topics.get(gateway) or self.topics.setdefault(gateway, readings_topic(gateway))
        sent = time.monotonic()
        self.client.publish(topic, encode_batch(Batch(gateway, tuple(readings), sent)), qos=1)
        return sent

    def sweep(self, g: int, n_active: int, probes: list[tuple[Any, ...]]) -> int:
        """Publish gateway g's sweep; append (key, sent) for each probe reading. Returns readings sent."""
        first = g * PER_GATEWAY
        last = min(first + PER_GATEWAY, n_active)
        rows = []
        kinds = []
        for i in range(first, last):
            v, kind = self.states.value(i, is_probe(i))
            rows.append((i, v))
            if kind is not None:
                kinds.append((i, kind, v))
        sent = self._publish(gateway_of(first), rows, time.time())
        for i, kind, v in kinds:
            probes.append((probe_key(i, kind, v), sent))
        return len(rows)

    def run_rate(self, rate: int, duration: float, sensors: int = MAX_SENSORS) -> dict[str, Any]:
        """rate readings/s for duration seconds from min(rate, sensors) sensors in gateways of ten.

        Each active gateway sweeps rate/active times a second (1 Hz at the top of the full ladder);
        sweeps are spread evenly over time, so messages arrive evenly."""
        n_gw = max(1, min(rate, sensors) // PER_GATEWAY)
        n_active = n_gw * PER_GATEWAY
        per_s = rate / PER_GATEWAY  # sweeps per second, all gateways together
        probes: list[tuple[Any, ...]] = []
        timeline: list[tuple[float, int]] = []
        sent = 0
        start = due = time.monotonic() + 0.05
        for k in range(int(duration * per_s)):
            due = start + k / per_s
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent += self.sweep(k % n_gw, n_active, probes)
            timeline.append((time.monotonic(), sent))
        late = time.monotonic() - due
        sent += self.drain(probes)
        timeline.append((time.monotonic(), sent))
        return {"readings": sent, "probes": probes, "timeline": timeline, "late_s": late}

    def drain(self, probes: list[tuple[Any, ...]]) -> int:
        """Clear every probe left firing, so the next step (or the peer) starts from quiet windows."""
        sent = 0
        for i in sorted(self.states.fired):
            gw = gateway_of(i)
            v, kind = self.states.value(i, True)
            s = self._publish(gw, [(i, v)], time.time())
            assert kind is not None
            probes.append((probe_key(i, kind, v), s))
            sent += 1
            time.sleep(0.0005)
        return sent

    def storm(self, n_gateways: int, within_s: float) -> dict[str, Any]:
        """n_gateways sweeps within `within_s`, each carrying one probe that crosses: n alerts at once."""
        probes: list[tuple[Any, ...]] = []
        start = time.monotonic()
        sent = 0
        for g in range(n_gateways):
            due = start + within_s * g / n_gateways
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            first = g * PER_GATEWAY
            rows = []
            kinds = []
            for i in range(first, first + PER_GATEWAY):
                probe = i == first  # every gateway's sensor 0 crosses, not only the ladder's probes
                if probe:
                    v = 1000.0 + 1_000_000 + self.states.next_id
                    self.states.next_id += 1
                    self.states.fired[i] = v
                    kinds.append((i, "alert", v))
                else:
                    v, _ = self.states.value(i, False)
                rows.append((i, v))
            s = self._publish(gateway_of(first), rows, time.time())
            sent += len(rows)
            for i, kind, v in kinds:
                probes.append((probe_key(i, kind, v), s))
        span = time.monotonic() - start
        storm_probes = list(probes)
        time.sleep(1.0)
        drained: list[tuple[Any, ...]] = []
        sent += self.drain(drained)
        return {"readings": sent, "probes": storm_probes, "drain_probes": drained, "span_s": span}

    def dataset(self, batches: list[tuple[str, list[tuple[int, float]]]], gap_s: float) -> int:
        for gw, rows in batches:
            self._publish(gw, rows, time.time())
            time.sleep(gap_s)
        return sum(len(r) for _, r in batches)

    def saturate(self, n_readings: int, batch: int, sensors: int = MAX_SENSORS) -> dict[str, Any]:
        """Pre-encoded backlog-sized batches of background readings, published as fast as paho can.

        Message m is gateway m % (sensors/10)'s next `batch` readings: batch/10 sweeps of its ten sensors, each
        sweep 1 ms of event time after the previous one (distinct times per series, in order). Values are
        0.0, so no window sum moves, yet every reading is stored and every rule it touches is evaluated.
        """
        n_gw = max(1, sensors // PER_GATEWAY)
        per = max(1, batch // PER_GATEWAY)
        base = time.time()
        msgs = []
        for m in range(max(1, n_readings // (per * PER_GATEWAY))):
            g, k = m % n_gw, m // n_gw
            gw = gateway_of(g * PER_GATEWAY)
            seq = self.seq.get(gw, 0)
            rows = []
            for r in range(k * per, (k + 1) * per):
                for i in range(g * PER_GATEWAY, (g + 1) * PER_GATEWAY):
                    seq += 1
                    rows.append(Reading(sensor_id(i), "bench_x", 0.0, base + r * 1e-3, seq))
            self.seq[gw] = seq
            topic = self.topics.setdefault(gw, readings_topic(gw))
            msgs.append((topic, encode_batch(Batch(gw, tuple(rows), 0.0)), len(rows)))
        t0 = time.monotonic()
        infos = [self.client.publish(t, p, qos=1) for t, p, _ in msgs]
        for info in infos:
            info.wait_for_publish(120)
        sent = sum(n for _, _, n in msgs)
        return {"readings": sent, "messages": len(msgs), "publish_s": time.monotonic() - t0}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def serve(conn: Connection, host: str, port: int) -> None:
    """Process entry: run commands from the bench until told to stop."""
    gen = Generator(host, port)
    conn.send(("ready", None))
    while True:
        cmd, args = conn.recv()
        if cmd == "stop":
            break
        try:
            result: Any = getattr(gen, cmd)(*args)
        except Exception as exc:  # report to the bench instead of dying silently
            conn.send(("error", f"{cmd}: {exc.__class__.__name__}: {exc}"))
            continue
        conn.send(("ok", result))
    gen.close()
