"""Console channel: one readable line per notification, for development and the demo's timeline."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime
from typing import Literal, TextIO

from pydantic import BaseModel, ConfigDict, Field

from hub.channels.base import ChannelError, Notification

LEVEL_MARK = {"none": "  ", "blue": "🔵", "yellow": "🟡", "orange": "🟠", "red": "🔴"}


class ConsoleConfig(BaseModel):
    """Print notifications to the hub's stdout or stderr."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["console"] = Field("console", description="Channel kind")
    stream: Literal["stdout", "stderr"] = Field("stdout", description="Where to print")

    def build(self) -> ConsoleChannel:
        return ConsoleChannel(sys.stdout if self.stream == "stdout" else sys.stderr)


def format_line(n: Notification) -> str:
    """`HH:MM:SSZ 🔴 red fs-hp01 alert → 138****5678: text` (recipient as the dispatcher masked it)."""
    at = float(n.extra.get("at") or 0.0)
    clock = datetime.fromtimestamp(at, UTC).strftime("%H:%M:%SZ") if at else "--:--:--"
    kind = n.extra.get("kind", "alert")
    return f"{clock} {LEVEL_MARK.get(n.level, '  ')} {n.level:<6} {n.site} {kind}: {n.text}"


class ConsoleChannel:
    """Writes one line per notification; a closed stream is an unrecoverable error."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.Lock()
        self._count = 0

    def send(self, n: Notification) -> str:
        try:
            with self._lock:
                self.stream.write(format_line(n) + "\n")
                self.stream.flush()
                self._count += 1
                return f"console:{self._count}"
        except (OSError, ValueError) as exc:
            raise ChannelError(f"console: {exc}", recoverable=False) from None
