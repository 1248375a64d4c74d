"""Reads SMS replies from every channel that receives them (the GSM modem) into the dispatcher, on its own thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from hub.alerts.directory import mask_address

log = logging.getLogger(__name__)


class InboundPoller:
    """Every `poll_s`, read each receiving channel's new messages and hand each one to `handle`.

    Replies are acknowledgements ("1", "收到") and grid workers' evacuation reports ("撤离 12/15"). A
    channel that cannot be read is logged once per outage; one odd message does not stop the others.
    The modem channel serializes this read with its sends on its own lock."""

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
                for sender, text in messages:
                    try:
                        self.handle(sender, text, self.clock())
                    except Exception:  # one odd message must not stop reading the others
                        log.exception("inbound sms failed channel=%s sender=%s", name, mask_address(sender))
