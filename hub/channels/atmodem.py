"""A small AT-command layer over pyserial for GSM/4G modems: registration, signal, PDU-mode send and read."""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from dataclasses import dataclass

import serial

from hub.channels.pdu import EncodedPdu

log = logging.getLogger(__name__)

_FINAL_OK = "OK"
_ERROR = re.compile(r"^(?:\+(CMS|CME) ERROR:\s*(.*)|(ERROR))$")
_CMGL = re.compile(r"^\+CMGL:\s*(\d+),\s*(\d+),(?:[^,]*,)?\s*(\d+)$")  # <alpha> is optional
_UNSOLICITED = ("+CMTI:", "+CDSI:", "+CMT:", "+CDS:", "RING", "+CREG:", "+CGREG:", "+CEREG:", "^", "+CIEV:")

# Registration states reported by +CREG (3GPP TS 27.007 §7.2).
REG_NOT_SEARCHING, REG_HOME, REG_SEARCHING, REG_DENIED, REG_UNKNOWN, REG_ROAMING = 0, 1, 2, 3, 4, 5
# AT+CMGL stat values in PDU mode.
STAT_UNREAD, STAT_READ, STAT_ALL = 0, 1, 4


class ATError(Exception):
    """The modem answered ERROR, +CMS ERROR or +CME ERROR to a command."""

    def __init__(self, command: str, kind: str, code: int | None, text: str = "") -> None:
        detail = f"{kind} {code}" if code is not None else f"{kind} {text}".strip()
        super().__init__(f"{command}: {detail}")
        self.command, self.kind, self.code = command, kind, code


