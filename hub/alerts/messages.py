"""Chinese message texts for each notice kind, level and audience (pure: no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hub.alerts.directory import Role, Site
from hub.rules.model import Level
from hub.rules.text import local_time  # one Beijing-time format for every text people read

PREFIX = "【凤山预警】"
TEST_MARK = "【测试】"
MAINT_MARK = "【设备维护】"

# Notice kinds: what happened to the alert, which decides the wording and the audience.
ALERT = "alert"  # first firing or escalation to a higher level
DOWN = "down"  # de-escalation to a lower, still active level
CLEAR = "clear"  # the alert ended
ESCALATION = "escalation"  # nobody acknowledged: report to the town
TEST = "test"  # operator test: officers only, clearly marked
MAINTENANCE = "maintenance"  # data health (stale sensor, low battery): officers only
MAINTENANCE_CLEAR = "maintenance_clear"
ACK = "ack"  # someone acknowledged: a record for the console and the dashboard, nobody is texted
EVACUATION = "evacuation"  # a grid worker reported evacuation progress: a record, nobody is texted

# What each level asks people to do (typical Guangdong 三防 wording).
ACTION: dict[Level, str] = {
    Level.BLUE: "请关注雨情和监测数据",
    Level.YELLOW: "请加强巡查，发现险情立即报告",
    Level.ORANGE: "请准备转移，收拾好证件和贵重物品，听从网格员安排",
    Level.RED: "请立即转移到安全避险点，不要返回！",
}
# Grid workers act on orange/red: they take the alert door to door and report progress.
GRID_ACTION: dict[Level, str] = {
    Level.BLUE: "请关注本网格情况",
    Level.YELLOW: "请加强巡查，发现险情立即报告",
    Level.ORANGE: "请通知本网格群众准备转移，回复“撤离 已转移户数/总户数”报进度",
    Level.RED: "请立即组织本网格群众转移，回复“撤离 已转移户数/总户数”报进度",
}
OFFICER_ACTION: dict[Level, str] = {
    Level.BLUE: "请关注",
    Level.YELLOW: "请组织网格员加强巡查",
    Level.ORANGE: "请组织准备转移并启动广播",
    Level.RED: "请立即组织转移，核实群众全部撤离",
}


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing to tell people about one alert episode; the unit of dedupe and of routing."""

    kind: str
    alert_id: str  # site/rule
    episode: str  # alert_id#start: a new storm is a new episode
    key: str  # unique within the episode; a duplicate transition yields the same key
    site: str
    rule: str
    level: Level  # the level the message is about
    audience_level: Level  # whose audiences to reach (the highest level reached, for down/clear)
    at: float  # event time, epoch seconds
    from_level: Level = Level.NONE
    value: float | None = None
    message: str = ""  # the engine's own explanation, e.g. "1小时雨量 62mm ≥ 60mm"
    labels: Mapping[str, str] = field(default_factory=dict)
    unacked_min: int = 0  # escalations: minutes without acknowledgement
    who: str = ""  # acks and evacuation reports: who (name, never a phone number)


def level_text(level: Level) -> str:
    return f"{level.zh}预警({level.roman}级)" if level > Level.NONE else "无预警"


def _detail(n: Notice) -> str:
    return f"（{n.message}）" if n.message and not authored(n) else ""


def authored(n: Notice) -> bool:
    """The rule rendered a complete message of its own (it opens with a 【heading】): use it as the body."""
    return n.message.startswith("【")


def _sentence(text: str) -> str:
    return text if text.endswith(("。", "！", "!", "？")) else text + "。"


def action(n: Notice, role: Role) -> str:
    """The one-line "what to do" for an audience (SMS template parameter, broadcast, CAP instruction)."""
    if n.kind in (CLEAR, MAINTENANCE_CLEAR):
        return "预警解除，请继续留意天气"
    if n.kind in (TEST, ACK, EVACUATION) or n.level == Level.NONE:
        return "无需行动"
    if n.kind == ESCALATION:
        return "请镇三防办督促处置"
    if n.kind == MAINTENANCE:
        return "请安排检修"
    table = {Role.OFFICER: OFFICER_ACTION, Role.TOWN_OFFICER: OFFICER_ACTION, Role.GRID_WORKER: GRID_ACTION}
    return table.get(role, ACTION)[n.level]


