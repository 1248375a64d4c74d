"""The CAP feed in the runner over real HTTP: late originals, Retry-After backoff and the per-poll budget."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from hub.feeds.base import FeedEvent
from hub.feeds.cap import CapConfig, CapFeed
from hub.feeds.capparse import parse_alert
from hub.feeds.runner import FeedRunner
from tests.hub.feeds.helpers import FENGSHAN, Clock, Sink, body, levels, serve_cap_index

ORANGE = parse_alert(body("gd-yangshan-rainstorm-orange.cap.xml"))
RED_SENT = parse_alert(body("gd-yangshan-rainstorm-red-update.cap.xml")).sent
CANCEL_SENT = parse_alert(body("gd-yangshan-rainstorm-cancel.cap.xml")).sent


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def made() -> Iterator[list[FeedRunner]]:
    runners: list[FeedRunner] = []
    yield runners
    for r in runners:
        r.stop()


def cap_runner(made: list[FeedRunner], sink: Sink, url: str, clock: Clock, **cfg) -> FeedRunner:
    feed = CapFeed(CapConfig(kind="cap", name="gd-cap", url=url, **cfg))
    runner = FeedRunner([feed], FENGSHAN, sink, clock=clock)
    made.append(runner)
    return runner


def test_original_fetched_after_its_update_failed_stays_out_after_the_cancel(
    httpserver: HTTPServer, sink: Sink, made: list[FeedRunner]
) -> None:
    # The orange Alert's fetch fails once (503) while its red Update is read: the Update ends it unseen.
    serve_cap_index(httpserver, orange_status=503)
    clock = Clock(RED_SENT + 300)
    runner = cap_runner(made, sink, httpserver.url_for("/cap/index.atom"), clock)
    runner.poll("gd-cap")
    assert levels(sink)["gd-cap@fs-hp02"] == 4.0 and sink.health() == [0.0]
    serve_cap_index(httpserver)  # the orange message is back
    clock.t += 300
    runner.poll("gd-cap")
    assert any(r.url.endswith("/cap/cap/orange.xml") for r, _ in httpserver.log)
    serve_cap_index(httpserver, with_cancel=True)
    sink.clear()
    clock.t = CANCEL_SENT + 300
    runner.poll("gd-cap")
    assert set(levels(sink).values()) == {0.0}
    # Hours after the all-clear the orange warning (in force until 22:00) has not come back.
    sink.clear()
    clock.t += 4 * 3600
    runner.poll("gd-cap")
    assert set(levels(sink).values()) == {0.0} and sink.health() == [1.0]


def test_backoff_keeps_stating_known_levels_and_expires_them_without_requests(
    httpserver: HTTPServer, sink: Sink, made: list[FeedRunner]
) -> None:
    httpserver.expect_request("/cap/current.xml").respond_with_data(
        body("gd-yangshan-rainstorm-orange.cap.xml")
    )
    expires = ORANGE.infos[0].expires
    assert expires is not None
    clock = Clock(expires - 35 * 60)  # 21:25, the orange warning ends at 22:00
    runner = cap_runner(made, sink, httpserver.url_for("/cap/current.xml"), clock)
    events: list[FeedEvent] = []
    runner._on_event = events.append
    runner.poll("gd-cap")
    assert set(levels(sink).values()) == {3.0}
    # The provider throttles during the storm and asks for an hour.
    httpserver.clear()
    httpserver.expect_request("/cap/current.xml").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "3600"}
    )
    clock.t += 300
    runner.poll("gd-cap")
    requests_made = len(httpserver.log)
    sink.clear()
    clock.t += 300  # 21:35, inside the backoff
    assert runner.poll("gd-cap") is None
    assert set(levels(sink).values()) == {3.0} and sink.health() == [0.0]
    sink.clear()
    clock.t = expires  # 22:00, still inside the backoff: the warning ends on time
    runner.poll("gd-cap")
    assert set(levels(sink).values()) == {0.0} and sink.health() == [0.0]
    assert {(e.action, e.level) for e in events[-3:]} == {("expired", 0)}
    assert len(httpserver.log) == requests_made  # no request while backing off


def test_one_poll_stops_fetching_messages_when_its_budget_is_spent(
    threaded_server: HTTPServer, sink: Sink, made: list[FeedRunner], caplog: pytest.LogCaptureFixture
) -> None:
    server = threaded_server
    # Index: cancel, red update, orange; each message takes 0.6 s, the poll may spend 1 s.
    serve_cap_index(server, with_cancel=True, delay_s=0.6)
    clock = Clock(CANCEL_SENT + 300)
    runner = cap_runner(made, sink, server.url_for("/cap/index.atom"), clock, poll_budget_s=1.0)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="hub.feeds.runner"):
        runner.poll("gd-cap")
    assert time.monotonic() - started < 1.0 + 0.5  # not 3 × 0.6 s: the rest waits for the next poll
    assert any("poll budget 1 s spent; 1 message(s) left" in r.getMessage() for r in caplog.records)
    assert sink.health() == [0.0]
    st = runner.status["gd-cap"]
    assert st.failures["timeout"] >= 1
    assert any(kind == "timeout" for kind, _source in st.partial)
    # Later polls pick up what was left over, one budget at a time, until the index is read whole.
    polls = 1
    while sink.health()[-1] == 0.0 and polls < 5:
        sink.clear()
        clock.t += 300
        runner.poll("gd-cap")
        polls += 1
    assert sink.health() == [1.0] and polls >= 2
    # The Cancel came first; the red Update it cancels and the orange Alert that Update superseded,
    # both fetched on later polls, never come into force.
    assert set(levels(sink).values()) == {0.0} and not runner.feeds["gd-cap"].state.active
