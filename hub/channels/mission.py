"""Pure drone missions to a hazard point: a QGroundControl .plan and the same route as a DJI WPML KMZ."""

from __future__ import annotations

import io
import math
import time
import zipfile
from dataclasses import dataclass
from typing import Any, Literal
from xml.sax.saxutils import escape

# MAVLink commands (common.xml) used by the survey mission.
NAV_WAYPOINT, NAV_LOITER_TURNS, NAV_RTL, NAV_TAKEOFF = 16, 18, 20, 22
DO_SET_ROI_LOCATION, DO_SET_ROI_NONE = 195, 197
IMAGE_START_CAPTURE, IMAGE_STOP_CAPTURE = 2000, 2001
FENCE_CIRCLE_INCLUSION = 5003
FRAME_MISSION, FRAME_GLOBAL_RELATIVE_ALT = 2, 3
_FIRMWARE = {"ardupilot": 3, "px4": 12}  # MAV_AUTOPILOT
_EARTH_R = 6371008.8
WPML_NS = "http://www.dji.com/wpmz/1.0.2"
KML_NS = "http://www.opengis.net/kml/2.2"


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
        _item(3, DO_SET_ROI_LOCATION, [0, 0, 0, 0, lat, lon, 0]),
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


# -- DJI WPML KMZ ---------------------------------------------------------------------------------------


def _el(tag: str, *children: object) -> str:
    inner = "".join(c if isinstance(c, str) and c.startswith("<") else escape(_fmt(c)) for c in children)
    return f"<{tag}>{inner}</{tag}>"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.7f}".rstrip("0").rstrip(".")
    return str(value)


def route(spec: MissionSpec) -> list[tuple[float, float]]:
    """Waypoints for DJI: the hazard point, then the orbit as points on the circle (WPML has no loiter)."""
    per_turn = 12
    count = max(per_turn, round(per_turn * spec.orbit_turns))
    orbit = [
        offset(spec.target_lat, spec.target_lon, 360.0 * i / per_turn, spec.orbit_radius_m)
        for i in range(count + 1)
    ]
    return [(spec.target_lat, spec.target_lon), *orbit]


def _ws(**fields: object) -> str:
    """wpml:<name> elements in keyword order."""
    return "".join(_el(f"wpml:{name}", value) for name, value in fields.items())


def _mission_config(spec: MissionSpec) -> str:
    return _el(
        "wpml:missionConfig",
        _ws(flyToWaylineMode="safely", finishAction="goHome", exitOnRCLost="executeLostAction"),
        _ws(executeRCLostAction="goBack", takeOffSecurityHeight=spec.takeoff_alt_m),
        _ws(globalTransitionalSpeed=spec.cruise_speed_mps, globalRTHHeight=spec.cruise_alt_m),
        _el("wpml:droneInfo", _ws(droneEnumValue=spec.dji_drone[0], droneSubEnumValue=spec.dji_drone[1])),
        _el("wpml:payloadInfo", _ws(payloadEnumValue=spec.dji_payload, payloadPositionIndex=0)),
    )


def _action(action_id: int, func: str, **params: object) -> str:
    param = _el("wpml:actionActuatorFuncParam", _ws(**params, payloadPositionIndex=0))
    return _el("wpml:action", _ws(actionId=action_id, actionActuatorFunc=func), param)


def _actions(spec: MissionSpec, index: int, last: int) -> str:
    if index == 0:  # at the hazard point: tilt the camera toward the slope and take a first photo
        pitch = -round(math.degrees(math.atan2(spec.cruise_alt_m, spec.orbit_radius_m)), 1)
        return _el(
            "wpml:actionGroup",
            _ws(actionGroupId=0, actionGroupStartIndex=0, actionGroupEndIndex=0, actionGroupMode="sequence"),
            _el("wpml:actionTrigger", _ws(actionTriggerType="reachPoint")),
            _action(
                0,
                "gimbalRotate",
                gimbalRotateMode="absoluteAngle",
                gimbalPitchRotateEnable=1,
                gimbalPitchRotateAngle=float(pitch),
            ),
            _action(1, "takePhoto"),
        )
    if index == 1:  # photos every N seconds along the whole orbit
        return _el(
            "wpml:actionGroup",
            _ws(
                actionGroupId=1, actionGroupStartIndex=1, actionGroupEndIndex=last, actionGroupMode="sequence"
            ),
            _el(
                "wpml:actionTrigger",
                _ws(actionTriggerType="multipleTiming", actionTriggerParam=spec.photo_interval_s),
            ),
            _action(0, "takePhoto"),
        )
    return ""


