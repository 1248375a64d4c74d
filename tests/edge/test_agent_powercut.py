"""Power cut: the agent process is SIGKILLed mid-stream and restarted; gateway seqs prove nothing was lost.

The agent runs as a real child process (`ews edge --config`) against a real mosquitto; the only
test-only part is the counting sensor kind, registered inside the child (tests/edge/agent_child.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from edge.outbox import Outbox
from ews.servers import Mosquitto
from tests.edge.mqtt_probe import Probe, early_arrivals

GW = "fs-gw01"
ROOT = Path(__file__).resolve().parents[2]


def write_config(tmp_path: Path, port: int) -> Path:
    cfg = tmp_path / "fs-gw01.yaml"
    cfg.write_text(
        f"""
id: {GW}
mqtt: {{host: 127.0.0.1, port: {port}, keepalive_s: 5}}
outbox: {{path: state/outbox.db, max_readings: 100000}}
publish: {{backoff_min_s: 0.1, backoff_max_s: 0.5}}
health: {{period_s: 0.5, cpu_temp_file: null}}
sensors:
  - {{kind: test-counter, id: fs-hp01-rg1, site: fs-hp01, period_s: 0.01, bus: rs485-1}}
  - {{kind: test-counter, id: fs-hp01-cr1, site: fs-hp01, period_s: 0.01, bus: rs485-1, quantity: crack_mm}}
  - {{kind: test-counter, id: fs-hp01-gn1, site: fs-hp01, period_s: 0.02, bus: gnss, quantity: disp_mm}}
""",
        encoding="utf-8",
    )
    return cfg


def spawn(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.edge.agent_child", "edge", "--config", str(cfg)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_until(cond, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_sigkill_and_restart_loses_nothing(tmp_path: Path, mosquitto: Mosquitto) -> None:
    broker = mosquitto  # the shared fixture keeps persistence across its stop() and start()
    cfg = write_config(tmp_path, broker.port)
    log = tmp_path / "agent.log"
    probe = Probe(broker.port, GW)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # 1. Streaming with the link up, then a power cut: the broker's last will says offline.
        procs.append(spawn(cfg, log))
        assert wait_until(lambda: len(probe.readings()) > 100), log.read_text()
        procs[-1].send_signal(signal.SIGKILL)
        procs[-1].wait(10)
        assert wait_until(lambda: probe.status and probe.status[-1] == {"state": "offline"})

        # 2. Power back while the hub's broker is down: a backlog builds on disk; cut power again.
        broker.stop()
        procs.append(spawn(cfg, log))
        time.sleep(1.5)
        procs[-1].send_signal(signal.SIGKILL)
        procs[-1].wait(10)

        # 3. Power back, broker back: the backlog drains; then a clean stop.
        procs.append(spawn(cfg, log))
        time.sleep(0.5)
        broker.start()
        box_path = tmp_path / "state" / "outbox.db"
        assert wait_until(lambda: any(s.get("state") == "online" for s in probe.status[-1:]), 30)
        time.sleep(1.0)
        procs[-1].send_signal(signal.SIGTERM)
        # A clean stop joins each bus thread after its current fsync'd write; on a machine whose disk is
        # shared with parallel jobs those writes have taken seconds, so allow a generous bound.
        assert procs[-1].wait(90) == 0, log.read_text()[-3000:]

        box = Outbox(box_path)
        last_seq = box.last_seq()
        kept = {r.seq for r in box.take_batch(1_000_000)}  # still on disk: they go on the next start
        box.close()
        missing = probe.wait_for(set(range(1, last_seq + 1)) - kept, timeout=30)
        assert not missing, f"lost {len(missing)} of {last_seq} readings, e.g. {sorted(missing)[:10]}"
        connects = sum(1 for s in probe.status if s.get("state") == "online")
        early = early_arrivals(probe.readings())
        assert all(n <= connects for n in early.values()), (early, connects)
        assert probe.status[-1] == {"state": "offline"}
        sensors = {r.sensor for r in probe.readings()}
        assert {"fs-hp01-rg1", "fs-hp01-cr1", "fs-hp01-gn1", f"{GW}-health"} <= sensors
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        probe.close()


def test_invalid_config_exits_nonzero_with_a_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: fs-gw01\nmqtt: {port: 1883}\noutbox: {path: o.db}\nsensors:\n  - {kind: nope, id: x1, site: s}\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run(
        [sys.executable, "-m", "ews.cli", "edge", "--config", str(bad)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode != 0
    assert str(bad) in res.stderr and "unknown kind 'nope'" in res.stderr and "x1" in res.stderr
