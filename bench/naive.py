"""The naive baseline: the same compiled rules with windows that rescan their readings, and no guards."""

from __future__ import annotations

from librt.vecs import vec

from hub.rules.engine import Engine, EngineState
from hub.rules.vecs import ROW, first_after
from hub.rules.windows import Window


class NaiveWindow(Window):
    """Baseline: keeps no running aggregate; every read bisects and rescans the window's readings."""

    def _scan(self, now: float) -> vec[float]:
        ser = self.series
        s = first_after(ser.rows, now - self.length, 0, ser.n)
        self.start = s  # lets the series trim what no window needs any more
        return ser.rows[ROW * s + 1 : ROW * ser.n : ROW]  # the values, copied out natively

    def evict(self, now: float) -> None:
        self._scan(now)

    def sum(self, now: float) -> float:
        return sum(self._scan(now))

    def min(self, now: float) -> float:
        return min(self._scan(now), default=float("nan"))

    def max(self, now: float) -> float:
        return max(self._scan(now), default=float("nan"))


def naive_state(engine: Engine) -> EngineState:
    st = engine.initial_state()
    st.guards = None  # brute force evaluates every touched rule: no headroom guards
    for s in st.series.values():
        s.windows.clear()
        s.eager.clear()
    st.slots = [NaiveWindow(x.series, x.length) if type(x) is Window else x for x in st.slots]
    return st
