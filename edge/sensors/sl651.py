"""SL 651-2014 stations: readings from reports, M2 acknowledgement, over a serial line or as a TCP centre."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import serial  # type: ignore[import-untyped]
from pydantic import Field, field_validator, model_validator

from edge.sensors.base import ListeningSensor, SensorConfig
from edge.sensors.sl651_body import parse_report
from edge.sensors.sl651_codec import Frame, Scanner, SL651Error
from edge.sensors.sl651_elements import EOT, ESC
from edge.sensors.sl651_encode import ack, bcd_time
from edge.sensors.sl651_readings import Mapper
from edge.wire import Reading

log = logging.getLogger(__name__)

ACKED = (0x30, 0x31, 0x32, 0x33, 0x34, 0x35)  # the centre confirms these (M2); 2F keep-alives get no answer
DEFAULT_QUANTITIES = {"Z": "water_level_m", "VT": "battery_v", "M10": "soil_moisture_pct"}


class SL651Config(SensorConfig):
    """An SL 651 centre endpoint: stations dial in over TCP (4G DTU) or talk on a serial line."""

    kind: Literal["sl651"] = Field(description="SL 651-2014 hydrological telemetry")
    transport: Literal["tcp", "serial"] = Field(
        "tcp", description="tcp: the agent is the centre; serial: a line"
    )
    host: str = Field("0.0.0.0", description="TCP: address to listen on")
    tcp_port: int = Field(5005, ge=0, le=65535, description="TCP: port DTUs dial (0 picks a free one, tests)")
    port: str | None = Field(None, description="Serial: device path, e.g. /dev/ttyUSB1")
    baudrate: int = Field(9600, description="Serial: line speed")
    stations: dict[str, str] = Field(description="Station address (10 digits) -> sensor id")
    rain: Literal["PT", "PJ", "PN05", "P1", "DRP", "none"] = Field(
        "PT",
        description="Element that becomes rain_mm. PT (cumulative) is differenced and loses no rain when a "
        "frame is lost; PJ/PN05/P1/DRP are taken as increments",
    )
    quantities: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_QUANTITIES),
        description="Other elements to send, by ASCII identifier -> quantity (Z, VT, M10..M100, ...)",
    )
    tz_offset_h: float = Field(8.0, description="Station clock offset from UTC, hours (Beijing time: 8)")
    ack: bool = Field(True, description="Send M2 confirmations for reports 30-35")
    ack_end: Literal["ESC", "EOT"] = Field(
        "ESC", description="ESC keeps the DTU online, EOT ends the session"
    )
    max_rain_rate_mm_h: float = Field(300.0, gt=0, description="PT jumps above this rate are not trusted")
    state_file: Path | None = Field(
        None, description="Where PT baselines are kept across restarts, so rain during downtime is sent"
    )
    idle_timeout_s: float = Field(
        1800.0,
        gt=0,
        description="TCP: close a DTU connection silent this long (keep-alives come every few minutes)",
    )

    @field_validator("stations", mode="before")
    @classmethod
    def _quoted(cls, v: object) -> object:
        if isinstance(v, dict) and any(not isinstance(k, str) for k in v):
            raise ValueError(
                'station addresses must be quoted strings in YAML ("0012345678"): unquoted, '
                "leading zeros are lost"
            )
        return v

    @field_validator("stations")
    @classmethod
    def _addresses(cls, v: dict[str, str]) -> dict[str, str]:
        for addr in v:
            if len(addr) != 10 or not addr.isdigit():
                raise ValueError(f"station address {addr!r} must be 10 digits")
        return v

    @model_validator(mode="after")
    def _serial_needs_port(self) -> SL651Config:
        if self.transport == "serial" and not self.port:
            raise ValueError(f"sensor {self.id}: transport serial needs port")
        return self

    def build(self, clock: Callable[[], float] = time.time) -> ListeningSensor:
        return SL651Centre(self, clock)


class SL651Centre:
    """Driver: TCP server (one thread per DTU connection) or a serial reader; emits, then acknowledges."""

    def __init__(self, cfg: SL651Config, clock: Callable[[], float]) -> None:
        self.cfg = cfg
        self.clock = clock
        self.mapper = Mapper(cfg)
        self.stats = {
            "frames": 0,
            "readings": 0,
            "bad": 0,
            "unknown_station": 0,
            "duplicates": 0,
            "bad_elements": 0,  # left out of a report that was taken (the rest of it counts)
            "late_totals": 0,  # PT totals older than the baseline: not rain again (Mapper)
        }
        self._odd: set[tuple[str, str]] = set()  # (station, element) already logged as undecodable
        self._lock = threading.Lock()  # one frame at a time through the mapper and emit
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: socket.socket | None = None
        self._failing: set[str] = set()
        self.address: tuple[str, int] | None = None
        self.connected = threading.Event()  # serial: the port is open (opening a tty flushes its input)

    def start(self, emit: Callable[[Reading], None]) -> None:
        self._stop.clear()
        if self.cfg.transport == "tcp":
            srv = socket.create_server((self.cfg.host, self.cfg.tcp_port), reuse_port=False)
            srv.settimeout(0.2)
            self._server, self.address = srv, srv.getsockname()[:2]
            self._spawn(self._accept_loop, emit)
            log.info("sl651 centre listening sensor=%s address=%s:%d", self.cfg.id, *self.address)
        else:
            self._spawn(self._serial_loop, emit)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:  # every loop wakes within 0.2 s to look at the stop flag
            t.join(timeout=2)
        self._threads.clear()
        if self._server is not None:
            self._server.close()

    def alive(self) -> bool:
        """The first thread is the accept or serial loop; connection threads end with their DTU's link."""
        return bool(self._threads) and self._threads[0].is_alive()

    def _serial_loop(self, emit: Callable[[Reading], None]) -> None:
        """Keep the port open; a USB adapter that drops out is reopened, logged once per outage."""
        source = f"serial:{self.cfg.port}"
        while not self._stop.is_set():
            try:
                port = serial.serial_for_url(self.cfg.port, baudrate=self.cfg.baudrate, timeout=0.2)
            except (OSError, serial.SerialException) as exc:
                self._bad(source, exc)
                self._stop.wait(2.0)
                continue
            self.connected.set()
            with port:
                self._read_loop(port.read, port.write, source, emit)
            self.connected.clear()

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        t = threading.Thread(target=target, args=args, name=f"sl651-{self.cfg.id}", daemon=True)
        self._threads.append(t)
        t.start()

    def _accept_loop(self, emit: Callable[[Reading], None]) -> None:
        assert self._server is not None
        while not self._stop.is_set():
            try:
                conn, peer = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(0.2)
            self._spawn(self._conn_loop, conn, f"tcp:{peer[0]}:{peer[1]}", emit)

    def _conn_loop(self, conn: socket.socket, source: str, emit: Callable[[Reading], None]) -> None:
        last = time.monotonic()

        def read(_n: int) -> bytes:
            nonlocal last
            try:
                data = conn.recv(4096)
            except TimeoutError:
                # A 4G NAT can drop a connection without a FIN; a DTU silent this long is gone.
                if time.monotonic() - last > self.cfg.idle_timeout_s:
                    raise ConnectionError(f"idle for {self.cfg.idle_timeout_s:.0f} s") from None
                return b""
            if not data:
                raise ConnectionError("closed by station")
            last = time.monotonic()
            return data

        with conn:
            self._read_loop(read, conn.sendall, source, emit)

    def _read_loop(
        self,
        read: Callable[[int], bytes],
        write: Callable[[bytes], object],
        source: str,
        emit: Callable[[Reading], None],
    ) -> None:
        scanner = Scanner()
        while not self._stop.is_set():
            try:
                data = read(4096)
            except (OSError, ConnectionError, serial.SerialException) as exc:
                log.info("sl651 link closed sensor=%s source=%s reason=%s", self.cfg.id, source, exc)
                return
            for item in scanner.feed(data) if data else []:
                if isinstance(item, SL651Error):
                    self._bad(source, item)
                    continue
                reply = self.handle(item, source, emit)
                if reply:
                    try:
                        write(reply)
                    except (OSError, serial.SerialException) as exc:
                        log.warning("sl651 ack failed sensor=%s source=%s error=%s", self.cfg.id, source, exc)

    def handle(self, frame: Frame, source: str, emit: Callable[[Reading], None]) -> bytes | None:
        """One frame: readings out through emit, then the acknowledgement bytes (or None)."""
        with self._lock:
            if frame.direction != "up":
                return None
            if frame.station not in self.cfg.stations:
                self.stats["unknown_station"] += 1
                self._bad(
                    f"{source} station {frame.station}", SL651Error("station not in config; not acknowledged")
                )
                return None
            try:
                report = parse_report(frame, int(self.cfg.tz_offset_h * 3600))
            except SL651Error as exc:
                self._bad(f"{source} station {frame.station}", exc)
                return None
            self.stats["frames"] += 1
            self._recovered(source)
            self._skipped(frame.station, report.skipped)
            if self.mapper.duplicate(report):
                self.stats["duplicates"] += 1  # the station did not get our ack: answer again, emit nothing
            else:
                snap = self.mapper.snapshot()
                try:
                    for reading in self.mapper.readings(report):
                        emit(reading)  # the agent has it on disk when emit returns; only then do we confirm
                        self.stats["readings"] += 1
                except Exception as exc:  # the agent could not take it: no ack, the station sends it again
                    self.mapper.restore(snap)
                    log.error(
                        "sl651 emit failed sensor=%s station=%s error=%s", self.cfg.id, frame.station, exc
                    )
                    return None
                self.stats["late_totals"] += self.mapper.late
                self.mapper.remember(report)
                self.mapper.persist()
            if not self.cfg.ack or frame.function not in ACKED:
                return None
            local = time.gmtime(self.clock() + self.cfg.tz_offset_h * 3600)
            stamp = bcd_time(
                (local.tm_year, local.tm_mon, local.tm_mday, local.tm_hour, local.tm_min, local.tm_sec)
            )
            return ack(frame, report.serial, stamp, ESC if self.cfg.ack_end == "ESC" else EOT)

    def _bad(self, source: str, exc: Exception) -> None:
        self.stats["bad"] += 1
        key = source.split(" station ")[0]
        if key not in self._failing:
            self._failing.add(key)
            log.warning("sl651 bad input sensor=%s source=%s error=%s", self.cfg.id, source, exc)

    def _skipped(self, station: str, skipped: list[str]) -> None:
        """Count every element left out; log each (station, element) once: a station sends it every report."""
        self.stats["bad_elements"] += len(skipped)
        for what in skipped:
            key = (station, what.split(" ")[0])
            if key not in self._odd:
                self._odd.add(key)
                log.warning(
                    "sl651 element skipped sensor=%s station=%s element=%s (counted in bad_elements, "
                    "logged once)",
                    self.cfg.id,
                    station,
                    what,
                )

    def _recovered(self, source: str) -> None:
        if source in self._failing:
            self._failing.discard(source)
            log.info("sl651 input good again sensor=%s source=%s", self.cfg.id, source)
