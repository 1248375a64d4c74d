"""Official warnings as CAP 1.2: fetch an Atom/RSS index or one CAP URL, validate, track, level per site."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin
from xml.etree import ElementTree

import requests
from pydantic import Field

from hub.feeds.base import FeedConfigBase, FeedError, ParseResult, Point, http_get
from hub.feeds.capparse import CapAlert, parse_alert
from hub.feeds.capschema import CAP12_NS, parse_cap_xml
from hub.feeds.capstate import CapState, apply, site_levels

log = logging.getLogger(__name__)

ATOM = "{http://www.w3.org/2005/Atom}"
CAP_TAG = f"{{{CAP12_NS}}}alert"


class CapConfig(FeedConfigBase):
    """A CAP source: an Atom/RSS index of CAP messages, or one CAP message URL."""

    kind: Literal["cap"] = Field(description="Feed kind")
    url: str = Field(description="Index (Atom/RSS) or single CAP message URL")
    languages: list[str] = Field(
        default_factory=lambda: ["zh-CN", "zh"], description="Preferred info languages, first wins"
    )
    accept_status: list[str] = Field(
        default_factory=lambda: ["Actual"],
        description="CAP <status> values acted on (add Exercise for drills)",
    )
    site_geocodes: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Hazard point → geocodes covering it (e.g. county 441823, town codes) for geocode-only areas",
    )
    default_validity_s: float = Field(
        default=86400,
        gt=0,
        description="Validity of an info block without <expires>, from <effective> or <sent>",
    )
    require_valid: bool = Field(
        default=True, description="Reject messages that fail the OASIS CAP 1.2 schema"
    )
    max_messages: int = Field(
        default=100, ge=1, description="Most CAP messages fetched per poll (newest first)"
    )
    interval_s: float = Field(default=300, ge=10, description="Poll interval, seconds")
    poll_budget_s: float = Field(
        default=120,
        gt=0,
        description="Most time one poll spends fetching index and messages, seconds (the rest: next poll)",
    )

    def max_poll_s(self) -> float:
        return self.poll_budget_s + self.timeout_s  # the last read may overrun the budget by one timeout


@dataclass(frozen=True, slots=True)
class IndexEntry:
    url: str | None  # where to fetch the message
    version: str  # entry <updated>/<pubDate>, so a re-published URL is fetched again
    embedded: bytes | None = None  # a CAP alert carried inside the entry itself


def parse_index(body: bytes, base_url: str, source: str = "") -> list[IndexEntry] | None:
    """Pure: an Atom or RSS index → entries; None if the body is itself a CAP alert."""
    try:
        root = parse_cap_xml(body)
    except ValueError as exc:
        raise FeedError("malformed", str(exc), source) from None
    if root.tag == CAP_TAG:
        return None
    entries: list[IndexEntry] = []
    if root.tag == ATOM + "feed":
        for entry in root.iter(ATOM + "entry"):
            version = (entry.findtext(ATOM + "updated") or "").strip()
            embedded = next(entry.iter(CAP_TAG), None)
            if embedded is not None:
                entries.append(IndexEntry(None, version, ElementTree.tostring(embedded, encoding="utf-8")))
                continue
            links = entry.findall(ATOM + "link")
            # Prefer the link typed as CAP; NWS and MeteoAlarm mark it application/cap+xml.
            links.sort(key=lambda el: "cap" not in (el.get("type") or ""))
            if links and links[0].get("href"):
                entries.append(IndexEntry(urljoin(base_url, links[0].get("href", "")), version))
    elif root.tag == "rss":
        for item in root.iter("item"):
            link = (item.findtext("link") or "").strip()
            if link:
                entries.append(IndexEntry(urljoin(base_url, link), (item.findtext("pubDate") or "").strip()))
    else:
        raise FeedError("malformed", f"neither CAP nor Atom/RSS: root element {root.tag!r}", source)
    return entries


class CapFeed:
    """Holds the warning state between polls; each poll fetches only messages not seen before."""

    def __init__(self, config: CapConfig) -> None:
        self.config = config
        self.state = CapState()
        self._seen: set[tuple[str, str]] = set()  # (url, version) already folded into the state

    def _messages(
        self, session: requests.Session, now: float, result: ParseResult
    ) -> list[tuple[str, bytes, tuple[str, str] | None]]:
        cfg = self.config
        headers = {"Authorization": f"Bearer {key}"} if (key := cfg.api_key()) else None
        # One budget for the whole poll: 100 slow message fetches must not hold the feed for many minutes.
        deadline = time.monotonic() + cfg.poll_budget_s
        body = http_get(session, cfg.url, timeout=cfg.timeout_s, now=now, headers=headers, deadline=deadline)
        entries = parse_index(body, cfg.url, cfg.url)
        if entries is None:
            return [(cfg.url, body, None)]
        current = {(e.url or "", e.version) for e in entries}
        self._seen &= current  # forget what left the index, so memory stays bounded
        out: list[tuple[str, bytes, tuple[str, str] | None]] = []
        left_over = 0
        for i, entry in enumerate(entries[: cfg.max_messages]):
            mark = (entry.url or "", entry.version)
            if entry.embedded is not None:
                out.append((f"{cfg.url}#entry{i}", entry.embedded, None))
            elif entry.url and mark not in self._seen:
                if time.monotonic() >= deadline:
                    left_over += 1  # not marked seen: fetched on the next poll
                    continue
                try:
                    got = http_get(
                        session, entry.url, timeout=cfg.timeout_s, now=now, headers=headers, deadline=deadline
                    )
                    out.append((entry.url, got, mark))
                except FeedError as exc:
                    result.errors.append(exc)  # one message down does not hide the others
        if left_over:
            result.errors.append(
                FeedError(
                    "timeout",
                    f"poll budget {cfg.poll_budget_s:g} s spent; {left_over} message(s) left for next poll",
                    cfg.url,
                )
            )
        if len(entries) > cfg.max_messages:
            result.notes.append(f"index lists {len(entries)} messages; only {cfg.max_messages} fetched")
        return out

    def poll(self, session: requests.Session, points: tuple[Point, ...], now: float) -> ParseResult:
        cfg = self.config
        result = ParseResult()
        alerts: list[tuple[str, CapAlert, tuple[str, str] | None]] = []
        try:
            messages = self._messages(session, now, result)
        except FeedError as exc:
            # The source is down, but warnings already known stay in force until they expire or are
            # cancelled: keep stating their levels (with feed_ok 0) rather than going silent.
            result.errors.append(exc)
            messages = []
        for source, body, mark in messages:
            try:
                alerts.append((source, parse_alert(body, source, require_valid=cfg.require_valid), mark))
            except FeedError as exc:
                result.errors.append(exc)
        # Oldest first, so an Update or Cancel lands after the message it references.
        for source, alert, mark in sorted(alerts, key=lambda a: a[1].sent):
            outcome = apply(self.state, alert, now, cfg.accept_status)
            log.debug(
                "cap message feed=%s source=%s id=%s outcome=%s", cfg.name, source, alert.identifier, outcome
            )
            result.notes += [f"{source}: {p}" for p in alert.problems]
            if mark is not None:
                self._seen.add(mark)
        held = self.held(points, now)
        result.readings += held.readings
        result.events += held.events
        return result

    def held(self, points: tuple[Point, ...], now: float) -> ParseResult:
        """Levels per site from the warnings already known, at `now` (expiry applied); no request.

        The runner calls this while a Retry-After holds requests back, so known warnings keep being
        stated and one that expires meanwhile drops to 0 on time.
        """
        cfg = self.config
        readings, events = site_levels(
            self.state,
            cfg.select(points),
            cfg.site_geocodes,
            now,
            feed=cfg.name,
            languages=cfg.languages,
            default_validity_s=cfg.default_validity_s,
        )
        return ParseResult(readings=readings, events=events)
