"""Drone-team dispatch: mission files (.plan, DJI .kmz) and a dispatch card; MAVLink upload only on a human go."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.channels import mission, wpml
from hub.channels.base import ChannelError, Notification

log = logging.getLogger(__name__)

_LEVEL_ZH = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="", description="Place name shown on the dispatch card")
    lat: float = Field(
        ge=-90, le=90, description="WGS84 latitude (DJI Pilot and MAVLink use WGS84, not GCJ-02)"
    )
    lon: float = Field(ge=-180, le=180, description="WGS84 longitude")
    alt_amsl: float = Field(default=0.0, description="Ground height above sea level, metres")


class DroneConfig(BaseModel):
    """The drone team: where it launches, how it flies, and which hazard points it may be sent to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["drone"] = Field(description="Channel kind")
    out_dir: Path = Field(description="Folder for .plan, .kmz and dispatch-card files")
    home: Point = Field(description="Launch point of the drone team")
    sites: dict[str, Point] = Field(default_factory=dict, description="Hazard point coordinates by site id")
    team: str = Field(default="无人机队", description="Team name on the card")
    default_officer: str = Field(default="值班员", description="Requesting officer when the alert names none")
    takeoff_alt_m: float = Field(default=30.0, gt=0, description="Takeoff altitude above the launch point")
    cruise_alt_m: float = Field(
        default=80.0, gt=0, description="Survey altitude above the launch point; mind the terrain"
    )
    cruise_speed_mps: float = Field(default=10.0, gt=0, le=20, description="Cruise speed")
    orbit_radius_m: float = Field(default=60.0, gt=0, description="Orbit radius around the hazard point")
    orbit_turns: float = Field(default=2.0, gt=0, le=10, description="Orbit turns")
    photo_interval_s: float = Field(default=2.0, gt=0, description="Seconds between photos during the orbit")
    altitude_limit_m: float = Field(
        default=120.0, gt=0, description="Altitude ceiling (China's light-UAV airspace is 120 m)"
    )
    fence_margin_m: float = Field(default=200.0, ge=0, description="Geofence margin beyond route and orbit")
    firmware: Literal["ardupilot", "px4"] = Field(
        default="ardupilot", description="Autopilot of the MAVLink aircraft"
    )
    dji_drone: tuple[int, int] = Field(
        default=(77, 0), description="WPML droneEnumValue and droneSubEnumValue"
    )
    dji_payload: int = Field(default=66, description="WPML payloadEnumValue")

    def build(self) -> DroneChannel:
        return DroneChannel(self)


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name)


class DroneChannel:
    """send() writes the mission files and the card; it never talks to an aircraft."""

    def __init__(self, config: DroneConfig) -> None:
        self.config = config

    def spec(self, n: Notification, now: float) -> mission.MissionSpec:
        target = self._target(n)
        c = self.config
        return mission.MissionSpec(
            alert_id=n.alert_id,
            site=n.site,
            target_lat=target.lat,
            target_lon=target.lon,
            home_lat=c.home.lat,
            home_lon=c.home.lon,
            home_alt_amsl=c.home.alt_amsl,
            takeoff_alt_m=c.takeoff_alt_m,
            cruise_alt_m=c.cruise_alt_m,
            cruise_speed_mps=c.cruise_speed_mps,
            orbit_radius_m=c.orbit_radius_m,
            orbit_turns=c.orbit_turns,
            photo_interval_s=c.photo_interval_s,
            altitude_limit_m=c.altitude_limit_m,
            fence_margin_m=c.fence_margin_m,
            firmware=c.firmware,
            created_ms=int(now * 1000),
            dji_drone=c.dji_drone,
            dji_payload=c.dji_payload,
        )

    def _target(self, n: Notification) -> Point:
        if n.extra.get("lat") and n.extra.get("lon"):  # the dispatcher sends "" when it knows no site
            try:
                return Point(
                    name=n.extra.get("site_name", n.site),
                    lat=float(n.extra["lat"]),
                    lon=float(n.extra["lon"]),
                    alt_amsl=0.0,
                )
            except ValueError as exc:
                raise ChannelError(f"drone: bad coordinates for {n.site}: {exc}", recoverable=False) from exc
        if n.site in self.config.sites:
            return self.config.sites[n.site]
        raise ChannelError(
            f"drone: no coordinates for site {n.site!r} (alert {n.alert_id})", recoverable=False
        )

    def paths(self, alert_id: str) -> tuple[Path, Path, Path]:
        base = self.config.out_dir / _safe(alert_id)
        return base.with_suffix(".plan"), base.with_suffix(".kmz"), base.with_suffix(".card.txt")

    def card_for(self, n: Notification) -> str:
        """The dispatch card text the dispatcher sends by SMS to the drone team."""
        plan_path = self.paths(n.alert_id)[0]
        return dispatch_card(n, self._target(n), self.config, plan_path)

    def send(self, n: Notification) -> str:
        now = time.time()
        try:
            spec = self.spec(n, now)
            plan_json = json.dumps(mission.plan(spec), ensure_ascii=False, indent=2, allow_nan=False)
            kmz = wpml.kmz(spec)
        except mission.MissionError as exc:
            raise ChannelError(f"drone: unsafe mission for {n.alert_id}: {exc}", recoverable=False) from exc
        plan_path, kmz_path, card_path = self.paths(n.alert_id)
        try:
            self.config.out_dir.mkdir(parents=True, exist_ok=True)
            _write_atomic(plan_path, plan_json.encode("utf-8"))
            _write_atomic(kmz_path, kmz)
            _write_atomic(card_path, self.card_for(n).encode("utf-8"))
        except OSError as exc:
            raise ChannelError(f"drone: cannot write mission files: {exc}", recoverable=True) from exc
        log.info("drone mission written alert=%s plan=%s kmz=%s", n.alert_id, plan_path, kmz_path)
        return f"drone:plan={plan_path};kmz={kmz_path};card={card_path}"


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def dispatch_card(n: Notification, target: Point, c: DroneConfig, plan_path: Path) -> str:
    """Pure: the card text with coordinates, the alert, the requesting officer and the go command."""
    level = _LEVEL_ZH.get(n.level, n.level)
    officer = n.extra.get("requesting_officer") or n.extra.get("officer") or c.default_officer
    return "\n".join(
        [
            f"【凤山预警·{c.team}出动】{level}预警",
            f"隐患点：{n.site} {target.name}".rstrip(),
            f"坐标(WGS84)：{target.lat:.6f},{target.lon:.6f}",
            f"警情：{n.text}",
            f"请求人：{officer}",
            f"航线：飞抵隐患点，离起飞点高{c.cruise_alt_m:g}米，绕飞半径{c.orbit_radius_m:g}米{c.orbit_turns:g}圈，"
            f"每{c.photo_interval_s:g}秒拍照，返航；限高{c.altitude_limit_m:g}米",
            f"航线文件：{plan_path.name} / {plan_path.with_suffix('.kmz').name}",
            f"起飞前须人工确认：ews drone go {n.alert_id} --plan {plan_path}",
        ]
    )


# -- MAVLink upload (only ever called from `ews drone go`) ----------------------------------------------
