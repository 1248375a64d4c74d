"""Routing properties over every site, level and notice kind of the Fengshan directory (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.alerts import messages as m
from hub.alerts.config import load
from hub.alerts.routing import ALL_KINDS, RoutingPolicy, plan
from hub.rules.model import Level

from .conftest import EXAMPLE

DIRECTORY = load(EXAMPLE).directory
POLICY = RoutingPolicy(broadcast_channel="broadcast", drone_channel="drone")
SITES = [s.id for s in DIRECTORY.sites]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(SITES), st.sampled_from(list(Level)[1:]), st.sampled_from(ALL_KINDS),
       st.sampled_from(list(Level)[1:]), st.sampled_from(["", "officers", "villagers", "everyone", "bogus"]))  # fmt: skip
def test_plan_invariants(site: str, level: Level, kind: str, top: Level, audience: str) -> None:
    labels = {"audience": audience} if audience else {}
    n = m.Notice(kind, f"{site}/r", f"{site}/r#0", "k", site, "r", level, max(level, top), 0.0, labels=labels)
    p = plan(n, DIRECTORY, POLICY)
    keys = [(x.channel, x.recipient_id) for x in p]
    assert len(keys) == len(set(keys))  # once per recipient and channel
    people = [x for x in p if x.channel == "sms"]
    assert [x.rank for x in people] == sorted(x.rank for x in people)  # urgency, then proximity
    if kind in (m.TEST, m.MAINTENANCE, m.MAINTENANCE_CLEAR):
        assert {x.audience for x in people} <= {"officer"}
        assert not [x for x in p if x.channel in ("broadcast", "drone")]
    if kind == m.TEST:
        assert all(x.text.startswith("【测试】") for x in people)
    if kind in (m.ACK, m.EVACUATION):
        assert people == []
    threatened = set(DIRECTORY.site(site).grids)  # type: ignore[union-attr]
    for x in people:
        if x.audience == "villager":
            assert set(DIRECTORY.recipient(x.recipient_id).grids) & threatened  # type: ignore[union-attr]
            # A step down or clear is planned for all it could concern; the dispatcher keeps those told.
            ending = kind in (m.DOWN, m.CLEAR)
            assert ending or max(level, top) >= Level.ORANGE or audience in ("villagers", "everyone")
        if audience == "officers" and kind == m.ALERT:
            assert x.audience in ("officer", "drone_team")
    if kind == m.ALERT and level == Level.RED:
        assert [x.recipient_id for x in p if x.channel == "drone"] == ["drone-1"]
