"""LoRa nodes behind a UART LoRa module (EBYTE E22/E32): our framing, acks, dedupe, readings."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import serial  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, field_validator

from edge.sensors import counter, counter_store
from edge.sensors.base import ListeningSensor, SensorConfig
from edge.sensors.lora_frame import (
    ACK,
    DATA,
    Dedupe,
    LoraFrame,
    LoraFrameError,
    Scanner,
    decode_payload,
    encode,
)
from edge.wire import Reading

log = logging.getLogger(__name__)


class LoraNode(BaseModel):
    """One field node."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sensor: str = Field(description="Sensor id for the node's readings")
    address: int | None = Field(
        None, ge=0, le=0xFFFF, description="Module address for fixed-mode acks; default: node id"
    )


class LoraUartConfig(SensorConfig):
    """The gateway's LoRa module on a serial port, receiving framed readings from nodes."""

    kind: Literal["lora_uart"] = Field(description="UART LoRa module (E22/E32) with EWS framing")
    port: str = Field(description="Serial device of the module, e.g. /dev/ttyAMA0")
    baudrate: int = Field(9600, description="UART speed set in the module")
    mode: Literal["transparent", "fixed"] = Field(
        "transparent",
        description="Module transmission mode; fixed mode prefixes acks with address and channel",
    )
    channel: int = Field(23, ge=0, le=83, description="Fixed mode: radio channel of the nodes (E22: 0-83)")
    rssi_byte: bool = Field(
        False, description="Module appends an RSSI byte to each received packet (E22 REG3 bit 7)"
    )
    nodes: dict[int, LoraNode] = Field(description="Node id (0x0001-0xFFFE) -> node")
    max_rain_rate_mm_h: float = Field(
        300.0, gt=0, description="rain_total_mm jumps above this rate are not trusted"
    )
    state_file: Path | None = Field(
        None,
        description="Where rain_total_mm baselines are kept across restarts, so rain during downtime is sent",
    )

    @field_validator("nodes")
    @classmethod
    def _node_ids(cls, v: dict[int, LoraNode]) -> dict[int, LoraNode]:
        bad = [n for n in v if not 0x0001 <= n <= 0xFFFE]
        if bad:
            raise ValueError(f"node ids must be 1..65534, got {bad}")
        return v

    def build(self, clock: Callable[[], float] = time.time) -> ListeningSensor:
        return LoraUartGateway(self, clock)