def _placemark(spec: MissionSpec, index: int, lat: float, lon: float, last: int, executable: bool) -> str:
    poi = f"{_fmt(spec.target_lat)},{_fmt(spec.target_lon)},0"
    # At the hazard point itself a heading toward it is undefined; on the orbit the nose faces the slope.
    heading = (
        _ws(waypointHeadingMode="followWayline")
        if index == 0
        else _ws(waypointHeadingMode="towardPOI", waypointPoiPoint=poi)
    )
    alt = spec.cruise_alt_m
    height = (
        _ws(executeHeight=alt)
        if executable
        else _ws(
            height=alt,
            ellipsoidHeight=alt,
            useGlobalHeight=0,
            useGlobalSpeed=1,
            useGlobalHeadingParam=0,
            useGlobalTurnParam=1,
        )
    )
    return _el(
        "Placemark",
        _el("Point", _el("coordinates", f"{_fmt(lon)},{_fmt(lat)}")),
        _ws(index=index),
        height,
        _ws(waypointSpeed=spec.cruise_speed_mps),
        _el("wpml:waypointHeadingParam", heading),
        _el(
            "wpml:waypointTurnParam",
            _ws(waypointTurnMode="toPointAndPassWithContinuityCurvature", waypointTurnDampingDist=0.2),
        ),
        _actions(spec, index, last),
    )


def _document(spec: MissionSpec, executable: bool) -> str:
    points = route(spec)
    last = len(points) - 1
    marks = "".join(_placemark(spec, i, la, lo, last, executable) for i, (la, lo) in enumerate(points))
    path = [(spec.home_lat, spec.home_lon), *points, (spec.home_lat, spec.home_lon)]
    dist = sum(distance_m(*a, *b) for a, b in zip(path, path[1:], strict=False))
    speed = spec.cruise_speed_mps
    if executable:  # waylines.wpml: what the aircraft executes
        head = _mission_config(spec)
        folder = _ws(
            templateId=0,
            executeHeightMode="relativeToStartPoint",
            waylineId=0,
            distance=round(dist, 1),
            duration=round(dist / speed, 1),
            autoFlightSpeed=speed,
        )
    else:  # template.kml: what DJI Pilot 2 shows for editing
        head = _ws(author="fengshan-ews", createTime=spec.created_ms, updateTime=spec.created_ms)
        head += _mission_config(spec)
        coord = _el(
            "wpml:waylineCoordinateSysParam", _ws(coordinateMode="WGS84", heightMode="relativeToStartPoint")
        )
        folder = (
            _ws(templateType="waypoint", templateId=0)
            + coord
            + _ws(
                autoFlightSpeed=speed,
                globalHeight=spec.cruise_alt_m,
                caliFlightEnable=0,
                gimbalPitchMode="usePointSetting",
                globalWaypointTurnMode="toPointAndPassWithContinuityCurvature",
                globalUseStraightLine=1,
            )
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="{KML_NS}" xmlns:wpml="{WPML_NS}">'
        f"{_el('Document', head, _el('Folder', folder, marks))}</kml>\n"
    )


def kmz(spec: MissionSpec) -> bytes:
    """DJI WPML KMZ: a zip holding wpmz/template.kml and wpmz/waylines.wpml (DJI Pilot 2, FlightHub 2)."""
    spec.check()
    stamp = time.gmtime(spec.created_ms // 1000)[:6] if spec.created_ms else (1980, 1, 1, 0, 0, 0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, executable in (("wpmz/template.kml", False), ("wpmz/waylines.wpml", True)):
            zf.writestr(zipfile.ZipInfo(name, date_time=stamp), _document(spec, executable).encode("utf-8"))
    return buf.getvalue()
