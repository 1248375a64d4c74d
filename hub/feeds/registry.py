"""Feed kinds: one line per kind (config model, feed class). An unknown kind is a config error at start-up."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import PlainValidator

from hub.feeds import cap, flood, jsonmap, marine, openmeteo
from hub.feeds.base import Feed, FeedConfigBase

KINDS: dict[str, tuple[type[FeedConfigBase], Any]] = {
    "cap": (cap.CapConfig, cap.CapFeed),
    "openmeteo": (openmeteo.ForecastConfig, openmeteo.ForecastFeed),
    "flood": (flood.FloodConfig, flood.FloodFeed),
    "marine": (marine.MarineConfig, marine.MarineFeed),
    "json": (jsonmap.JsonMapConfig, jsonmap.JsonMapFeed),
}


def parse_feed_config(raw: Any) -> FeedConfigBase:
    """Validate one feed's config by its `kind`; ValueError names the kind and lists the known ones."""
    if isinstance(raw, FeedConfigBase):
        return raw
    if not isinstance(raw, dict):
        raise ValueError(f"a feed config must be a mapping, got {type(raw).__name__}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ValueError(f"feed {raw.get('name', '?')!r}: unknown kind {kind!r}; known: {', '.join(KINDS)}")
    return KINDS[kind][0].model_validate(raw)


# Use in the hub config: `feeds: list[FeedConfig] = []` validates each entry by its kind.
FeedConfig = Annotated[FeedConfigBase, PlainValidator(parse_feed_config)]


def build_feed(cfg: FeedConfigBase) -> Feed:
    kind = getattr(cfg, "kind", None)
    if kind not in KINDS:
        raise ValueError(f"feed {cfg.name}: unknown kind {kind!r}")
    feed: Feed = KINDS[kind][1](cfg)
    return feed


def check_unique_names(configs: list[FeedConfigBase]) -> None:
    names = [c.name for c in configs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"feed names must be unique; repeated: {', '.join(dupes)}")
