"""Draw the report's pages: per-site rain/deformation/level charts and the response page (matplotlib)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.dates import DateFormatter, date2num
from matplotlib.figure import Figure

from ews.grafana.thresholds import (
    CHANNEL_ZH,
    LEVEL_RGB,
    LEVEL_ZH,
    LEVELS,
    RAIN_WINDOWS,
    SENSOR_LIMITS,
    STATE_ZH,
)
from ews.report.data import SiteData, StormData

CST = dt.timezone(dt.timedelta(hours=8), "CST")  # officers read Beijing time
A4 = (8.27, 11.69)
QUANTITY_ZH = {
    "disp_mm": ("GNSS位移 (mm)", "disp_rate"),
    "crack_mm": ("裂缝宽度 (mm)", "crack_rate"),
    "tilt_deg": ("倾角 (°)", "tilt_rate"),
    "soil_moisture_pct": ("土壤含水率 (%)", "soil_moisture"),
    "water_level_m": ("沟道水位 (m)", "water_level"),
}


def when(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, CST)


def x(t: float) -> float:
    """Matplotlib's date number for epoch seconds (the typed axis API takes floats)."""
    return float(date2num(when(t)))


def cst_text(t: float | None) -> str:
    return "—" if t is None else when(t).strftime("%m-%d %H:%M")


def _times(series: Sequence[tuple[int, float]]) -> list[float]:
    return [x(t) for t, _ in series]


def _time_axis(ax: Axes, data: StormData) -> None:
    ax.set_xlim(x(data.start), x(data.end))
    ax.xaxis.set_major_formatter(DateFormatter("%d日%H时", tz=CST))
    ax.grid(True, alpha=0.3)


def _thresholds(ax: Axes, steps: Sequence[tuple[str, float]]) -> None:
    for name, bound in steps:
        ax.axhline(
            bound, color=LEVEL_RGB[name], linestyle="--", linewidth=1, label=f"{LEVEL_ZH[name]} {bound:g}"
        )


def site_page(fig: Figure, sd: SiteData, data: StormData) -> None:
    """Rain with its windows and thresholds, the deformation/hydrology sensors, and the level timeline."""
    site = sd.site
    fig.suptitle(f"{site.name}（{site.id}）", fontsize=15, fontweight="bold")
    n_sensor_panels = max(1, len(sd.sensors))
    grid = fig.add_gridspec(
        3 + n_sensor_panels, 1, height_ratios=[2.2, 2.2] + [1.6] * n_sensor_panels + [0.9]
    )
    ax = fig.add_subplot(grid[0])
    hourly = _hourly(sd, data)
    ax.bar(
        _times(hourly),
        [v for _, v in hourly],
        width=1 / 24 * 0.9,
        align="edge",
        color="#4a90d9",
        label="小时雨量",
    )
    _thresholds(ax, RAIN_WINDOWS["1h"].steps())
    ax.set_ylabel("mm")
    ax.set_title(f"逐小时雨量与1小时临界雨量（过程雨量 {sd.total_rain(data.start):.0f} mm）", fontsize=10)
    ax.legend(fontsize=7, ncol=5, loc="upper left")
    _time_axis(ax, data)
    ax = fig.add_subplot(grid[1])
    for key, color in zip(("3h", "6h", "24h"), ("#7b5ea7", "#2a9d8f", "#264653"), strict=True):
        series = sd.windows.get(key, [])
        ax.plot(
            _times(series), [v for _, v in series], color=color, linewidth=1.6, label=RAIN_WINDOWS[key].title
        )
        red = RAIN_WINDOWS[key].red
        ax.axhline(
            red, color=color, linestyle=":", linewidth=1, label=f"{RAIN_WINDOWS[key].title}红色 {red:g}"
        )
    ax.set_ylabel("mm")
    ax.set_title("滑动累计雨量与红色临界值（蓝/黄/橙见汇总表）", fontsize=10)
    ax.legend(fontsize=7, ncol=3, loc="upper left")
    _time_axis(ax, data)
    row = 2
    for quantity, per_sensor in sd.sensors.items():
        ax = fig.add_subplot(grid[row])
        row += 1
        title, limit_key = QUANTITY_ZH[quantity]
        for sensor, series in per_sensor.items():
            ax.plot(_times(series), [v for _, v in series], linewidth=1.2, label=sensor)
        if limit_key in ("soil_moisture", "water_level"):
            _thresholds(ax, SENSOR_LIMITS[limit_key].steps())
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7, ncol=5, loc="upper left")
        _time_axis(ax, data)
    if not sd.sensors:
        ax = fig.add_subplot(grid[row])
        row += 1
        ax.text(0.5, 0.5, "本点无位移/水文传感器", ha="center", va="center")
        ax.set_axis_off()
    _level_timeline(fig.add_subplot(grid[row]), sd, data)
    fig.subplots_adjust(left=0.09, right=0.97, top=0.94, bottom=0.04, hspace=0.55)


