"""Listening drivers acknowledge only what reached the disk: emit raises when the outbox cannot store."""

from collections.abc import Callable
from pathlib import Path

import pytest

from edge.agent import Agent
from edge.outbox import OutboxError
from edge.wire import Reading
from ews.servers import free_port

from .test_agent_loop import gw_config, wait_until


class PushSensor:
    """A listening driver that hands readings to the agent the way SL651/LoRa/ChirpStack drivers do."""

    sensor = "fs-hp02-wl1"

    def __init__(self) -> None:
        self.emit: Callable[[Reading], None] | None = None

    def start(self, emit: Callable[[Reading], None]) -> None:
        self.emit = emit

    def stop(self) -> None:
        self.emit = None


def test_emit_stores_then_raises_once_the_disk_is_gone(tmp_path: Path) -> None:
    # No broker: publishing is irrelevant here, storing is what acknowledgement depends on.
    agent = Agent(gw_config(tmp_path, free_port()), sensors=[PushSensor()], clock=lambda: 1_790_000_000.0)
    driver = agent._given_sensors[0]  # type: ignore[index]
    agent.start()
    try:
        assert driver.emit is not None
        driver.emit(Reading("fs-hp02-wl1", "water_level_m", 1.2, 1_790_000_000.0))
        assert agent.stats()["sensors"]["fs-hp02-wl1"]["accepted"] == 1
        # The gateway's own health readings are stored once at start (the clock here never moves):
        # let them land first, or they would count as unstored too when their thread runs late.
        assert wait_until(lambda: agent.stats()["accepted"] > 1)
        assert agent.outbox is not None
        agent.outbox.close()  # the SD card went away
        with pytest.raises(OutboxError, match="not acknowledging"):
            driver.emit(Reading("fs-hp02-wl1", "water_level_m", 1.3, 1_790_000_060.0))
        assert agent.stats()["unstored"] == 1
    finally:
        agent.stop()
