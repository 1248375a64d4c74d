"""The one-page summary table in Chinese: per hazard point, the storm's peaks and the response."""

from __future__ import annotations

import datetime as dt

from matplotlib.figure import Figure

from ews.grafana.thresholds import LEVEL_RGB, LEVEL_ZH, LEVELS, RAIN_WINDOWS
from ews.report.data import SiteData, StormData
from ews.report.pages import cst_text

HEADER = [
    "隐患点",
    "最高等级",
    "首次预警",
    "最大1小时雨量",
    "最大24小时雨量",
    "过程雨量",
    "通知成功/失败",
    "确认",
    "升级",
]


def _level_text(n: int) -> str:
    return "无" if n <= 0 else LEVEL_ZH[LEVELS[n - 1]]


def _row(sd: SiteData, data: StormData) -> list[str]:
    sid = sd.site.id
    sent = data.deliveries_by_site.get((sid, "sent"), 0)
    failed = data.deliveries_by_site.get((sid, "failed"), 0)
    return [
        sd.site.name,
        _level_text(sd.max_level()),
        cst_text(sd.first_alert()),
        f"{sd.peak('1h'):.1f} mm",
        f"{sd.peak('24h'):.1f} mm",
        f"{sd.total_rain(data.start):.1f} mm",
        f"{sent}/{failed}",
        str(sum(1 for a in data.acks if a.get("site") == sid)),
        str(sum(1 for e in data.escalations if e.get("site") == sid)),
    ]


def summary_page(fig: Figure, data: StormData, generated: dt.datetime) -> None:
    fig.text(0.5, 0.955, "凤山村地质灾害与山洪预警 过程总结报告", ha="center", fontsize=17, fontweight="bold")
    fig.text(
        0.5,
        0.925,
        f"过程时段（北京时间）：{cst_text(data.start)} 至 {cst_text(data.end)}    生成：{generated:%Y-%m-%d %H:%M}",
        ha="center",
        fontsize=9,
    )
    ax = fig.add_axes((0.03, 0.55, 0.94, 0.34))
    ax.set_axis_off()
    rows = [_row(sd, data) for sd in data.sites]
    widths = [0.2, 0.09, 0.1, 0.1, 0.1, 0.1, 0.11, 0.07, 0.07]
    table = ax.table(cellText=rows, colLabels=HEADER, colWidths=widths, loc="upper center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(7.5)
    table.scale(1, 2.2)
    for (r, c), cell in table.get_celld().items():
        if r == 0:
            cell.set_facecolor("#e8eef6")
            cell.set_text_props(fontweight="bold")
        elif c == 1:
            level = data.sites[r - 1].max_level()
            if level > 0:
                cell.set_facecolor(LEVEL_RGB[LEVELS[level - 1]])
                cell.set_text_props(color="white" if level != 2 else "black")
    evac = [
        f"{g}：{s[-1][1]:.0f}/{data.evac_total.get(g, 0)} 人" for g, s in sorted(data.evacuation.items()) if s
    ]
    sent = sum(n for (c, s), n in data.deliveries.items() if s == "sent")
    failed = sum(n for (c, s), n in data.deliveries.items() if s == "failed")
    lines = [
        f"通知：共发送 {sent} 条，失败 {failed} 条；确认 {len(data.acks)} 次；升级到镇 {len(data.escalations)} 次；"
        f"无人机派出 {len(data.drones)} 次。",
        "人员转移（已转移/应转移）：" + ("；".join(evac) if evac else "无"),
        "临界雨量（山洪，mm）："
        + "；".join(
            f"{w.title} 蓝{w.blue:g}/黄{w.yellow:g}/橙{w.orange:g}/红{w.red:g}" for w in RAIN_WINDOWS.values()
        ),
        "说明：时间为北京时间；雨量为自动雨量站实测；等级为各规则中最高等级。",
    ]
    fig.text(0.05, 0.5, "\n\n".join(lines), va="top", fontsize=9, wrap=True)
