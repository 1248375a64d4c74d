"""Shared test data for the feed tests: the Fengshan hazard points, recorded bodies, a sink and a clock."""

from __future__ import annotations

import time
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from edge.wire import Batch, Reading
from hub.feeds.base import Point

DATA = Path(__file__).parents[2] / "data" / "feeds"
# HELPERS.md example deployment.
FENGSHAN = (
    Point("fs-hp01", 24.6012, 112.5521),
    Point("fs-hp02", 24.5958, 112.5603),
    Point("fs-hp03", 24.5987, 112.5488),
)
# The poll time the recorded Open-Meteo bodies and the Yangshan CAP series were made for:
# 2024-06-16T02:20:00Z = 10:20 China Standard Time.
NOW = 1718504400.0


def body(name: str) -> bytes:
    return (DATA / name).read_bytes()


class Sink:
    """Collects published batches (the hub passes an MQTT publisher instead)."""

    def __init__(self) -> None:
        self.batches: list[Batch] = []

    def __call__(self, batch: Batch) -> None:
        self.batches.append(batch)

    def readings(self) -> list[Reading]:
        return [r for b in self.batches for r in b.readings]

    def health(self) -> list[float]:
        return [r.value for r in self.readings() if r.quantity == "feed_ok"]

    def clear(self) -> None:
        self.batches.clear()


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def levels(sink: Sink) -> dict[str, float]:
    return {r.sensor: r.value for r in sink.readings() if r.quantity == "warning_level"}


def serve_cap_index(
    server: HTTPServer,
    *,
    with_cancel: bool = False,
    bad_update: bool = False,
    orange_status: int = 200,
    delay_s: float = 0.0,
) -> None:
    """The Yangshan index (red Update, orange Alert; optionally the Cancel first) and its messages under
    /cap/; each message answers after `delay_s`."""
    server.clear()
    index = body("atom-index.xml").decode()
    if with_cancel:
        entry = (
            "<entry><id>c</id><updated>2024-06-16T16:00:00+08:00</updated>"
            '<link type="application/cap+xml" href="cap/cancel.xml"/></entry>'
        )
        index = index.replace("<entry>", entry + "<entry>", 1)
    server.expect_request("/cap/index.atom").respond_with_data(index, content_type="application/atom+xml")
    update = body("gd-yangshan-rainstorm-red-update.cap.xml")
    if bad_update:  # 'Z' instead of an offset: not CAP 1.2
        update = update.replace(b"<sent>2024-06-16T11:30:00+08:00", b"<sent>2024-06-16T03:30:00Z")
    orange = body("gd-yangshan-rainstorm-orange.cap.xml") if orange_status == 200 else b"busy"
    for path, data, status in [
        ("/cap/cap/red-update.xml", update, 200),
        ("/cap/cap/orange.xml", orange, orange_status),
        ("/cap/cap/cancel.xml", body("gd-yangshan-rainstorm-cancel.cap.xml"), 200),
    ]:

        def answer(_request: Request, data: bytes = data, status: int = status) -> Response:
            time.sleep(delay_s)
            return Response(data, status=status, content_type="application/cap+xml")

        server.expect_request(path).respond_with_handler(answer)
