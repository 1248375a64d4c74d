"""The wire contract: batches round-trip exactly, bad rows are rejected alone, topics are checked."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.wire import (
    QUALITIES,
    SOURCES,
    Batch,
    Reading,
    WireError,
    alert_topic,
    decode_batch,
    encode_batch,
    origin_of_topic,
    readings_topic,
    to_ms,
)

names = st.text(min_size=1, max_size=24).filter(lambda s: s.strip() == s and not set(s) & set("/+#\0"))
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
any_time = st.floats(min_value=0, max_value=4e9, allow_nan=False)
ms_time = st.integers(min_value=0, max_value=4 * 10**12).map(lambda k: k / 1000)  # what decode keeps
readings = st.builds(
    Reading,
    sensor=names,
    quantity=names,
    value=finite,
    time=ms_time,
    seq=st.integers(min_value=0, max_value=2**53),
    quality=st.sampled_from(QUALITIES),
    source=st.sampled_from(SOURCES),
    issued=st.one_of(st.none(), ms_time),
)


@given(
    names,
    st.lists(readings, max_size=50),
    st.floats(min_value=0, max_value=4e9, allow_nan=False),
    st.integers(min_value=0, max_value=2**63 - 1),
)
def test_batch_round_trips_exactly(origin: str, rs: list[Reading], sent: float, stream: int) -> None:
    batch = Batch(origin, tuple(rs), sent, stream)
    decoded, errors = decode_batch(encode_batch(batch), "test")
    assert errors == []
    assert decoded == batch


@given(any_time, any_time)
def test_times_are_kept_to_the_millisecond(t: float, issued: float) -> None:
    """Gateway clocks give any fraction; decoded, a time is to_ms of it, which is its own to_ms (so the
    store's copy, read back by hub/history.py, is the same float: tests/hub/rules/test_rules_restart_influx.py)."""
    r = Reading("rg1", "rain_mm", 0.5, t, 1, "good", "forecast", issued)
    decoded, errors = decode_batch(encode_batch(Batch("gw", (r,))), "test")
    assert errors == []
    got = decoded.readings[0]
    assert got.time == to_ms(t) and abs(got.time - t) <= 0.0005 + 1e-6
    assert got.issued == to_ms(issued) and to_ms(got.time) == got.time


def test_common_row_is_five_fields_and_utf8() -> None:
    payload = encode_batch(Batch("凤山网关", (Reading("fs-hp01-rg1", "rain_mm", 0.5, 1.7e9, 7),)))
    doc = json.loads(payload.decode("utf-8"))
    assert doc["o"] == "凤山网关" and doc["r"] == [["fs-hp01-rg1", "rain_mm", 0.5, 1.7e9, 7]]


def test_bad_rows_are_rejected_alone_naming_where() -> None:
    rows = [
        ["fs-hp01-rg1", "rain_mm", 1.0, 1.7e9, 1],
        ["fs-hp01-rg1", "rain_mm", "wet", 1.7e9, 2],
        ["fs-hp01-rg1", "rain_mm", 1.0, 1.7e9, -3],
        ["", "rain_mm", 1.0, 1.7e9, 4],
        ["s", "q", 1.0, 1.7e9, 5, "good"],
        ["s", "q", 1.0, 1.7e9, 6, "great", "sensor"],
    ]
    payload = json.dumps({"v": 1, "o": "fs-gw01", "r": rows}).encode()
    batch, errors = decode_batch(payload, "topic ews/v1/gw/fs-gw01/readings")
    assert [r.seq for r in batch.readings] == [1]
    assert len(errors) == 5
    assert all("ews/v1/gw/fs-gw01/readings row" in str(e) for e in errors)


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe",
        b"[]",
        b'{"v": 2, "o": "g", "r": []}',
        b'{"v": 1, "r": []}',
        b'{"v": 1, "o": "g", "r": {}}',
        b'{"v": 1, "o": "g", "s": -1, "r": []}',
        b'{"v": 1, "o": "g", "s": "a1", "r": []}',
        b'{"v": 1, "o": "g", "s": true, "r": []}',
    ],
)
def test_bad_envelopes_raise_wire_error(payload: bytes) -> None:
    with pytest.raises(WireError, match="topic t"):
        decode_batch(payload, "topic t")


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_wire_error(data: bytes) -> None:
    try:
        decode_batch(data, "fuzz")
    except WireError:
        pass


def test_topics() -> None:
    assert readings_topic("fs-gw01") == "ews/v1/gw/fs-gw01/readings"
    assert origin_of_topic("ews/v1/feed/cma/readings") == "cma"
    assert alert_topic("fs-hp01", "flash-flood") == "ews/v1/alert/fs-hp01/flash-flood"
    for bad in ("a/b", "+", "#", "", " x"):
        with pytest.raises(WireError):
            readings_topic(bad)
    with pytest.raises(WireError):
        origin_of_topic("ews/v1/gw/fs-gw01/status")
