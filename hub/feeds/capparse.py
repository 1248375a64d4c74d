"""Pure CAP 1.2 reading: alert, info blocks, areas, GB/T 35965.1 colour levels and point coverage."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element

from hub.feeds.base import FeedError
from hub.feeds.capschema import CAP12_NS, parse_cap_xml, validate_element

_NS = f"{{{CAP12_NS}}}"
# GB/T 35965.1 four colours (0 = none); the same numbers as hub.rules.model.Level.
# Chinese in simplified and traditional script (Taiwan and Hong Kong issuers write 紅/黃/藍).
COLOUR_WORDS = {
    4: (("红色", "紅色"), "red"),
    3: (("橙色",), "orange"),
    2: (("黄色", "黃色"), "yellow"),
    1: (("蓝色", "藍色"), "blue"),
}
# The profile maps colour to CAP severity: 红 Extreme, 橙 Severe, 黄 Moderate, 蓝 Minor.
SEVERITY_LEVEL = {"Extreme": 4, "Severe": 3, "Moderate": 2, "Minor": 1}
LIFTED_WORDS = ("解除",)  # "解除暴雨黄色预警信号": some issuers lift a signal with a new Alert message
# GB/T 35965.1 identifier: 14-digit issuing-unit code (6-digit division code first) "_" local issue time.
GB_IDENTIFIER = re.compile(r"^(?P<unit>\d{14})_(?P<time>\d{14})$")


@dataclass(frozen=True, slots=True)
class CapArea:
    desc: str
    polygons: tuple[tuple[tuple[float, float], ...], ...]  # (lat, lon) rings
    circles: tuple[tuple[float, float, float], ...]  # lat, lon, radius km
    geocodes: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class CapInfo:
    language: str
    event: str
    urgency: str
    severity: str
    certainty: str
    effective: float | None
    onset: float | None
    expires: float | None
    sender_name: str
    headline: str
    description: str
    instruction: str
    event_codes: tuple[tuple[str, str], ...]
    parameters: tuple[tuple[str, str], ...]
    areas: tuple[CapArea, ...]
    level: int  # 0–4 from colour words, else severity
    lifted: bool


@dataclass(frozen=True, slots=True)
class CapAlert:
    identifier: str
    sender: str
    sent: float
    sent_text: str
    status: str
    msg_type: str
    scope: str
    references: tuple[tuple[str, str, str], ...]  # (sender, identifier, sent)
    infos: tuple[CapInfo, ...]
    problems: tuple[str, ...]  # non-fatal: a bad polygon is dropped, the message kept

    @property
    def key(self) -> tuple[str, str]:
        return (self.sender, self.identifier)


def cap_time(text: str | None) -> float | None:
    """CAP dateTime (always with an offset in 1.2; 'Z' tolerated) → epoch seconds."""
    if not text:
        return None
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return dt.timestamp()


def _text(el: Element, name: str) -> str:
    child = el.find(_NS + name)
    return (child.text or "").strip() if child is not None else ""


def _pairs(el: Element, name: str) -> tuple[tuple[str, str], ...]:
    return tuple((_text(c, "valueName"), _text(c, "value")) for c in el.findall(_NS + name))


def _area(el: Element, problems: list[str]) -> CapArea:
    polygons, circles = [], []
    for p in el.findall(_NS + "polygon"):
        try:
            ring = tuple((float(a), float(b)) for a, b in (pt.split(",") for pt in (p.text or "").split()))
            if len(ring) < 4:
                raise ValueError("fewer than 4 points")
            polygons.append(ring)
        except ValueError as exc:
            problems.append(f"area {_text(el, 'areaDesc')!r}: bad polygon dropped ({exc})")
    for c in el.findall(_NS + "circle"):
        try:
            centre, radius = (c.text or "").split()
            lat, lon = centre.split(",")
            circles.append((float(lat), float(lon), float(radius)))
        except ValueError as exc:
            problems.append(f"area {_text(el, 'areaDesc')!r}: bad circle {c.text!r} dropped ({exc})")
    return CapArea(_text(el, "areaDesc"), tuple(polygons), tuple(circles), _pairs(el, "geocode"))


def colour_level(texts: Sequence[str]) -> int:
    """The highest colour named in any of `texts` (Chinese or English), 0 if none."""
    for level, (zh, en) in COLOUR_WORDS.items():
        # English by whole word only: "hundred" or "declared" must not read as red.
        pattern = re.compile(rf"\b{en}\b", re.IGNORECASE)
        if any(any(w in t for w in zh) or pattern.search(t) for t in texts):
            return level
    return 0


def info_level(event: str, headline: str, severity: str, params: Sequence[tuple[str, str]]) -> int:
    # An explicit colour parameter (e.g. IMO "Color: Yellow", 12379 "预警级别: 橙色") wins, then the colour
    # in the event name ("暴雨橙色预警"), then the profile's severity mapping.
    explicit = [
        v for n, v in params if any(k in n.lower() for k in ("color", "colour", "level", "级别", "颜色"))
    ]
    return (
        colour_level(explicit)
        or colour_level([event, headline])
        or SEVERITY_LEVEL.get(severity, 0)
        or (1 if severity == "Unknown" else 0)
    )


def _info(el: Element, problems: list[str]) -> CapInfo:
    event, headline, severity = _text(el, "event"), _text(el, "headline"), _text(el, "severity")
    codes, params = _pairs(el, "eventCode"), _pairs(el, "parameter")
    times = {}
    for name in ("effective", "onset", "expires"):
        try:
            times[name] = cap_time(_text(el, name))
        except ValueError as exc:
            problems.append(f"info {event!r}: bad {name} ({exc})")
            times[name] = None
    return CapInfo(
        language=_text(el, "language") or "en-US",
        event=event,
        urgency=_text(el, "urgency"),
        severity=severity,
        certainty=_text(el, "certainty"),
        effective=times["effective"],
        onset=times["onset"],
        expires=times["expires"],
        sender_name=_text(el, "senderName"),
        headline=headline,
        description=_text(el, "description"),
        instruction=_text(el, "instruction"),
        event_codes=codes,
        parameters=params,
        areas=tuple(_area(a, problems) for a in el.findall(_NS + "area")),
        level=info_level(event, headline, severity, params + codes),
        lifted=any(w in event or w in headline for w in LIFTED_WORDS),
    )


def _references(text: str) -> tuple[tuple[str, str, str], ...]:
    refs = []
    for item in text.split():
        parts = item.split(",")
        if len(parts) == 3:
            refs.append((parts[0], parts[1], parts[2]))
    return tuple(refs)


def alert_from_element(root: Element, source: str = "") -> CapAlert:
    """A validated CAP element → CapAlert; FeedError("malformed") if required fields cannot be read."""
    problems: list[str] = []
    try:
        sent = cap_time(_text(root, "sent"))
    except ValueError as exc:
        raise FeedError("malformed", f"bad <sent>: {exc}", source) from None
    if sent is None:
        raise FeedError("malformed", "CAP alert without <sent>", source)
    return CapAlert(
        identifier=_text(root, "identifier"),
        sender=_text(root, "sender"),
        sent=sent,
        sent_text=_text(root, "sent"),
        status=_text(root, "status"),
        msg_type=_text(root, "msgType"),
        scope=_text(root, "scope"),
        references=_references(_text(root, "references")),
        infos=tuple(_info(i, problems) for i in root.findall(_NS + "info")),
        problems=tuple(problems),
    )


def parse_alert(xml: bytes, source: str = "", *, require_valid: bool = True) -> CapAlert:
    """Safely parse (no DTD, no entities, no network) and schema-check one CAP 1.2 message."""
    try:
        root = parse_cap_xml(xml)
    except ValueError as exc:
        raise FeedError("malformed", str(exc), source) from None
    errors = validate_element(root)
    if errors and require_valid:
        raise FeedError("schema", "; ".join(errors[:5]), source)
    if root.tag != _NS + "alert":
        raise FeedError("schema", f"root element {root.tag!r} is not a CAP 1.2 alert", source)
    return alert_from_element(root, source)


def pick_info(infos: Sequence[CapInfo], languages: Sequence[str]) -> CapInfo | None:
    """The info block in the first preferred language (prefix match, case-insensitive), else the first."""
    for lang in languages:
        for info in infos:
            if info.language.lower().startswith(lang.lower()):
                return info
    return infos[0] if infos else None


def _in_polygon(lat: float, lon: float, ring: Sequence[tuple[float, float]]) -> bool:
    inside = False
    for (y1, x1), (y2, x2) in zip(ring, [*ring[1:], *ring[:1]], strict=True):
        if (y1 > lat) != (y2 > lat) and lon < (x2 - x1) * (lat - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def area_covers(area: CapArea, lat: float, lon: float, geocodes: Sequence[str] = ()) -> bool:
    """True if the point lies in a polygon or circle of the area, or the area names one of its geocodes."""
    if any(_in_polygon(lat, lon, ring) for ring in area.polygons):
        return True
    if any(distance_km(lat, lon, clat, clon) <= r for clat, clon, r in area.circles):
        return True
    codes = {g.strip() for g in geocodes}
    return any(value.strip() in codes for _name, value in area.geocodes)


def gb_identifier(identifier: str) -> dict[str, str] | None:
    """The parts of a GB/T 35965.1 identifier, or None if it does not follow the profile."""
    m = GB_IDENTIFIER.match(identifier)
    if not m:
        return None
    return {"unit_code": m["unit"], "division_code": m["unit"][:6], "issued_local": m["time"]}


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()


def alert_to_json(alert: CapAlert) -> dict[str, Any]:
    """The normalised view `ews cap show` prints."""
    return {
        "identifier": alert.identifier,
        "sender": alert.sender,
        "sent": alert.sent_text,
        "status": alert.status,
        "msgType": alert.msg_type,
        "scope": alert.scope,
        "references": [",".join(r) for r in alert.references],
        "gb_t_35965": gb_identifier(alert.identifier),
        "problems": list(alert.problems),
        "info": [
            {
                "language": i.language,
                "event": i.event,
                "urgency": i.urgency,
                "severity": i.severity,
                "certainty": i.certainty,
                "level": i.level,
                "colour": ("none", "blue", "yellow", "orange", "red")[i.level],
                "lifted": i.lifted,
                "effective": _iso(i.effective),
                "onset": _iso(i.onset),
                "expires": _iso(i.expires),
                "headline": i.headline,
                "areas": [
                    {
                        "desc": a.desc,
                        "polygons": [[list(p) for p in ring] for ring in a.polygons],
                        "circles": [list(c) for c in a.circles],
                        "geocodes": [{"name": n, "value": v} for n, v in a.geocodes],
                    }
                    for a in i.areas
                ],
            }
            for i in alert.infos
        ],
    }
