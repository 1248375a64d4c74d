"""GNSS displacement stations: RTKLIB ENU baseline solutions, averaged per period, displacement from a baseline."""

from __future__ import annotations

import calendar
import logging
import math
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import serial  # type: ignore[import-untyped]
from pydantic import Field

from edge.sensors.base import ListeningSensor, SensorConfig
from edge.wire import Reading

log = logging.getLogger(__name__)

GPS_EPOCH = 315964800  # 1980-01-06 00:00:00 UTC
QUALITY = {1: "good", 2: "suspect"}  # RTKLIB Q: 1 fix, 2 float; 5 single and others are not monitoring grade


class GnssError(ValueError):
    """A solution line that does not parse."""


@dataclass(frozen=True, slots=True)
class Solution:
    time: float  # UTC epoch seconds
    e: float  # metres, rover minus base
    n: float
    u: float
    q: int
    ns: int


def parse_enu_line(line: str, *, gpst: bool = True, leap_s: int = 18) -> Solution | None:
    """One line of RTKLIB's `enu` solution output (rtkrcv/rnx2rtkp, out-solformat=enu): time (yyyy/mm/dd
    hh:mm:ss.sss, or GPS week and seconds of week), e/n/u baseline (m), Q, ns, then accuracy fields.
    Header and comment lines (starting with %) give None."""
    text = line.strip()
    if not text or text.startswith("%"):
        return None
    parts = text.split()
    if len(parts) < 6:
        raise GnssError(f"too few fields: {text[:60]!r}")
    try:
        if "/" in parts[0]:
            y, mo, d = (int(x) for x in parts[0].split("/"))
            hh, mm, ss = parts[1].split(":")
            t = calendar.timegm((y, mo, d, int(hh), int(mm), 0, 0, 0, 0)) + float(ss)
        else:
            t = GPS_EPOCH + int(parts[0]) * 604800 + float(parts[1])
        e, n, u = float(parts[2]), float(parts[3]), float(parts[4])
        q, ns = int(parts[5]), int(parts[6]) if len(parts) > 6 else 0
    except (ValueError, OverflowError):
        raise GnssError(f"not an ENU solution line: {text[:60]!r}") from None
    if not all(math.isfinite(v) for v in (t, e, n, u)):
        raise GnssError(f"non-finite value in {text[:60]!r}")
    return Solution(t - leap_s if gpst else t, e, n, u, q, ns)


def displacement(
    sols: list[Solution], base: tuple[float, float, float], sensor: str, t: float
) -> list[Reading]:
    """Pure: mean position of the window minus the baseline, in mm. disp_mm is horizontal (the figure
    slope-monitoring thresholds use); disp_u_mm is vertical (settlement negative)."""
    good = [s for s in sols if s.q == 1] or [s for s in sols if s.q == 2]
    if not good:
        return []
    quality = QUALITY[good[0].q]
    de = (sum(s.e for s in good) / len(good) - base[0]) * 1000
    dn = (sum(s.n for s in good) / len(good) - base[1]) * 1000
    du = (sum(s.u for s in good) / len(good) - base[2]) * 1000
    values = {"disp_mm": math.hypot(de, dn), "disp_e_mm": de, "disp_n_mm": dn, "disp_u_mm": du}
    return [Reading(sensor, q, round(v, 2), t, quality=quality) for q, v in values.items()]


class GnssConfig(SensorConfig):
    """A GNSS monitoring rover whose RTK engine (RTKLIB rtkrcv) streams ENU baselines to the gateway."""

    kind: Literal["gnss"] = Field(description="GNSS displacement from RTKLIB ENU solutions")
    url: str = Field(
        description="Solution stream: serial device (/dev/ttyUSB3) or socket://host:port (rtkrcv tcpsvr)"
    )
    baudrate: int = Field(115200, description="Serial: line speed")
    baseline_m: tuple[float, float, float] = Field(
        description="E, N, U baseline of the rover at installation (m): displacement is measured from here"
    )
    time_system: Literal["gpst", "utc"] = Field("gpst", description="Time scale of the solution output")
    leap_seconds: int = Field(18, ge=0, description="GPST - UTC (18 s since 2017)")

    def build(self, clock: Callable[[], float] = time.time) -> ListeningSensor:
        return GnssStation(self)