class ATTimeout(ATError):
    """No final result code within the deadline (modem hung, cable pulled, or network slow)."""

    def __init__(self, command: str, waited_s: float) -> None:
        super().__init__(command, "TIMEOUT", None, f"after {waited_s:.1f}s")


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message in modem/SIM storage as listed by AT+CMGL in PDU mode."""

    index: int
    stat: int
    pdu: str


class ATModem:
    """Blocking, one command at a time. The caller serialises access (one modem, one thread at a time)."""

    def __init__(self, port: serial.SerialBase, *, name: str = "modem") -> None:
        self._port = port
        self._buf = bytearray()
        self.name = name
        self.unsolicited: deque[str] = deque(maxlen=100)

    @classmethod
    def open(cls, url: str, *, baudrate: int = 115200) -> ATModem:
        """Open a serial device (or any pyserial URL) with a short read timeout; raises serial.SerialException."""
        port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.05, write_timeout=5.0)
        return cls(port, name=url)

    def close(self) -> None:
        self._port.close()

    # -- line handling -------------------------------------------------------------------------------

    def _write(self, text: str) -> None:
        self._port.write(text.encode("ascii"))
        self._port.flush()

    def _fill(self, deadline: float, command: str, started: float) -> None:
        if time.monotonic() > deadline:
            raise ATTimeout(command, time.monotonic() - started)
        chunk = self._port.read(max(1, self._port.in_waiting))
        self._buf.extend(chunk)

    def _line(self, deadline: float, command: str, started: float) -> str:
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                raw = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                line = raw.decode("ascii", errors="replace").strip()
                if line:
                    return line
                continue
            self._fill(deadline, command, started)

    def _final(self, command: str, deadline: float, started: float) -> list[str]:
        """Collect response lines up to the final result code; raise ATError on an error result."""
        lines: list[str] = []
        while True:
            line = self._line(deadline, command, started)
            if line == command:  # echo (before ATE0 has taken effect)
                continue
            if line == _FINAL_OK:
                return lines
            err = _ERROR.match(line)
            if err:
                raise _as_error(command, err)
            if line.startswith(_UNSOLICITED) and not line.startswith(_expected_prefix(command)):
                self.unsolicited.append(line)
                continue
            lines.append(line)

    def command(self, command: str, *, timeout: float = 5.0) -> list[str]:
        """Send one AT command and return its information lines (without OK)."""
        started = time.monotonic()
        self._port.reset_input_buffer()  # drop late answers to an earlier, timed-out command
        self._buf.clear()
        self._write(command + "\r")
        return self._final(command, started + timeout, started)

    # -- commands -------------------------------------------------------------------------------------

    def init(self) -> None:
        """Attention, echo off, numeric error codes, PDU mode."""
        for cmd in ("AT", "ATE0", "AT+CMEE=1", "AT+CMGF=0"):
            self.command(cmd)

    def registration(self) -> int:
        """Network registration state from AT+CREG? (1 home, 5 roaming are registered)."""
        fields = self._numbers("AT+CREG?", "+CREG:")
        return fields[1] if len(fields) > 1 else fields[0]

    def signal(self) -> tuple[int, int]:
        """(rssi 0..31 or 99 unknown, ber) from AT+CSQ."""
        fields = self._numbers("AT+CSQ", "+CSQ:")
        if len(fields) < 2:
            raise ATError("AT+CSQ", "BADRESPONSE", None, f"{fields}")
        return fields[0], fields[1]

    def _numbers(self, command: str, prefix: str) -> list[int]:
        """The leading numeric fields of the response line starting with `prefix`."""
        for line in self.command(command):
            if line.startswith(prefix):
                out = []
                for field in line[len(prefix) :].split(","):
                    if not field.strip().isdigit():
                        break  # quoted LAC/cell id and later fields are not needed
                    out.append(int(field))
                if out:
                    return out
                raise ATError(command, "BADRESPONSE", None, line)
        raise ATError(command, "BADRESPONSE", None, f"no {prefix} line")

    def send_pdu(self, pdu: EncodedPdu, *, timeout: float = 60.0) -> int:
        """AT+CMGS=<len>, wait for the '>' prompt, send the PDU and Ctrl-Z; return the message reference."""
        command = f"AT+CMGS={pdu.tpdu_length}"
        started = time.monotonic()
        self._port.reset_input_buffer()
        self._buf.clear()
        self._write(command + "\r")
        self._prompt(command, started + 10.0, started)
        self._write(pdu.hex + "\x1a")
        for line in self._final(command, started + timeout, started):
            ref = line.removeprefix("+CMGS:").split(",")[0].strip()
            if line.startswith("+CMGS:") and ref.isdigit():
                return int(ref)
        raise ATError(command, "BADRESPONSE", None, "no +CMGS reference")

    def _prompt(self, command: str, deadline: float, started: float) -> None:
        """Wait for '> '; an error line instead of the prompt raises, a timeout cancels with ESC."""
        try:
            while True:
                while self._buf[:1] in (b"\r", b"\n"):
                    del self._buf[:1]
                if self._buf.startswith(b">"):
                    del self._buf[: 2 if self._buf.startswith(b"> ") else 1]
                    return
                nl = self._buf.find(b"\n")
                if nl >= 0:
                    line = bytes(self._buf[:nl]).decode("ascii", errors="replace").strip()
                    del self._buf[: nl + 1]
                    err = _ERROR.match(line)
                    if err:
                        raise _as_error(command, err)
                    if line.startswith(_UNSOLICITED):
                        self.unsolicited.append(line)
                    continue
                self._fill(deadline, command, started)
        except ATTimeout:
            self._write("\x1b")  # leave the text-entry state so the next command is understood
            raise

    def list_messages(self, stat: int = STAT_ALL) -> list[StoredMessage]:
        """AT+CMGL=<stat> in PDU mode: every stored message with its index and status."""
        command = f"AT+CMGL={stat}"
        lines = self.command(command, timeout=20.0)
        out: list[StoredMessage] = []
        header: re.Match[str] | None = None
        for line in lines:
            match = _CMGL.match(line)
            if match:
                header = match
            elif header is not None:
                out.append(StoredMessage(int(header.group(1)), int(header.group(2)), line))
                header = None
            else:
                log.warning("modem stray line modem=%s command=%s line=%r", self.name, command, line)
        return out

    def delete(self, index: int) -> None:
        self.command(f"AT+CMGD={index}")


def _expected_prefix(command: str) -> str:
    """'AT+CREG?' expects '+CREG:'; lines with that prefix are the answer, not unsolicited."""
    match = re.match(r"AT(\+[A-Z]+)", command)
    return match.group(1) + ":" if match else "\x00"


def _as_error(command: str, match: re.Match[str]) -> ATError:
    if match.group(3):
        return ATError(command, "ERROR", None)
    value = match.group(2).strip()
    return ATError(command, match.group(1), int(value) if value.isdigit() else None, value)
