"""Missions to a Fengshan hazard point: QGroundControl .plan structure and order, DJI WPML KMZ contents."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import zipfile
from typing import Any

import pytest
from defusedxml import ElementTree

from hub.channels import mission, wpml
from hub.channels.mission import MissionError, MissionSpec

K = f"{{{wpml.KML_NS}}}"
W = f"{{{wpml.WPML_NS}}}"

# fs-hp01 凤山村后山滑坡隐患点; the drone team launches from Libu town (approximate).
SPEC = MissionSpec(
    alert_id="fs-hp01/landslide",
    site="fs-hp01",
    target_lat=24.6012,
    target_lon=112.5521,
    home_lat=24.5856,
    home_lon=112.5412,
    home_alt_amsl=120.0,
    created_ms=1_795_000_000_000,
)


def test_plan_items_are_in_flight_order():
    p = mission.plan(SPEC)
    items = p["mission"]["items"]
    assert [i["command"] for i in items] == [
        mission.NAV_TAKEOFF,
        mission.NAV_WAYPOINT,
        mission.DO_SET_ROI_LOCATION,
        mission.IMAGE_START_CAPTURE,
        mission.NAV_LOITER_TURNS,
        mission.IMAGE_STOP_CAPTURE,
        mission.DO_SET_ROI_NONE,
        mission.NAV_RTL,
    ]
    assert [i["doJumpId"] for i in items] == list(range(1, 9))
    assert all(i["type"] == "SimpleItem" and i["autoContinue"] for i in items)


def test_plan_points_altitudes_and_parameters():
    items = mission.plan(SPEC)["mission"]["items"]
    takeoff, wp, roi, cam, orbit = items[:5]
    assert takeoff["params"][6] == 30.0 and takeoff["Altitude"] == 30.0
    assert wp["params"][4:7] == [24.6012, 112.5521, 80.0] and wp["frame"] == mission.FRAME_GLOBAL_RELATIVE_ALT
    # A global frame: the uploader sends its lat/lon as degE7, not truncated to whole degrees.
    assert roi["params"][4:6] == [24.6012, 112.5521] and roi["frame"] == mission.FRAME_GLOBAL_RELATIVE_ALT
    assert cam["params"][1] == 2.0  # photo interval, seconds
    assert (
        orbit["params"][0] == 2.0
        and orbit["params"][2] == 60.0
        and orbit["params"][4:6] == [24.6012, 112.5521]
    )
    nav_alts = [i["Altitude"] for i in items if "Altitude" in i]
    assert max(nav_alts) <= SPEC.altitude_limit_m


def test_plan_header_geofence_and_extension():
    p = mission.plan(SPEC)
    assert (p["fileType"], p["version"], p["groundStation"]) == ("Plan", 1, "QGroundControl")
    assert p["mission"]["version"] == 2 and p["mission"]["firmwareType"] == 3
    assert p["mission"]["plannedHomePosition"] == [24.5856, 112.5412, 120.0]
    (circle,) = p["geoFence"]["circles"]
    assert circle["inclusion"] is True and circle["circle"]["center"] == [24.5856, 112.5412]
    reach = mission.distance_m(24.5856, 112.5412, 24.6012, 112.5521)
    assert circle["circle"]["radius"] >= reach + SPEC.orbit_radius_m
    assert p["ews"] == {"alert": "fs-hp01/landslide", "site": "fs-hp01", "altitudeLimitM": 120.0}
    # QGroundControl reads strict JSON: NaN is written as null
    json.loads(json.dumps(p, allow_nan=False))


def test_px4_firmware_type():
    spec = dataclasses.replace(SPEC, firmware="px4")
    assert mission.plan(spec)["mission"]["firmwareType"] == 12


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("cruise_alt_m", 150.0, "altitude_limit"),
        ("takeoff_alt_m", 0.0, "takeoff_alt_m"),
        ("target_lat", 124.6, "WGS84"),
        ("orbit_radius_m", -1.0, "positive"),
    ],
)
def test_unsafe_missions_are_refused(field, value, match):
    spec = dataclasses.replace(SPEC, **{field: value})
    with pytest.raises(MissionError, match=match):
        mission.plan(spec)
    with pytest.raises(MissionError):
        wpml.kmz(spec)


def _kmz_docs(data: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == ["wpmz/template.kml", "wpmz/waylines.wpml"]
        return {name: ElementTree.fromstring(zf.read(name)) for name in zf.namelist()}


def test_kmz_parses_as_wpml():
    docs = _kmz_docs(wpml.kmz(SPEC))
    for name, root in docs.items():
        assert root.tag == f"{K}kml", name
        doc = root.find(f"{K}Document")
        cfg = doc.find(f"{W}missionConfig")
        assert cfg.findtext(f"{W}finishAction") == "goHome"
        assert cfg.findtext(f"{W}flyToWaylineMode") == "safely"
        assert cfg.find(f"{W}droneInfo/{W}droneEnumValue").text == "77"
        folder = doc.find(f"{K}Folder")
        marks = folder.findall(f"{K}Placemark")
        assert [int(m.findtext(f"{W}index")) for m in marks] == list(range(len(marks)))
        assert len(marks) == 1 + 24 + 1  # hazard point, 2 turns × 12 points, closing point
    template = docs["wpmz/template.kml"].find(f"{K}Document")
    assert template.findtext(f"{W}createTime") == "1795000000000"
    assert template.find(f"{K}Folder").findtext(f"{W}templateType") == "waypoint"
    waylines = docs["wpmz/waylines.wpml"].find(f"{K}Document/{K}Folder")
    assert waylines.findtext(f"{W}executeHeightMode") == "relativeToStartPoint"
    assert float(waylines.findtext(f"{W}distance")) > 2 * mission.distance_m(
        24.5856, 112.5412, 24.6012, 112.5521
    )


def test_kmz_route_flies_to_the_point_then_orbits_it_facing_the_slope():
    waylines = _kmz_docs(wpml.kmz(SPEC))["wpmz/waylines.wpml"].find(f"{K}Document/{K}Folder")
    marks = waylines.findall(f"{K}Placemark")
    coords = [tuple(map(float, m.findtext(f"{K}Point/{K}coordinates").split(","))) for m in marks]
    lon0, lat0 = coords[0]
    assert (lat0, lon0) == (24.6012, 112.5521)
    for lon, lat in coords[1:]:
        assert math.isclose(mission.distance_m(lat, lon, 24.6012, 112.5521), 60.0, abs_tol=0.5)
    for m in marks:
        assert float(m.findtext(f"{W}executeHeight")) == 80.0
    headings = [m.findtext(f"{W}waypointHeadingParam/{W}waypointHeadingMode") for m in marks]
    assert headings[0] == "followWayline" and set(headings[1:]) == {"towardPOI"}
    assert marks[1].findtext(f"{W}waypointHeadingParam/{W}waypointPoiPoint") == "24.6012,112.5521,0"
    # photos every 2 s along the whole orbit; gimbal tilted toward the slope at the point
    group = marks[1].find(f"{W}actionGroup")
    assert group.findtext(f"{W}actionTrigger/{W}actionTriggerType") == "multipleTiming"
    assert group.findtext(f"{W}actionTrigger/{W}actionTriggerParam") == "2"
    assert (group.findtext(f"{W}actionGroupStartIndex"), group.findtext(f"{W}actionGroupEndIndex")) == (
        "1",
        "25",
    )
    assert group.findtext(f"{W}action/{W}actionActuatorFunc") == "takePhoto"
    first = [a.findtext(f"{W}actionActuatorFunc") for a in marks[0].findall(f"{W}actionGroup/{W}action")]
    assert first == ["gimbalRotate", "takePhoto"]


def test_kmz_is_deterministic_for_the_same_spec():
    assert wpml.kmz(SPEC) == wpml.kmz(SPEC)


def test_offset_and_distance_agree():
    lat, lon = mission.offset(24.6, 112.55, 45.0, 1000.0)
    assert math.isclose(mission.distance_m(24.6, 112.55, lat, lon), 1000.0, rel_tol=1e-9)
