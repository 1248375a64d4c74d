"""The intake never blocks the ingest path and, when full, keeps the latest transition of every alert."""

from __future__ import annotations

import threading
import time

from hub.alerts.intake import Intake
from hub.rules.model import AlertState, Level, Transition


def tr(site: str, at: float, level: Level) -> Transition:
    return Transition("rain", site, at, Level.NONE, level, AlertState.FIRING)


def test_overflow_coalesces_per_alert_and_keeps_order() -> None:
    gate = threading.Event()
    seen: list[tuple[str, float]] = []

    def handle(batch: list[Transition]) -> None:
        gate.wait(10)  # a slow state store
        seen.extend((t.site, t.at) for t in batch)

    intake = Intake(handle, size=10)
    intake.start()
    try:
        intake.submit([tr("fs-hp01", 0, Level.BLUE)])
        deadline = time.monotonic() + 5
        while intake._q.qsize() and time.monotonic() < deadline:  # the first is being handled (blocked)
            time.sleep(0.01)
        batch = [tr(f"fs-hp0{1 + i % 3}", float(i + 1), Level.RED) for i in range(100)]
        intake.submit(batch)  # returns although the handler is stuck
        assert intake.coalesced == 90
        gate.set()
        deadline = time.monotonic() + 5
        while not intake.empty() and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        intake.stop()
    assert seen[:11] == [("fs-hp01", 0.0)] + [(f"fs-hp0{1 + i % 3}", float(i + 1)) for i in range(10)]
    # then only the latest of each alert, in the order those latest ones arrived
    assert seen[11:] == [("fs-hp02", 98.0), ("fs-hp03", 99.0), ("fs-hp01", 100.0)]


def test_a_failing_transition_does_not_stop_the_rest() -> None:
    seen: list[str] = []

    def handle(batch: list[Transition]) -> None:
        if any(t.site == "bad" for t in batch):
            raise RuntimeError("boom")  # the whole batch's transaction rolls back
        seen.extend(t.site for t in batch)

    intake = Intake(handle, size=10)
    intake.start()
    try:
        intake.submit([tr("bad", 0, Level.RED), tr("fs-hp01", 1, Level.RED), tr("fs-hp02", 2, Level.RED)])
        deadline = time.monotonic() + 5
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        intake.stop()
    assert seen == ["fs-hp01", "fs-hp02"]  # retried one by one: only the bad one is lost
