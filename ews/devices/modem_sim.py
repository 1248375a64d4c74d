"""A GSM modem simulator on the far end of a socat pty pair, recording every SMS PDU it is asked to send.

This is the project's only fake channel endpoint, and it exists because no GSM/4G modem (and no SIM or
mobile network) can be attached to the build and test machines. Everything up to the modem is real: the
channel opens a real pseudo-terminal with pyserial and speaks AT commands in PDU mode over it. The
simulator answers the subset of 3GPP TS 27.005/27.007 that the channel uses (AT, ATE, AT+CMEE, AT+CMGF,
AT+CREG?, AT+CSQ, AT+CMGS with the '>' prompt, AT+CMGL, AT+CMGD), validates each PDU (length, decoding)
like a modem would, can inject inbound SMS (acknowledgements, evacuation reports) and faults
(+CMS ERROR codes, lost registration, no signal, a hung modem), and appends every sent PDU to a JSONL log.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import serial

from hub.channels import pdu

log = logging.getLogger(__name__)


@dataclass
class SentPdu:
    """One AT+CMGS the simulator accepted (or rejected, with the error it answered)."""

    at: float
    mr: int | None
    length: int
    pdu: str
    to: str = ""
    text: str = ""
    concat: list[int] | None = None  # [ref, total, seq]
    error: int | None = None


@dataclass
class _Faults:
    send_errors: list[int | None] = field(default_factory=list)  # +CMS ERROR per next send; None passes
    hang_sends: int = 0  # sends that get no answer at all
    rejected: dict[str, int] = field(default_factory=dict)  # number -> +CMS ERROR code
    undeletable: set[int] = field(default_factory=set)  # storage indices AT+CMGD refuses


class ModemSimulator:
    """Start with start(); the channel opens `port`. Thread-safe controls for tests and the demo."""

    def __init__(self, workdir: Path, *, log_path: Path | None = None, send_delay_s: float = 0.02) -> None:
        self.workdir = Path(workdir)
        self.port = str(self.workdir / "modem")
        self._sim_port = str(self.workdir / "modem.sim")
        self.log_path = log_path
        self.send_delay_s = send_delay_s
        self.registration = 1
        self.rssi = 20
        self.sent: list[SentPdu] = []
        self.deleted: list[int] = []
        self._faults = _Faults()
        self._store: dict[int, tuple[int, str]] = {}
        self._next_index = 1
        self._mr = 0
        self._echo, self._pdu_mode = True, False
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # injected +CMTI and command replies must not interleave
        self._stop = threading.Event()
        self._socat: subprocess.Popen[bytes] | None = None
        self._serial: serial.Serial | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        socat = shutil.which("socat")
        if socat is None:
            raise RuntimeError("socat not found; install the Debian package socat")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._socat = subprocess.Popen(
            [socat, f"pty,raw,echo=0,link={self.port}", f"pty,raw,echo=0,link={self._sim_port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5.0
        while not (Path(self.port).exists() and Path(self._sim_port).exists()):
            if time.monotonic() > deadline or self._socat.poll() is not None:
                self.stop()
                raise RuntimeError(f"socat did not create the pty pair in {self.workdir}")
            time.sleep(0.01)
        self._serial = serial.Serial(self._sim_port, 115200, timeout=0.05)
        self._thread = threading.Thread(target=self._serve, name="modem-sim", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self._serial is not None:
            self._serial.close()
        if self._socat is not None:
            self._socat.terminate()
            self._socat.wait(timeout=5.0)

    # -- controls -----------------------------------------------------------------------------------

    def inject_sms(self, sender: str, text: str, *, at: float | None = None, ref: int = 0) -> list[int]:
        """Store an inbound SMS (split into concatenated parts if long); returns the storage indices."""
        parts = pdu.encode_deliver(sender, text, time.time() if at is None else at, ref=ref)
        return [self.inject_pdu(p) for p in parts]

    def inject_pdu(self, pdu_hex: str) -> int:
        with self._lock:
            index = self._next_index
            self._next_index += 1
            self._store[index] = (0, pdu_hex)
        self._emit(f'\r\n+CMTI: "SM",{index}\r\n')
        return index

    def fail_next_sends(self, *codes: int | None) -> None:
        """The next len(codes) AT+CMGS answer +CMS ERROR with these codes, in order; None lets one through."""
        with self._lock:
            self._faults.send_errors.extend(codes)

    def hang_next_sends(self, count: int = 1) -> None:
        with self._lock:
            self._faults.hang_sends += count

    def reject_number(self, number: str, code: int = 1) -> None:
        """Sends to this number fail with +CMS ERROR code (1: unassigned number)."""
        with self._lock:
            self._faults.rejected[number] = code

    def refuse_delete(self, index: int) -> None:
        """AT+CMGD=index answers +CMS ERROR: 321 (a flaky SIM)."""
        with self._lock:
            self._faults.undeletable.add(index)

    def delivered(self) -> list[SentPdu]:
        """Accepted sends only (the ones that reached the network)."""
        with self._lock:
            return [s for s in self.sent if s.error is None]

    # -- serial loop --------------------------------------------------------------------------------

    def _emit(self, text: str) -> None:
        if self._serial is not None:
            with self._write_lock:
                self._serial.write(text.encode("ascii"))

    def _serve(self) -> None:
        assert self._serial is not None
        buf = bytearray()
        while not self._stop.is_set():
            try:
                buf.extend(self._serial.read(max(1, self._serial.in_waiting)))
            except (serial.SerialException, OSError):
                return
            while b"\r" in buf:
                cut = buf.index(b"\r")
                line = bytes(buf[:cut]).decode("ascii", errors="replace").strip()
                del buf[: cut + 1]
                if line:
                    if self._echo:
                        self._emit(line + "\r")
                    self._handle(line, buf)

    def _handle(self, line: str, buf: bytearray) -> None:
        cmd = line.upper()
        if cmd.startswith("AT+CMGS="):
            self._cmgs(int(cmd[8:]) if cmd[8:].isdigit() else -1, buf)
            return
        reply = self._answer(cmd)
        self._emit("\r\n" + "".join(f"{r}\r\n" for r in reply))

    def _answer(self, cmd: str) -> list[str]:
        if cmd in ("AT", "ATZ"):
            return ["OK"]
        if cmd in ("ATE0", "ATE1"):
            self._echo = cmd == "ATE1"
            return ["OK"]
        if cmd.startswith("AT+CMEE="):
            return ["OK"]
        if cmd in ("AT+CMGF=0", "AT+CMGF=1"):
            self._pdu_mode = cmd.endswith("0")
            return ["OK"]
        if cmd == "AT+CREG?":
            return [f"+CREG: 0,{self.registration}", "OK"]
        if cmd == "AT+CSQ":
            return [f"+CSQ: {self.rssi},99", "OK"]
        if cmd.startswith("AT+CMGL="):
            return self._cmgl(int(cmd[8:]) if cmd[8:].isdigit() else -1)
        if cmd.startswith("AT+CMGD="):
            with self._lock:
                index = int(cmd[8:].split(",")[0])
                if index in self._faults.undeletable or self._store.pop(index, None) is None:
                    return ["+CMS ERROR: 321"]  # invalid memory index
                self.deleted.append(index)
            return ["OK"]
        return ["ERROR"]

    def _cmgl(self, stat: int) -> list[str]:
        if not self._pdu_mode:
            return ["+CMS ERROR: 302"]
        out = []
        with self._lock:
            for index, (st, hexpdu) in sorted(self._store.items()):
                if stat in (4, st):
                    tpdu_len = len(hexpdu) // 2 - 1 - int(hexpdu[:2], 16)
                    out += [f"+CMGL: {index},{st},,{tpdu_len}", hexpdu]
                    if st == 0:
                        self._store[index] = (1, hexpdu)  # listing marks unread messages read
        return [*out, "OK"]

    def _cmgs(self, length: int, buf: bytearray) -> None:
        if not self._pdu_mode:
            self._emit("\r\n+CMS ERROR: 302\r\n")
            return
        self._emit("\r\n> ")
        body = self._read_until_ctrl_z(buf)
        if body is None:  # ESC cancels, or stopped
            self._emit("\r\nOK\r\n")
            return
        record, reply = self._accept(length, body)
        with self._lock:
            self.sent.append(record)
        if self.log_path is not None:
            with self.log_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")
        if reply is not None:
            time.sleep(self.send_delay_s)
            self._emit(reply)

    def _read_until_ctrl_z(self, buf: bytearray) -> str | None:
        assert self._serial is not None
        while not self._stop.is_set():
            for i, b in enumerate(buf):
                if b in (0x1A, 0x1B):
                    body = bytes(buf[:i]).decode("ascii", errors="replace").strip()
                    del buf[: i + 1]
                    return body if b == 0x1A else None
            buf.extend(self._serial.read(max(1, self._serial.in_waiting)))
        return None

    def _accept(self, length: int, body: str) -> tuple[SentPdu, str | None]:
        """Validate like a modem, then apply injected faults; returns the record and the reply (None: hang)."""
        record = SentPdu(at=time.time(), mr=None, length=length, pdu=body)
        try:
            decoded = pdu.decode(body)
            smsc_len = int(body[:2], 16)
            if decoded.kind != "submit" or len(body) // 2 - 1 - smsc_len != length:
                raise pdu.PduError("length mismatch or not a SUBMIT")
        except (pdu.PduError, ValueError):
            record.error = 304  # invalid PDU mode parameter
            return record, "\r\n+CMS ERROR: 304\r\n"
        record.to, record.text = decoded.address, decoded.text
        if decoded.concat:
            record.concat = [decoded.concat.ref, decoded.concat.total, decoded.concat.seq]
        with self._lock:
            if self._faults.hang_sends:
                self._faults.hang_sends -= 1
                record.error = -1
                return record, None
            code = self._faults.send_errors.pop(0) if self._faults.send_errors else None
            code = self._faults.rejected.get(decoded.address, code)
            if code is None and self.registration not in (1, 5):
                code = 331  # no network service
            if code is not None:
                record.error = code
                return record, f"\r\n+CMS ERROR: {code}\r\n"
            self._mr = (self._mr + 1) % 256
            record.mr = self._mr
        return record, f"\r\n+CMGS: {record.mr}\r\n\r\nOK\r\n"


def read_log(path: Path) -> list[SentPdu]:
    """Every AT+CMGS recorded in a simulator log; `error is None` marks the ones the network accepted."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [SentPdu(**json.loads(line)) for line in fh if line.strip()]


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until interrupted: `python -m ews.devices.modem_sim --dir /tmp/modem`."""
    parser = argparse.ArgumentParser(description="GSM modem simulator on a socat pty pair")
    parser.add_argument("--dir", type=Path, required=True, help="folder for the pty links")
    parser.add_argument("--log", type=Path, help="JSONL file recording every PDU sent")
    args = parser.parse_args(argv)
    # SIGTERM must run the finally below, or the socat child outlives us holding the pty pair.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sim = ModemSimulator(args.dir, log_path=args.log)
    sim.start()
    try:
        print(sim.port, flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        sim.stop()


if __name__ == "__main__":
    raise SystemExit(main())
