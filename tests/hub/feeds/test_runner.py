"""The feed runner against a real HTTP server on loopback (pytest-httpserver) serving recorded bodies.

Covers the CAP index flow (Alert → Update → Cancel), the failure cases (timeout, 429 with Retry-After,
5xx, malformed body, schema-invalid CAP), feed health readings, log-once, and the APScheduler job.
The clock is passed in so valid times in the recorded bodies line up; nothing else is faked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from hub.feeds.base import FeedEvent, parse_retry_after
from hub.feeds.cap import CapConfig, CapFeed
from hub.feeds.capparse import parse_alert
from hub.feeds.openmeteo import ForecastConfig, ForecastFeed
from hub.feeds.runner import FeedRunner
from tests.hub.feeds.helpers import FENGSHAN, NOW, Clock, Sink, body, levels, serve_cap_index

RED_SENT = parse_alert(body("gd-yangshan-rainstorm-red-update.cap.xml")).sent


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def runner_for(sink: Sink) -> Iterator:
    made: list[FeedRunner] = []

    def make(feed, clock: Clock) -> FeedRunner:
        r = FeedRunner([feed], FENGSHAN, sink, clock=clock)
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()


def test_cap_index_alert_update_cancel(httpserver: HTTPServer, sink: Sink, runner_for) -> None:
    serve_cap_index(httpserver)
    clock = Clock(RED_SENT + 60)
    feed = CapFeed(CapConfig(kind="cap", name="gd-cap", url=httpserver.url_for("/cap/index.atom")))
    runner = runner_for(feed, clock)
    events: list[FeedEvent] = []
    runner._on_event = events.append
    result = runner.poll("gd-cap")
    assert result is not None
    assert levels(sink) == {"gd-cap@fs-hp01": 3.0, "gd-cap@fs-hp02": 4.0, "gd-cap@fs-hp03": 3.0}
    assert sink.health() == [1.0]
    assert {(e.site, e.level) for e in events} == {("fs-hp01", 3), ("fs-hp02", 4), ("fs-hp03", 3)}
    assert {r.sensor: r.source for r in sink.readings()}["gd-cap"] == "health"
    fetched = len(httpserver.log)
    assert fetched == 3  # index + two messages

    # Next poll: only the index is fetched again; levels are re-stated.
    sink.clear()
    clock.t += 300
    runner.poll("gd-cap")
    assert len(httpserver.log) == fetched + 1
    assert levels(sink)["gd-cap@fs-hp02"] == 4.0

    serve_cap_index(httpserver, with_cancel=True)
    sink.clear()
    clock.t = parse_alert(body("gd-yangshan-rainstorm-cancel.cap.xml")).sent + 60
    runner.poll("gd-cap")
    assert set(levels(sink).values()) == {0.0}
    assert [e.action for e in events[-3:]] == ["cancelled"] * 3
    # The batch seq numbers rise across polls.
    seqs = [r.seq for b in sink.batches for r in b.readings]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_schema_invalid_cap_counts_logs_once_and_marks_feed_unhealthy(
    httpserver: HTTPServer, sink: Sink, runner_for, caplog: pytest.LogCaptureFixture
) -> None:
    serve_cap_index(httpserver, bad_update=True)
    clock = Clock(RED_SENT + 60)
    feed = CapFeed(CapConfig(kind="cap", name="gd-cap", url=httpserver.url_for("/cap/index.atom")))
    runner = runner_for(feed, clock)
    with caplog.at_level(logging.WARNING, logger="hub.feeds.runner"):
        runner.poll("gd-cap")
        clock.t += 300
        runner.poll("gd-cap")
    # The valid orange message still counts; the invalid update is rejected, not half-applied.
    assert levels(sink)["gd-cap@fs-hp02"] == 3.0
    assert sink.health() == [0.0, 0.0]
    st = runner.status["gd-cap"]
    assert st.failures["schema"] == 2
    warnings = [r.getMessage() for r in caplog.records if "kind=schema" in r.getMessage()]
    assert len(warnings) == 1
    assert "red-update.xml" in warnings[0] and "cap:sent" in warnings[0]


def forecast_feed(server: HTTPServer, **kw) -> ForecastFeed:
    return ForecastFeed(
        ForecastConfig(
            kind="openmeteo",
            name="om",
            base_url=server.url_for("/v1/forecast"),
            sites=["fs-hp01", "fs-hp02"],
            **kw,
        )
    )


def test_forecast_over_http(httpserver: HTTPServer, sink: Sink, runner_for) -> None:
    def open_meteo(request: Request) -> Response:
        # Answer only the request shape the real API needs: one call, all points, unix time.
        args = request.args
        if (args.get("latitude"), args.get("hourly"), args.get("timeformat")) != (
            "24.6012,24.5958",
            "precipitation,precipitation_probability",
            "unixtime",
        ):
            return Response('{"error":true,"reason":"unexpected query"}', status=400)
        return Response(body("openmeteo-forecast-2pts.json"), content_type="application/json")

    httpserver.expect_request("/v1/forecast").respond_with_handler(open_meteo)
    runner = runner_for(forecast_feed(httpserver), Clock(NOW))
    runner.poll("om")
    rain = [r for r in sink.readings() if r.quantity == "rain_mm"]
    assert len(rain) == 22 and {r.sensor for r in rain} == {"om@fs-hp01", "om@fs-hp02"}
    assert sink.health() == [1.0]
    assert sink.batches[0].origin == "om"


def test_server_error_logged_once_then_recovery(
    httpserver: HTTPServer, sink: Sink, runner_for, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request("/v1/forecast").respond_with_data("upstream down", status=503)
    clock = Clock(NOW)
    runner = runner_for(forecast_feed(httpserver), clock)
    with caplog.at_level(logging.INFO, logger="hub.feeds.runner"):
        for _ in range(3):
            assert runner.poll("om") is None
            clock.t += 60
        httpserver.clear()
        httpserver.expect_request("/v1/forecast").respond_with_data(body("openmeteo-forecast-2pts.json"))
        assert runner.poll("om") is not None
    msgs = [r.getMessage() for r in caplog.records]
    assert len([m for m in msgs if "feed failed" in m]) == 1
    assert "kind=server" in next(m for m in msgs if "feed failed" in m)
    assert any("feed recovered feed=om after_failures=3" in m for m in msgs)
    assert sink.health() == [0.0, 0.0, 0.0, 1.0]
    assert runner.status["om"].failures["server"] == 3


def test_rate_limited_honours_retry_after(httpserver: HTTPServer, sink: Sink, runner_for) -> None:
    httpserver.expect_request("/v1/forecast").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "120"}
    )
    clock = Clock(NOW)
    runner = runner_for(forecast_feed(httpserver), clock)
    runner.poll("om")
    assert runner.status["om"].failures["rate_limited"] == 1
    clock.t += 60
    runner.poll("om")  # inside the Retry-After window: no request, but health is still reported
    assert len(httpserver.log) == 1
    assert sink.health() == [0.0, 0.0]
    httpserver.clear()
    httpserver.expect_request("/v1/forecast").respond_with_data(body("openmeteo-forecast-2pts.json"))
    clock.t += 61
    assert runner.poll("om") is not None
    assert sink.health()[-1] == 1.0


def test_timeout(httpserver: HTTPServer, sink: Sink, runner_for) -> None:
    def slow(_request: Request) -> Response:
        time.sleep(1.0)
        return Response(body("openmeteo-forecast-2pts.json"))

    httpserver.expect_request("/v1/forecast").respond_with_handler(slow)
    runner = runner_for(forecast_feed(httpserver, timeout_s=0.2), Clock(NOW))
    assert runner.poll("om") is None
    assert runner.status["om"].failures["timeout"] == 1
    assert sink.health() == [0.0]


def test_malformed_body(httpserver: HTTPServer, sink: Sink, runner_for) -> None:
    httpserver.expect_request("/v1/forecast").respond_with_data(
        '{"latitude": 24.6, "hourl', content_type="application/json"
    )
    runner = runner_for(forecast_feed(httpserver), Clock(NOW))
    assert runner.poll("om") is None
    st = runner.status["om"]
    assert st.failures["malformed"] == 1 and "not JSON" in st.last_error
    assert sink.health() == [0.0]


def test_retry_after_forms() -> None:
    assert parse_retry_after("120", 0) == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412420.0) == 60
    assert parse_retry_after("soon", 0) is None and parse_retry_after(None, 0) is None


def test_scheduler_runs_first_poll_now_with_no_overlap_and_coalescing(
    httpserver: HTTPServer, sink: Sink, runner_for
) -> None:
    httpserver.expect_request("/v1/forecast").respond_with_data(body("openmeteo-forecast-2pts.json"))
    runner = runner_for(forecast_feed(httpserver, interval_s=3600, jitter_s=5), Clock(NOW))
    runner.start()
    deadline = time.monotonic() + 10
    while not sink.health() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sink.health() == [1.0]
    job = runner.scheduler.get_job("feed:om")
    assert job.max_instances == 1 and job.coalesce is True
    assert job.trigger.interval.total_seconds() == 3600 and job.trigger.jitter == 5
    runner.stop()


def test_cap_source_down_keeps_known_warnings_in_force(
    httpserver: HTTPServer, sink: Sink, runner_for
) -> None:
    serve_cap_index(httpserver)
    clock = Clock(RED_SENT + 60)
    feed = CapFeed(CapConfig(kind="cap", name="gd-cap", url=httpserver.url_for("/cap/index.atom")))
    runner = runner_for(feed, clock)
    runner.poll("gd-cap")
    httpserver.clear()
    httpserver.expect_request("/cap/index.atom").respond_with_data(
        "maintenance", status=503, headers={"Retry-After": "30"}
    )
    sink.clear()
    clock.t += 300
    runner.poll("gd-cap")
    # Still red at fs-hp02 (the warning has not expired), but the feed reports itself unhealthy.
    assert levels(sink)["gd-cap@fs-hp02"] == 4.0
    assert sink.health() == [0.0]
    assert runner.status["gd-cap"].failures["server"] == 1
    assert runner.status["gd-cap"].not_before == clock.t + 30
