"""`ews hub` and `ews edge` tell systemd they are ready, ping the watchdog, and say when they stop."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

from ews.commands.hub import synchronized
from ews.servers import Influxd, Mosquitto, free_port
from tests.hub.hubproc import REPO, write_config


def _listen(tmp_path: Path) -> tuple[socket.socket, str]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.5)
    return sock, path


def _run_until(
    argv: list[str],
    sock: socket.socket,
    path: str,
    want: set[str],
    timeout: float = 30.0,
    raw: list[str] | None = None,
) -> set[str]:
    """Start the command under a NOTIFY_SOCKET, collect messages until `want` were seen, then SIGTERM.
    Its log goes to a file (a pipe nobody reads could fill and stop it), shown if it fails."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"}
    log = Path(path).with_suffix(".log")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ews.cli", *argv], env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb")
    )
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    try:
        while not want <= seen and time.monotonic() < deadline:
            try:
                got = sock.recv(4096).decode().split("\n")
                seen |= {m.split("=")[0] + "=" + m.split("=")[1][:1] for m in got if "=" in m}
                if raw is not None:
                    raw += got
            except TimeoutError:
                assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(30) == 0, log.read_text(errors="replace")[-2000:]
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"no exit 30 s after SIGTERM; seen {seen}; log:\n{log.read_text(errors='replace')[-3000:]}"
            ) from None
        while True:  # drain what it said while stopping
            try:
                got = sock.recv(4096).decode().split("\n")
                seen |= {m.split("=")[0] + "=" + m.split("=")[1][:1] for m in got if "=" in m}
                if raw is not None:
                    raw += got
            except TimeoutError:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
    return seen


def test_hub_ready_watchdog_stopping(mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path) -> None:
    sock, path = _listen(tmp_path)
    cfg = write_config(tmp_path, "hubN", mosquitto.port, influxd.url, "ews")
    raw: list[str] = []
    seen = _run_until(["hub", "--config", str(cfg)], sock, path, {"READY=1", "WATCHDOG=1"}, raw=raw)
    assert {"READY=1", "WATCHDOG=1", "STOPPING=1"} <= seen
    # `systemctl status ews-hub` says when the kernel counts the clock unsynchronized (adjtimex); a
    # test machine may be either, so the status must follow the kernel.
    [status] = [m for m in raw if m.startswith("STATUS=") and "rules" in m]
    assert ("clock NOT synchronized" in status) == (synchronized() is False), status


def test_edge_ready_watchdog_stopping(mosquitto: Mosquitto, tmp_path: Path) -> None:
    sock, path = _listen(tmp_path)
    cfg = tmp_path / "edge.yaml"
    cfg.write_text(yaml.safe_dump({
        "id": "fs-gw09", "mqtt": {"port": mosquitto.port}, "outbox": {"path": str(tmp_path / "box.db")},
        "sensors": [{"kind": "simulated", "id": "fs-hp09-rg1", "site": "fs-hp09", "period_s": 1,
                     "steps": [[0, "rain_mm", 0.5], [1, "rain_mm", 0.5]]}],
    }))  # fmt: skip
    seen = _run_until(["edge", "--config", str(cfg)], sock, path, {"READY=1", "WATCHDOG=1"})
    assert {"READY=1", "WATCHDOG=1", "STOPPING=1"} <= seen


def test_a_hub_stopped_while_it_waits_for_influxdb_exits_at_once(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """After a power cut InfluxDB may take a while; the hub waits up to history_wait_s (60 s) for it.
    A stop in that time (systemctl stop, a reboot) used to wait the minute out: now it ends the wait."""
    cfg = write_config(tmp_path, "hubW", mosquitto.port, f"http://127.0.0.1:{free_port()}", "ews")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    log = tmp_path / "hub.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ews.cli", "hub", "--config", str(cfg)], env=env, stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while (
            "stored history unavailable" not in log.read_text(errors="replace")
            and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert "stored history unavailable" in log.read_text(errors="replace"), log.read_text(
            errors="replace"
        )[-2000:]
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text(errors="replace")[-2000:]
        assert time.monotonic() - started < 20  # not the rest of the 60 s wait
    finally:
        if proc.poll() is None:
            proc.kill()
