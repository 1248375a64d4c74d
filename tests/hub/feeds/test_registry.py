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
