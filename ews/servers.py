"""Run Debian's mosquitto and influxd as child processes on free loopback ports (demo, tests, bench)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Self

log = logging.getLogger(__name__)


class ServerError(RuntimeError):
    """A server binary is missing or did not become ready."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _find(binary: str, *extra: str) -> str:
    for cand in (binary, *extra):
        path = shutil.which(cand)
        if path:
            return path
    for d in ("/usr/sbin", "/usr/bin", "/usr/local/sbin"):
        if Path(d, binary).exists():
            return str(Path(d, binary))
    raise ServerError(f"{binary} not found: install the Debian package (see `make deps`)")


class ChildServer:
    """A server child process that can be stopped and started again on the same port and data."""

    name = "server"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] | None = None  # None: inherit

    def _argv(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        logf = open(self.workdir / f"{self.name}.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            self._argv(), stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env
        )
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (self.workdir / f"{self.name}.log").read_text(errors="replace")[-2000:]
                raise ServerError(f"{self.name} exited with {self.proc.returncode}: {tail}")
            if self._ready():
                return
            time.sleep(0.05)
        self.stop()
        raise ServerError(f"{self.name} not ready on port {self.port} within {timeout}s")

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


class Mosquitto(ChildServer):
    """mosquitto with persistence in its own directory; `extra_conf` adds lines (auth, ACL, bridge)."""

    name = "mosquitto"

    def __init__(
        self, workdir: Path, port: int | None = None, extra_conf: str = "", anonymous: bool = True
    ) -> None:
        super().__init__(workdir, port)
        self.extra_conf = extra_conf
        self.anonymous = anonymous

    @property
    def conf_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    def _argv(self) -> list[str]:
        # set_tcp_nodelay: without it the broker's own sends wait on Nagle's algorithm (DESIGN.md §7).
        conf = "\n".join(
            [
                "per_listener_settings false",
                # As root mosquitto drops to the `mosquitto` user, which cannot write a private temp
                # directory: persistence would silently never be saved. Stay the invoking user.
                "user root" if os.geteuid() == 0 else "",
                f"listener {self.port} 127.0.0.1",
                f"allow_anonymous {'true' if self.anonymous else 'false'}",
                "set_tcp_nodelay true",
                "persistence true",
                f"persistence_location {self.workdir}/",
                "autosave_interval 1",
                "max_queued_messages 1000000",
                "max_inflight_messages 100",
                "log_dest stdout",
                "log_type error",
                "log_type warning",
                "log_type notice",
                self.extra_conf,
                "",
            ]
        )
        self.conf_path.write_text(conf)
        return [_find("mosquitto"), "-c", str(self.conf_path)]

    def _ready(self) -> bool:
        return _port_open(self.port)


class Influxd(ChildServer):
    """influxd 1.x with its meta, data and WAL in its own directory, HTTP on a free port."""

    name = "influxd"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir, port)
        self.rpc_port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _argv(self) -> list[str]:
        d = self.workdir
        conf = f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
  wal-fsync-delay = "0s"
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
[continuous_queries]
  log-enabled = false
"""
        path = d / "influxdb.conf"
        path.write_text(conf)
        return [_find("influxd"), "run", "-config", str(path)]

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=0.5) as resp:
                return bool(resp.status == 204)
        except OSError:
            return False
