"""Received SMS as the hub reads them off the SIM: PDUs decoded, concatenated parts joined, reports set aside."""

from __future__ import annotations

import logging
from typing import NamedTuple

from hub.channels import pdu
from hub.channels.atmodem import STAT_READ, STAT_UNREAD

log = logging.getLogger(__name__)


class InboundSms(NamedTuple):
    """One received SMS (concatenated parts joined). sent_at is the service centre's time stamp (SCTS),
    None if the PDU had none: a reply answers what stood when it was SENT, not when the hub read it."""

    sender: str
    text: str
    sent_at: float | None
    slots: tuple[int, ...]  # SIM indexes holding it, for delete_inbound()


class Inbox:
    """Joins one modem's stored messages into whole SMS; counts what it rejects. A message whose parts
    have not all arrived waits `wait_s` from when its first part was seen, then goes out as it is."""

    def __init__(self, port: str, wait_s: float) -> None:
        self.port, self.wait_s = port, wait_s
        self.rejected = 0
        self._first_seen: dict[tuple[str, int, int], float] = {}

    def collect(self, stored: list, now: float) -> tuple[list[InboundSms], list[int]]:
        """Decode received messages and join concatenated parts; returns messages and the indices of
        what is nobody's to handle (delivery reports, garbage), to delete now."""
        out: list[InboundSms] = []
        done: list[int] = []
        groups: dict[tuple[str, int, int], dict[int, tuple[int, pdu.SmsPdu]]] = {}
        for msg in stored:
            if msg.stat not in (STAT_UNREAD, STAT_READ):
                continue  # stored outgoing drafts are not ours
            try:
                decoded = pdu.decode(msg.pdu)
                if decoded.kind == "status":
                    log.info("sms delivery report to=%s mr=%s status=%s",
                             decoded.address, decoded.reference, decoded.status)  # fmt: skip
                    done.append(msg.index)
                    continue
                if decoded.kind != "deliver":
                    raise pdu.PduError(f"unexpected {decoded.kind} PDU in inbox")
            except pdu.PduError as exc:
                self.rejected += 1
                log.warning("sms inbound rejected port=%s index=%d error=%s pdu=%s",
                            self.port, msg.index, exc, msg.pdu)  # fmt: skip
                done.append(msg.index)
                continue
            if decoded.concat is None:
                out.append(InboundSms(decoded.address, decoded.text, decoded.timestamp, (msg.index,)))
            else:
                gkey = (decoded.address, decoded.concat.ref, decoded.concat.total)
                groups.setdefault(gkey, {})[decoded.concat.seq] = (msg.index, decoded)
        for gkey, parts in groups.items():
            first_seen = self._first_seen.setdefault(gkey, now)
            complete = len(parts) == gkey[2]
            if complete or now - first_seen >= self.wait_s:
                if not complete:
                    log.warning("sms inbound incomplete sender=%s parts=%d/%d", gkey[0], len(parts), gkey[2])
                ordered = [parts[s] for s in sorted(parts)]
                text = "".join(d.text for _, d in ordered)
                slots = tuple(i for i, _ in ordered)
                out.append(InboundSms(gkey[0], text, ordered[0][1].timestamp, slots))
                del self._first_seen[gkey]
        for gkey in set(self._first_seen) - set(groups):
            del self._first_seen[gkey]
        return out, done
