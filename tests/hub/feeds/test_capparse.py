"""Pure CAP reading: real agency messages (see tests/data/feeds/README.md) and the GB/T 35965.1 series."""

from __future__ import annotations

import pytest

from hub.feeds.base import FeedError
from hub.feeds.capparse import (
    alert_to_json,
    area_covers,
    colour_level,
    distance_km,
    gb_identifier,
    parse_alert,
    pick_info,
)
from tests.hub.feeds.helpers import FENGSHAN, body

REYKJAVIK = (64.1466, -21.9426)


def test_icelandic_met_office_two_languages_polygon_and_colour_parameter() -> None:
    alert = parse_alert(body("is-imo-wind-yellow.cap.xml"))
    assert alert.identifier == "is-IMO-2a4c2db8-07fd-4a0f-b372-9667280d46d1"
    assert alert.sender == "IMO-Icelandic_Met_Office"
    assert alert.msg_type == "Alert" and alert.status == "Actual"
    assert [i.language for i in alert.infos] == ["is-IS", "en-US"]
    # "Color: Yellow" parameter → yellow (2), the same as severity Moderate would give.
    assert [i.level for i in alert.infos] == [2, 2]
    assert alert.infos[0].expires == 1631527200.0  # 2021-09-13T10:00:00-00:00
    en = pick_info(alert.infos, ["zh-CN", "en"])
    assert en is not None and en.headline == "Southeast gales"
    area = alert.infos[1].areas[0]
    assert len(area.polygons[0]) == 8
    assert area_covers(area, *REYKJAVIK)
    assert not area_covers(area, 65.68, -18.09)  # Akureyri, far north


def test_taiwan_water_resources_agency_geocode_and_traditional_colour() -> None:
    alert = parse_alert(body("tw-wra-reservoir.cap.xml"))
    info = alert.infos[0]
    assert info.language == "zh-tw" and info.event == "水庫洩洪"
    # "alert_color: 紅色" (traditional script) outranks severity Moderate.
    assert info.level == 4
    area = info.areas[0]
    assert area.geocodes == (("Taiwan_Geocode_100", "1000512"),)
    assert area_covers(area, 0, 0, geocodes=["1000512"])
    assert not area_covers(area, 0, 0, geocodes=["1000513"])


def test_gb_profile_alert_levels_languages_and_identifier() -> None:
    alert = parse_alert(body("gd-yangshan-rainstorm-orange.cap.xml"))
    assert gb_identifier(alert.identifier) == {
        "unit_code": "44182341600000",
        "division_code": "441823",
        "issued_local": "20240616100000",
    }
    zh = pick_info(alert.infos, ["zh-CN", "zh"])
    assert zh is not None and zh.event == "暴雨橙色预警" and zh.level == 3
    assert pick_info(alert.infos, ["fr"]) is alert.infos[0]  # no match: the first block
    for p in FENGSHAN:
        assert area_covers(zh.areas[0], p.lat, p.lon)


def test_update_references_and_circle() -> None:
    alert = parse_alert(body("gd-yangshan-rainstorm-red-update.cap.xml"))
    assert alert.references == (
        ("阳山县气象台", "44182341600000_20240616100000", "2024-06-16T10:00:00+08:00"),
    )
    red = alert.infos[0]
    assert red.level == 4 and red.areas[0].circles == ((24.5958, 112.5603, 0.5),)
    hp01, hp02, hp03 = FENGSHAN
    assert area_covers(red.areas[0], hp02.lat, hp02.lon)
    assert not area_covers(red.areas[0], hp01.lat, hp01.lon)  # ~1 km away
    assert distance_km(hp01.lat, hp01.lon, hp02.lat, hp02.lon) == pytest.approx(1.02, abs=0.05)


def test_colour_words_whole_english_words_only() -> None:
    assert colour_level(["Red Warning"]) == 4
    assert colour_level(["one hundred millimetres declared"]) == 0
    assert colour_level(["暴雨黄色预警信号"]) == 2
    assert colour_level(["Blue", "orange"]) == 3


def test_bad_polygon_is_dropped_but_the_message_kept() -> None:
    xml = body("gd-yangshan-rainstorm-orange.cap.xml").replace(
        b"<polygon>24.65,112.50 24.65,112.62 24.55,112.62 24.55,112.50 24.65,112.50</polygon>",
        b"<polygon>24.65;112.50</polygon>",
        1,
    )
    alert = parse_alert(xml)
    assert alert.infos[0].areas[0].polygons == ()
    assert alert.problems and "bad polygon" in alert.problems[0]
    # The geocode still places the warning over Yangshan county.
    assert area_covers(alert.infos[0].areas[0], 0, 0, geocodes=["441823"])


def test_schema_invalid_and_malformed_raise_feed_errors() -> None:
    bad = body("gd-yangshan-rainstorm-orange.cap.xml").replace(b"<urgency>Expected</urgency>", b"", 1)
    with pytest.raises(FeedError) as exc:
        parse_alert(bad, "http://x/cap.xml")
    assert exc.value.kind == "schema" and exc.value.source == "http://x/cap.xml"
    assert parse_alert(bad, require_valid=False).identifier == "44182341600000_20240616100000"
    with pytest.raises(FeedError) as exc:
        parse_alert(b"<alert><unclosed></alert>")
    assert exc.value.kind == "malformed"


def test_json_view_has_the_operator_fields() -> None:
    doc = alert_to_json(parse_alert(body("gd-yangshan-rainstorm-red-update.cap.xml")))
    assert doc["msgType"] == "Update"
    assert doc["references"] == ["阳山县气象台,44182341600000_20240616100000,2024-06-16T10:00:00+08:00"]
    first = doc["info"][0]
    assert first["language"] == "zh-CN" and first["colour"] == "red"
    assert first["expires"] == "2024-06-16T15:00:00+00:00"
    assert first["areas"][0]["circles"] == [[24.5958, 112.5603, 0.5]]
    for key in ("urgency", "severity", "certainty", "onset", "headline"):
        assert key in first
