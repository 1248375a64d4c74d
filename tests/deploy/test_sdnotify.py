"""ews.sdnotify speaks systemd's notify protocol to a real AF_UNIX datagram socket, as systemd listens.

systemd itself is not PID 1 in this container, so the listening end is a socket bound here, which is all
systemd is to the service: it reads the same datagrams.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ews import sdnotify


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, dict[str, str]]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify"
    sock.bind(str(path))
    sock.settimeout(5)
    yield sock, {"NOTIFY_SOCKET": str(path)}
    sock.close()


def test_ready_status_stopping(listener: tuple[socket.socket, dict[str, str]]) -> None:
    sock, env = listener
    assert sdnotify.ready("连接 broker 成功", env)
    assert sock.recv(4096).decode() == "READY=1\nSTATUS=连接 broker 成功"
    assert sdnotify.reloading(env) and sock.recv(100) == b"RELOADING=1"
    assert sdnotify.stopping(env) and sock.recv(100) == b"STOPPING=1"


def test_abstract_socket() -> None:
    name = f"ews-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert sdnotify.status("ok", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(100) == b"STATUS=ok"


def test_not_under_systemd_is_a_quiet_no() -> None:
    assert sdnotify.notify("READY=1", {}) is False
    assert sdnotify.watchdog_interval({}) is None
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None  # not us
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 30.0


def test_heartbeat_pings_only_while_healthy(listener: tuple[socket.socket, dict[str, str]]) -> None:
    sock, env = listener
    env = {**env, "WATCHDOG_USEC": "100000", "WATCHDOG_PID": str(os.getpid())}
    healthy = threading.Event()
    healthy.set()
    beat = sdnotify.Heartbeat.from_env(healthy.is_set, env)
    assert beat is not None and beat.period == pytest.approx(0.05)
    beat.start()
    try:
        assert [sock.recv(100) for _ in range(3)] == [b"WATCHDOG=1"] * 3
        healthy.clear()
        # Drain a ping that may have been in flight, then prove silence for several periods.
        sock.settimeout(0.3)
        try:
            sock.recv(100)
            sock.recv(100)
            raise AssertionError("pings continued while unhealthy")
        except TimeoutError:
            pass
        healthy.set()
        sock.settimeout(5)
        assert sock.recv(100) == b"WATCHDOG=1"
    finally:
        beat.stop()
