"""Pure drone missions to a hazard point: the mission spec, its geometry and a QGroundControl .plan (the DJI KMZ is in wpml.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

# MAVLink commands (common.xml) used by the survey mission.
NAV_WAYPOINT, NAV_LOITER_TURNS, NAV_RTL, NAV_TAKEOFF = 16, 18, 20, 22
DO_SET_ROI_LOCATION, DO_SET_ROI_NONE = 195, 197
IMAGE_START_CAPTURE, IMAGE_STOP_CAPTURE = 2000, 2001
FENCE_CIRCLE_INCLUSION = 5003
FRAME_MISSION, FRAME_GLOBAL_RELATIVE_ALT = 2, 3
_FIRMWARE = {"ardupilot": 3, "px4": 12}  # MAV_AUTOPILOT
_EARTH_R = 6371008.8


class MissionError(ValueError):
    """The mission parameters are unsafe or inconsistent (e.g. a waypoint above the altitude limit)."""


@dataclass(frozen=True, slots=True)
class MissionSpec:
    """Everything a survey flight to one hazard point needs; altitudes are metres above the launch point."""

    alert_id: str
    site: str
    target_lat: float
    target_lon: float
    home_lat: float
    home_lon: float
    home_alt_amsl: float = 0.0
    takeoff_alt_m: float = 30.0
    cruise_alt_m: float = 80.0
    cruise_speed_mps: float = 10.0
    orbit_radius_m: float = 60.0
    orbit_turns: float = 2.0
    photo_interval_s: float = 2.0
    altitude_limit_m: float = 120.0
    fence_margin_m: float = 200.0
    firmware: Literal["ardupilot", "px4"] = "ardupilot"
    created_ms: int = 0  # time passed in, for WPML createTime and the zip entries
    dji_drone: tuple[int, int] = (77, 0)  # droneEnumValue, droneSubEnumValue (Mavic 3 Enterprise)
    dji_payload: int = 66  # payloadEnumValue (M3E camera)

    def check(self) -> None:
        for name in ("takeoff_alt_m", "cruise_alt_m"):
            value = getattr(self, name)
            if not 0 < value <= self.altitude_limit_m:
                raise MissionError(
                    f"{name}={value} must be above 0 and within altitude_limit_m={self.altitude_limit_m}"
                )
        if not (-90 <= self.target_lat <= 90 and -180 <= self.target_lon <= 180):
            raise MissionError(f"target {self.target_lat},{self.target_lon} is not a WGS84 coordinate")
        if self.orbit_radius_m <= 0 or self.orbit_turns <= 0 or self.photo_interval_s <= 0:
            raise MissionError("orbit radius, turns and photo interval must be positive")

    @property
    def fence_radius_m(self) -> float:
        """Inclusion circle around the launch point covering the route, the orbit and a margin."""
        reach = distance_m(self.home_lat, self.home_lon, self.target_lat, self.target_lon)
        return math.ceil(reach + self.orbit_radius_m + self.fence_margin_m)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_R * math.asin(math.sqrt(a))


def offset(lat: float, lon: float, bearing_deg: float, dist: float) -> tuple[float, float]:
    """The point `dist` metres from (lat, lon) on the given bearing (spherical Earth; fine at orbit scale)."""
    p1, l1, b, d = math.radians(lat), math.radians(lon), math.radians(bearing_deg), dist / _EARTH_R
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), math.degrees(l2)


# -- QGroundControl .plan -------------------------------------------------------------------------------


def _item(seq: int, command: int, params: list[float | None], alt: float | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"autoContinue": True, "command": command, "doJumpId": seq}
    if alt is None:
        item["frame"] = FRAME_MISSION
    else:
        item.update({"AMSLAltAboveTerrain": None, "Altitude": alt, "AltitudeMode": 1})
        item["frame"] = FRAME_GLOBAL_RELATIVE_ALT
    item.update({"params": params, "type": "SimpleItem"})
    return item


def plan(spec: MissionSpec) -> dict[str, Any]:
    """The mission as a QGroundControl plan: takeoff, fly to the point, ROI, photos, orbit, RTL, geofence."""
    spec.check()
    lat, lon, alt = spec.target_lat, spec.target_lon, spec.cruise_alt_m
    items = [
        _item(
            1,
            NAV_TAKEOFF,
            [0, 0, 0, None, spec.home_lat, spec.home_lon, spec.takeoff_alt_m],
            spec.takeoff_alt_m,
        ),
        _item(2, NAV_WAYPOINT, [0, 0, 0, None, lat, lon, alt], alt),
        # A global frame, so the uploader sends lat/lon as degE7 (frame MISSION would pass them unscaled).
        _item(3, DO_SET_ROI_LOCATION, [0, 0, 0, 0, lat, lon, 0], 0.0),
        _item(4, IMAGE_START_CAPTURE, [0, spec.photo_interval_s, 0, 0, 0, 0, 0]),
        _item(5, NAV_LOITER_TURNS, [spec.orbit_turns, 0, spec.orbit_radius_m, 0, lat, lon, alt], alt),
        _item(6, IMAGE_STOP_CAPTURE, [0, 0, 0, 0, 0, 0, 0]),
        _item(7, DO_SET_ROI_NONE, [0, 0, 0, 0, 0, 0, 0]),
        _item(8, NAV_RTL, [0, 0, 0, 0, 0, 0, 0]),
    ]
    return {
        "fileType": "Plan",
        "version": 1,
        "groundStation": "QGroundControl",
        "mission": {
            "version": 2,
            "firmwareType": _FIRMWARE[spec.firmware],
            "vehicleType": 2,  # MAV_TYPE_QUADROTOR
            "cruiseSpeed": spec.cruise_speed_mps,
            "hoverSpeed": 5,
            "globalPlanAltitudeMode": 1,
            "plannedHomePosition": [spec.home_lat, spec.home_lon, spec.home_alt_amsl],
            "items": items,
        },
        "geoFence": {
            "version": 2,
            "circles": [
                {
                    "circle": {"center": [spec.home_lat, spec.home_lon], "radius": spec.fence_radius_m},
                    "inclusion": True,
                    "version": 1,
                }
            ],
            "polygons": [],
        },
        "rallyPoints": {"version": 2, "points": []},
        # Extension block (QGroundControl ignores unknown top-level keys): ties the file to its alert and
        # carries the altitude limit, which `ews drone go` uploads as a fence parameter.
        "ews": {"alert": spec.alert_id, "site": spec.site, "altitudeLimitM": spec.altitude_limit_m},
    }
