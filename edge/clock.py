"""Gateway time: flags readings whose event time is not to be trusted, and paces waits on any clock."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from edge.wire import Reading

YEAR_S = 365.25 * 86400


class ClockConfig(BaseModel):
    """When a reading's event time is doubtful (the gateway's or the sensor's clock is wrong)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    future_tolerance_s: float = Field(
        default=300.0, ge=0, description="A reading more than this far ahead of the gateway clock is suspect"
    )
    max_age_s: float = Field(
        default=YEAR_S, gt=0, description="A reading older than this (years in the past) is suspect"
    )
    min_valid_time: float = Field(
        default=1_577_836_800.0,  # 2020-01-01: a Pi without RTC boots in 1970 until NTP or GPS answers
        description="Event times before this epoch second are suspect (clock not set)",
    )


def time_doubt(t: float, now: float, cfg: ClockConfig) -> str | None:
    """Pure: why event time `t` is not to be trusted at gateway time `now`, or None if it is."""
    if not math.isfinite(t):
        return "not a finite time"
    if t < cfg.min_valid_time:
        return "before the clock was set"
    if t > now + cfg.future_tolerance_s:
        return "in the future"
    if t < now - cfg.max_age_s:
        return "years in the past"
    return None


def flag_time(reading: Reading, now: float, cfg: ClockConfig) -> Reading:
    """The reading, marked suspect (not dropped: it is kept for the record) if its time is doubtful."""
    if reading.quality == "good" and time_doubt(reading.time, now, cfg) is not None:
        return reading._replace(quality="suspect")
    return reading


class Pacer:
    """Sleeps until a time on an injectable clock, which may run faster than real time (storm replay).

    It learns the clock's rate from each wait, so a 1440x demo clock and the real clock both wake on
    time; `max_wait_s` bounds each real sleep so a clock step (NTP, GPS fix) is noticed quickly.
    """

    def __init__(self, clock: Callable[[], float], stop: threading.Event, max_wait_s: float = 1.0) -> None:
        self.clock = clock
        self.stop = stop
        self.max_wait_s = max_wait_s
        self.rate: float | None = None  # clock seconds per real second, learned from the first wait

    def sleep_until(self, target: float) -> bool:
        """True when the clock reached `target`; False if stopped first."""
        while not self.stop.is_set():
            now = self.clock()
            remaining = target - now
            if remaining <= 0:
                return True
            # Until the rate is known, take a short first step to measure it.
            real = 0.01 if self.rate is None else min(max(remaining / self.rate, 0.0005), self.max_wait_s)
            m0 = time.monotonic()
            if self.stop.wait(real):
                return False
            dm, dc = time.monotonic() - m0, self.clock() - now
            if dm > 0.001 and dc > 0:
                self.rate = dc / dm
            elif self.rate is None:
                self.rate = 1.0  # a clock that stands still or steps back: wait in real time
        return False
