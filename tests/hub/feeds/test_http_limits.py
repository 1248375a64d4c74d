"""Bounded HTTP: one deadline for the whole request, a size cap read as it arrives, and stalled polls said."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from hub.feeds.base import FeedConfigBase, FeedError, ParseResult, Point, http_get
from hub.feeds.runner import FeedRunner
from tests.hub.feeds.helpers import FENGSHAN, NOW, Clock, Sink


def drip(_request: Request) -> Response:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):  # 40 bytes over 10 s; every read arrives well within the timeout
            time.sleep(0.25)
            yield b" "

    return Response(chunks(), content_type="application/json")


def test_a_dripping_body_times_out_at_the_deadline(threaded_server: HTTPServer) -> None:
    threaded_server.expect_request("/forecast").respond_with_handler(drip)
    url = threaded_server.url_for("/forecast")
    started = time.monotonic()
    with pytest.raises(FeedError) as exc:
        http_get(requests.Session(), url, timeout=1.0, now=NOW)
    assert time.monotonic() - started < 2.0  # not the 10 s the server would take
    assert exc.value.kind == "timeout" and exc.value.source == url


def test_a_huge_body_is_cut_off_at_max_bytes(threaded_server: HTTPServer) -> None:
    sent = []

    def endless(_request: Request) -> Response:
        def chunks() -> Iterator[bytes]:
            for _ in range(2000):  # up to 128 MB, no Content-Length
                sent.append(1)
                yield b"x" * 65536

        return Response(chunks(), content_type="application/json")

    threaded_server.expect_request("/big").respond_with_handler(endless)
    url = threaded_server.url_for("/big")
    with pytest.raises(FeedError) as exc:
        http_get(requests.Session(), url, timeout=10, now=NOW, max_bytes=1_000_000)
    assert exc.value.kind == "malformed" and exc.value.source == url
    assert "1000000" in str(exc.value)
    assert len(sent) < 200  # reading stopped near the cap, the server did not get to send it all


def test_a_declared_length_over_max_bytes_is_refused_before_reading(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * 2_000_000)
    with pytest.raises(FeedError, match="2000000 bytes exceeds 1000000") as exc:
        http_get(requests.Session(), httpserver.url_for("/big"), timeout=10, now=NOW, max_bytes=1_000_000)
    assert exc.value.kind == "malformed"


def test_an_error_status_is_reported_even_when_its_body_is_slow(threaded_server: HTTPServer) -> None:
    def slow_503(_request: Request) -> Response:
        def chunks() -> Iterator[bytes]:
            for _ in range(20):
                time.sleep(0.25)
                yield b"."

        return Response(chunks(), status=503, headers={"Retry-After": "60"})

    threaded_server.expect_request("/down").respond_with_handler(slow_503)
    with pytest.raises(FeedError) as exc:
        http_get(requests.Session(), threaded_server.url_for("/down"), timeout=1.0, now=NOW)
    assert (exc.value.kind, exc.value.retry_after) == ("server", 60)


class HangingFeed:
    """A feed whose poll hangs until released: a resolver or TLS stall that no request timeout covers."""

    def __init__(self) -> None:
        self.config = FeedConfigBase(name="hang", timeout_s=0.1)  # a healthy poll ends within 0.2 s
        self.release = threading.Event()
        self.entered = threading.Event()

    def poll(self, session: requests.Session, points: tuple[Point, ...], now: float) -> ParseResult:
        self.entered.set()
        self.release.wait(10)
        return ParseResult()


def test_a_poll_finding_the_previous_one_stalled_publishes_feed_ok_0(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink, feed = Sink(), HangingFeed()
    runner = FeedRunner([feed], FENGSHAN, sink, clock=Clock(NOW))
    stuck = threading.Thread(target=runner.poll, args=["hang"])
    with caplog.at_level(logging.INFO, logger="hub.feeds.runner"):
        stuck.start()
        assert feed.entered.wait(5)
        assert runner.poll("hang") is None  # just started: the running poll will report for both
        assert sink.health() == []
        time.sleep(0.3)  # now past max_poll_s
        runner.poll("hang")
        runner.poll("hang")
        assert sink.health() == [0.0, 0.0]
        assert runner.status["hang"].failures["stalled"] == 2
        feed.release.set()
        stuck.join(5)
    assert sink.health() == [0.0, 0.0, 1.0]
    msgs = [r.getMessage() for r in caplog.records]
    assert len([m for m in msgs if "feed stalled feed=hang" in m]) == 1
    assert any("feed stall ended feed=hang" in m for m in msgs)
    seqs = [r.seq for r in sink.readings()]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