def _hourly(sd: SiteData, data: StormData) -> list[tuple[int, float]]:
    """Hourly totals from 10-min buckets, labelled by the hour's start."""
    out: dict[int, float] = {}
    for t, v in sd.rain:
        if t > data.start:
            hour = (t - 1) // 3600 * 3600
            out[hour] = out.get(hour, 0.0) + v
    return sorted(out.items())


def _level_timeline(ax: Axes, sd: SiteData, data: StormData) -> None:
    """Coloured bands: the highest level of any rule at the site between transitions."""
    points = [(data.start, 0.0), *[(t, v) for t, v in sd.levels if t >= data.start], (data.end, -1.0)]
    for (t0, lv), (t1, _) in zip(points, points[1:], strict=False):
        if lv > 0:
            name = LEVELS[int(lv) - 1]
            ax.axvspan(x(t0), x(t1), color=LEVEL_RGB[name], alpha=0.85, label=LEVEL_ZH[name])
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    if unique:
        ax.legend(unique.values(), unique.keys(), fontsize=7, ncol=4, loc="upper left")
    ax.set_yticks([])
    ax.set_title("预警等级时间线", fontsize=10)
    _time_axis(ax, data)


def response_page(fig: Figure, data: StormData) -> None:
    """Alerts sent by channel and state, acknowledgements and escalations, evacuation progress per grid."""
    fig.suptitle("预警发布、确认与人员转移", fontsize=15, fontweight="bold")
    grid = fig.add_gridspec(3, 1, height_ratios=[1.3, 1.0, 1.6])
    ax = fig.add_subplot(grid[0])
    keys = sorted(data.deliveries)
    labels = [f"{CHANNEL_ZH.get(c, c)}{STATE_ZH.get(s, s)}" for c, s in keys]
    counts = [data.deliveries[k] for k in keys]
    colors = ["#d01c1c" if s == "failed" else "#f07c00" if s == "retry" else "#4a90d9" for _, s in keys]
    ax.barh(labels, counts, color=colors)
    for y, n in enumerate(counts):
        ax.text(n, y, f" {n}", va="center", fontsize=8)
    ax.set_title(f"通知发送：按渠道与状态（合计 {sum(counts)} 条）", fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    ax = fig.add_subplot(grid[1])
    ax.set_axis_off()
    lines = [
        f"确认 {len(data.acks)} 次；升级到镇 {len(data.escalations)} 次；无人机派出 {len(data.drones)} 次"
    ]
    for a in data.acks[:6]:
        lines.append(f"  {cst_text(a['time'])}  确认  {a['site']}  {a['who']}（{a['via']}）")
    for e in data.escalations[:6]:
        lines.append(f"  {cst_text(e['time'])}  升级  {e['site']}  → {e['to']}  {e['alert_id']}")
    ax.text(0.0, 1.0, "\n".join(lines), va="top", fontsize=9, family=None)
    ax.set_title("确认与升级", fontsize=10, loc="left")
    ax = fig.add_subplot(grid[2])
    for g, series in sorted(data.evacuation.items()):
        total = data.evac_total.get(g, 0)
        last = series[-1][1] if series else 0
        ax.step(
            _times(series),
            [v for _, v in series],
            where="post",
            linewidth=1.6,
            label=f"{g} {last:.0f}/{total}",
        )
    ax.set_title("各网格已转移人数（图例：已转移/应转移）", fontsize=10)
    if data.evacuation:
        ax.legend(fontsize=8, loc="lower right")
    else:
        ax.text(0.5, 0.5, "本时段无人员转移记录", transform=ax.transAxes, ha="center", va="center")
    _time_axis(ax, data)
    fig.subplots_adjust(left=0.16, right=0.95, top=0.93, bottom=0.05, hspace=0.4)
