"""Channel kinds: one registry line per channel module. An unknown kind is a config error at start-up."""

from __future__ import annotations

from pydantic import BaseModel

# kind -> config model; each model has build() returning the channel.
CHANNEL_KINDS: dict[str, type[BaseModel]] = {}

# alerts engineer: dispatcher-owned channels
from hub.channels.annotation import AnnotationConfig  # noqa: E402
from hub.channels.console import ConsoleConfig  # noqa: E402
from hub.channels.mqtt_alert import MqttAlertConfig  # noqa: E402

CHANNEL_KINDS["console"] = ConsoleConfig
CHANNEL_KINDS["mqtt_alert"] = MqttAlertConfig
CHANNEL_KINDS["annotation"] = AnnotationConfig

# field channels engineer: SMS modem, loudspeaker broadcast, drone dispatch
from hub.channels.broadcast import BroadcastConfig  # noqa: E402
from hub.channels.drone import DroneConfig  # noqa: E402
from hub.channels.sms_modem import SmsModemConfig  # noqa: E402

CHANNEL_KINDS["sms_modem"] = SmsModemConfig
CHANNEL_KINDS["broadcast"] = BroadcastConfig
CHANNEL_KINDS["drone"] = DroneConfig
from hub.channels.sms_http import AliyunSmsConfig, WebhookSmsConfig  # noqa: E402

CHANNEL_KINDS["sms_aliyun"] = AliyunSmsConfig
CHANNEL_KINDS["sms_webhook"] = WebhookSmsConfig
from hub.channels.cap_out import CapOutConfig  # noqa: E402

CHANNEL_KINDS["cap"] = CapOutConfig
