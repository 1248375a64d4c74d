"""A simulated vendor ASCII sensor on a pty: answers a query (or streams) with a text template."""

from __future__ import annotations

import threading
from types import TracebackType

import serial  # type: ignore[import-untyped]


class AsciiDevice:
    """`template` is formatted with `values`, e.g. "X={x:+07.3f}\\r\\nY={y:+07.3f}\\r\\n"."""

    def __init__(
        self, port: str, template: str, values: dict[str, float], query: bytes = b"", period_s: float = 0.1
    ):
        self.serial = serial.Serial(port, timeout=0.05)
        self.template, self.values, self.query, self.period_s = template, dict(values), query, period_s
        self.silent = False
        self.garbage = b""  # sent once before the next answer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ascii-sim", daemon=True)

    def _answer(self) -> None:
        if self.silent:
            return
        out, self.garbage = self.garbage + self.template.format(**self.values).encode(), b""
        self.serial.write(out)

    def _run(self) -> None:
        buf = b""
        while not self._stop.is_set():
            if not self.query:  # streaming device
                self._answer()
                self._stop.wait(self.period_s)
                continue
            buf += self.serial.read(64)
            if self.query in buf:
                buf = buf.split(self.query, 1)[1]
                self._answer()

    def __enter__(self) -> AsciiDevice:
        self._thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.serial.close()
