"""The rule engine: a pure state machine, evaluate(state, readings, now) -> (state, transitions)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from librt.vecs import vec
from mypy_extensions import i64

from edge.wire import Reading
from hub.rules import emit, gates, restart, silences
from hub.rules.fits import InverseVelocityWindow
from hub.rules.forecast import Forecast
from hub.rules.health import HealthEvent, HealthPlan, health_transition
from hub.rules.lifecycle import Alert, inputs_news, step
from hub.rules.model import Level, Transition
from hub.rules.ruleset import RuleSet
from hub.rules.silences import Silence
from hub.rules.state import EngineState, Memo, SeriesKey
from hub.rules.wake import Wake
from hub.rules.windows import Series, Window


class Engine:
    """Compiled rules plus the index reading -> series -> dependent rules. Holds no mutable state.

    tick_s: how often (event time) firing or pending rules are re-evaluated without new readings, so
    windows that empty out, hold times and step-down timers advance. sweep_s: how often every rule is
    re-evaluated (catches conditions that become true as data leaves a window), except rules a standing
    guard proves quiet (data leaving a window cannot raise them). health_s: staleness check.
    """

    def __init__(
        self, ruleset: RuleSet, *, tick_s: float = 10.0, sweep_s: float = 300.0, health_s: float = 10.0
    ) -> None:
        self.ruleset = ruleset
        self.rules = ruleset.rules
        self.tick_s, self.sweep_s, self.health_s = tick_s, sweep_s, health_s
        self.health = HealthPlan(ruleset)
        keys: dict[SeriesKey, list[int]] = {(s.id, s.quantity): [] for s in ruleset.sensors.values()}
        fdeps: dict[SeriesKey, list[int]] = {}
        for i, rule in enumerate(self.rules):
            for k in rule.deps:
                keys.setdefault(k, [])  # every input has a series (its data health counts)
            for k in rule.reads:
                keys.setdefault(k, []).append(i)
            for k in rule.forecast_deps:
                fdeps.setdefault(k, []).append(i)
        self.deps: dict[SeriesKey, tuple[int, ...]] = {k: tuple(v) for k, v in keys.items()}
        self.forecast_deps = {k: tuple(v) for k, v in fdeps.items()}
        self.stored = {s.key for s in ruleset.plan.slots if s.kind in ("window", "fit", "series")}
        self.index = {(r.site, r.id): i for i, r in enumerate(self.rules)}

    def initial_state(self) -> EngineState:
        st = EngineState()
        for key, rules in self.deps.items():
            ser = st.series[key] = Series(key)
            ser.store = key in self.stored
            ser.deps = rules
            ser.checked = key in self.health.checked
            declared = self.ruleset.sensors.get(key[0])
            if declared is not None:
                ser.period = declared.period_s
        n_keys: dict[str, int] = {}
        for sensor, _ in st.series:
            n_keys[sensor] = n_keys.get(sensor, 0) + 1
        st.by_sensor = {k[0]: ser for k, ser in st.series.items() if n_keys[k[0]] == 1}
        st.wake = Wake(len(self.rules))
        for spec in self.ruleset.plan.slots:
            if spec.kind == "memo":
                st.slots.append(Memo())
            elif spec.kind == "window":
                st.slots.append(Window(st.series[spec.key], spec.length, spec.minmax))
            elif spec.kind == "fit":
                st.slots.append(InverseVelocityWindow(st.series[spec.key], spec.length))
            elif spec.kind == "series":
                st.slots.append(st.series[spec.key])
            else:
                st.slots.append(st.forecasts.setdefault(spec.key, Forecast()))
        st.alerts = [Alert() for _ in self.rules]
        st.guards = [None] * len(self.rules)
        st.hold_epoch = vec[i64]([-1] * len(self.rules))
        st.hold_until = vec[float]([-math.inf] * len(self.rules))
        st.guard_series = [tuple(st.series[k] for k in r.guard_keys) for r in self.rules]
        st.grants = [()] * len(self.rules)
        st.dep_series = [tuple(st.series[k] for k in r.reads) for r in self.rules]
        gates.positions(self, st)
        return st

    def history_needed(self) -> dict[SeriesKey, float]:
        """(sensor, quantity) -> seconds of history the windows need, for rebuilding them at start-up."""
        return restart.history_needed(self.ruleset, self.health)

    def feed(
        self,
        state: EngineState,
        readings: Iterable[Reading],
        events: list[HealthEvent] | None = None,
        now: float | None = None,
        held: list[Series] | None = None,
    ) -> None:
        """Put readings into windows and add the rules they touch to state.wake. With `now` (and guards
        on), a series whose gate holds wakes none of its rules; it is put in `held`."""
        series, by_sensor, health, counters = state.series, state.by_sensor, self.health, state.counters
        wake = state.wake
        # Live readings only: a rebuild goes by the quality the hub stored as each arrived (a reading
        # taken at a window's start but sent before it opened is real; its time cannot say so).
        muted = state.muted if now is not None else {}
        events = [] if events is None else events
        n_events = len(events)
        gated = now is not None and held is not None and state.guards is not None and state.gating
        quiet: list[Series] = held if held is not None else []
        at = now if now is not None else math.inf
        heard = now if now is not None else -math.inf  # history at start-up confirms nothing new
        epoch = state.health_epoch
        for r in readings:
            if (q := r.quality) == "bad" or q == silences.MAINTENANCE:
                counters["bad" if q == "bad" else "muted"] += 1
                continue
            if r.source == "forecast":
                self._forecast(state, r)
                continue
            sensor, quantity = r.sensor, r.quantity
            ser = by_sensor.get(sensor)
            if ser is None or ser.key[1] != quantity:
                ser = series.get((sensor, quantity))
                if ser is None:
                    counters["unknown"] += 1
                    continue
            t = r.time
            if muted and sensor in muted and t >= muted[sensor]:
                counters["muted"] += 1  # taken in a maintenance window: the technician may be testing it
                continue
            if ser.checked and not health.on_reading(ser, t, r.value, events):
                counters["unhealthy"] += 1
                continue
            if t > ser.seen:
                ser.seen = t
                ser.heard = heard
            if ser.store:
                if ser.add(t, r.value):
                    if (
                        gated
                        and ser.gate_epoch == epoch
                        and ser.inc <= ser.gate_inc
                        and ser.tv <= ser.gate_tv
                        and at < ser.gate_until
                        and ser.ooo == ser.gate_ooo
                    ):
                        quiet.append(ser)
                    else:
                        wake.add_all(ser.deps)
                else:
                    counters["duplicate"] += 1
        if len(events) > n_events:
            state.health_epoch += 1  # group membership may have changed: every guard is void

    def _forecast(self, state: EngineState, r: Reading) -> None:
        site = r.sensor.rpartition("@")[2]
        fc = state.forecasts.get((site, r.quantity))
        if fc is None:
            state.counters["unknown"] += 1
        elif fc.add(r.time, r.issued if r.issued is not None else r.time, r.value):
            state.wake.add_all(self.forecast_deps.get((site, r.quantity), ()))

    def evaluate(
        self, state: EngineState, readings: Sequence[Reading], now: float
    ) -> tuple[EngineState, list[Transition]]:
        """Feed readings and evaluate every rule they touch at event time `now` (never goes backwards)."""
        events: list[HealthEvent] = []
        quiet: list[Series] = []
        epoch0 = state.health_epoch
        now = state.now = max(now, state.now)
        wake = state.wake
        wake.begin()
        edge = now >= state.next_silence_edge
        if edge:  # before the feed: the first reading after a maintenance window ends is not dropped
            silences.refresh(state, now)
        self.feed(state, readings, events, now, quiet)
        state.slots[0].epoch += 1  # new data or a new `now`: named values are computed afresh
        out: list[Transition] = []
        if edge:
            emit.held_back(self.ruleset, state, now, out)
        if now - state.last_health >= self.health_s:
            state.last_health = now
            n_events = len(events)
            self.health.sweep(state.series, now, events)
            if len(events) > n_events:
                state.health_epoch += 1
                # A series that went stale or came back changes what its rules see: decide them now,
                # not at the next reading or full sweep (a late alert is the next worst thing to none).
                for ev in events[n_events:]:
                    ser = state.series.get(ev.key)
                    if ser is not None:
                        wake.add_all(ser.deps)
        if state.health_epoch != epoch0:
            for ser in quiet:  # their gates were built for the old group membership
                wake.add_all(ser.deps)
        if now - state.last_sweep >= self.sweep_s:
            state.last_sweep = state.last_tick = now
            if state.guards is None:
                wake.everything = True
            else:  # a standing guard already proves its rule quiet whatever left the windows
                held_e, held_u, epoch = state.hold_epoch, state.hold_until, state.health_epoch
                for i in range(len(self.rules)):
                    if held_e[i] != epoch or not now < held_u[i]:
                        wake.add(i)
            for ser in state.series.values():
                ser.compact(now)  # windows that gates keep unread would otherwise never let go
        elif now - state.last_tick >= self.tick_s:
            state.last_tick = now
            for i in state.active:
                wake.add(i)
        for ev in events:
            if ev.key[0] not in state.muted:
                out.append(health_transition(ev, self.ruleset))
        W, alerts, rules, active = state.slots, state.alerts, self.rules, state.active
        guards, gseries, epoch = state.guards, state.guard_series, state.health_epoch
        changed: list[int] = []  # rules whose guard was set, dropped or re-granted: their gates follow
        for k in range(wake.count()):
            i = wake.at(k)
            a = alerts[i]
            if guards is not None:
                g = guards[i]
                if g is not None:
                    if g.epoch == epoch and a.level == 0 and not a.live:
                        if not g.slope:
                            inc = 0.0
                            for ser in gseries[i]:
                                inc += ser.inc
                            if inc - g.base < g.budget:
                                if gates.overdrawn(state, i):
                                    gates.grant(state, i, g.budget - (inc - g.base))
                                    changed.append(i)
                                continue  # provably still quiet: not enough new data to reach a threshold
                        else:
                            ser = gseries[i][0]
                            if ser.tv - g.base < g.budget and now < g.until and ser.ooo == g.ooo:
                                continue  # the delta or rate cannot have reached its threshold yet
                    guards[i] = None
                    state.hold_epoch[i] = -1
                    changed.append(i)
            rule = rules[i]
            raw, held = rule.levels(W, now, a.level)
            if raw == 0 and a.level == 0 and not a.live:
                if guards is not None and (rule.headroom is not None or rule.slope is not None):
                    gates.set_guard(self, state, i, W, now)
                    if guards[i] is not None:
                        changed.append(i)
                continue  # the common case: quiet and nothing pending
            data_ok, vouched, heard = True, math.inf, math.inf
            if held < a.level:  # the evidence allows a lower level: may the inputs lower it?
                data_ok, vouched, heard = inputs_news(state.series, rule, state.muted)
            ext = rule.extend
            extend = (lambda r=rule, e=ext, lv=a.level: e(W, now, lv)) if ext is not None else None  # type: ignore[misc]
            new = step(a, rule, raw, held, now, data_ok, extend, vouched, heard)
            a.last_eval = now
            if a.active:
                active.add(i)
                a.live = True
            else:
                active.discard(i)
                a.live = False
            if new is not None:
                emit.emit(self.ruleset, state, i, now, out)
        if changed:
            deps = state.dep_series
            gates.regate(state, {ser for i in changed for ser in deps[i]})
        out.sort(key=lambda t: (t.at, t.site, t.rule))
        return state, out

    # ---- operator actions and restart, as pure functions of the state ----------------------------

    def acknowledge(self, state: EngineState, site: str, rule: str, by: str) -> tuple[EngineState, bool]:
        """Record that `by` acknowledged the alert at its current level; a higher level needs a new ack."""
        i = self.index.get((site, rule))
        if i is None or state.alerts[i].level == 0:
            return state, False
        a = state.alerts[i]
        a.acked_by, a.acked_level = by, a.level
        return state, True

    def silence(self, state: EngineState, silence: Silence, now: float) -> EngineState:
        return silences.add_silence(state, silence, now)

    def unsilence(self, state: EngineState, silence_id: str, now: float) -> EngineState:
        return silences.remove_silence(state, silence_id, now)

    def restore(self, state: EngineState, levels: dict[tuple[str, str], tuple[Level, float]]) -> EngineState:
        """Put back alert levels the dispatcher persisted ((site, rule) -> (level, since)) before a rebuild,
        so the first evaluation after a restart emits only real changes, never a repeat."""
        return restart.restore(self.index, self.rules, state, levels)

    def rebuild(
        self, state: EngineState, history: Iterable[Reading], now: float
    ) -> tuple[EngineState, list[Transition]]:
        """Start-up: feed stored readings (any order) into the windows, then evaluate every rule once at
        `now`. Rules are never evaluated at past times, so an alert that ended hours ago is not replayed."""
        self.feed(state, history)
        state.last_sweep = -math.inf
        return self.evaluate(state, (), now)
