"""MAVLink upload of a drone mission plan: mission items, geofence and altitude limit; never arms or starts."""

from __future__ import annotations

import math
import os
import time
from typing import Any

from hub.channels import mission

# Altitude-limit parameter per autopilot (ArduPilot FENCE_ALT_MAX, PX4 GF_MAX_VER_DIST).
_ALT_PARAM = {3: "FENCE_ALT_MAX", 12: "GF_MAX_VER_DIST"}
MISSION_TYPE_MISSION, MISSION_TYPE_FENCE = 0, 1
# Commands whose params 5-6 are latitude/longitude: they are always sent as degE7 in a global frame.
_POSITIONED = frozenset(
    {mission.NAV_WAYPOINT, mission.NAV_TAKEOFF, mission.NAV_LOITER_TURNS, mission.DO_SET_ROI_LOCATION}
)


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
        frame, command = item["frame"], item["command"]
        if frame == mission.FRAME_MISSION and command in _POSITIONED:
            # Plans written before the ROI fix carry a position in frame MISSION, which an autopilot
            # reads as unscaled integers (a camera pointed near 0°N 0°E): send it as a global position.
            frame = mission.FRAME_GLOBAL_RELATIVE_ALT
        if frame == mission.FRAME_MISSION:
            x, y = int(p[4]), int(p[5])
        else:
            x, y = round(p[4] * 1e7), round(p[5] * 1e7)
        out.append((frame, command, p[:4], x, y, p[6]))
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
