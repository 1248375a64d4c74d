"""The naive baseline: the same compiled rules with windows that rescan their readings, and no guards."""

from __future__ import annotations

from bisect import bisect_right

from hub.rules.engine import Engine, EngineState
from hub.rules.windows import Window


class NaiveWindow(Window):
    """Baseline: keeps no running aggregate; every read bisects and rescans the window's readings."""

    def appended(self, t: float, v: float) -> None:
        pass

    def inserted(self, i: int, v: float) -> None:
        pass

    def changed(self, i: int, dv: float) -> None:
        pass

    def _scan(self, now: float) -> tuple[list[float], list[float]]:
        s = bisect_right(self.times, now - self.length)
        self.start = s  # lets the series trim what no window needs any more
        return self.times[s:], self.values[s:]

    def sum(self, now: float) -> float:
        return sum(self._scan(now)[1])

    def evict(self, now: float) -> None:
        self.total = sum(self._scan(now)[1])

    def min(self, now: float) -> float:
        return min(self._scan(now)[1], default=float("nan"))

    def max(self, now: float) -> float:
        return max(self._scan(now)[1], default=float("nan"))


def naive_state(engine: Engine) -> EngineState:
    st = engine.initial_state()
    st.guards = None  # brute force evaluates every touched rule: no headroom guards
    for s in st.series.values():
        s.windows.clear()
    st.slots = [NaiveWindow(x.series, x.length) if type(x) is Window else x for x in st.slots]
    return st
