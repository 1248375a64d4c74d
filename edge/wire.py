"""The edge↔hub contract: the Reading, the batch codec and the MQTT topic scheme (docs/wire.md)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

WIRE_VERSION = 1
ROOT = "ews/v1"

# Quality flags. "good" is the default; "suspect" marks values the edge did not trust
# (clock in the future, sentinel values, a rain counter reset); "bad" is kept for the record
# but never fed to rules.
QUALITIES = ("good", "suspect", "bad")
# Where a reading came from: a field sensor, a forecast feed (has `issued`), an official
# warning feed, or the gateway's own health.
SOURCES = ("sensor", "forecast", "warning", "health")
# A gateway health quantity the hub acts on: seconds the gateway's clock was set by (+ forward; edge/clock.py).
CLOCK_STEP = "clock_step_s"


class WireError(ValueError):
    """A payload or topic that does not follow the wire contract; the message names what is wrong."""


class Reading(NamedTuple):
    """One value of one quantity from one sensor at one event time (UTC epoch seconds).

    A NamedTuple rather than a dataclass: the compiled rule engine reads a tuple's fields by index,
    a dataclass's through Python's attribute lookup, and those six lookups per reading were a quarter
    of its instructions (docs/performance.md). It is a tuple, so test for a single reading with
    isinstance(x, Reading) before treating x as a sequence of readings."""

    sensor: str
    quantity: str
    value: float
    time: float
    seq: int = 0
    quality: str = "good"
    source: str = "sensor"
    issued: float | None = None  # forecast issue time; `time` is then the valid time

    def to_row(self) -> list[Any]:
        row: list[Any] = [self.sensor, self.quantity, self.value, self.time, self.seq]
        if self.quality != "good" or self.source != "sensor" or self.issued is not None:
            row += [self.quality, self.source]
            if self.issued is not None:
                row.append(self.issued)
        return row


def to_ms(t: float) -> float:
    """Event time to the millisecond, the precision a reading has from the wire on. The store keeps
    nanoseconds, and a time read back from it (hub/history.py) must be the very float the live
    reading had: a reload rebuilds windows from stored readings plus those the engine holds, and a
    reading whose two copies differed in the last digits was counted twice (rain doubled)."""
    return round(t * 1000.0) / 1000.0


def reading_from_row(row: Any, where: str = "") -> Reading:
    """Decode one compact row; raise WireError naming `where` and the row index on bad input."""
    if not isinstance(row, list) or not 5 <= len(row) <= 8:
        raise WireError(f"{where}: a reading must be a list of 5 to 8 fields, got {row!r:.80}")
    sensor, quantity, value, time, seq = row[:5]
    if not isinstance(sensor, str) or not sensor or not isinstance(quantity, str) or not quantity:
        raise WireError(f"{where}: sensor and quantity must be non-empty strings, got {row[:2]!r:.80}")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise WireError(
            f"{where}: sensor {sensor} {quantity}: value must be a finite number, got {value!r:.40}"
        )
    if isinstance(time, bool) or not isinstance(time, int | float) or not math.isfinite(time):
        raise WireError(f"{where}: sensor {sensor}: time must be epoch seconds, got {time!r:.40}")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise WireError(f"{where}: sensor {sensor}: seq must be a non-negative integer, got {seq!r:.40}")
    quality, source, issued = "good", "sensor", None
    if len(row) >= 7:
        quality, source = row[5], row[6]
        if quality not in QUALITIES or source not in SOURCES:
            raise WireError(f"{where}: sensor {sensor}: unknown quality/source {quality!r}/{source!r}")
    if len(row) == 8:
        issued = row[7]
        if isinstance(issued, bool) or not isinstance(issued, int | float):
            raise WireError(f"{where}: sensor {sensor}: issued must be epoch seconds, got {issued!r:.40}")
        issued = to_ms(issued)
    elif len(row) == 6:
        raise WireError(f"{where}: sensor {sensor}: quality without source")
    return Reading(sensor, quantity, float(value), to_ms(time), seq, quality, source, issued)


@dataclass(frozen=True, slots=True)
class Batch:
    """Readings from one origin (a gateway or a feed), published as one MQTT message."""

    origin: str
    readings: tuple[Reading, ...]
    sent: float = 0.0  # sender's clock when published (latency; a clock off from the hub's)
    # The outbox the sequence numbers count in: a new one (a new SD card, a reinstalled gateway) starts
    # again from 1, and the hub must not take those for readings it has already seen. 0: not stated.
    stream: int = 0


def encode_batch(batch: Batch) -> bytes:
    doc: dict[str, Any] = {"v": WIRE_VERSION, "o": batch.origin, "t": batch.sent}
    if batch.stream:
        doc["s"] = batch.stream
    doc["r"] = [r.to_row() for r in batch.readings]
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def decode_batch(payload: bytes, where: str = "") -> tuple[Batch, list[WireError]]:
    """Decode a batch in one pass. A bad envelope raises; bad rows are returned as errors, good ones kept."""
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"{where}: not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise WireError(f"{where}: a batch must be a JSON object")
    if doc.get("v") != WIRE_VERSION:
        raise WireError(f"{where}: unsupported wire version {doc.get('v')!r}, expected {WIRE_VERSION}")
    origin, rows, sent = doc.get("o"), doc.get("r"), doc.get("t", 0.0)
    if not isinstance(origin, str) or not origin:
        raise WireError(f"{where}: batch origin 'o' must be a non-empty string")
    if not isinstance(rows, list):
        raise WireError(f"{where}: batch field 'r' must be a list")
    if isinstance(sent, bool) or not isinstance(sent, int | float):
        raise WireError(f"{where}: batch field 't' must be a number")
    stream = doc.get("s", 0)
    if isinstance(stream, bool) or not isinstance(stream, int) or not 0 <= stream < 2**63:
        raise WireError(f"{where}: batch field 's' must be a non-negative 63-bit integer")
    readings: list[Reading] = []
    errors: list[WireError] = []
    for i, row in enumerate(rows):
        try:
            readings.append(reading_from_row(row, f"{where} row {i}"))
        except WireError as exc:
            errors.append(exc)
    return Batch(origin, tuple(readings), float(sent), stream), errors


# ---- topics ---------------------------------------------------------------------------------
# ews/v1/gw/{gateway}/readings   batches from a gateway (QoS 1)
# ews/v1/gw/{gateway}/status     retained JSON status; the last will sets it to offline
# ews/v1/gw/{gateway}/cmd/{verb} commands to one gateway (read-only for it)
# ews/v1/gw/{gateway}/ack        the gateway's acknowledgements of commands
# ews/v1/feed/{feed}/readings    batches from the hub's forecast and warning feeds
# ews/v1/alert/{site}/{rule}     alert level changes, published by the hub only
# ews/v1/cmd/{verb}              operator commands (ack, silence, test, evac, drone-go)
# ews/v1/cap/{identifier}        CAP 1.2 XML issued by the hub

_NAME_FORBIDDEN = set("/+#\0")


def check_name(name: str, what: str = "name") -> str:
    """A topic segment: non-empty, no MQTT wildcards or separators."""
    if not name or any(c in _NAME_FORBIDDEN for c in name) or name != name.strip():
        raise WireError(f"invalid {what} {name!r} for a topic segment")
    return name


def readings_topic(gateway: str) -> str:
    return f"{ROOT}/gw/{check_name(gateway, 'gateway')}/readings"


def status_topic(gateway: str) -> str:
    return f"{ROOT}/gw/{check_name(gateway, 'gateway')}/status"


def gateway_cmd_topic(gateway: str, verb: str) -> str:
    return f"{ROOT}/gw/{check_name(gateway, 'gateway')}/cmd/{check_name(verb, 'verb')}"


def gateway_ack_topic(gateway: str) -> str:
    return f"{ROOT}/gw/{check_name(gateway, 'gateway')}/ack"


def feed_topic(feed: str) -> str:
    return f"{ROOT}/feed/{check_name(feed, 'feed')}/readings"


def alert_topic(site: str, rule: str) -> str:
    return f"{ROOT}/alert/{check_name(site, 'site')}/{check_name(rule, 'rule')}"


def command_topic(verb: str) -> str:
    return f"{ROOT}/cmd/{check_name(verb, 'verb')}"


def cap_topic(identifier: str) -> str:
    return f"{ROOT}/cap/{check_name(identifier, 'identifier')}"


INGEST_SUBSCRIPTIONS = (f"{ROOT}/gw/+/readings", f"{ROOT}/feed/+/readings")


def origin_of_topic(topic: str) -> str:
    """The gateway or feed a readings topic belongs to; WireError if it is not a readings topic."""
    parts = topic.split("/")
    if (
        len(parts) == 5
        and parts[0] == "ews"
        and parts[1] == "v1"
        and parts[2] in ("gw", "feed")
        and parts[4] == "readings"
    ):
        return parts[3]
    raise WireError(f"topic {topic!r} is not a readings topic")