def text(n: Notice, role: Role, site: Site | None) -> str:
    """The SMS/console text for one audience. Villagers get actions, officers get numbers too."""
    where = site.name if site else n.site
    when = local_time(n.at)
    if n.kind == TEST:
        return f"{TEST_MARK}{PREFIX}{where}{level_text(n.level)}测试信息，{when}。系统测试，无需行动。"
    if n.kind == MAINTENANCE:  # the health rule's message names the site and the device already
        body = _sentence(n.message) if n.message else f"{where}：{n.rule}。"
        return f"{MAINT_MARK}{body}（{when}）请安排检修，不影响群众。"
    if n.kind == MAINTENANCE_CLEAR:
        body = _sentence(n.message) if n.message else f"{where}：{n.rule}已恢复。"
        return f"{MAINT_MARK}{body}（{when}）"
    if n.kind == ACK:
        return f"{PREFIX}{where}{level_text(n.level)}已由{n.who}确认，{when}。"
    if n.kind == EVACUATION:
        return f"{PREFIX}{where}转移进度：{n.message}（{n.who}报告），{when}。"
    if n.kind == ESCALATION:
        return (
            f"{PREFIX}上报镇三防办：{where}{level_text(n.level)}已{n.unacked_min}分钟无人确认，"
            f"请镇里督促处置。{when}。回复1确认。"
        )
    if n.kind == CLEAR:
        if authored(n):  # the rule's message_clear
            return _sentence(n.message)
        return f"{PREFIX}{where}预警已解除（最高{n.audience_level.zh}），{when}。请继续留意天气，注意安全。"
    if n.kind == DOWN and authored(n):
        return (
            f"{PREFIX}{where}预警由{n.from_level.zh}降为{n.level.zh}，{when}。"
            f"{_sentence(n.message)}已转移群众请勿返回，等待解除通知。"
        )
    if n.kind == DOWN:
        return (
            f"{PREFIX}{where}预警由{n.from_level.zh}降为{n.level.zh}{_detail(n)}，{when}。"
            f"{ACTION.get(n.level, '')}。已转移群众请勿返回，等待解除通知。"
        )
    if authored(n):  # the rule author's words first; officers and grid workers get their task after them
        body = _sentence(n.message)
        if role in (Role.OFFICER, Role.TOWN_OFFICER):
            return f"{body}{OFFICER_ACTION[n.level]}。回复1确认。"
        if role == Role.GRID_WORKER:
            return f"{body}{GRID_ACTION[n.level]}。回复1确认。"
        return body
    head = f"{PREFIX}{where}{level_text(n.level)}，{when}"
    if role in (Role.OFFICER, Role.TOWN_OFFICER):
        return f"{head}{_detail(n)}。{OFFICER_ACTION[n.level]}。回复1确认。"
    if role == Role.GRID_WORKER:
        return f"{head}{_detail(n)}。{GRID_ACTION[n.level]}。回复1确认。"
    if role == Role.DRONE_TEAM:
        return f"{head}。请无人机组待命，坐标{site.lat:.5f},{site.lon:.5f}。" if site else f"{head}。"
    return f"{head}。{ACTION[n.level]}"


def drone_card(n: Notice, site: Site | None, officer: str) -> str:
    """The dispatch card the drone team gets by SMS: where, why, who asked. Launch needs a human go."""
    where = site.name if site else n.site
    coords = f"{site.lat:.5f},{site.lon:.5f}" if site else "见系统"
    return (
        f"{PREFIX}无人机出动单：{where}{level_text(n.level)}{_detail(n)}，坐标{coords}，"
        f"申请人{officer}，{local_time(n.at)}。航线已生成，起飞须值班人员下达 ews drone go 指令。"
    )


def broadcast_text(n: Notice, site: Site | None) -> str:
    """What the loudspeakers say: short, action first, repeated by the broadcast channel."""
    where = site.name if site else n.site
    if n.kind == CLEAR:
        return f"村民朋友们，{where}预警已解除。请继续留意天气，注意安全。"
    if n.kind == DOWN:
        return f"村民朋友们，{where}预警降为{n.level.zh}。已转移的村民请勿返回，等待解除通知。"
    return f"村民朋友们，{where}发布{n.level.zh}预警。{ACTION[n.level]}"
