"""The bench's flatness figures: cost per reading across rule counts and window lengths, measured interleaved.

Each configuration is built, warmed, and then measured in blocks of whole hours of event time (every
block holds one hourly sweep), the configurations taking turns block by block. This machine's speed
drifts by 2× over minutes; measured one after another, the configurations fell in different spells and
the ratio said more about the machine than the engine. Taking turns, every configuration sees the same
spells, and each one's best block is the least disturbed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import islice

from bench.naive import NaiveWindow
from bench.workload import RULES_PER_SITE, SENSORS_PER_SITE, build, run, stream
from hub.rules.engine import Engine
from hub.rules.windows import Window

ROUNDS_PER_HOUR = 6
BLOCKS = 5  # blocks per configuration; the best counts
TILE = 10  # sites drawn at random in the rule-count runs; larger runs repeat them (see by_rule_count)


def hours_for(n_sites: int, readings: int = 40000) -> int:
    """Whole hours of event time that give at least `readings` readings."""
    return -(-readings // (n_sites * SENSORS_PER_SITE * ROUNDS_PER_HOUR))


class Probe:
    """One configuration: an engine, its state and its endless stream of rounds, warmed up."""

    def __init__(
        self,
        engine: Engine,
        n_sites: int,
        warm: int,
        hours: int,
        batch: int,
        *,
        guards: bool = True,
        tile: int | None = None,
        cold: bool = False,
    ) -> None:
        self.engine, self.batch, self.measure, self.cold = engine, batch, hours * ROUNDS_PER_HOUR, cold
        self.state = engine.initial_state()
        if not guards:
            self.state.guards = None  # every touched rule is evaluated: the windows' and rules' own cost
        # Enough rounds for the warm-up, every block and the naive baseline's quarter block.
        self.rounds = stream(n_sites, warm + self.measure * (BLOCKS + 1), tile=tile)
        run(engine, self.state, islice(self.rounds, warm), batch)
        self.costs: list[float] = []

    def block(self) -> None:
        secs, n, _ = run(
            self.engine, self.state, islice(self.rounds, self.measure), self.batch, cold=self.cold
        )
        self.costs.append(secs / n * 1e6)

    def best(self) -> float:
        return round(min(self.costs), 3)

    def naive(self) -> float:
        """µs per reading of the naive baseline, on this state's warmed series (its windows rescan what
        the series hold). Replaces the windows: measure it last."""
        st = self.state
        st.slots = [NaiveWindow(x.series, x.length) if type(x) is Window else x for x in st.slots]
        secs, n, _ = run(self.engine, st, islice(self.rounds, max(1, self.measure // 4)), self.batch)
        return round(secs / n * 1e6, 3)


def take_turns(probes: list[Probe]) -> None:
    for _ in range(BLOCKS):
        for p in probes:
            p.block()


def ratio(costs: Mapping[str, float]) -> float:
    return round(max(costs.values()) / min(costs.values()), 3)


def by_rule_count(
    quick: bool, batch: int, progress: Callable[[str], None], cold: bool = False
) -> dict[str, object]:
    """The same per-site mix at 100 to 100,000 rules, every window 1 h (so all are full after the same
    8 rounds), each block >= 40,000 readings. With `cold`, the caches are evicted before every
    evaluate() (workload.evict) and the figures are reported under `..._cold` keys.

    Every size repeats the data of the smallest (10 sites, TILE). Drawn afresh, 10 sites are a sample
    too small to hold the mix's 2 % of storming sites or its share of noisy GNSS stations, and that, not
    the rule count, moved the cost per reading."""
    counts = (100, 1000, 10000) if quick else (100, 1000, 10000, 100000)
    probes = {}
    for rules in counts:
        progress(f"flatness: building and warming {rules} rules")
        n_sites = rules // RULES_PER_SITE
        engine = build(n_sites, "1h")
        probes[str(rules)] = Probe(engine, n_sites, 8, hours_for(n_sites), batch, tile=TILE, cold=cold)
    progress("flatness: rule counts, taking turns")
    take_turns(list(probes.values()))
    costs = {k: p.best() for k, p in probes.items()}
    tag = "_cold" if cold else ""
    return {f"us_per_reading_by_rules{tag}": costs, f"flatness_rules{tag}": ratio(costs)}


def by_window_length(quick: bool, batch: int, progress: Callable[[str], None]) -> dict[str, object]:
    """Every window 1 h against every window 72 h, each measured full, guarded and unguarded.

    With every window 72 h long, 72 h of drizzle reaches the lower rows of tables written for 1-24 h,
    so many more rules are active or close to a threshold and guards skip far fewer of them. The
    unguarded figure isolates what window length itself costs."""
    n_sites = 100 if quick else 200
    guarded, unguarded = {}, {}
    for window, warm in (("1h", 8), ("72h", 72 * ROUNDS_PER_HOUR + 2)):
        progress(f"flatness: building and warming {window} windows")
        engine = build(n_sites, window)
        guarded[window] = Probe(engine, n_sites, warm, 7, batch)
        unguarded[window] = Probe(engine, n_sites, warm, 7, batch, guards=False)
    progress("flatness: window lengths, taking turns")
    take_turns([*guarded.values(), *unguarded.values()])
    costs = {k: p.best() for k, p in guarded.items()}
    bare = {k: p.best() for k, p in unguarded.items()}
    out: dict[str, object] = {f"naive_us_per_reading_{k}": p.naive() for k, p in guarded.items()}
    out |= {
        "us_per_reading_by_window": costs,
        "flatness_windows": ratio(costs),
        "us_per_reading_by_window_unguarded": bare,
        "flatness_windows_unguarded": ratio(bare),
    }
    return out
