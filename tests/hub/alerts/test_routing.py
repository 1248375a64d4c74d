"""Routing is pure: a notice and the Fengshan directory in, an ordered delivery plan out."""

from __future__ import annotations

from hub.alerts import messages as m
from hub.alerts.directory import Directory, Role
from hub.alerts.routing import RoutingPolicy, eta_s, plan
from hub.rules.model import Level


def notice(level: Level, kind: str = m.ALERT, site: str = "fs-hp01", **kw: object) -> m.Notice:
    base: dict = dict(kind=kind, alert_id=f"{site}/rain", episode=f"{site}/rain#1", key=f"{kind}:{level.label}:1",
                      site=site, rule="rain", level=level, audience_level=level, at=1_780_000_000.0,
                      message="1小时雨量 62mm ≥ 60mm")  # fmt: skip
    base.update(kw)
    return m.Notice(**base)


POLICY = RoutingPolicy(broadcast_channel="broadcast", drone_channel="drone")


def people(plan_: list, channel: str = "sms") -> list[tuple[str, str]]:
    return [(p.audience, p.recipient_id) for p in plan_ if p.channel == channel]


def test_blue_reaches_officers_only(directory: Directory) -> None:
    got = people(plan(notice(Level.BLUE), directory, POLICY))
    assert {a for a, _ in got} == {"officer"}
    assert {r for _, r in got} == {"off-li", "off-huang"}


def test_yellow_adds_grid_workers_of_the_threatened_grids(directory: Directory) -> None:
    got = people(plan(notice(Level.YELLOW), directory, POLICY))
    assert [r for a, r in got if a == "grid_worker"] == ["gw-1", "gw-2"]  # fs-hp01 threatens fs-g1, fs-g2
    assert not [r for a, r in got if a == "villager"]


def test_orange_reaches_villagers_of_affected_grids_and_broadcasts(directory: Directory) -> None:
    p = plan(notice(Level.ORANGE), directory, POLICY)
    villagers = [r for a, r in people(p) if a == "villager"]
    assert set(villagers) == {"v-101", "v-102", "v-201", "v-202"}  # not fs-g3 / fs-g4 households
    assert [x.recipient_id for x in p if x.channel == "broadcast"] == ["fs-g1", "fs-g2"]
    assert not [x for x in p if x.channel == "drone"]
    text = next(x.text for x in p if x.recipient_id == "v-101")
    assert "准备转移" in text and "橙色" in text


def test_red_reaches_everyone_and_dispatches_drone(directory: Directory) -> None:
    p = plan(notice(Level.RED), directory, POLICY)
    audiences = {a for a, _ in people(p)}
    assert audiences == {"officer", "grid_worker", "villager", "drone_team", "town_officer"}
    drone = [x for x in p if x.channel == "drone"]
    assert [x.recipient_id for x in drone] == ["drone-1"]
    assert drone[0].extra["lat"] == "24.601200" and drone[0].extra["requesting_officer"].startswith("李支书")
    assert "立即转移" in next(x.text for x in p if x.recipient_id == "v-101")
    assert "24.60120,112.55210" in next(x.text for x in p if x.recipient_id == "drone-1")


def test_order_is_urgency_then_proximity(directory: Directory) -> None:
    got = [x for x in plan(notice(Level.RED), directory, POLICY) if x.channel == "sms"]
    ranks = [x.rank for x in got]
    assert ranks == sorted(ranks)
    roles = [x.audience for x in got]
    assert roles.index("villager") > roles.index("grid_worker") > roles.index("officer")
    villagers = [x.recipient_id for x in got if x.audience == "villager"]
    # v-101 lives 50 m from the landslide, v-202 about 700 m away: nearest hears first
    assert villagers[0] == "v-101" and villagers[-1] == "v-202"


def test_maintenance_and_test_never_reach_villagers(directory: Directory) -> None:
    for kind in (m.MAINTENANCE, m.TEST):
        p = plan(notice(Level.RED, kind=kind), directory, POLICY)
        assert {a for a, _ in people(p)} == {"officer"}
        assert not [x for x in p if x.channel in ("broadcast", "drone")]
    test_text = next(
        x.text for x in plan(notice(Level.RED, kind=m.TEST), directory, POLICY) if x.channel == "sms"
    )
    assert test_text.startswith("【测试】")


def test_escalation_goes_to_town(directory: Directory) -> None:
    p = plan(notice(Level.ORANGE, kind=m.ESCALATION, unacked_min=16), directory, POLICY)
    assert people(p) == [("town_officer", "town-duty")]
    assert "16分钟无人确认" in p[-1].text


