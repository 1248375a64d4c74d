"""How the bench scripts print their figures: one JSON object (--json), or one figure per line."""

from __future__ import annotations

import json
from typing import Any


def show(figures: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(figures))
        return
    width = max(map(len, figures), default=0) + 2
    for k, v in figures.items():
        print(f"{k:<{width}}{v if isinstance(v, str) else json.dumps(v)}")
