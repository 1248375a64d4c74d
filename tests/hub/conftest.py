"""Fixtures shared by the hub's tests: the GSM modem simulator on a real pseudo-terminal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ews.devices.modem_sim import ModemSimulator


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[ModemSimulator]:
    """A modem behind a pty; what it sends is also logged to tmp_path/sent.jsonl."""
    modem = ModemSimulator(tmp_path / "pty", log_path=tmp_path / "sent.jsonl")
    modem.start()
    yield modem
    modem.stop()
