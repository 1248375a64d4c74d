"""Runs the end-to-end bench's phases against child processes: equivalence, ladder, storm, saturation."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from collections.abc import Callable
from typing import Any

from bench import e2e_hub, e2e_load, e2e_sub
from bench.e2e_stats import DECIDED, cpu_share, influx_lag, join, paths
from bench.e2e_workload import QUANTITY, expected_alerts, fixed_dataset
from hub.influx import InfluxClient, InfluxConfig, InfluxError

CTX = mp.get_context("spawn")  # children start clean: no inherited threads or sockets


class Child:
    """A bench child process driven by (command, args) messages over a pipe."""

    def __init__(self, name: str, target: Callable[..., None], *args: Any) -> None:
        self.name = name
        self.conn, theirs = CTX.Pipe()
        self.proc = CTX.Process(target=target, args=(theirs, *args), name=name, daemon=True)
        self.proc.start()
        self.pid = self.proc.pid
        self._answer(120.0)

    def _answer(self, timeout: float) -> Any:
        if not self.conn.poll(timeout):
            raise RuntimeError(f"{self.name}: no answer within {timeout:.0f}s")
        status, value = self.conn.recv()
        if status == "error":
            raise RuntimeError(f"{self.name}: {value}")
        return value

    def call(self, cmd: str, *args: Any, timeout: float = 300.0) -> Any:
        self.conn.send((cmd, args))
        return self._answer(timeout)

    def stop(self, wait_answer: bool = False) -> Any:
        answer = None
        if self.proc.is_alive():
            self.conn.send(("stop", ()))
            if wait_answer:
                answer = self._answer(30.0)
            self.proc.join(15)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        return answer


def start_children(host: str, port: int) -> tuple[Child, Child]:
    sub = Child("alert-subscriber", e2e_sub.serve, host, port)
    load = Child("load-generator", e2e_load.serve, host, port)
    return sub, load


class InfluxSampler:
    """Counts the step's readings in InfluxDB every `every_s` while the step runs (the 1 s check)."""

    def __init__(self, url: str, since_wall: float, every_s: float = 0.1) -> None:
        self.client = InfluxClient(InfluxConfig(url=url, database="bench"))
        self.where = f"time >= {int(since_wall * 1e9)}"
        self.every_s = every_s
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="influx-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            t = time.monotonic()
            try:
                self.samples.append((t, self.client.count(QUANTITY, self.where)))
            except InfluxError:
                pass  # a failed sample proves nothing either way; the final count decides loss

    def final(self, expect: int, timeout: float = 15.0) -> int:
        self._stop.set()
        self._thread.join()
        deadline = time.monotonic() + timeout
        n = 0
        while time.monotonic() < deadline:
            n = self.client.count(QUANTITY, self.where)
            if n >= expect:
                break
            time.sleep(0.1)
        return n


