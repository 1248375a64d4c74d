"""Officers' maintenance alerts for the gateway and sensor clocks the hub corrects: raised once, cleared after a quiet hour."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from hub.rules.model import AlertState, Level, Transition

log = logging.getLogger(__name__)

QUIET_S: Final = 3600.0  # an hour without a correction: the clock is right again


@dataclass(slots=True)
class _Open:
    site: str
    site_name: str
    last: float  # hub time of the latest correction


def span_zh(seconds: float) -> str:
    """A clock offset as people read it: 8小时0分, 25分钟, 约9668天."""
    minutes = round(abs(seconds) / 60)
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:  # a clock that was reset (years) or set to the wrong date: days say enough
        return f"约{round(hours / 24)}天"
    return f"{hours}小时{minutes}分" if hours else f"{minutes}分钟"


class ClockAlerts:
    """The hub moves readings from a clock that is off (hub/clocks.py), but the clock still needs a visit
    (NTP, an RTC's time zone), and village officers do not read the hub's log. So the first correction of
    a clock raises an officers-only maintenance alert (never a villager audience, like data health) and
    logs it; the alert clears once an hour has passed without a correction. Time is passed in."""

    def __init__(self) -> None:
        self.open: dict[str, _Open] = {}  # gateway or sensor id -> its standing alert

    def moved(self, who: str, site: str, site_name: str, off_s: float, now: float) -> Transition | None:
        """A correction of `who`'s clock by off_s (+ ahead, − behind); the alert if this one raises it."""
        known = self.open.get(who)
        if known is not None:
            known.last = now
            return None
        self.open[who] = _Open(site, site_name, now)
        log.warning(
            "clock %s of the hub's clock=%s site=%s off_s=%.0f: its readings are moved to when they were "
            "taken and marked suspect; set its time (NTP, RTC time zone UTC)",
            "ahead" if off_s > 0 else "behind", who, site, off_s,
        )  # fmt: skip
        way = "快" if off_s > 0 else "慢"
        text = (
            f"{site_name}设备{who}时钟{way}{span_zh(off_s)}，读数已按实际时间校正，请尽快校准时钟（维护告警）"
        )
        return self._transition(who, site, site_name, Level.BLUE, off_s, text, now)

    def quiet(self, now: float) -> list[Transition]:
        """Clears for the clocks not corrected for QUIET_S."""
        out = []
        for who, o in list(self.open.items()):
            if now - o.last >= QUIET_S:
                del self.open[who]
                log.info("clock right again clock=%s site=%s", who, o.site)
                text = f"{o.site_name}设备{who}时钟已恢复正常"
                out.append(self._transition(who, o.site, o.site_name, Level.NONE, 0.0, text, now))
        return out

    def decides(self, site: str, rule: str) -> bool:
        """Whether `rule` at `site` is a clock alert that stands (it ends by itself, not by hand)."""
        o = self.open.get(rule.removeprefix("clock."))
        return rule.startswith("clock.") and o is not None and o.site == site

    @staticmethod
    def _transition(
        who: str, site: str, site_name: str, to: Level, off_s: float, text: str, now: float
    ) -> Transition:
        labels = {
            "site": site,
            "site_name": site_name,
            "hazard": "sensor",
            "hazard_zh": "监测设备",
            "audience": "officers",
            "maintenance": "true",
            "sensor": who,
            "check": "clock",
            "level": to.label,
            "rule": "clock",
        }
        state = AlertState.FIRING if to else AlertState.RESOLVED
        frm = Level.NONE if to else Level.BLUE
        return Transition(f"clock.{who}", site, now, frm, to, state, off_s, labels, text)
