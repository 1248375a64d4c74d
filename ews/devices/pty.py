"""A linked pseudo-terminal pair made by socat: one end for the simulated device, one for the driver."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType


class PtyError(RuntimeError):
    """socat is missing or the pseudo-terminals did not appear."""


class PtyPair:
    """Two pty ends wired back to back, like a null-modem cable. `device` for the simulator, `host` for us.

    socat (not os.openpty) because both ends must be openable by path: pymodbus and pyserial open
    ports by name, and a pty master has no name of its own.
    """

    def __init__(self, workdir: Path | None = None, name: str = "tty") -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="ews-pty-")
            workdir = Path(self._tmp.name)
        self.device = str(Path(workdir) / f"{name}-device")
        self.host = str(Path(workdir) / f"{name}-host")
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 5.0) -> PtyPair:
        socat = shutil.which("socat")
        if socat is None:
            raise PtyError("socat not found: install the Debian package socat")
        self._proc = subprocess.Popen(
            [
                socat,
                f"pty,raw,echo=0,link={self.device}",
                f"pty,raw,echo=0,link={self.host}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while not (Path(self.device).exists() and Path(self.host).exists()):
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                raise PtyError(f"socat exited with {self._proc.returncode}: {err.strip()}")
            if time.monotonic() > deadline:
                self.stop()
                raise PtyError(f"socat did not create {self.device} and {self.host} within {timeout}s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc is not None and self._proc.stderr:
            self._proc.stderr.close()
        self._proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> PtyPair:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
