"""Pure CAP state over time: Alert → Update (by references) → Cancel, expiry, status filter, replays."""

from __future__ import annotations

from hub.feeds.capparse import parse_alert
from hub.feeds.capstate import CapState, apply, site_levels
from tests.hub.feeds.helpers import FENGSHAN, NOW, body

ORANGE = parse_alert(body("gd-yangshan-rainstorm-orange.cap.xml"))
RED = parse_alert(body("gd-yangshan-rainstorm-red-update.cap.xml"))
CANCEL = parse_alert(body("gd-yangshan-rainstorm-cancel.cap.xml"))


def levels(state: CapState, now: float, geocodes: dict[str, list[str]] | None = None):
    readings, events = site_levels(
        state, FENGSHAN, geocodes or {}, now, feed="gd-cap", languages=["zh-CN"], default_validity_s=86400
    )
    return {r.sensor: r.value for r in readings}, events


def test_alert_update_cancel_sequence() -> None:
    state = CapState()
    assert apply(state, ORANGE, NOW).startswith("active")
    lv, events = levels(state, NOW)
    assert lv == {"gd-cap@fs-hp01": 3.0, "gd-cap@fs-hp02": 3.0, "gd-cap@fs-hp03": 3.0}
    assert {(e.site, e.action, e.level) for e in events} == {
        ("fs-hp01", "issued", 3),
        ("fs-hp02", "issued", 3),
        ("fs-hp03", "issued", 3),
    }
    e = events[0]
    assert (e.identifier, e.sender, e.event) == (
        "44182341600000_20240616100000",
        "阳山县气象台",
        "暴雨橙色预警",
    )

    # Polling again with nothing new: same levels, no new events.
    assert levels(state, NOW + 300)[1] == []

    t_update = RED.sent + 60
    apply(state, RED, t_update)
    lv, events = levels(state, t_update)
    assert lv["gd-cap@fs-hp02"] == 4.0  # inside the red circle
    assert lv["gd-cap@fs-hp01"] == 3.0 and lv["gd-cap@fs-hp03"] == 3.0
    assert {(e.site, e.action, e.level) for e in events} == {
        ("fs-hp01", "updated", 3),  # same level, but now under the Update's identifier
        ("fs-hp02", "updated", 4),
        ("fs-hp03", "updated", 3),
    }
    assert ORANGE.key in state.ended and state.ended[ORANGE.key].reason == "superseded"

    t_cancel = CANCEL.sent + 60
    apply(state, CANCEL, t_cancel)
    lv, events = levels(state, t_cancel)
    assert set(lv.values()) == {0.0}
    assert {(e.site, e.action, e.level) for e in events} == {
        ("fs-hp01", "cancelled", 0),
        ("fs-hp02", "cancelled", 0),
        ("fs-hp03", "cancelled", 0),
    }
    assert events[0].identifier == "44182341600000_20240616113000"


def test_expiry_brings_level_to_zero_with_an_expired_event() -> None:
    state = CapState()
    apply(state, ORANGE, NOW)
    levels(state, NOW)
    expires = ORANGE.infos[0].expires
    assert expires is not None
    lv, events = levels(state, expires - 1)
    assert lv["gd-cap@fs-hp01"] == 3.0 and events == []
    lv, events = levels(state, expires)
    assert set(lv.values()) == {0.0}
    assert {e.action for e in events} == {"expired"}
    assert not state.active


def test_not_yet_effective_then_in_force() -> None:
    state = CapState()
    apply(state, ORANGE, ORANGE.sent - 600)
    lv, _ = levels(state, ORANGE.sent - 600)  # effective is 10:00; it is 09:50
    assert set(lv.values()) == {0.0}
    lv, _ = levels(state, ORANGE.sent)
    assert set(lv.values()) == {3.0}


def test_replay_test_status_and_unknown_references() -> None:
    state = CapState()
    apply(state, ORANGE, NOW)
    assert apply(state, ORANGE, NOW + 1) == "ignored: already seen"
    drill = parse_alert(
        body("gd-yangshan-rainstorm-orange.cap.xml")
        .replace(b"<status>Actual</status>", b"<status>Exercise</status>")
        .replace(b"20240616100000</identifier>", b"20240616100001</identifier>")
    )
    assert apply(state, drill, NOW) == "ignored: status Exercise"
    assert apply(state, drill, NOW, accept_status=("Actual", "Exercise")).startswith("active")
    # A Cancel of something we never saw still ends nothing else and is remembered.
    assert apply(state, CANCEL, NOW).startswith("cancelled")
    assert ORANGE.key in state.active
    # A replayed superseded message does not come back.
    apply(state, RED, NOW)
    assert apply(state, ORANGE, NOW) == "ignored: already seen"


