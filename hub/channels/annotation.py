"""Grafana annotations: alert events as `annotation` rows in InfluxDB (docs/schema.md), read by the dashboards."""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.channels.base import ChannelError, Notification
from hub.influx import InfluxClient, InfluxConfig, InfluxError, line

log = logging.getLogger(__name__)

# Notice kind -> annotation kind (schema: alert, ack, escalation, evacuation, drone, autonomy, test).
KINDS = {
    "alert": "alert",
    "down": "alert",
    "clear": "alert",
    "maintenance": "alert",
    "maintenance_clear": "alert",
    "ack": "ack",
    "escalation": "escalation",
    "evacuation": "evacuation",
    "test": "test",
    "drone": "drone",
}
TITLES = {
    "alert": "{level_zh}预警 {site_name}",
    "down": "降为{level_zh} {site_name}",
    "clear": "解除 {site_name}",
    "maintenance": "设备告警 {site_name}",
    "maintenance_clear": "设备恢复 {site_name}",
    "ack": "已确认 {site_name}",
    "escalation": "上报镇里 {site_name}",
    "evacuation": "转移进度 {site_name}",
    "test": "测试 {site_name}",
}


class AnnotationConfig(BaseModel):
    """Where annotation rows go: the InfluxDB the dashboards read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["annotation"] = Field("annotation", description="Channel kind")
    influx: InfluxConfig = Field(
        default_factory=lambda: InfluxConfig.model_validate({}), description="InfluxDB v1 HTTP API"
    )
    create_database: bool = Field(True, description="CREATE DATABASE at start (harmless if it exists)")

    def build(self) -> AnnotationChannel:
        return AnnotationChannel(InfluxClient(self.influx), self.create_database)


def annotation_line(n: Notification) -> str:
    """One row. The `rule` tag keeps two rules' events at the same site and instant apart."""
    notice = n.extra.get("kind", "alert")
    at = float(n.extra.get("at") or 0.0)
    title = TITLES.get(notice, "{site_name}").format(
        level_zh=n.extra.get("level_zh", n.level), site_name=n.extra.get("site_name", n.site)
    )
    tags = {"site": n.site, "kind": KINDS.get(notice, "alert"), "rule": n.extra.get("rule", "")}
    fields = {"title": title, "text": n.text, "level_num": int(n.extra.get("level_num") or 0)}
    return line("annotation", tags, fields, at)


class AnnotationChannel:
    """Blocking write of one row per notification (the dispatcher runs it on its own thread)."""

    def __init__(self, client: InfluxClient, create_database: bool = True) -> None:
        self.client = client
        self.create_database = create_database
        self._db_ready = not create_database

    def send(self, n: Notification) -> str:
        try:
            if not self._db_ready:
                self.client.create_database()
                self._db_ready = True
            self.client.write([annotation_line(n)])
        except InfluxError as exc:
            raise ChannelError(f"annotation: {exc}", recoverable=exc.recoverable) from None
        except ValueError as exc:  # a non-finite value or empty field set: the data is wrong, not the server
            raise ChannelError(f"annotation: {exc}", recoverable=False) from None
        return f"annotation:{n.site}:{n.extra.get('kind', 'alert')}"