def wait_until(pred: Callable[[], bool], timeout: float, every: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(every)
    return pred()


class Phases:
    """The measuring phases. `decider_stats` is None for the peer (its readings are not countable)."""

    def __init__(
        self, sub: Child, load: Child, hub: Child | None, influx_url: str | None, sensors: int
    ) -> None:
        self.sub, self.load, self.hub, self.influx_url = sub, load, hub, influx_url
        self.sensors = sensors
        self.readings = 0  # everything published so far (the hub's expected cumulative count)
        self.cpu_of: Callable[[], float] | None = None  # the peer's CPU clock, when there is no hub
        self.paths = 2 if hub is not None else 1  # the hub also publishes each decision (DecisionTee)

    def _stats(self) -> dict[str, Any]:
        if self.hub is not None:
            return dict(self.hub.call("stats"))
        assert self.cpu_of is not None
        return {"cpu_s": self.cpu_of(), "wall": time.monotonic()}

    def _settle(self, n_alerts: int, timeout: float = 60.0) -> list[Any]:
        """Wait for the decider to take every reading and the subscriber to get n_alerts; collect."""
        if self.hub is not None:
            wait_until(lambda: self._stats()["readings"] >= self.readings, timeout, 0.05)
        wait_until(lambda: self.sub.call("count") >= n_alerts, timeout, 0.05)
        time.sleep(0.3)  # anything arriving now is a duplicate or an unexpected alert: count it too
        return list(self.sub.call("collect"))

    def equivalence(self) -> dict[str, Any]:
        """The fixed dataset through the decider; its alerts must equal the reference exactly."""
        data = fixed_dataset()
        want = expected_alerts(data)
        self.sub.call("collect")
        self.readings += self.load.call("dataset", data, 0.05)
        got = sorted(k for _, k, topic in self._settle(len(want) * self.paths, 30.0)
                     if k is not None and not topic.startswith(DECIDED))  # fmt: skip
        return {"equal": got == want, "alerts": len(want), "got": len(got),
                "missing": [list(k) for k in want if k not in got][:5],
                "extra": [list(k) for k in got if k not in want][:5]}  # fmt: skip

    def step(self, rate: int, duration: float, check_influx: bool) -> dict[str, Any]:
        self.sub.call("collect")
        before = self._stats()
        sampler = InfluxSampler(self.influx_url, time.time()) if check_influx and self.influx_url else None
        res = self.load.call("run_rate", rate, duration, self.sensors, timeout=duration + 120)
        self.readings += res["readings"]
        got = self._settle(len(res["probes"]) * self.paths)
        after = self._stats()
        out = {"rate": rate, "readings": res["readings"], "seconds": duration, **paths(res["probes"], got),
               "cpu": cpu_share(before, after), "generator_late_s": round(res["late_s"], 4)}  # fmt: skip
        if self.hub is not None:
            out["hub"] = {k: after[k] - before[k] for k in ("readings", "transitions", "batches", "sent")}
        if sampler is not None:
            stored = sampler.final(res["readings"])
            out["influx"] = {
                "stored": stored,
                "missing": res["readings"] - stored,
                "max_unstored_age_s": round(influx_lag(res["timeline"], sampler.samples), 3),
                "samples": len(sampler.samples),
            }
        return out

    def storm(self, sensors: int) -> dict[str, Any]:
        self.sub.call("collect")
        before = self._stats()
        res = self.load.call("storm", sensors, 1.0)
        self.readings += res["readings"]
        got = self._settle((len(res["probes"]) + len(res["drain_probes"])) * self.paths)
        after = self._stats()
        fired = paths(res["probes"], got)
        cleared = join(res["drain_probes"], [r for r in got if not r[2].startswith(DECIDED)])
        # A message is unexpected only if it matches neither the crossings nor the clears.
        both = paths([*res["probes"], *res["drain_probes"]], got)
        fired["unexpected"] = both["unexpected"]
        if "decided" in fired:
            fired["decided"]["unexpected"] = both["decided"]["unexpected"]
        return {"sensors": sensors, "published_within_s": round(res["span_s"], 3), **fired,
                "clear_loss": cleared["loss"], "clear_duplicates": cleared["duplicates"],
                "clear_latency_ms": cleared["latency_ms"], "cpu": cpu_share(before, after)}  # fmt: skip

    def saturation(self, n: int, batch: int, sensors: int) -> dict[str, Any]:
        """A backlog of n readings in batches of `batch`: readings/s decided, and stored in InfluxDB."""
        assert self.hub is not None
        before = self._stats()
        base_r, base_w = before["readings"], before["store_written"]
        marks: dict[str, float] = {}

        def poll() -> bool:
            s = self._stats()
            if s["readings"] > base_r and "first" not in marks:
                marks["first"] = s["wall"]
            if s["readings"] >= base_r + n and "decided" not in marks:
                marks["decided"] = s["wall"]
            if "decided" in marks and s["store_backlog"] == 0 and s["store_written"] - base_w >= n:
                marks["stored"] = s["wall"]
                marks["cpu_s"] = s["cpu_s"]
                return True
            return False

        done = threading.Event()
        res: dict[str, Any] = {}

        def publish() -> None:
            res.update(self.load.call("saturate", n, batch, sensors, timeout=300))
            done.set()

        threading.Thread(target=publish, daemon=True).start()
        ok = wait_until(poll, 240.0, 0.02)
        done.wait(60)
        self.readings += res.get("readings", 0)
        if not ok or "first" not in marks:
            return {"error": "the hub did not take and store the backlog within 240 s", "readings": n}
        span_d = marks["decided"] - marks["first"]
        span_s = marks["stored"] - marks["first"]
        return {
            "readings": res["readings"],
            "batch": batch,
            "messages": res["messages"],
            "decided_per_s": round(n / span_d) if span_d > 0 else None,
            "stored_per_s": round(n / span_s),
            "cpu": round((marks["cpu_s"] - before["cpu_s"]) / span_s, 3),
            "generator_publish_s": round(res["publish_s"], 3),
        }


def hub_child(cfg: Any, switch_interval: float | None = None) -> Child:
    return Child("hub", e2e_hub.serve, cfg, switch_interval)
