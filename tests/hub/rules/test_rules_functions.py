"""Domain functions against published thresholds and hand-worked examples (each source cited)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from edge.wire import Reading
from hub.rules import functions as fx
from hub.rules.model import Level

from .helpers import T0, engine_for, play, rain


def test_intensity_duration_usgs_seattle_at_24h() -> None:
    # Godt, Baum & Chleborad (2006): I = 82.73·D^-1.13 mm/h. By hand: 24^1.13 = e^(1.13·ln 24)
    # = e^3.5912 = 36.28, so I = 2.280 mm/h and the 24 h total on the line is 54.73 mm.
    assert fx.id_ratio([54.73], [24 * 3600.0], 82.73, 1.13) == pytest.approx(1.0, abs=1e-4)
    assert fx.id_ratio([50.0], [24 * 3600.0], 82.73, 1.13) < 1.0


def test_intensity_duration_caine_takes_the_worst_duration() -> None:
    # Caine (1980): I = 14.82·D^-0.39. At D = 1 h the line is 14.82 mm/h; at 6 h 14.82·6^-0.39 = 7.39 mm/h.
    ratio = fx.id_ratio([14.82, 20.0], [3600.0, 6 * 3600.0], 14.82, 0.39)
    assert ratio == pytest.approx(1.0, abs=1e-9)  # 20 mm in 6 h = 3.33 mm/h is below 7.39


def test_cumulative_threshold_chleborad_seattle_inches() -> None:
    # Chleborad (2000), USGS OFR 00-469: P3 = 3.5 − 0.67·P15. With P15 = 2 in the line is at
    # P3 = 3.5 − 1.34 = 2.16 in. In millimetres: P15 = 50.8 mm, P3 = 54.864 mm.
    assert fx.cumulative_ratio(54.864, 50.8, 3.5, 0.67, fx.INCH_MM) == pytest.approx(1.0)
    assert fx.cumulative_ratio(40.0, 50.8, 3.5, 0.67, fx.INCH_MM) < 1.0


def test_effective_antecedent_rainfall_hand_worked() -> None:
    # Re = Σ K^i·R_i (Crozier 1986), K = 0.84, R = 10, 20, 0, 30 mm (most recent day first):
    # 0.84·10 + 0.7056·20 + 0 + 0.49787·30 = 8.4 + 14.112 + 14.936 = 37.448 mm.
    assert fx.effective_antecedent([10, 20, 0, 30], 0.84) == pytest.approx(37.4481408)


@pytest.mark.parametrize(("delta", "angle"), [(2.0, 45.0), (11.3426, 80.0), (22.8601, 85.0), (1.0, 26.565)])
def test_tangent_angle_levels_xu_qiang(delta: float, angle: float) -> None:
    # 许强 et al. (2009): T = S/v with v the steady rate; at v = 2 mm/day over one day a 2 mm step is
    # 45° (steady), tan 80° · 2 = 11.34 mm is the orange boundary and tan 85° · 2 = 22.86 mm red.
    assert fx.tangent_angle_deg(delta, 86400.0, 2.0) == pytest.approx(angle, abs=1e-3)


def test_inverse_velocity_recovers_failure_time() -> None:
    # Fukuzono (1985): 1/v falls linearly to zero at failure. Hand-built: v(t) = 1/(a·(tf − t)), so the
    # displacement is d(t) = −ln(tf − t)/a. With tf = 100 h and a = 0.05 h/mm·(1/h), sample hourly 0..60 h.
    tf, a = 100.0 * 3600, 0.05
    times = [h * 3600.0 for h in range(61)]
    disp = [-math.log((tf - t) / 3600.0) / a for t in times]
    t_fail, r2 = fx.inverse_velocity_fit(times, disp)
    assert t_fail / 3600 == pytest.approx(100.0, abs=0.5)
    assert r2 > 0.99
    assert fx.inverse_velocity_fit(times, [0.1 * h for h in range(61)])[0] == math.inf  # steady creep


def test_domain_functions_through_rules(tmp_path: Path) -> None:
    eng = engine_for(
        tmp_path,
        """  - id: tangent
    sites: [s1]
    inputs: {gn: {sensor: gn1}}
    values: {angle: "tangent_angle(gn, 24h, 2.0)"}
    thresholds: {angle: [42, 48, 80, 85]}
  - id: seattle
    sites: [s1]
    inputs: {rain: {sensor: rg1}}
    levels: {yellow: "cumulative_ratio(rain, recent=3d, antecedent=15d, intercept=3.5, slope=0.67, unit=\\"in\\") >= 1"}
""",
    )
    # GNSS hourly: 1 mm/h for a day = 24 mm/day against v = 2 mm/day -> atan(12) = 85.2° -> red.
    gn = [Reading("gn1", "disp_mm", float(h), T0 + h * 3600, h) for h in range(30)]
    # Rain: 15 days of 3.4 mm/day (P15 = 51 mm ≈ 2 in) then 3 days of 18.5 mm/day (P3 = 55.5 mm ≥ 2.16 in).
    r = rain("rg1", [3.4] * 15 + [18.5] * 3, step_s=86400.0, t0=T0 - 18 * 86400)
    st, out = play(eng, r + gn)
    by_rule = {(t.rule, t.to_level) for t in out}
    assert ("tangent", Level.RED) in by_rule
    assert ("seattle", Level.YELLOW) in by_rule
    first_seattle = next(t for t in out if t.rule == "seattle")
    assert first_seattle.at == T0  # only once the third wet day is in
