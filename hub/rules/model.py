"""Rule-engine value types shared with the dispatcher: warning levels, alert states and transitions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum

# Per-level words, indexed by the level: Enum's `name` is a descriptor lookup, and every transition
# renders a message with three of these.
_LABELS = ("none", "blue", "yellow", "orange", "red")
_ZH = ("无", "蓝色", "黄色", "橙色", "红色")
_ROMAN = ("", "IV", "III", "II", "I")


class Level(IntEnum):
    """China's four warning colours; higher is more severe. NONE means no warning."""

    NONE = 0
    BLUE = 1  # 蓝色 IV
    YELLOW = 2  # 黄色 III
    ORANGE = 3  # 橙色 II
    RED = 4  # 红色 I

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def zh(self) -> str:
        return _ZH[self]

    @property
    def roman(self) -> str:
        return _ROMAN[self]

    @classmethod
    def parse(cls, text: str) -> Level:
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"unknown level {text!r}; use none, blue, yellow, orange or red") from None


class AlertState(IntEnum):
    INACTIVE = 0
    PENDING = 1
    FIRING = 2
    RESOLVED = 3


@dataclass(frozen=True, slots=True)
class Transition:
    """A rule changed level (or state) at a site at event time `at`; the dispatcher's only input."""

    rule: str
    site: str
    at: float
    from_level: Level
    to_level: Level
    state: AlertState
    value: float | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    message: str = ""

    @property
    def alert_id(self) -> str:
        """Stable id of the alert episode this transition belongs to (rule and site)."""
        return f"{self.site}/{self.rule}"

    @property
    def escalated(self) -> bool:
        return self.to_level > self.from_level
