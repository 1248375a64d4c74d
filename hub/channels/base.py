"""The channel contract: a Notification in, a receipt out, ChannelError(recoverable=...) on failure."""

from __future__ import annotations

from dataclasses import dataclass, field


class ChannelError(Exception):
    """Delivery failed. recoverable=True means retry later; False means fail over or give up."""

    def __init__(self, message: str, *, recoverable: bool) -> None:
        super().__init__(message)
        self.recoverable = recoverable


@dataclass(frozen=True, slots=True)
class Notification:
    """One message for one recipient on one channel, about one alert."""

    alert_id: str
    recipient: str  # phone number, speaker zone, team id, or topic, depending on the channel
    text: str
    level: str
    site: str
    extra: dict[str, str] = field(default_factory=dict)