def test_geocode_only_area_needs_site_geocodes() -> None:
    xml = body("gd-yangshan-rainstorm-orange.cap.xml").replace(
        b"<polygon>24.65,112.50 24.65,112.62 24.55,112.62 24.55,112.50 24.65,112.50</polygon>", b""
    )
    state = CapState()
    apply(state, parse_alert(xml), NOW)
    lv, _ = levels(state, NOW)
    assert set(lv.values()) == {0.0}  # nothing tells us where 441823 is
    lv, _ = levels(CapState(active=dict(state.active)), NOW, {"fs-hp01": ["441823"]})
    assert lv == {"gd-cap@fs-hp01": 3.0, "gd-cap@fs-hp02": 0.0, "gd-cap@fs-hp03": 0.0}


def test_lifting_message_sent_as_alert_ends_the_referenced_warning() -> None:
    lift = parse_alert(
        body("gd-yangshan-rainstorm-cancel.cap.xml")
        .replace(b"<msgType>Cancel</msgType>", b"<msgType>Alert</msgType>")
        .replace(b"20240616113000,2024-06-16T11:30", b"20240616100000,2024-06-16T10:00")
    )
    state = CapState()
    apply(state, ORANGE, NOW)
    levels(state, NOW)
    apply(state, lift, NOW + 60)
    lv, events = levels(state, NOW + 60)
    assert set(lv.values()) == {0.0}
    assert {e.action for e in events} == {"cancelled"}


def test_readings_are_warning_source_at_poll_time() -> None:
    state = CapState()
    apply(state, ORANGE, NOW)
    readings, _ = site_levels(
        state, FENGSHAN, {}, NOW, feed="gd-cap", languages=["zh-CN"], default_validity_s=86400
    )
    assert {(r.quantity, r.source, r.time, r.issued) for r in readings} == {
        ("warning_level", "warning", NOW, None)
    }


def test_update_before_its_original_keeps_the_late_original_out() -> None:
    # The index lists the red Update and the orange Alert; the orange fetch failed (503) this poll.
    state = CapState()
    t = RED.sent + 60
    apply(state, RED, t)
    assert state.ended[ORANGE.key].reason == "superseded" and state.ended[ORANGE.key].alert is None
    # Next poll the orange message is fetched: it was superseded, it does not come into force.
    assert apply(state, ORANGE, t + 300) == "ignored: already superseded"
    assert ORANGE.key not in state.active
    lv, _ = levels(state, t + 300)
    assert lv["gd-cap@fs-hp02"] == 4.0
    t_cancel = CANCEL.sent + 60
    apply(state, CANCEL, t_cancel)
    lv, events = levels(state, t_cancel)
    assert set(lv.values()) == {0.0} and {e.action for e in events} == {"cancelled"}
    # Four hours after the all-clear (orange itself expires at 22:00): still nothing in force.
    lv, _ = levels(state, t_cancel + 4 * 3600)
    assert set(lv.values()) == {0.0} and not state.active


def test_cancel_before_the_update_it_cancels_still_ends_the_updates_original() -> None:
    state = CapState()
    apply(state, ORANGE, NOW)
    levels(state, NOW)
    t = CANCEL.sent + 60
    apply(state, CANCEL, t)  # cancels RED, which has not been fetched yet
    assert apply(state, RED, t + 300) == "ignored: already cancelled"
    lv, events = levels(state, t + 300)
    assert set(lv.values()) == {0.0} and not state.active
    assert {e.action for e in events} == {"cancelled"}  # orange was superseded by the (cancelled) red
    assert apply(state, RED, t + 600) == "ignored: already seen"


def test_references_to_unknown_messages_are_forgotten_after_a_week() -> None:
    state = CapState()
    apply(state, CANCEL, NOW)
    assert RED.key in state.ended
    levels(state, NOW + 7 * 86400 + 1)
    assert RED.key not in state.ended and CANCEL.key not in state.ended
