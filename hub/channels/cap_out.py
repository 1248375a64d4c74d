"""CAP 1.2 out: every alert, update and cancel as schema-valid XML, written to a folder and published on MQTT."""

from __future__ import annotations

import logging
import os
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from edge.mqttlink import MqttConfig
from edge.wire import cap_topic
from hub.channels.base import ChannelError, Notification
from hub.channels.mqtt_alert import MqttPublisher
from hub.feeds.capschema import CAP12_NS, parse_cap_xml, validate_cap

log = logging.getLogger(__name__)

CST = timezone(timedelta(hours=8))  # CAP wants a zone offset; China Standard Time reads best locally
LEVEL_CAP = {  # level -> (responseType, urgency, severity, certainty)
    "red": ("Evacuate", "Immediate", "Extreme", "Likely"),
    "orange": ("Prepare", "Expected", "Severe", "Likely"),
    "yellow": ("Monitor", "Expected", "Moderate", "Possible"),
    "blue": ("Monitor", "Future", "Minor", "Possible"),
}
HAZARD = {  # hazard -> (CAP category, Chinese event name)
    "landslide": ("Geo", "山体滑坡"),
    "collapse": ("Geo", "崩塌"),
    "debris_flow": ("Geo", "泥石流"),
    "ground_subsidence": ("Geo", "地面塌陷"),
    "flash_flood": ("Met", "山洪"),
    "flood": ("Met", "洪水"),
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class CapOutConfig(BaseModel):
    """Where CAP messages go and who they say issued them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["cap"] = Field("cap", description="Channel kind")
    folder: Path = Field(Path("var/cap"), description="Folder the XML files are written to")
    org: str = Field(
        "cn.gd.qingyuan.yangshan.libu.fengshan", description="Identifier prefix (reverse domain)"
    )
    sender: str = Field("ews@fengshan.libu.yangshan.gd.cn", description="CAP <sender>")
    sender_name: str = Field("阳山县黎埠镇凤山村三防预警系统", description="CAP <senderName>")
    contact: str = Field("黎埠镇三防办", description="CAP <contact>")
    radius_km: float = Field(1.0, gt=0, description="Radius of the warned circle around the hazard point")
    expires_h: float = Field(6.0, gt=0, description="Hours until a message expires unless updated")
    mqtt: MqttConfig | None = Field(
        None, description="Broker to publish ews/v1/cap/{identifier} on; none: files only"
    )
    client_id: str = Field("ews-hub-cap", description="MQTT client id")
    publish_timeout_s: float = Field(5.0, gt=0, description="Wait this long for PUBACK before retrying")

    def build(self) -> CapOut:
        return CapOut(self)


def cap_time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).astimezone(CST).strftime("%Y-%m-%dT%H:%M:%S+08:00")


class CapOut:
    """Builds, validates, writes (atomically) and publishes one CAP message per notice."""

    def __init__(self, cfg: CapOutConfig) -> None:
        self.cfg = cfg
        self.publisher = (
            MqttPublisher(cfg.mqtt, cfg.client_id, cfg.publish_timeout_s, "cap channel") if cfg.mqtt else None
        )

    def start(self) -> None:
        self.cfg.folder.mkdir(parents=True, exist_ok=True)
        if self.publisher:
            self.publisher.start()

    def close(self) -> None:
        if self.publisher:
            self.publisher.close()

    def episode_prefix(self, n: Notification) -> str:
        episode_start = n.extra.get("episode", "").rpartition("#")[2] or "0"
        rule = n.extra.get("rule") or n.alert_id.rpartition("/")[2]
        return _UNSAFE.sub("_", f"{self.cfg.org}.{n.site}.{rule}.{episode_start}.")

    def identifier(self, n: Notification) -> str:
        """Stable per notice, so a retry rewrites the same message instead of issuing a new one."""
        at = datetime.fromtimestamp(float(n.extra.get("at") or 0.0), UTC).strftime("%Y%m%dT%H%M%S")
        kind = n.extra.get("kind", "alert")
        return _UNSAFE.sub("_", f"{self.episode_prefix(n)}{at}.{kind}-{n.level}")

    def earlier(self, n: Notification, identifier: str) -> list[tuple[str, str]]:
        """(identifier, sent) of messages already issued in this episode, read back from the folder."""
        out: list[tuple[str, str, str]] = []
        for path in self.cfg.folder.glob(f"{self.episode_prefix(n)}*.xml"):
            if path.stem == identifier:
                continue
            try:
                root = parse_cap_xml(path.read_bytes())
            except (OSError, ValueError) as exc:
                log.warning("cap earlier message unreadable file=%s error=%s", path, exc)
                continue
            sent = root.findtext(f"{{{CAP12_NS}}}sent") or ""
            out.append((sent, path.stem, sent))
        return [(ident, sent) for _, ident, sent in sorted(out)]

    def build_xml(self, n: Notification) -> tuple[str, bytes]:
        kind = n.extra.get("kind", "alert")
        ident = self.identifier(n)
        refs = self.earlier(n, ident)
        at = float(n.extra.get("at") or 0.0)
        ET.register_namespace("", CAP12_NS)
        q = f"{{{CAP12_NS}}}"
        alert = ET.Element(f"{q}alert")

        def sub(parent: ET.Element, tag: str, text: str) -> ET.Element:
            el = ET.SubElement(parent, f"{q}{tag}")
            el.text = text
            return el

        sub(alert, "identifier", ident)
        sub(alert, "sender", self.cfg.sender)
        sub(alert, "sent", cap_time(at))
        sub(alert, "status", "Test" if kind == "test" else "Actual")
        msg_type = "Cancel" if kind in ("clear", "maintenance_clear") else ("Update" if refs else "Alert")
        sub(alert, "msgType", msg_type)
        restricted = kind.startswith("maintenance")
        sub(alert, "scope", "Restricted" if restricted else "Public")
        if restricted:
            sub(alert, "restriction", "仅限值班人员：设备与数据健康告警")
        if refs:
            sub(alert, "references", " ".join(f"{self.cfg.sender},{i},{s}" for i, s in refs))
        sub(alert, "incidents", self.episode_prefix(n).rstrip("."))
        self._info(alert, sub, n, kind, at)
        xml = ET.tostring(alert, encoding="utf-8", xml_declaration=True)
        return ident, xml

    def _info(self, alert: ET.Element, sub: Any, n: Notification, kind: str, at: float) -> None:
        clear = kind in ("clear", "maintenance_clear")
        category, event = HAZARD.get(n.extra.get("hazard", ""), ("Geo", "地质灾害"))
        response, urgency, severity, certainty = LEVEL_CAP.get(
            n.level, ("Monitor", "Unknown", "Unknown", "Unknown")
        )
        if clear:
            response, urgency, severity, certainty = "AllClear", "Past", "Minor", "Observed"
        info = sub(alert, "info", None)
        sub(info, "language", "zh-CN")
        sub(info, "category", category)
        sub(info, "event", event)
        sub(info, "responseType", "None" if kind == "test" else response)
        sub(info, "urgency", urgency)
        sub(info, "severity", severity)
        sub(info, "certainty", certainty)
        code = sub(info, "eventCode", None)
        sub(code, "valueName", "CN-EWS-LEVEL")
        sub(code, "value", n.level)
        sub(info, "effective", cap_time(at))
        sub(info, "expires", cap_time(at + self.cfg.expires_h * 3600))
        sub(info, "senderName", self.cfg.sender_name)
        site_name = n.extra.get("site_name", n.site)
        level_zh = n.extra.get("level_zh", "")
        sub(info, "headline", f"{site_name}{'预警解除' if clear else level_zh + event + '预警'}")
        sub(info, "description", n.text)
        if n.extra.get("action"):
            sub(info, "instruction", n.extra["action"])
        sub(info, "contact", self.cfg.contact)
        for name, value in (("level", n.level), ("level_zh", level_zh), ("rule", n.extra.get("rule", "")),
                            ("value", n.extra.get("value", "")), ("alert_id", n.alert_id)):  # fmt: skip
            if value:
                p = sub(info, "parameter", None)
                sub(p, "valueName", name)
                sub(p, "value", value)
        area = sub(info, "area", None)
        grids = n.extra.get("grids", "")
        sub(area, "areaDesc", f"{site_name}（{grids}）" if grids else site_name)
        if n.extra.get("lat") and n.extra.get("lon"):
            sub(
                area,
                "circle",
                f"{float(n.extra['lat']):.5f},{float(n.extra['lon']):.5f} {self.cfg.radius_km:g}",
            )

    def send(self, n: Notification) -> str:
        ident, xml = self.build_xml(n)
        errors = validate_cap(xml)
        if errors:  # never issue a message county platforms would reject; say exactly why
            raise ChannelError(f"cap {ident}: not valid CAP 1.2: {'; '.join(errors[:3])}", recoverable=False)
        self.cfg.folder.mkdir(parents=True, exist_ok=True)
        path = self.cfg.folder / f"{ident}.xml"
        tmp = path.with_suffix(".xml.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(xml)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise ChannelError(f"cap {path}: {exc}", recoverable=True) from None
        if self.publisher:
            self.publisher.publish(cap_topic(ident), xml, retain=False)
        return str(path)
