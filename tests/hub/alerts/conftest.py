"""Fixtures for dispatcher tests: the Fengshan example directory and in-process recording channels."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.alerts.config import AlertsConfig, load
from hub.alerts.directory import Directory
from hub.channels.base import ChannelError, Notification

EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "fengshan" / "alerts.yaml"


@pytest.fixture
def fengshan() -> AlertsConfig:
    return load(EXAMPLE)


@pytest.fixture
def directory(fengshan: AlertsConfig) -> Directory:
    return fengshan.directory


class RecordingChannel:
    """A real channel object that keeps what it was given (the receiver end of in-process tests).

    `fail` holds ChannelErrors to raise before succeeding; `gate` (when set) blocks send() until opened,
    standing in for a stalled modem or gateway.
    """

    def __init__(self, name: str = "rec") -> None:
        self.name = name
        self.sent: list[Notification] = []
        self.fail: list[ChannelError] = []
        self.gate: threading.Event | None = None
        self.calls = 0
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)

    def send(self, n: Notification) -> str:
        if self.gate is not None:
            self.gate.wait(30)
        with self._lock:
            self.calls += 1
            if self.fail:
                raise self.fail.pop(0)
            self.sent.append(n)
            self.changed.notify_all()
            return f"{self.name}:{len(self.sent)}"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Notification]:
        with self._lock:
            self.changed.wait_for(lambda: len(self.sent) >= count, timeout)
            return list(self.sent)


class ListSink:
    """RowSink that keeps rows in memory (the influxd-backed writer is tested separately)."""

    def __init__(self) -> None:
        self.rows: list[str] = []
        self._lock = threading.Lock()

    def put(self, row: str) -> None:
        with self._lock:
            self.rows.append(row)

    def of(self, measurement: str) -> list[str]:
        with self._lock:
            return [
                r for r in self.rows if r.startswith(measurement + ",") or r.startswith(measurement + " ")
            ]


@pytest.fixture
def sink() -> Iterator[ListSink]:
    yield ListSink()