def test_clear_reaches_the_audience_of_the_highest_level(directory: Directory) -> None:
    p = plan(notice(Level.RED, kind=m.CLEAR, audience_level=Level.RED), directory, POLICY)
    assert "villager" in {a for a, _ in people(p)}
    assert all("解除" in x.text for x in p if x.channel == "sms")
    assert [x.recipient_id for x in p if x.channel == "broadcast"] == ["fs-g1", "fs-g2"]
    assert not [x for x in p if x.channel == "drone"]


def test_site_override_beats_hazard_override_beats_default(directory: Directory) -> None:
    policy = RoutingPolicy(
        hazards={"flash_flood": {"yellow": [Role.OFFICER, Role.GRID_WORKER, Role.VILLAGER]}},
        sites={"fs-hp03": {"blue": [Role.OFFICER, Role.GRID_WORKER]}},
    )
    flood = people(plan(notice(Level.YELLOW, site="fs-hp02"), directory, policy))
    assert {r for a, r in flood if a == "villager"} == {"v-201", "v-202", "v-301"}
    school = people(plan(notice(Level.BLUE, site="fs-hp03"), directory, policy))
    assert [r for a, r in school if a == "grid_worker"] == ["gw-4"]
    slide = people(plan(notice(Level.YELLOW, site="fs-hp01"), directory, policy))
    assert not [r for a, r in slide if a == "villager"]


def test_record_channels_get_one_notification_per_notice(directory: Directory) -> None:
    p = plan(notice(Level.ORANGE), directory, POLICY)
    assert [x.channel for x in p if x.audience == "record"] == ["console", "mqtt_alert", "annotation"]
    ack = plan(notice(Level.ORANGE, kind=m.ACK, who="李支书"), directory, POLICY)
    assert [x.channel for x in ack] == ["console", "annotation"]


def test_eta_counts_the_slowest_channel(directory: Directory) -> None:
    p = plan(notice(Level.RED), directory, POLICY)
    n_sms = len([x for x in p if x.channel == "sms"])
    assert eta_s(p, {"sms": 3.0}) == n_sms * 3.0


# ---- the rule's own audience and actions labels (hub/rules/engine.py sets them per level) -------------

RULE_RED = "【山洪红色预警】11月29日 08:07 凤山村后山滑坡隐患点1小时雨量55.5毫米，极可能发生山洪！请危险区所有人员立即撤离，远离河沟。"


def test_rule_audience_officers_narrows_the_policy(directory: Directory) -> None:
    """A forecast rule says `audience: officers`: officers decide on evacuation, villagers are not texted."""
    n = notice(Level.RED, labels={"audience": "officers", "actions": "sms"})
    p = plan(n, directory, POLICY)
    assert {a for a, _ in people(p)} == {"officer"}
    assert not [x for x in p if x.channel in ("broadcast", "drone")]  # actions: sms only


def test_rule_audience_villagers_widens_the_policy(directory: Directory) -> None:
    n = notice(Level.YELLOW, labels={"audience": "villagers", "actions": "sms, broadcast"})
    p = plan(n, directory, POLICY)
    assert {a for a, _ in people(p)} == {"officer", "grid_worker", "villager"}
    assert [x.recipient_id for x in p if x.channel == "broadcast"] == ["fs-g1", "fs-g2"]  # at yellow


def test_rule_actions_dispatch_the_drone_at_orange(directory: Directory) -> None:
    n = notice(Level.ORANGE, labels={"audience": "villagers", "actions": "sms, broadcast, drone"})
    p = plan(n, directory, POLICY)
    assert [x.recipient_id for x in p if x.channel == "drone"] == ["drone-1"]
    assert "drone-1" in [r for _, r in people(p)]  # and its dispatch card by SMS


def test_authored_rule_message_is_the_body(directory: Directory) -> None:
    p = plan(notice(Level.RED, message=RULE_RED), directory, POLICY)
    by_id = {x.recipient_id: x.text for x in p if x.channel == "sms"}
    assert by_id["v-101"] == RULE_RED
    assert by_id["off-li"] == RULE_RED + "请立即组织转移，核实群众全部撤离。回复1确认。"
    assert by_id["gw-1"].startswith(RULE_RED) and "撤离 已转移户数/总户数" in by_id["gw-1"]
    clear = m.Notice(m.CLEAR, "fs-hp01/rain", "e", "k", "fs-hp01", "rain", Level.RED, Level.RED, 1.0,
                     message="【山洪预警解除】凤山村后山滑坡隐患点雨量已低于临界值")  # fmt: skip
    assert {x.text for x in plan(clear, directory, POLICY) if x.channel == "sms"} == {
        "【山洪预警解除】凤山村后山滑坡隐患点雨量已低于临界值。"}  # fmt: skip
