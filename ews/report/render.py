"""Lay out and write the report: summary, one page per hazard point, the response page; PDF or PNG."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on a hub or in CI; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ews.report.data import StormData  # noqa: E402
from ews.report.fonts import use_cjk_font  # noqa: E402
from ews.report.pages import A4, response_page, site_page  # noqa: E402
from ews.report.summary import summary_page  # noqa: E402

log = logging.getLogger(__name__)


class ReportError(ValueError):
    """The output path has a suffix the report cannot write."""


def page_count(data: StormData) -> int:
    return 2 + len(data.sites)


def _pages(data: StormData, generated: dt.datetime) -> list[Figure]:
    figs = []
    fig = plt.figure(figsize=A4)
    summary_page(fig, data, generated)
    figs.append(fig)
    for sd in data.sites:
        fig = plt.figure(figsize=A4)
        site_page(fig, sd, data)
        figs.append(fig)
    fig = plt.figure(figsize=A4)
    response_page(fig, data)
    figs.append(fig)
    return figs


def png_paths(out: Path, n: int) -> list[Path]:
    """Page 1 keeps the asked-for name; later pages get -2, -3, … before the suffix."""
    return [out if i == 1 else out.with_name(f"{out.stem}-{i}{out.suffix}") for i in range(1, n + 1)]


def render(data: StormData, out: Path, generated: dt.datetime | None = None, dpi: int = 150) -> list[Path]:
    """Write the report; returns the files written (one PDF, or one PNG per page)."""
    suffix = out.suffix.lower()
    if suffix not in (".pdf", ".png"):
        raise ReportError(f"{out}: the report is written as .pdf or .png")
    family = use_cjk_font()
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # it logs every subset at INFO
    generated = generated or dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
    figs = _pages(data, generated)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        if suffix == ".pdf":
            meta = {
                "Title": "凤山村预警过程总结报告",
                "Subject": "After-action storm report",
                "Creator": "ews report",
            }
            with PdfPages(out, metadata=meta) as pdf:
                for fig in figs:
                    pdf.savefig(fig)
            written = [out]
        else:
            written = png_paths(out, len(figs))
            for fig, path in zip(figs, written, strict=True):
                fig.savefig(path, dpi=dpi)
    finally:
        for fig in figs:
            plt.close(fig)
    log.info("report written pages=%d files=%s font=%s", len(figs), ",".join(map(str, written)), family)
    return written
