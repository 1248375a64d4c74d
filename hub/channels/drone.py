"""Drone-team dispatch: mission files (.plan, DJI .kmz) and a dispatch card; MAVLink upload only on a human go."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.channels import mission, wpml
from hub.channels.base import ChannelError, Notification

log = logging.getLogger(__name__)

_LEVEL_ZH = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}
# Altitude-limit parameter per autopilot (ArduPilot FENCE_ALT_MAX, PX4 GF_MAX_VER_DIST).
_ALT_PARAM = {3: "FENCE_ALT_MAX", 12: "GF_MAX_VER_DIST"}
MISSION_TYPE_MISSION, MISSION_TYPE_FENCE = 0, 1


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


class UploadError(Exception):
    """The aircraft did not answer, or refused the mission, fence or parameter."""


def mission_items(plan: dict[str, Any]) -> list[tuple[int, int, list[float], int, int, float]]:
    """(frame, command, params1-4, x, y, z) per MISSION_ITEM_INT; ArduPilot reserves seq 0 for home."""
    m = plan["mission"]
    out = []
    if m.get("firmwareType") == 3:
        hlat, hlon, halt = m["plannedHomePosition"]
        out.append(
            (0, mission.NAV_WAYPOINT, [0.0, 0.0, 0.0, 0.0], round(hlat * 1e7), round(hlon * 1e7), float(halt))
        )
    for item in m["items"]:
        p = [math.nan if v is None else float(v) for v in item["params"]]
        if item["frame"] == mission.FRAME_MISSION:
            x, y = int(p[4]), int(p[5])
        else:
            x, y = round(p[4] * 1e7), round(p[5] * 1e7)
        out.append((item["frame"], item["command"], p[:4], x, y, p[6]))
    return out


def fence_items(plan: dict[str, Any]) -> list[tuple[int, int, list[float], int, int, float]]:
    out = []
    for c in plan.get("geoFence", {}).get("circles", []):
        lat, lon = c["circle"]["center"]
        cmd = mission.FENCE_CIRCLE_INCLUSION if c.get("inclusion", True) else 5004
        out.append(
            (0, cmd, [float(c["circle"]["radius"]), 0.0, 0.0, 0.0], round(lat * 1e7), round(lon * 1e7), 0.0)
        )
    return out


def upload(plan: dict[str, Any], connection: str, *, timeout_s: float = 30.0) -> str:
    """Upload mission, geofence and altitude limit over MAVLink. It does not arm or start the aircraft."""
    os.environ.setdefault(
        "MAVLINK20", "1"
    )  # mission_type (fence) needs MAVLink 2; read by pymavlink on import
    from pymavlink import mavutil

    conn = mavutil.mavlink_connection(connection, source_system=255, source_component=190)
    try:
        _wait_vehicle(conn, mavutil, timeout_s)
        items = mission_items(plan)
        _transfer(conn, mavutil, items, MISSION_TYPE_MISSION, timeout_s)
        fence = fence_items(plan)
        if fence:
            _transfer(conn, mavutil, fence, MISSION_TYPE_FENCE, timeout_s)
        limit = plan.get("ews", {}).get("altitudeLimitM")
        param = _ALT_PARAM.get(plan["mission"].get("firmwareType"))
        if limit and param:
            _set_param(conn, mavutil, param, float(limit), timeout_s)
        return (
            f"uploaded mission={len(items)} fence={len(fence)} {param}={limit} "
            f"to system={conn.target_system} component={conn.target_component}"
        )
    finally:
        conn.close()


def _wait_vehicle(conn: Any, mavutil: Any, timeout_s: float) -> None:
    """Announce ourselves (udpout needs a first packet) until the vehicle's heartbeat arrives."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        conn.mav.heartbeat_send(mavutil.mavlink.MAV_TYPE_GCS, mavutil.mavlink.MAV_AUTOPILOT_INVALID, 0, 0, 0)
        msg = conn.recv_match(type="HEARTBEAT", blocking=True, timeout=1.0)
        if msg is not None and msg.get_srcSystem() != 255:
            conn.target_system, conn.target_component = msg.get_srcSystem(), msg.get_srcComponent()
            return
    raise UploadError(f"no heartbeat from the aircraft within {timeout_s:.0f}s")


def _transfer(conn: Any, mavutil: Any, items: list, mission_type: int, timeout_s: float) -> None:
    """The MAVLink mission protocol: COUNT, answer each REQUEST(_INT) with ITEM_INT, end on ACK."""
    ml = mavutil.mavlink
    ts, tc = conn.target_system, conn.target_component
    conn.mav.mission_count_send(ts, tc, len(items), mission_type)
    deadline, requested = time.monotonic() + timeout_s, False
    while time.monotonic() < deadline:
        msg = conn.recv_match(
            type=["MISSION_REQUEST_INT", "MISSION_REQUEST", "MISSION_ACK"], blocking=True, timeout=1.5
        )
        if msg is None:
            if not requested:
                conn.mav.mission_count_send(ts, tc, len(items), mission_type)  # COUNT may have been lost
            continue
        if getattr(msg, "mission_type", 0) != mission_type:
            continue
        if msg.get_type() == "MISSION_ACK":
            if msg.type == ml.MAV_MISSION_ACCEPTED:
                return
            name = (
                ml.enums["MAV_MISSION_RESULT"][msg.type].name
                if msg.type in ml.enums["MAV_MISSION_RESULT"]
                else msg.type
            )
            raise UploadError(f"aircraft rejected the {'fence' if mission_type else 'mission'}: {name}")
        requested = True
        if msg.seq >= len(items):
            raise UploadError(f"aircraft asked for item {msg.seq} of {len(items)}")
        frame, command, p, x, y, z = items[msg.seq]
        conn.mav.mission_item_int_send(ts, tc, msg.seq, frame, command, 0, 1, *p, x, y, z, mission_type)
    raise UploadError(f"{'fence' if mission_type else 'mission'} upload timed out after {timeout_s:.0f}s")


def _set_param(conn: Any, mavutil: Any, name: str, value: float, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        conn.mav.param_set_send(
            conn.target_system,
            conn.target_component,
            name.encode(),
            value,
            mavutil.mavlink.MAV_PARAM_TYPE_REAL32,
        )
        msg = conn.recv_match(type="PARAM_VALUE", blocking=True, timeout=1.5)
        if msg is not None and msg.param_id == name:
            if abs(msg.param_value - value) > 1e-3:
                raise UploadError(f"aircraft kept {name}={msg.param_value}, not {value}")
            return
    raise UploadError(f"no answer setting {name}")
