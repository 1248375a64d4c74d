"""Pick a font that renders Chinese (Noto CJK from Debian's fonts-noto-cjk) and embed it as TrueType."""

from __future__ import annotations

import matplotlib
from matplotlib import font_manager

PREFERRED = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Serif CJK SC",
    "WenQuanYi Zen Hei",
    "Source Han Sans SC",
)


class FontError(RuntimeError):
    """No installed font can draw Chinese."""


def use_cjk_font() -> str:
    """Configure matplotlib for Chinese text and extractable PDFs; returns the family used."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    family = next((name for name in PREFERRED if name in installed), None)
    if family is None:
        raise FontError("no font for Chinese found: install the Debian package fonts-noto-cjk (make deps)")
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = [family, "DejaVu Sans"]
    matplotlib.rcParams["axes.unicode_minus"] = False  # CJK fonts lack U+2212; use the ASCII hyphen
    # Type 42 (TrueType/CID) keeps a ToUnicode map, so the PDF's text layer can be searched and copied.
    matplotlib.rcParams["pdf.fonttype"] = 42
    matplotlib.rcParams["ps.fonttype"] = 42
    return family
