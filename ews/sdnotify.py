"""systemd's sd_notify protocol in pure Python: READY, STATUS, STOPPING and a watchdog heartbeat tied to health."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


def notify(state: str, env: Mapping[str, str] | None = None) -> bool:
    """Send newline-separated KEY=VALUE assignments to systemd; False when not run under systemd."""
    env = os.environ if env is None else env
    address = env.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace socket
        address = "\0" + address[1:]
    try:
        # Non-blocking: a notify socket whose queue is full (a stalled reader) must cost a dropped
        # ping and a warning, never a hub or gateway that hangs on it, at stop above all.
        with socket.socket(
            socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
        ) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
        return True
    except OSError as exc:
        log.warning("sd_notify failed socket=%s error=%s", env.get("NOTIFY_SOCKET"), exc)
        return False


def ready(status: str = "", env: Mapping[str, str] | None = None) -> bool:
    """Type=notify units count as started only after this (config loaded, broker connected)."""
    return notify("READY=1" + (f"\nSTATUS={status}" if status else ""), env)


def status(text: str, env: Mapping[str, str] | None = None) -> bool:
    """A one-line status shown by `systemctl status`."""
    return notify(f"STATUS={text}", env)


def stopping(env: Mapping[str, str] | None = None) -> bool:
    return notify("STOPPING=1", env)


def reloading(env: Mapping[str, str] | None = None) -> bool:
    """Say a SIGHUP reload has begun; send ready() when it is done."""
    return notify("RELOADING=1", env)


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """WatchdogSec in seconds if systemd expects pings from this process, else None."""
    env = os.environ if env is None else env
    usec, pid = env.get("WATCHDOG_USEC"), env.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        seconds = int(usec) / 1e6
    except ValueError:
        log.warning("sd_notify bad WATCHDOG_USEC value=%r", usec)
        return None
    return seconds if seconds > 0 else None


class Heartbeat:
    """Pings the systemd watchdog every half interval while `healthy()` says the process does its job.

    A thread that pings unconditionally would only prove the interpreter runs. `healthy` should check that
    the work loop made progress recently (e.g. the ingest loop's last pass); when it stops, pings stop and
    systemd restarts the unit after WatchdogSec (Restart=always).
    """

    def __init__(
        self, healthy: Callable[[], bool], interval_s: float, env: Mapping[str, str] | None = None
    ) -> None:
        self.healthy = healthy
        self.period = interval_s / 2
        self.env = env
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_env(cls, healthy: Callable[[], bool], env: Mapping[str, str] | None = None) -> Heartbeat | None:
        interval = watchdog_interval(env)
        return cls(healthy, interval, env) if interval else None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sd-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        unhealthy = False
        while not self._stop.wait(self.period):
            try:
                ok = self.healthy()
            except Exception as exc:  # a failing health check must not kill the heartbeat thread
                log.warning("watchdog health check raised error=%s", exc)
                ok = False
            if ok:
                if unhealthy:
                    log.info("watchdog healthy again, pings resume")
                    unhealthy = False
                notify("WATCHDOG=1", self.env)
            elif not unhealthy:
                log.error("watchdog unhealthy, withholding pings so systemd restarts the service")
                unhealthy = True
