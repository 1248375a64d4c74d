"""Gateway time: flags doubtful event times, re-stamps readings taken before a clock step, paces waits."""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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


# The wall clock's lead over the time since boot changes by a step when NTP, timesyncd or a GPS fix
# sets the clock; slewing moves it by milliseconds. Above this it is a step.
STEP_S = 60.0
# A reading stamped within this of the gateway's clock at acceptance was stamped by that clock (a poll,
# a LoRa node's frame); a sensor with a clock of its own (an SL651 RTU, a GNSS receiver) is further off
# whenever the two clocks disagree, which is the only time a step moves anything.
STAMP_SLACK_S = 60.0


@dataclass(frozen=True, slots=True)
class Frame:
    """The clock that stamped a reading: this boot, and the wall clock's lead over the time since boot."""

    boot: str
    offset: float


def _boot_id() -> str:
    try:  # the kernel's id for this boot: readings from before a reboot are not comparable
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return f"process-{uuid.uuid4()}"  # not Linux: one process is the most that can be vouched for


BOOT_ID = _boot_id()


def system_frame() -> Frame:
    """The system clock's frame. CLOCK_BOOTTIME runs steadily through sleeps and is never set."""
    since_boot = time.clock_gettime(getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC))
    return Frame(BOOT_ID, time.time() - since_boot)


def restamped(t: float, quality: str, then: Frame | None, now: Frame) -> tuple[float, str]:
    """Pure: a reading's (time, quality) in the clock's present frame.

    A gateway whose clock was wrong when it stamped the reading (a Pi back from a power cut restores
    the clock to where it stopped) and that was set since (NTP once the link is back) moves the
    reading by the step, so that a backlog taken during the outage lands when it fell and not hours
    before (where the 1 h window would never see its rain). The time is reconstructed, so the reading
    is marked suspect. A reading stamped by another clock (`then` None) or in another boot stays."""
    if then is None or then.boot != now.boot:
        return t, quality
    step = now.offset - then.offset
    if not abs(step) > STEP_S:
        return t, quality
    return t + step, "suspect" if quality == "good" else quality


class StepWatch:
    """Notices the gateway's clock being set: the step, once, for a health reading (officers cannot read
    the gateway's log, and the readings it moves are only marked suspect)."""

    def __init__(self, frames: Callable[[], Frame]) -> None:
        self.frames = frames
        self.last = frames()

    def step(self) -> float | None:
        """Seconds the clock was set by since the last call (+ forward), or None."""
        now, last = self.frames(), self.last
        self.last = now
        moved = now.offset - last.offset
        return moved if now.boot == last.boot and abs(moved) > STEP_S else None


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

    def sleep_until(self, target: float, horizon: float = math.inf) -> bool:
        """True when the clock reached `target`, or when `target` is more than `horizon` away (the
        clock was set back: the caller plans again from the new time); False if stopped first."""
        while not self.stop.is_set():
            now = self.clock()
            remaining = target - now
            if remaining <= 0 or remaining > horizon:
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
