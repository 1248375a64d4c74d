"""SMS through a GSM/4G modem on a serial port: PDU mode, UCS-2 Chinese, concatenation, inbound replies."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal

import serial
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.channels import pdu
from hub.channels.atmodem import (
    REG_HOME,
    REG_ROAMING,
    STAT_ALL,
    ATError,
    ATModem,
    ATTimeout,
)
from hub.channels.base import ChannelError, Notification
from hub.channels.sms_inbox import InboundSms, Inbox

log = logging.getLogger(__name__)

# +CMS ERROR codes (3GPP TS 27.005 §3.2.5, TS 24.011 cause values) that retrying will not fix: the number
# is wrong or barred, the PDU is malformed, or the SIM is missing/locked. Anything else (network out of
# order, congestion, 500 unknown, vendor codes) is treated as temporary, because a missed alert is worse.
_PERMANENT_CMS = {1, 8, 10, 21, 27, 28, 29, 30, 50, 96, 97, 98, 99, 111, 127}
_PERMANENT_CMS |= {301, 302, 303, 304, 305, 310, 311, 312, 313, 316, 317, 318, 330}
_INVALID_NUMBER_CMS = {1, 28, 96}
_MAX_PENDING_SENDS = 1000


class SmsModemConfig(BaseModel):
    """A GSM/4G modem (e.g. Quectel EC20/EC200, Air724UG) answering AT commands on a serial port."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["sms_modem"] = Field(description="Channel kind")
    port: str = Field(description="Serial device or pyserial URL, e.g. /dev/ttyUSB2")
    baudrate: int = Field(default=115200, description="Serial speed")
    smsc: str | None = Field(
        default=None, description="Service centre number; None uses the one stored on the SIM"
    )
    validity_hours: float = Field(
        default=24.0, gt=0, le=24 * 7 * 63, description="How long the network keeps trying"
    )
    status_report: bool = Field(default=False, description="Request delivery reports (TP-SRR)")
    min_rssi: int = Field(default=2, ge=0, le=31, description="AT+CSQ rssi below this counts as no signal")
    send_timeout_s: float = Field(
        default=60.0, gt=0, description="Wait for +CMGS after the PDU (networks are slow)"
    )
    concat_wait_s: float = Field(
        default=600.0,
        gt=0,
        description="Inbound concatenated parts missing this long are delivered as received",
    )

    @field_validator("smsc")
    @classmethod
    def _smsc_is_a_number(cls, value: str | None) -> str | None:
        return None if value is None else pdu.normalize_number(value)

    def build(self) -> SmsModemChannel:
        return SmsModemChannel(self)


@dataclass
class _Progress:
    """Parts of one message already accepted, so a retry resumes instead of re-sending part 1."""

    parts: list[pdu.EncodedPdu]
    mrs: list[int] = field(default_factory=list)


