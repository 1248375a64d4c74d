"""Deduplication by gateway sequence number against a plain set, for any arrival order."""

import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.wire import Batch, Reading
from hub.dedupe import Deduper, SeqWindow

from .pipeline_helpers import Clock, engine, pipeline
from .rules.helpers import T0

RULE = """  - id: wet
    sites: [s1]
    inputs: {rain: {sensor: rg1}}
    levels: {blue: "sum(rain, 1h) >= 30"}
    min_time_at_level: 1h
"""


@given(st.lists(st.integers(min_value=1, max_value=200), max_size=400))
def test_matches_a_set_for_any_order_with_duplicates(seqs: list[int]) -> None:
    window = SeqWindow()
    seen: set[int] = set()
    for s in seqs:
        assert window.first_time(s) == (s not in seen)
        seen.add(s)


def test_fresh_first_then_backlog_keeps_memory_small() -> None:
    window = SeqWindow()
    assert window.first_time(1000)  # newest first after an outage
    for s in range(1, 1000):
        assert window.first_time(s)
    assert window.floor == 1000 and not window.sparse
    assert not window.first_time(500)


def test_compaction_bounds_memory() -> None:
    window = SeqWindow(max_sparse=10)
    for s in range(100, 130, 2):
        window.first_time(s)
    assert len(window.sparse) <= 10
    assert not window.first_time(100)


def test_deduper_counts_duplicates_per_origin_and_ignores_seq_zero() -> None:
    d = Deduper()
    assert d.first_time("gw1", 1) and d.first_time("gw2", 1)
    assert not d.first_time("gw1", 1)
    assert d.first_time("feed", 0) and d.first_time("feed", 0)
    assert d.duplicates == 1


def test_a_new_outbox_stream_starts_a_new_window() -> None:
    """A replaced gateway keeps its id, and its new outbox counts from 1 again: with one window per
    origin every one of its readings was a duplicate until the numbers passed 5,000."""
    d = Deduper()
    for s in range(1, 5001):
        assert d.first_time("gw1", s, stream=0x51)
    assert not d.first_time("gw1", 3, stream=0x51)  # the same outbox: a real duplicate
    assert all(d.first_time("gw1", s, stream=0x77) for s in range(1, 11))
    assert not d.first_time("gw1", 10, stream=0x77)
    assert d.restarts == 1 and d.duplicates == 2
    assert d.first_time("gw2", 1) and not d.first_time("gw2", 1)  # a gateway that names no stream


def test_two_gateways_sharing_an_id_keep_their_own_windows_and_are_named_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A copied config: two gateways send as gw1 from two outboxes. Each outbox keeps its own window,
    so a repeat from either is still a duplicate, and the log says so once, not at every switch."""
    d = Deduper()
    with caplog.at_level(logging.WARNING, logger="hub.dedupe"):
        for s in range(1, 50):
            assert d.first_time("gw1", s, stream=0xA) and d.first_time("gw1", s, stream=0xB)
    assert not d.first_time("gw1", 7, stream=0xA) and not d.first_time("gw1", 7, stream=0xB)
    assert caplog.text.count("two outboxes send as origin=gw1") == 1
    assert caplog.text.count("sequence numbers start again origin=gw1") == 1
    assert [n[:2] for n in d.notices] == [("gw1", "new_outbox"), ("gw1", "shared_id")]  # for the dashboard
    for stream in range(0xC, 0x10):  # streams beyond four: the oldest is forgotten
        d.first_time("gw1", 1, stream=stream)
    assert d.first_time("gw1", 7, stream=0xA)


def test_the_pipeline_stores_a_new_outbox_as_a_notice_for_the_gateways_dashboard(tmp_path: Path) -> None:
    """The notice reaches the store as a hub_notice row (the Gateways dashboard's 网关提示), once."""
    clock = Clock()
    p, _ = pipeline(engine(tmp_path, RULE), clock)
    clock.now = T0
    for stream in (0x51, 0x77, 0x77):
        p.handle_batch(Batch("fs-gw01", (Reading("rg1", "rain_mm", 0.0, T0, 1),), T0, stream))
    notices = [ln for ln in p.store.lines if ln.startswith("hub_notice,")]  # type: ignore[union-attr]
    assert len(notices) == 1 and "kind=new_outbox,origin=fs-gw01 n=1i,detail=" in notices[0]
    assert "新的存储卡" in notices[0] and p.dedupe.notices == []
