"""SL 651 reports to readings: element mapping, PT rain differencing, dedupe of retransmissions."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import TYPE_CHECKING

from edge.sensors import counter, counter_store
from edge.sensors.sl651_body import Report
from edge.wire import Reading

if TYPE_CHECKING:
    from edge.sensors.sl651 import SL651Config

log = logging.getLogger(__name__)


class Mapper:
    """Pure apart from its state: reports in, readings out; dedupes retransmissions; differences PT."""

    def __init__(self, cfg: SL651Config) -> None:
        self.cfg = cfg
        self._pt: dict[str, counter.CounterState] = counter_store.load(cfg.state_file)
        self._seen: OrderedDict[tuple[str, int, int, float], None] = OrderedDict()
        self.late = 0  # PT totals the last report had that were older than the baseline (skipped)

    @staticmethod
    def _key(report: Report) -> tuple[str, int, int, float]:
        return (report.frame.station, report.frame.function, report.serial, report.send_time)

    def duplicate(self, report: Report) -> bool:
        return self._key(report) in self._seen

    def remember(self, report: Report) -> None:
        """Called once the readings are safely emitted: a retransmission after a failure is taken again."""
        self._seen[self._key(report)] = None
        if len(self._seen) > 1024:
            self._seen.popitem(last=False)

    def snapshot(self) -> dict[str, counter.CounterState]:
        return dict(self._pt)

    def restore(self, snap: dict[str, counter.CounterState]) -> None:
        self._pt = snap

    def persist(self) -> None:
        """After the readings were emitted: keep the PT baselines for the next start."""
        if self.cfg.rain == "PT":
            counter_store.save(self.cfg.state_file, self._pt)

    def readings(self, report: Report) -> list[Reading]:
        sensor = self.cfg.stations[report.frame.station]
        out: list[Reading] = []
        self.late = 0
        for ob in report.observations:
            if ob.value is None:
                continue
            if ob.ident == self.cfg.rain and ob.ident != "PT":
                out.append(Reading(sensor, "rain_mm", ob.value, ob.time))
            elif ob.ident == "PT" and self.cfg.rain == "PT":
                out += self._pt_increment(sensor, report.frame.station, ob.value, ob.time)
            elif ob.ident in self.cfg.quantities:
                out.append(Reading(sensor, self.cfg.quantities[ob.ident], ob.value, ob.time))
        return out

    def _pt_increment(self, sensor: str, station: str, value: float, t: float) -> list[Reading]:
        prev = self._pt.get(station)
        raw = int(round(value * 10)) % 1_000_000  # PT is N(6,1): counts of 0.1 mm
        if prev is not None and t <= prev.time and raw <= prev.raw:
            # An older report arriving late (a retransmission, an hourly or uniform-interval replay): the
            # newer total already holds its rain, and as the baseline it would count that rain again.
            # A total that grew while the time went back is not late: the station's clock was set back
            # (UTC corrected to Beijing time, an RTC reset), and counter.step takes it, suspect, and
            # moves the baseline to the new time; skipped, every report would be lost until the clock
            # caught up, and the rain of those hours then thrown away as one implausible jump.
            self.late += 1
            log.info(
                "sl651 late rain total skipped sensor=%s station=%s pt=%s older_s=%.0f",
                sensor,
                station,
                value,
                prev.time - t,
            )
            return []
        state, inc = counter.step(
            prev,
            raw,
            t,
            modulus=1_000_000,
            scale=0.1,
            max_rate_per_h=self.cfg.max_rain_rate_mm_h,
        )
        self._pt[station] = state
        if inc.quality != "good":
            log.warning(
                "rain counter discontinuity sensor=%s station=%s why=%s pt=%s",
                sensor,
                station,
                inc.why,
                value,
            )
        return [Reading(sensor, "rain_mm", inc.value, t, quality=inc.quality)]
