"""Feed kinds registry: dispatch by kind, unknown kinds and bad names fail at start-up."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from hub.feeds import cap, flood, jsonmap, marine, openmeteo
from hub.feeds.registry import KINDS, FeedConfig, build_feed, check_unique_names, parse_feed_config


class HubSlice(BaseModel):
    feeds: list[FeedConfig] = []


def test_every_kind_builds() -> None:
    raw = [
        {"kind": "cap", "name": "gd-cap", "url": "http://x/index.atom"},
        {"kind": "openmeteo", "name": "om", "model": "cma_grapes_global"},
        {"kind": "flood", "name": "glofas"},
        {"kind": "marine", "name": "sea", "sites": ["zj-coast"]},
        {"kind": "json", "name": "county", "url": "http://x", "fixed_site": "fs-hp01", "time": "$.t",
         "values": [{"quantity": "rain_mm", "path": "$.r"}]},
    ]  # fmt: skip
    cfgs = HubSlice.model_validate({"feeds": raw}).feeds
    kinds = [type(build_feed(c)) for c in cfgs]
    assert kinds == [
        cap.CapFeed,
        openmeteo.ForecastFeed,
        flood.FloodFeed,
        marine.MarineFeed,
        jsonmap.JsonMapFeed,
    ]
    assert set(KINDS) == {"cap", "openmeteo", "flood", "marine", "json"}
    check_unique_names(cfgs)
    with pytest.raises(ValueError, match="repeated: om"):
        check_unique_names([*cfgs, cfgs[1]])


def test_unknown_kind_and_bad_fields() -> None:
    with pytest.raises(ValidationError, match="unknown kind 'radar'; known: cap, openmeteo"):
        HubSlice.model_validate({"feeds": [{"kind": "radar", "name": "r"}]})
    with pytest.raises(ValueError, match="must not contain"):
        parse_feed_config({"kind": "flood", "name": "a@b"})
    with pytest.raises(ValueError, match="invalid feed name"):
        parse_feed_config({"kind": "flood", "name": "a/b"})
    with pytest.raises(ValueError, match="extra"):
        parse_feed_config({"kind": "flood", "name": "f", "colour": 1})


def test_the_documented_example_config_is_valid() -> None:
    from pathlib import Path

    import yaml

    text = (Path(__file__).parents[3] / "docs" / "feeds.md").read_text(encoding="utf-8")
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    cfgs = HubSlice.model_validate(yaml.safe_load(block)).feeds
    assert [c.name for c in cfgs] == ["gd-cap", "om-grapes", "glofas", "sea", "county-sw"]
    assert [type(build_feed(c)).__name__ for c in cfgs] == [
        "CapFeed", "ForecastFeed", "FloodFeed", "MarineFeed", "JsonMapFeed"
    ]  # fmt: skip