class LoraUartGateway:
    """Driver: reads the module's UART, emits readings, then acks; a retransmission is acked, not re-emitted."""

    def __init__(self, cfg: LoraUartConfig, clock: Callable[[], float]) -> None:
        self.cfg = cfg
        self.clock = clock
        self.dedupe = Dedupe()
        self.stats = dict.fromkeys(
            ("frames", "readings", "bad", "duplicates", "unknown_node", "late_totals"), 0
        )
        self._rain: dict[str, counter.CounterState] = counter_store.load(cfg.state_file)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self.connected = threading.Event()  # the port is open (opening a tty flushes its input)

    def start(self, emit: Callable[[Reading], None]) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(emit,), name=f"lora-{self.cfg.id}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self, emit: Callable[[Reading], None]) -> None:
        while not self._stop.is_set():
            try:
                port = serial.serial_for_url(self.cfg.port, baudrate=self.cfg.baudrate, timeout=0.2)
            except (OSError, serial.SerialException) as exc:
                self._bad(f"cannot open {self.cfg.port}: {exc}")
                self._stop.wait(2.0)
                continue
            self.connected.set()
            with port:
                self._serve(port, emit)

    def _serve(self, port: serial.Serial, emit: Callable[[Reading], None]) -> None:
        """Read frames and ack them until stopped or the port fails (then the caller reopens it)."""
        scanner = Scanner(trailer=1 if self.cfg.rssi_byte else 0)
        while not self._stop.is_set():
            try:
                data = port.read(512)
            except (OSError, serial.SerialException) as exc:
                self._bad(f"{self.cfg.port}: {exc}")
                return
            for item in scanner.feed(data) if data else []:
                if isinstance(item, LoraFrameError):
                    self._bad(str(item))
                    continue
                reply = self.handle(item[0], item[1], emit)
                if not reply:
                    continue
                try:
                    port.write(reply)
                except (OSError, serial.SerialException) as exc:
                    # Like a failed read: reopen. The unacked node sends again; the dedupe acks it, once.
                    self._bad(f"{self.cfg.port}: ack not sent: {exc}")
                    return

    def handle(self, frame: LoraFrame, trailer: bytes, emit: Callable[[Reading], None]) -> bytes | None:
        """One received frame: readings through emit, then the ack to send (None: do not ack)."""
        if frame.type != DATA:
            return None
        node = self.cfg.nodes.get(frame.node)
        if node is None:
            self.stats["unknown_node"] += 1
            self._bad(f"node {frame.node} not in config")
            return None
        try:
            age, records = decode_payload(frame.payload)
        except LoraFrameError as exc:
            self._bad(f"node {frame.node} seq {frame.seq}: {exc}")
            return None  # no ack: the node retries, and its firmware bug shows up in our log
        self.stats["frames"] += 1
        if self._failing:
            self._failing = False
            log.info("lora input good again sensor=%s", self.cfg.id)
        if not self.dedupe.is_new(frame):
            self.stats["duplicates"] += 1
        else:
            now = self.clock()
            t = now - age
            snap = dict(self._rain)
            try:
                for r in records:
                    reading = self._reading(frame.node, node.sensor, r.quantity, r.value, t)
                    if reading is not None:
                        emit(reading)
                        self.stats["readings"] += 1
                if trailer:
                    emit(Reading(node.sensor, "signal_dbm", float(trailer[0] - 256), now, source="health"))
            except Exception as exc:  # the agent could not take it: no ack, the node retransmits
                self._rain = snap
                log.error("lora emit failed sensor=%s node=%d error=%s", self.cfg.id, frame.node, exc)
                return None
            self.dedupe.remember(frame)
            if any(r.quantity == "rain_total_mm" for r in records):
                counter_store.save(self.cfg.state_file, self._rain)
        return self._ack(frame, node)

    def _reading(self, node: int, sensor: str, quantity: str, value: float, t: float) -> Reading | None:
        if quantity != "rain_total_mm":
            return Reading(sensor, quantity, value, t)
        prev = self._rain.get(str(node))
        if prev is not None and t < prev.time <= self.clock():
            # A frame the node kept unacked and sent after a newer one: the newer total already holds
            # its rain, and taking it as the baseline would count that rain again. (A baseline ahead
            # of the clock means the clock was set back: counter.step takes that, marked suspect.)
            self.stats["late_totals"] += 1
            log.info(
                "lora late rain total skipped sensor=%s node=%d older_s=%.0f", sensor, node, prev.time - t
            )
            return None
        state, inc = counter.step(
            prev,
            int(round(value * 10)) % (1 << 32),
            t,
            modulus=1 << 32,
            scale=0.1,
            max_rate_per_h=self.cfg.max_rain_rate_mm_h,
        )
        self._rain[str(node)] = state
        return Reading(sensor, "rain_mm", inc.value, t, quality=inc.quality)

    def _ack(self, frame: LoraFrame, node: LoraNode) -> bytes:
        ack = encode(LoraFrame(ACK, frame.node, frame.seq, b""))
        if self.cfg.mode == "fixed":
            addr = frame.node if node.address is None else node.address
            ack = addr.to_bytes(2, "big") + bytes([self.cfg.channel]) + ack
        return ack

    def _bad(self, what: str) -> None:
        self.stats["bad"] += 1
        if not self._failing:
            self._failing = True
            log.warning("lora bad input sensor=%s error=%s", self.cfg.id, what)
