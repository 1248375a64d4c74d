"""A simulated RS485 bus: a pymodbus RTU server on a pty serving several devices, with fault injection."""

from __future__ import annotations

import asyncio
import logging
import struct
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

from ews.devices.pty import PtyPair

log = logging.getLogger(__name__)

REGISTERS = 64  # registers 0..63 exist on every simulated device; reads beyond fail as on real ones


def encode(value: float, type_: str, word_order: str = "big") -> list[int]:
    """Registers holding `value` as a device would send it (the inverse of the driver's decoding)."""
    fmt = {"u16": ">H", "s16": ">h", "u32": ">I", "s32": ">i", "float32": ">f"}[type_]
    data = struct.pack(fmt, value if type_ == "float32" else int(value))
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    return words[::-1] if word_order == "little" else words


class ModbusDevice:
    """One device's holding (fc 3) and input (fc 4) registers, settable from any thread."""

    def __init__(self, unit: int) -> None:
        self.unit = unit
        self._lock = threading.Lock()
        self._regs: dict[int, list[int]] = {3: [0] * REGISTERS, 4: [0] * REGISTERS}
        self.silent = False  # stops answering, like a device with a cut cable
        self.corrupt_replies = 0  # the next N replies get a broken CRC
        self.garbage_before = b""  # bytes sent before the next reply (line noise)
        self.requests = 0

    def set(self, address: int, words: Iterable[int], function: int = 3) -> None:
        with self._lock:
            for i, w in enumerate(words):
                self._regs[function][address + i] = w & 0xFFFF

    def set_value(
        self, address: int, value: float, type_: str = "u16", function: int = 3, word_order: str = "big"
    ) -> None:
        self.set(address, encode(value, type_, word_order), function)

    def get(self, address: int, count: int = 1, function: int = 3) -> list[int]:
        with self._lock:
            return list(self._regs[function][address : address + count])

    async def _action(
        self,
        function: int,
        start: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> None:
        """pymodbus calls this before each access: mirror our registers into its block (one shared block)."""
        self.requests += 1
        fc = 4 if function == 4 else 3
        with self._lock:
            if values is not None and fc == 3:  # a write (fc 6/16): keep it
                for i, v in enumerate(values):
                    self._regs[3][address + i] = int(v) & 0xFFFF
            for i in range(count):
                registers[address - start + i] = self._regs[fc][address + i]

    def sim_device(self) -> SimDevice:
        return SimDevice(
            self.unit,
            simdata=[SimData(0, count=REGISTERS, values=0, datatype=DataType.REGISTERS)],
            action=self._action,
        )


class ModbusBus:
    """An RS485 bus of simulated devices behind a pty. Use as a context manager; give `port` to drivers."""

    def __init__(self, devices: Iterable[ModbusDevice], baudrate: int = 9600, workdir: Path | None = None):
        self.devices = {d.unit: d for d in devices}
        self.baudrate = baudrate
        self._pty = PtyPair(workdir, name="rs485")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: ModbusSerialServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> str:
        """The path the driver opens (the other end of the pty pair)."""
        return self._pty.host

    def _trace(self, sending: bool, packet: bytes) -> bytes:
        """Fault injection on the wire: silence, line noise, broken CRC."""
        if not sending or not packet:
            return packet
        dev = self.devices.get(packet[0])
        if dev is None or dev.silent:
            return b""  # an empty write puts nothing on the line: the master times out
        if dev.corrupt_replies > 0:
            dev.corrupt_replies -= 1
            packet = packet[:-1] + bytes([packet[-1] ^ 0xFF])
        if dev.garbage_before:
            packet, dev.garbage_before = dev.garbage_before + packet, b""
        return packet

    async def _serve(self) -> None:
        self._server = ModbusSerialServer(
            [d.sim_device() for d in self.devices.values()],
            framer=FramerType.RTU,
            port=self._pty.device,
            baudrate=self.baudrate,
            ignore_missing_devices=True,
            trace_packet=self._trace,
        )
        await self._server.serve_forever(background=True)
        self._ready.set()
        await self._server.serving

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
            self._ready.set()
        finally:
            self._loop.close()

    def start(self, timeout: float = 10.0) -> ModbusBus:
        self._pty.start()
        self._thread = threading.Thread(target=self._run, name="modbus-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            self.stop()
            raise RuntimeError(f"simulated Modbus server did not start: {self._error}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._server is not None and self._thread and self._thread.is_alive():
            fut = asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop)
            try:
                fut.result(timeout=5)
            except Exception as exc:  # shutting down anyway
                log.debug("modbus sim shutdown error=%s", exc)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._pty.stop()

    def __enter__(self) -> ModbusBus:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
