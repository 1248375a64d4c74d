"""Runs `ews edge` in a child process with the test-only sensor kind registered in that process only."""

import sys

from edge.sensors.registry import SENSOR_KINDS
from ews.cli import main
from tests.edge.agent_fakes import CounterConfig

if __name__ == "__main__":
    SENSOR_KINDS["test-counter"] = CounterConfig
    sys.exit(main(sys.argv[1:]))
