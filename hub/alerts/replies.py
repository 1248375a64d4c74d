"""PURE parsing of inbound SMS replies: acknowledgements ("1", "收到") and evacuation reports ("撤离 12/15")."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

ACK_WORDS = {
    "1",
    "收到",
    "已收到",
    "确认",
    "已确认",
    "知道",
    "知道了",
    "好",
    "好的",
    "ok",
    "okay",
    "yes",
    "y",
}
EVAC_WORDS = ("已撤离", "撤离", "转移", "已转移")
_TOKEN = r"[A-Za-z][A-Za-z0-9_\-/]*"
# 撤离 [grid] done[/total] [户] [grid]: grid workers type what they type; accept the common shapes.
_EVAC = re.compile(
    rf"^(?:{'|'.join(EVAC_WORDS)})\s*(?P<g1>{_TOKEN})?\s*(?P<done>\d+)\s*户?\s*"
    rf"(?:(?:/|共|of)\s*(?P<total>\d+)\s*户?)?\s*(?P<g2>{_TOKEN})?$",
    re.IGNORECASE,
)
_ACK = re.compile(rf"^(?P<word>[^\sA-Za-z0-9]+|1|ok|okay|yes|y)\s*(?P<target>{_TOKEN})?$", re.IGNORECASE)
_PUNCT = "。，,.!！?？~～ \t\r\n"


@dataclass(frozen=True, slots=True)
class Reply:
    """What an SMS reply means. kind: ack, evac or unknown; error says why an evac report was refused."""

    kind: str
    target: str | None = None  # site, grid or alert id the sender named, if any
    evacuated: int | None = None
    total: int | None = None
    error: str = ""


def normalize(text: str) -> str:
    """Full-width digits and slashes to ASCII (phones send both), trimmed of punctuation."""
    return unicodedata.normalize("NFKC", text).strip(_PUNCT)


def parse_reply(text: str) -> Reply:
    t = normalize(text)
    if not t:
        return Reply("unknown", error="empty message")
    ev = _EVAC.match(t)
    if ev:
        done = int(ev["done"])
        total = int(ev["total"]) if ev["total"] else None
        target = ev["g1"] or ev["g2"]
        if total is not None and done > total:
            return Reply("unknown", target, done, total, error=f"evacuated {done} > total {total}")
        return Reply("evac", target, done, total)
    ack = _ACK.match(t)
    if ack and ack["word"].lower() in ACK_WORDS:
        return Reply("ack", ack["target"])
    return Reply("unknown", error=f"not an acknowledgement or evacuation report: {t[:40]!r}")
