"""Generic JSON feed: the path language, the mapping config and parsing a county platform's body."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from hub.feeds.base import FeedError
from hub.feeds.jsonmap import JsonMapConfig, compile_path, parse, select
from hub.feeds.registry import parse_feed_config
from tests.hub.feeds.helpers import FENGSHAN, NOW, body

RAW = {
    "kind": "json",
    "name": "county",
    "url": "http://county.invalid/api/forecast",
    "items": "$.data.list[*]",
    "site": "$.stcd",
    "site_map": {"81201234": "fs-hp01", "81205678": "fs-hp02"},
    "time": "$.tm",
    "time_format": "%Y-%m-%d %H:%M:%S",
    "issued": "$.issue",
    "values": [
        {"quantity": "rain_mm", "path": "$.drp"},
        {"quantity": "water_level_m", "path": "$.z", "scale": 1.0, "offset": -100.0},
    ],
}


def test_paths() -> None:
    doc = {"a": {"b c": [{"x": 1}, {"x": 2}]}, "l": [[1, 2], [3]]}
    assert select(doc, compile_path("$.a['b c'][*].x")) == [1, 2]
    assert select(doc, compile_path('$.a["b c"][1].x')) == [2]
    assert select(doc, compile_path("$.l[*][*]")) == [1, 2, 3]
    assert select(doc, compile_path("$.missing.x")) == []
    assert select(doc, compile_path("$")) == [doc]
    with pytest.raises(ValueError, match="position"):
        compile_path("$.a..b")
    with pytest.raises(ValueError, match="start with"):
        compile_path("a.b")


def test_county_platform_body_to_readings() -> None:
    cfg = parse_feed_config(RAW)
    assert isinstance(cfg, JsonMapConfig)
    result = parse(body("county-platform.json"), FENGSHAN, NOW, cfg, "county")
    got = {(r.sensor, r.quantity, r.time): r.value for r in result.readings}
    t11 = 1718506800.0  # 2024-06-16 11:00 China Standard Time = 03:00Z
    assert got[("county@fs-hp01", "rain_mm", t11)] == 12.5
    assert got[("county@fs-hp01", "water_level_m", t11)] == pytest.approx(52.31)
    assert got[("county@fs-hp02", "rain_mm", t11)] == 9.0
    assert ("county@fs-hp01", "water_level_m", t11 + 3600) not in got  # null z
    assert {r.issued for r in result.readings} == {1718503200.0}
    assert {r.source for r in result.readings} == {"forecast"}
    # Unknown station 99999999, the null and the bad date are skipped, counted and explained.
    assert result.skipped == 3
    assert any("99999999" in n for n in result.notes) and any("bad time" in n for n in result.notes)


def test_stale_and_empty() -> None:
    cfg = JsonMapConfig.model_validate({**RAW, "max_age_s": 3600})
    with pytest.raises(FeedError) as exc:
        parse(body("county-platform.json"), FENGSHAN, NOW + 86400, cfg)
    assert exc.value.kind == "stale"
    with pytest.raises(FeedError) as exc:
        parse(b'{"data": {"list": []}}', FENGSHAN, NOW, cfg)
    assert exc.value.kind == "malformed"


def test_config_errors_are_reported_at_load() -> None:
    with pytest.raises(ValidationError, match="position"):
        JsonMapConfig.model_validate({**RAW, "time": "$.tm..x"})
    with pytest.raises(ValidationError, match="exactly one"):
        JsonMapConfig.model_validate({**RAW, "fixed_site": "fs-hp01"})
    with pytest.raises(ValidationError, match="extra"):
        JsonMapConfig.model_validate({**RAW, "colour": "red"})


def test_forecast_age_is_its_issue_time_not_its_valid_times() -> None:
    # The platform froze 30 h ago; its 48 h horizon still lies ahead, but the product is stale.
    cfg = JsonMapConfig.model_validate({**RAW, "max_age_s": 7200})
    items = [
        {"stcd": "81201234", "tm": f"2024-06-{17 + h // 24:02d} {h % 24:02d}:00:00", "drp": 1.0,
         "issue": "2024-06-16 10:00:00"}
        for h in range(0, 48)
    ]  # fmt: skip
    frozen = json.dumps({"data": {"list": items}}).encode()
    with pytest.raises(FeedError, match="newest issue is 109200 s old") as exc:
        parse(frozen, FENGSHAN, NOW + 30 * 3600, cfg, "county")
    assert exc.value.kind == "stale" and exc.value.source == "county"
    # The same body an hour after it was issued is fresh.
    assert parse(frozen, FENGSHAN, NOW + 3600, cfg).readings


def test_forecast_keeps_only_valid_times_after_now() -> None:
    cfg = parse_feed_config(RAW)
    assert isinstance(cfg, JsonMapConfig)
    t11 = 1718506800.0  # 11:00 China Standard Time
    result = parse(body("county-platform.json"), FENGSHAN, t11, cfg)  # 11:00 is now, 12:00 ahead
    assert {r.time for r in result.readings} == {t11 + 3600}
    with pytest.raises(FeedError, match="no valid time after now") as exc:
        parse(body("county-platform.json"), FENGSHAN, t11 + 3600, cfg)
    assert exc.value.kind == "stale"


def test_observations_keep_past_times_and_age_from_the_newest() -> None:
    cfg = JsonMapConfig.model_validate({**RAW, "source": "sensor", "issued": None, "max_age_s": 7200})
    t11 = 1718506800.0
    result = parse(body("county-platform.json"), FENGSHAN, t11 + 3600, cfg)
    assert {r.time for r in result.readings} == {t11, t11 + 3600}
    assert {r.issued for r in result.readings} == {None}
    with pytest.raises(FeedError, match="newest item"):
        parse(body("county-platform.json"), FENGSHAN, t11 + 3600 + 7201, cfg)


def test_forecast_max_age_without_an_issue_time_is_refused_at_load() -> None:
    with pytest.raises(ValidationError, match="needs `issued`"):
        JsonMapConfig.model_validate({**RAW, "issued": None, "max_age_s": 7200})
    # Without max_age_s such a feed loads; it turns stale when no valid time after now is left.
    assert JsonMapConfig.model_validate({**RAW, "issued": None}).issued is None
