"""Fixtures for the feed tests: a threaded loopback HTTP server for slow and dripping answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer


@pytest.fixture
def threaded_server() -> Iterator[HTTPServer]:
    # Slow handlers must not queue behind each other: a request the client gave up on still runs.
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()
