"""Published landslide and flash-flood warning methods as pure math on window values (sources cited)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

INCH_MM: Final = 25.4
DAY_S: Final = 86400.0
RAD_TO_DEG: Final = 180.0 / math.pi  # math.degrees' own factor, without a module attribute lookup per call


def id_ratio(sums_mm: Sequence[float], durations_s: Sequence[float], a: float, b: float) -> float:
    """Rainfall intensity–duration threshold I = a·D^-b (I in mm/h, D in h), as max over D of I_D / I_crit.

    I_D is the mean intensity of the rain that fell in the last D hours. A ratio ≥ 1 means the
    threshold is exceeded for at least one duration. Sources: Caine, N. (1980), "The rainfall
    intensity–duration control of shallow landslides and debris flows", Geografiska Annaler 62A:
    I = 14.82·D^-0.39; USGS Seattle (Godt, Baum & Chleborad 2006, Earth Surf. Process. Landforms 31:97–110):
    I = 82.73·D^-1.13 for 20 h ≤ D ≤ 55 h.
    """
    best = -math.inf
    for total, dur_s in zip(sums_mm, durations_s, strict=True):
        hours = dur_s / 3600.0
        critical = a * hours**-b
        best = max(best, (total / hours) / critical)
    return best


def cumulative_ratio(
    p_recent: float, p_antecedent: float, intercept: float, slope: float, unit_mm: float = 1.0
) -> float:
    """Cumulative recent–antecedent threshold P_r = intercept − slope·P_a, as (P_r + slope·P_a)/intercept.

    A ratio ≥ 1 means the point (P_a, P_r) lies on or above the threshold line. `unit_mm` converts the
    stored millimetres into the threshold's unit (25.4 for inches). Source: Chleborad, A.F. (2000),
    "Preliminary method for anticipating the occurrence of precipitation-induced landslides in Seattle,
    Washington", USGS Open-File Report 00-469: P3 = 3.5 − 0.67·P15 (inches), where P3 is the 3-day
    total and P15 the 15-day total before those 3 days.
    """
    return (p_recent / unit_mm + slope * p_antecedent / unit_mm) / intercept


def effective_antecedent(daily_mm: Sequence[float], k: float) -> float:
    """Effective antecedent rainfall Re = Σ_{i=1..n} K^i·R_i, R_1 the most recent 24 h block.

    Sources: Crozier, M.J. (1986), Landslides: Causes, Consequences and Environment (antecedent daily
    rainfall, K ≈ 0.84 for the Wellington region); the same decay form is the 前期影响雨量
    Pa = Σ K^i·P_i of Chinese flash-flood practice (SL 44-2006 / 山洪灾害临界雨量分析计算细则, K 0.8–0.95).
    """
    total = 0.0
    weight = 1.0
    for r in daily_mm:
        weight *= k
        total += weight * r
    return total


def tangent_angle_deg(delta_mm: float, window_s: float, steady_mm_per_day: float) -> float:
    """Improved tangent angle α = arctan(ΔT/Δt), T = S/v, in degrees, for a displacement ΔS = delta_mm
    over the Δt = window_s between two observations (the rule language passes the window's mean rate
    over one hour: the span its readings cover, not the window's nominal length).

    The displacement S is divided by the steady (constant-velocity stage) rate v so that the
    displacement axis has the unit of time; the constant-velocity stage then plots at 45°.
    Levels (Xu Qiang et al. 2009, 许强, 曾裕平, 钱江澎 等, 一种改进的切线角及对应的滑坡预警判据,
    地质通报 28(4):501–505): ≈45° steady (blue), 45–80° initial acceleration (yellow), 80–85° medium
    acceleration (orange), ≥85° imminent failure (red).
    """
    if steady_mm_per_day <= 0 or window_s <= 0 or math.isnan(delta_mm):
        return math.nan
    t_ratio = (delta_mm / steady_mm_per_day) / (window_s / DAY_S)
    return math.atan(t_ratio) * RAD_TO_DEG


def inverse_velocity_fit(times: Sequence[float], values: Sequence[float]) -> tuple[float, float]:
    """Fukuzono's inverse-velocity method: fit 1/v = m·t + c, predicted failure where 1/v reaches 0.

    Returns (failure time in epoch seconds, R² of the fit); (inf, r2) if 1/v is not falling (or
    too slowly to predict anything within 30 years), (inf, nan) if the fit is degenerate. Velocities
    are taken between consecutive readings (mm/h) at the midpoint time; non-positive velocities carry
    no 1/v and are skipped. Source: Fukuzono, T. (1985), "A new method for predicting the failure time
    of a slope", Proc. 4th Int. Conf. and Field Workshop on Landslides, Tokyo, 145–150; Intrieri et al.
    (2019), Landslides 16:1587–1597, for the linear 1/v form.
    """
    xs: list[float] = []
    ys: list[float] = []
    for i in range(1, len(times)):
        dt = times[i] - times[i - 1]
        if dt <= 0:
            continue
        v = (values[i] - values[i - 1]) * 3600.0 / dt
        if v > 0:
            xs.append((times[i] + times[i - 1]) / 2.0 - times[0])
            ys.append(1.0 / v)
    n = len(xs)
    if n < 3:
        return math.inf, math.nan
    mx = sum(xs) / n
    my = sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    syy = sum((y - my) ** 2 for y in ys)
    return fit_result(n, mx, my, sxx, sxy, syy, times[0])


HORIZON_S: Final = 1e9  # a failure predicted more than ~30 years out is no prediction


def fit_result(
    n: int, mx: float, my: float, sxx: float, sxy: float, syy: float, origin: float
) -> tuple[float, float]:
    """Failure time and R² from centred regression sums (x in the caller's unit from `origin`).

    Degenerate fits (all points at one time, or a constant 1/v: steady creep) predict nothing. The
    relative tolerances make the batch and the running (windows) fit agree on those cases.
    """
    if sxx <= 1e-12 * max(1.0, n * mx * mx) or syy <= 1e-12 * n * my * my:
        return math.inf, math.nan
    m = sxy / sxx
    r2 = min(1.0, sxy * sxy / (sxx * syy))
    if m >= 0:
        return math.inf, r2
    t_fail = -(my - m * mx) / m
    return (origin + t_fail if t_fail < HORIZON_S else math.inf), r2
