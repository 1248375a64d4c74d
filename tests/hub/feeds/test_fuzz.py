"""Bad input never escapes as anything but FeedError: fuzzed bodies for every pure parser (hypothesis)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.feeds import flood, marine, openmeteo
from hub.feeds.base import FeedError
from hub.feeds.cap import parse_index
from hub.feeds.capparse import parse_alert
from hub.feeds.capschema import validate_cap
from hub.feeds.jsonmap import JsonMapConfig
from hub.feeds.jsonmap import parse as json_parse
from tests.hub.feeds.helpers import FENGSHAN, NOW, body

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def mutate(doc: Any, path: list[int], value: Any) -> Any:
    """Replace one node of `doc` (chosen by `path`) with `value`."""
    if not path or not isinstance(doc, dict | list) or not doc:
        return value
    keys = list(doc.keys()) if isinstance(doc, dict) else list(range(len(doc)))
    k = keys[path[0] % len(keys)]
    doc[k] = mutate(doc[k], path[1:], value)
    return doc


def only_feed_errors(fn: Any, raw: bytes) -> None:
    try:
        fn(raw)
    except FeedError:
        pass


@FAST
@given(path=st.lists(st.integers(min_value=0), max_size=5), value=JSON)
def test_open_meteo_parsers_with_one_node_broken(path: list[int], value: Any) -> None:
    for name, parse, cfg in (
        (
            "openmeteo-forecast-2pts.json",
            openmeteo.parse,
            openmeteo.ForecastConfig(kind="openmeteo", name="om"),
        ),
        ("openmeteo-flood-2pts.json", flood.parse, flood.FloodConfig(kind="flood", name="fl")),
        (
            "openmeteo-marine-coast-and-land.json",
            marine.parse,
            marine.MarineConfig(kind="marine", name="sea"),
        ),
    ):
        doc = mutate(json.loads(body(name)), path, value)
        raw = json.dumps(doc).encode()
        only_feed_errors(lambda b, p=parse, c=cfg: p(b, FENGSHAN[:2], NOW, c), raw)  # type: ignore[misc]


@FAST
@given(value=JSON)
def test_open_meteo_any_json(value: Any) -> None:
    cfg = openmeteo.ForecastConfig(kind="openmeteo", name="om")
    only_feed_errors(lambda b: openmeteo.parse(b, FENGSHAN[:1], NOW, cfg), json.dumps(value).encode())


@FAST
@given(path=st.lists(st.integers(min_value=0), max_size=5), value=JSON)
def test_json_mapping_with_one_node_broken(path: list[int], value: Any) -> None:
    cfg = JsonMapConfig.model_validate(
        {"kind": "json", "name": "c", "url": "http://x", "items": "$.data.list[*]", "site": "$.stcd",
         "site_map": {"81201234": "fs-hp01"}, "time": "$.tm", "time_format": "%Y-%m-%d %H:%M:%S",
         "issued": "$.issue", "values": [{"quantity": "rain_mm", "path": "$.drp"}]}
    )  # fmt: skip
    doc = mutate(json.loads(body("county-platform.json")), path, value)
    only_feed_errors(lambda b: json_parse(b, FENGSHAN, NOW, cfg), json.dumps(doc).encode())


CAP = body("gd-yangshan-rainstorm-red-update.cap.xml")


@FAST
@given(
    start=st.integers(min_value=0, max_value=len(CAP)), length=st.integers(0, 40), junk=st.binary(max_size=12)
)
def test_cap_bytes_spliced(start: int, length: int, junk: bytes) -> None:
    raw = CAP[:start] + junk + CAP[start + length :]
    assert isinstance(validate_cap(raw), list)
    only_feed_errors(parse_alert, raw)
    only_feed_errors(lambda b: parse_alert(b, require_valid=False), raw)
    only_feed_errors(lambda b: parse_index(b, "http://x/"), raw)


@settings(max_examples=40, deadline=None)  # six schema validations per example
@given(text=st.text(max_size=30))
def test_cap_text_fields(text: str) -> None:
    esc = text.replace("&", "&amp;").replace("<", "&lt;").encode()
    for tag in (b"sent", b"expires", b"circle", b"polygon", b"references", b"effective"):
        start = CAP.index(b"<" + tag + b">") + len(tag) + 2
        end = CAP.index(b"</" + tag + b">", start)
        raw = CAP[:start] + esc + CAP[end:]
        only_feed_errors(lambda b: parse_alert(b, require_valid=False), raw)


def test_extreme_offsets_and_scales_are_feed_errors_or_skips() -> None:
    doc = json.loads(body("openmeteo-forecast-iso.json"))
    doc["utc_offset_seconds"] = 1e20
    cfg = openmeteo.ForecastConfig(kind="openmeteo", name="om")
    only_feed_errors(lambda b: openmeteo.parse(b, FENGSHAN[:1], NOW, cfg), json.dumps(doc).encode())
    jcfg = JsonMapConfig.model_validate(
        {"kind": "json", "name": "c", "url": "http://x", "items": "$[*]", "fixed_site": "fs-hp01",
         "time": "$.t", "time_format": "epoch_s", "source": "sensor",
         "values": [{"quantity": "rain_mm", "path": "$.v", "scale": 1e300}]}
    )  # fmt: skip
    result = json_parse(b'[{"t": 1718503200, "v": 1e300}, {"t": 1e300, "v": 1}]', FENGSHAN, NOW, jcfg)
    assert result.readings == [] or all(abs(r.value) < float("inf") for r in result.readings)
    assert result.skipped >= 1