class GnssStation:
    """Driver: reads solution lines; at each period boundary of solution time, emits the window's mean."""

    def __init__(self, cfg: GnssConfig) -> None:
        self.cfg = cfg
        self.stats = {"solutions": 0, "bad": 0, "windows": 0}
        self._window: list[Solution] = []
        self._window_end: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self.connected = threading.Event()

    def start(self, emit: Callable[[Reading], None]) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(emit,), name=f"gnss-{self.cfg.id}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def feed(self, line: str, emit: Callable[[Reading], None]) -> None:
        try:
            sol = parse_enu_line(line, gpst=self.cfg.time_system == "gpst", leap_s=self.cfg.leap_seconds)
        except GnssError as exc:
            self.stats["bad"] += 1
            if not self._failing:
                self._failing = True
                log.warning("gnss bad line sensor=%s error=%s", self.cfg.id, exc)
            return
        if sol is None:
            return
        self._failing = False
        self.stats["solutions"] += 1
        period = self.cfg.period_s
        if self._window_end is None:
            self._window_end = (math.floor(sol.time / period) + 1) * period
        if sol.time >= self._window_end:
            try:
                for r in displacement(self._window, self.cfg.baseline_m, self.cfg.id, self._window_end):
                    emit(r)
            except Exception as exc:  # never kill the reader; this window's mean is lost, and logged
                log.error("gnss emit failed sensor=%s error=%s", self.cfg.id, exc)
            self.stats["windows"] += 1
            self._window = []
            self._window_end = (math.floor(sol.time / period) + 1) * period
        self._window.append(sol)

    def _open(self) -> tuple[Callable[[], bytes], Callable[[], None]]:
        """(read, close) for the stream. TCP by plain socket: pyserial's socket:// drops the bytes of a read
        that ends in a disconnect, and rtkrcv restarts do disconnect."""
        if self.cfg.url.startswith("socket://"):
            host, _, port = self.cfg.url[len("socket://") :].rpartition(":")
            sock = socket.create_connection((host, int(port)), timeout=5)
            sock.settimeout(0.2)

            def read() -> bytes:
                try:
                    data = sock.recv(4096)
                except TimeoutError:
                    return b""
                if not data:
                    raise ConnectionError("closed by the solution server")
                return data

            return read, sock.close
        port_ = serial.serial_for_url(self.cfg.url, baudrate=self.cfg.baudrate, timeout=0.2)
        return (lambda: port_.read(1024)), port_.close

    def _run(self, emit: Callable[[Reading], None]) -> None:
        while not self._stop.is_set():
            try:
                read, close = self._open()
            except (OSError, serial.SerialException, ValueError) as exc:
                if not self._failing:
                    self._failing = True
                    log.warning("gnss cannot open sensor=%s url=%s error=%s", self.cfg.id, self.cfg.url, exc)
                self._stop.wait(2.0)
                continue
            self.connected.set()
            buf = b""
            try:
                while not self._stop.is_set():
                    try:
                        buf += read()
                    except (OSError, serial.SerialException) as exc:
                        log.warning("gnss stream lost sensor=%s error=%s", self.cfg.id, exc)
                        break
                    finally:
                        *lines, buf = buf.split(b"\n")
                        for raw in lines:
                            self.feed(raw.decode("ascii", errors="replace"), emit)
                        buf = buf[-4096:]  # a line never gets this long; do not grow on garbage
            finally:
                self.connected.clear()
                close()
            self._stop.wait(1.0)
