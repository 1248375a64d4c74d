"""Pure DJI WPML mission files: the survey route of a MissionSpec as a KMZ (template.kml and waylines.wpml)."""

from __future__ import annotations

import io
import math
import time
import zipfile
from xml.sax.saxutils import escape

from hub.channels.mission import MissionSpec, distance_m, offset

WPML_NS = "http://www.dji.com/wpmz/1.0.2"
KML_NS = "http://www.opengis.net/kml/2.2"


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
