"""Reads SMS replies from every channel that receives them (the GSM modem) into the dispatcher, on its own thread."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from hub.alerts.directory import mask_address
from hub.clocks import RESET_S, TOLERANCE_S

log = logging.getLogger(__name__)


# Messages handled but still on the SIM (it refused AT+CMGD): remembered so each is acted on once. A SIM
# holds a few dozen messages; the bound only matters if slots keep failing for days.
MAX_REMEMBERED = 4096


def reply_time(sent_at: float | None, read_at: float) -> tuple[float, str | None]:
    """When a reply was made: its service-centre time, never later than the hub read it.

    A "1" sent for yellow but read after orange came must not acknowledge orange. The SCTS comes from
    the network, but a hub whose clock is wrong (a Pi without RTC booting before NTP) or a PDU with a
    mangled zone can put it far off; then the read time is the better guess: (time, why it was used)."""
    if sent_at is None:
        return read_at, "no service-centre time"
    if sent_at > read_at + TOLERANCE_S:
        return read_at, f"service-centre time {sent_at - read_at:.0f}s ahead of the hub"
    if read_at - sent_at > RESET_S:  # a reset clock (2000-01-01), not a reply a year on the SIM
        return read_at, f"service-centre time {read_at - sent_at:.0f}s behind the hub"
    return min(sent_at, read_at), None


class InboundPoller:
    """Every `poll_s`, read each receiving channel's new messages and hand each one to `handle`.

    Replies are acknowledgements ("1", "收到") and grid workers' evacuation reports ("撤离 12/15"). A
    channel that cannot be read is logged once per outage; one odd message does not stop the others.
    The modem channel serializes this read with its sends on its own lock.

    A channel whose messages stay until deleted (the modem's SIM: it has delete_inbound) gets each one
    deleted only after `handle` returned; one `handle` raised on (state store full) is read again at
    the next poll. One handled but not deletable is remembered and not handled again."""

    def __init__(
        self,
        channels: Mapping[str, Any],
        handle: Callable[[str, str, float], object],
        clock: Callable[[], float],
        poll_s: float,
        stop: threading.Event,
    ) -> None:
        self.readers = [(n, c) for n, c in channels.items() if hasattr(c, "poll_inbound")]
        self.handle, self.clock, self.poll_s, self.stop = handle, clock, poll_s, stop
        self.thread: threading.Thread | None = None
        self.handled: OrderedDict[Hashable, None] = OrderedDict()
        self.counts = {"handled": 0, "failed": 0, "repeated": 0, "clock_fallback": 0}

    def start(self) -> None:
        if self.readers:
            self.thread = threading.Thread(target=self._run, name="inbound-sms", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        down: set[str] = set()
        while not self.stop.wait(self.poll_s):
            for name, chan in self.readers:
                try:
                    messages = chan.poll_inbound()
                except Exception as exc:  # modem away: log once per outage, keep polling
                    if name not in down:
                        down.add(name)
                        log.warning("inbound sms unavailable channel=%s error=%s", name, exc)
                    continue
                if name in down:
                    down.discard(name)
                    log.info("inbound sms back channel=%s", name)
                self.poll_once(name, chan, messages)

    def poll_once(self, name: str, chan: Any, messages: list[Any]) -> None:
        """Handle one poll's messages: (sender, text) tuples, or the modem's InboundSms."""
        keeps = hasattr(chan, "delete_inbound")
        done = []
        for msg in messages:
            sender, text, sent_at = msg[0], msg[1], getattr(msg, "sent_at", None)
            key = (name, sender, sent_at, text)
            if keeps and key in self.handled:
                self.counts["repeated"] += 1
                done.append(msg)  # try the delete again
                continue
            at, why = reply_time(sent_at, self.clock())
            if why is not None:
                self.counts["clock_fallback"] += 1
                log.warning("inbound sms timed by the hub clock channel=%s sender=%s reason=%s",
                            name, mask_address(sender), why)  # fmt: skip
            try:
                self.handle(sender, text, at)
            except Exception:  # one odd message must not stop reading the others; it stays on the SIM
                self.counts["failed"] += 1
                log.exception("inbound sms failed channel=%s sender=%s", name, mask_address(sender))
                continue
            self.counts["handled"] += 1
            if keeps:
                self.handled[key] = None
                done.append(msg)
        while len(self.handled) > MAX_REMEMBERED:
            self.handled.popitem(last=False)
        if not done:
            return
        try:
            gone = chan.delete_inbound(done)
        except Exception as exc:  # read again next poll, and recognised as handled
            log.warning("inbound sms delete failed channel=%s error=%s", name, exc)
            return
        for msg in gone:  # off the SIM for good: nothing left to recognise
            self.handled.pop((name, msg[0], getattr(msg, "sent_at", None), msg[1]), None)
