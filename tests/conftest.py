"""Shared fixtures: real mosquitto and influxd from Debian's packages on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ews.servers import Influxd, Mosquitto


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A fresh broker with persistence in a temporary directory; tests may stop() and start() it."""
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def influxd_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influxd]:
    """One influxd for the whole run (it takes a second or two to start); tests use their own database."""
    server = Influxd(tmp_path_factory.mktemp("influxd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def influxd(tmp_path: Path) -> Iterator[Influxd]:
    """A private influxd, for tests that stop and restart the server."""
    server = Influxd(tmp_path / "influxd")
    server.start()
    yield server
    server.stop()


_db_counter = iter(range(1, 1_000_000))


@pytest.fixture
def influx_db(influxd_session: Influxd) -> tuple[str, str]:
    """(url, database) of a new, empty database on the shared influxd."""
    return influxd_session.url, f"test_{next(_db_counter)}"
