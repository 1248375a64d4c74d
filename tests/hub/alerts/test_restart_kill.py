"""Hub killed mid-delivery (SIGKILL), then restarted: no duplicate SMS and no recipient skipped.

The dispatcher runs in a child process built from a config file by the production composition
(hub.alerts.config.build_dispatcher); the SMS gateway is a real HTTP server on loopback
(pytest-httpserver) that records every request it receives.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from hub.alerts.config import AlertsConfig

ROOT = Path(__file__).resolve().parents[3]
# Everyone a red alert at fs-hp01 reaches by SMS: 2 officers, 2 grid workers, town, drone team, 4 villagers.
EXPECTED = {"13800000101", "13800000102", "13800000201", "13800000202", "13800000301", "13800000401",
            "13800001101", "13800001102", "13800001201", "13800001202"}  # fmt: skip


class Gateway:
    """Records (phone, idempotency key); `stall_at` makes the n-th request hang (a gateway that froze)."""

    def __init__(self, stall_at: int | None = None) -> None:
        self.got: list[tuple[str, str]] = []
        self.stall_at = stall_at
        self.lock = threading.Lock()
        self.stalled = threading.Event()

    def __call__(self, req: Request) -> Response:
        body = json.loads(req.get_data(as_text=True))
        with self.lock:
            self.got.append((body["to"], req.headers.get("Idempotency-Key", "")))
            n = len(self.got)
        if self.stall_at is not None and n == self.stall_at:
            self.stalled.set()
            time.sleep(3)  # the child is killed while this request is in flight
        return Response(json.dumps({"code": 0}), content_type="application/json")

    def count(self) -> int:
        with self.lock:
            return len(self.got)


def write_config(tmp: Path, fengshan: AlertsConfig, url: str) -> Path:
    raw = fengshan.model_dump(mode="json")
    raw["state_path"] = str(tmp / "alerts.sqlite")
    raw["dispatch"]["rate_limits"] = {"sms": 0.4}  # a modem-like pace: the kill lands between two sends
    raw["dispatch"]["policy"]["record_channels"] = {"console": ["alert"]}
    raw["channels"] = {
        "sms": {"kind": "sms_webhook", "url": url, "ok_field": "code", "timeout_s": 10},
        "console": {"kind": "console", "stream": "stderr"},
    }
    path = tmp / "alerts.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def child(config: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.hub.alerts.restart_child", str(config)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def wait(pred, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def sent_in_state(tmp: Path) -> int:
    """Read the child's delivery state the way an operator would (sqlite3, read-only)."""
    db = sqlite3.connect(f"file:{tmp / 'alerts.sqlite'}?mode=ro", uri=True, timeout=5)
    try:
        return int(
            db.execute("SELECT count(*) FROM delivery WHERE channel='sms' AND status='sent'").fetchone()[0]
        )
    except sqlite3.OperationalError:
        return 0  # not created yet
    finally:
        db.close()


def run_to_end(config: Path) -> dict:  # type: ignore[type-arg]
    proc = child(config)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return json.loads(out.strip().splitlines()[-1])


def test_kill_between_sends(httpserver: HTTPServer, tmp_path: Path, fengshan: AlertsConfig) -> None:
    gw = Gateway()
    httpserver.expect_request("/sms", method="POST").respond_with_handler(gw)
    config = write_config(tmp_path, fengshan, httpserver.url_for("/sms"))
    proc = child(config)
    wait(lambda: gw.count() >= 4)
    wait(lambda: sent_in_state(tmp_path) >= 4)  # the 4th is answered and recorded as sent
    proc.send_signal(signal.SIGKILL)  # while the 5th waits for the rate limit
    proc.wait(10)
    before = gw.count()
    assert before < len(EXPECTED)  # really killed mid-delivery
    stats = run_to_end(config)
    phones = [p for p, _ in gw.got]
    assert sorted(phones) == sorted(EXPECTED)  # everyone once: none twice, none skipped
    assert stats["channels"]["sms"]["sent"] == len(EXPECTED) - before


def test_kill_while_a_send_is_in_flight(
    httpserver: HTTPServer, tmp_path: Path, fengshan: AlertsConfig
) -> None:
    """The one case no sender can settle alone: killed after the gateway got a request, before the reply.

    The dispatcher resends it (a missed evacuation SMS is worse than a repeat) with the same
    Idempotency-Key, so a gateway that honours the key delivers it once.
    """
    gw = Gateway(stall_at=3)
    httpserver.expect_request("/sms", method="POST").respond_with_handler(gw)
    config = write_config(tmp_path, fengshan, httpserver.url_for("/sms"))
    proc = child(config)
    assert gw.stalled.wait(20)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    in_flight = gw.got[2]
    run_to_end(config)
    assert {p for p, _ in gw.got} == EXPECTED  # no one skipped
    keys = [k for _, k in gw.got]
    repeats = {k for k in keys if keys.count(k) > 1}
    assert repeats == {in_flight[1]}  # only the in-flight one came twice, under the same key
    assert len({k for _, k in gw.got}) == len(EXPECTED)  # one key per recipient: a keyed gateway sends once