class SmsModemChannel:
    """send() for the dispatcher's worker thread, poll_inbound() for its reader; both share one lock."""

    def __init__(self, config: SmsModemConfig) -> None:
        self.config = config
        self._modem: ATModem | None = None
        self._lock = threading.Lock()
        self._down: str | None = None
        self._ref = int(time.time()) % 256  # concatenation reference; differs across restarts
        self._progress: OrderedDict[str, _Progress] = OrderedDict()
        self.inbox = Inbox(config.port, config.concat_wait_s)

    # -- connection and health ---------------------------------------------------------------------

    def _connect(self) -> ATModem:
        if self._modem is None:
            modem = ATModem.open(self.config.port, baudrate=self.config.baudrate)
            try:
                modem.init()
            except Exception:
                modem.close()
                raise
            self._modem = modem
        return self._modem

    def _drop(self) -> None:
        if self._modem is not None:
            try:
                self._modem.close()
            except (OSError, serial.SerialException):
                pass
            self._modem = None

    def _fail(self, reason: str, *, recoverable: bool) -> ChannelError:
        """Log once per failure episode, not once per message."""
        if self._down != reason:
            log.warning("sms modem down port=%s error=%s", self.config.port, reason)
            self._down = reason
        return ChannelError(f"sms modem {self.config.port}: {reason}", recoverable=recoverable)

    def _up(self) -> None:
        if self._down is not None:
            log.info("sms modem up port=%s", self.config.port)
            self._down = None

    def _ready(self) -> ATModem:
        """Open the port if needed and check registration and signal; raise a recoverable error if not."""
        try:
            modem = self._connect()
            stat = modem.registration()
            if stat not in (REG_HOME, REG_ROAMING):
                raise self._fail(f"not registered on the network (+CREG stat {stat})", recoverable=True)
            rssi, _ = modem.signal()
            if rssi == 99 or rssi < self.config.min_rssi:
                raise self._fail(f"no usable signal (+CSQ rssi {rssi})", recoverable=True)
            return modem
        except (serial.SerialException, OSError, ATError) as exc:
            self._drop()
            raise self._fail(f"modem not answering: {exc}", recoverable=True) from exc

    def status(self) -> dict[str, int]:
        """Registration state and rssi, for the gateway health view; raises a recoverable error if unreachable."""
        with self._lock:
            try:
                modem = self._connect()
                return {"registration": modem.registration(), "rssi": modem.signal()[0]}
            except (serial.SerialException, OSError, ATError) as exc:
                self._drop()
                raise self._fail(f"modem not answering: {exc}", recoverable=True) from exc

    def close(self) -> None:
        with self._lock:
            self._drop()

    # -- sending -------------------------------------------------------------------------------------

    def send(self, n: Notification) -> str:
        try:
            number = pdu.normalize_number(n.recipient)
        except pdu.PduError as exc:
            raise ChannelError(f"sms modem: {exc} (alert {n.alert_id})", recoverable=False) from exc
        key = f"{n.alert_id}|{number}|{hashlib.sha1(n.text.encode()).hexdigest()}"
        with self._lock:
            progress = self._progress.get(key) or self._new_progress(key, number, n.text)
            modem = self._ready()
            for part in progress.parts[len(progress.mrs) :]:
                progress.mrs.append(self._send_part(modem, number, part))
            del self._progress[key]
            self._up()
        log.info(
            "sms sent to=%s alert=%s parts=%d mr=%s", number, n.alert_id, len(progress.parts), progress.mrs
        )
        return f"sms_modem:{number}:mr={','.join(map(str, progress.mrs))}"

    def _new_progress(self, key: str, number: str, text: str) -> _Progress:
        self._ref = (self._ref + 1) % 256
        try:
            parts = pdu.encode_submit(
                number,
                text,
                ref=self._ref,
                validity_s=self.config.validity_hours * 3600,
                status_report=self.config.status_report,
                smsc=self.config.smsc,
            )
        except pdu.PduError as exc:
            raise ChannelError(f"sms modem: cannot encode message: {exc}", recoverable=False) from exc
        self._progress[key] = progress = _Progress(parts)
        while len(self._progress) > _MAX_PENDING_SENDS:
            self._progress.popitem(last=False)
        return progress

    def _send_part(self, modem: ATModem, number: str, part: pdu.EncodedPdu) -> int:
        try:
            return modem.send_pdu(part, timeout=self.config.send_timeout_s)
        except ATTimeout as exc:
            # The part may or may not have left; reopen the port and let the dispatcher retry.
            self._drop()
            raise self._fail(f"no answer to AT+CMGS ({exc})", recoverable=True) from exc
        except ATError as exc:
            if exc.code in _INVALID_NUMBER_CMS:
                raise ChannelError(
                    f"sms to {number} rejected: invalid number ({exc})", recoverable=False
                ) from exc
            if exc.code in _PERMANENT_CMS:
                raise self._fail(f"send refused ({exc})", recoverable=False) from exc
            raise self._fail(f"send failed ({exc})", recoverable=True) from exc
        except (serial.SerialException, OSError) as exc:
            self._drop()
            raise self._fail(f"serial error: {exc}", recoverable=True) from exc

    # -- receiving -----------------------------------------------------------------------------------

    def poll_inbound(self) -> list[InboundSms]:
        """Received SMS, oldest first, each with its service-centre time and its SIM slots.

        They stay on the SIM until delete_inbound() is called for them, after they were handled: a
        reply the hub failed to act on (its disk full) is read again at the next poll, not lost.
        Delivery reports and undecodable PDUs are nobody's to handle: they are deleted here."""
        with self._lock:
            try:
                modem = self._connect()
                stored = modem.list_messages(STAT_ALL)
            except (serial.SerialException, OSError, ATError) as exc:
                self._drop()
                raise self._fail(f"reading inbound SMS failed: {exc}", recoverable=True) from exc
            messages, done = self.inbox.collect(stored, time.monotonic())
            self._delete(modem, done)
        messages.sort(key=lambda m: m.sent_at or 0.0)
        return messages

    def delete_inbound(self, messages: list[InboundSms]) -> list[InboundSms]:
        """Free the SIM slots of handled messages; returns those now gone (a refused slot keeps its message)."""
        with self._lock:  # a port that will not open raises: the messages are read again next poll
            gone = set(self._delete(self._connect(), [i for msg in messages for i in msg.slots]))
        return [msg for msg in messages if gone.issuperset(msg.slots)]

    def _delete(self, modem: ATModem, indices: list[int]) -> list[int]:
        """Free SIM slots; returns those freed. A slot that stays is read again at the next poll, and the
        reader must not act on it twice (hub/alerts/inbound.py remembers what it handled)."""
        freed: list[int] = []
        for index in indices:
            try:
                modem.delete(index)
                freed.append(index)
            except (ATError, serial.SerialException, OSError) as exc:
                log.warning(
                    "sms inbound delete failed port=%s index=%d error=%s", self.config.port, index, exc
                )
                if not isinstance(exc, ATError):  # the port is gone: reopen at the next call
                    self._drop()
                    break
        return freed
