"""Channel kinds: one registry line per channel module. An unknown kind is a config error at start-up."""

from __future__ import annotations

from pydantic import BaseModel

from hub.channels.broadcast import BroadcastConfig
from hub.channels.drone import DroneConfig
from hub.channels.sms_modem import SmsModemConfig

# kind -> config model; each model has build() returning the channel.
CHANNEL_KINDS: dict[str, type[BaseModel]] = {
    "sms_modem": SmsModemConfig,
    "broadcast": BroadcastConfig,
    "drone": DroneConfig,
}
