"""PURE routing: a Notice and the directory in, an ordered list of planned deliveries out (no I/O)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.alerts import messages as m
from hub.alerts.directory import URGENCY, Directory, Recipient, Role, Site, distance_m
from hub.rules.model import Level

ALL_KINDS = [
    m.ALERT,
    m.DOWN,
    m.CLEAR,
    m.ESCALATION,
    m.TEST,
    m.MAINTENANCE,
    m.MAINTENANCE_CLEAR,
    m.ACK,
    m.EVACUATION,
]
RECORD_ONLY = {m.ACK, m.EVACUATION}
OFFICERS_ONLY = {m.TEST, m.MAINTENANCE, m.MAINTENANCE_CLEAR}
FAR = 1e12  # distance for people without coordinates: after everyone we can place


def _default_levels() -> dict[str, list[Role]]:
    return {
        "blue": [Role.OFFICER],
        "yellow": [Role.OFFICER, Role.GRID_WORKER],
        "orange": [Role.OFFICER, Role.GRID_WORKER, Role.VILLAGER],
        "red": [Role.OFFICER, Role.GRID_WORKER, Role.VILLAGER, Role.DRONE_TEAM, Role.TOWN_OFFICER],
    }


def _check_levels(v: dict[str, list[Role]], where: str) -> dict[str, list[Role]]:
    for name in v:
        if Level.parse(name) == Level.NONE:
            raise ValueError(f"{where}: level {name!r} cannot have an audience")
    return v


class RoutingPolicy(BaseModel):
    """Who hears what. Site overrides win over hazard overrides, which win over the level defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    levels: dict[str, list[Role]] = Field(
        default_factory=_default_levels, description="Audiences per level (blue, yellow, orange, red)"
    )
    hazards: dict[str, dict[str, list[Role]]] = Field(
        default_factory=dict, description="Per hazard type (landslide, flash_flood, ...): level -> audiences"
    )
    sites: dict[str, dict[str, list[Role]]] = Field(
        default_factory=dict, description="Per site id: level -> audiences"
    )
    person_channels: dict[Role, list[str]] = Field(
        default_factory=lambda: {r: ["sms"] for r in Role},
        description="Channels that reach each audience in person (first of a failover chain)",
    )
    record_channels: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "console": list(ALL_KINDS),
            "mqtt_alert": [m.ALERT, m.DOWN, m.CLEAR, m.MAINTENANCE, m.MAINTENANCE_CLEAR],
            "annotation": list(ALL_KINDS),
        },
        description="Channels that get one notification per notice (not per person) -> notice kinds",
    )
    broadcast_channel: str | None = Field(None, description="Loudspeaker channel; one notification per zone")
    broadcast_min_level: str = Field("orange", description="Lowest level that is broadcast")
    drone_channel: str | None = Field(None, description="Drone mission channel; one notification per team")
    drone_min_level: str = Field("red", description="Lowest level that dispatches the drone team")

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: dict[str, list[Role]]) -> dict[str, list[Role]]:
        return _check_levels(v, "levels")

    @field_validator("hazards", "sites")
    @classmethod
    def _nested(cls, v: dict[str, dict[str, list[Role]]]) -> dict[str, dict[str, list[Role]]]:
        for key, levels in v.items():
            _check_levels(levels, key)
        return v

    @field_validator("broadcast_min_level", "drone_min_level")
    @classmethod
    def _level_name(cls, v: str) -> str:
        Level.parse(v)
        return v

    def channel_names(self) -> set[str]:
        names = {c for chans in self.person_channels.values() for c in chans} | set(self.record_channels)
        return names | {c for c in (self.broadcast_channel, self.drone_channel) if c}

    def audiences(self, level: Level, site: Site | None, site_id: str) -> list[Role]:
        name = level.label
        for table in (self.sites.get(site_id), self.hazards.get(site.hazard) if site else None):
            if table is not None and name in table:
                return list(table[name])
        return list(self.levels.get(name, []))


@dataclass(frozen=True, slots=True)
class Planned:
    """One delivery to make: a notice, on one channel, to one recipient."""

    channel: str
    recipient_id: str  # directory id, zone id, or "*" for record channels
    address: str  # phone number, speaker zone, team id or "*"
    audience: str  # role, "zone" or "record"
    text: str
    rank: tuple[int, float, str]  # urgency, distance to the hazard (m), id: the sending order
    extra: dict[str, str] = field(default_factory=dict)


def notice_extra(n: m.Notice, site: Site | None) -> dict[str, str]:
    """What every channel may need besides the text (CAP, MQTT, annotation, drone, broadcast)."""
    return {
        "kind": n.kind,
        "episode": n.episode,
        "notice": n.key,
        "rule": n.rule,
        "site_name": site.name if site else n.site,
        "hazard": site.hazard if site else "",
        "lat": f"{site.lat:.6f}" if site else "",
        "lon": f"{site.lon:.6f}" if site else "",
        "grids": ",".join(site.grids) if site else "",
        "level_num": str(int(n.level)),
        "level_zh": n.level.zh,
        "from_level": n.from_level.label,
        "max_level": n.audience_level.label,
        "at": repr(float(n.at)),
        "value": "" if n.value is None else repr(float(n.value)),
        "message": n.message,
        "who": n.who,
        "time_local": m.local_time(n.at),
        "action": m.action(n, Role.VILLAGER),
        "labels": json.dumps(dict(n.labels), ensure_ascii=False, sort_keys=True),
    }


def _reaches(r: Recipient, role: Role, n: m.Notice, site: Site | None) -> bool:
    if r.role != role:
        return False
    if role in (Role.VILLAGER, Role.GRID_WORKER):
        # Villagers and grid workers of the grids this site threatens; with no grids known, everyone.
        return not site or not site.grids or bool(set(r.grids) & set(site.grids))
    return not r.sites or n.site in r.sites


def _distance(r: Recipient, site: Site | None) -> float:
    if site is None or r.lat is None or r.lon is None:
        return FAR
    return distance_m(r.lat, r.lon, site.lat, site.lon)


def _officer_name(d: Directory, n: m.Notice) -> str:
    officers = [r for r in d.recipients if r.role == Role.OFFICER and (not r.sites or n.site in r.sites)]
    if not officers:
        return "值班员"
    o = officers[0]
    return f"{o.name}({o.phone})" if o.phone else o.name


# The rule's own `audience` label for a level (rules are written by the people who know the hazard).
LABEL_AUDIENCE: dict[str, set[Role]] = {
    "officers": {Role.OFFICER},
    "grid_workers": {Role.OFFICER, Role.GRID_WORKER},
    "villagers": {Role.OFFICER, Role.GRID_WORKER, Role.VILLAGER},
    "everyone": set(Role),
    "all": set(Role),
}


def rule_audience(base: list[Role], label: str | None) -> list[Role]:
    """Combine the village policy with the rule's audience label for a new or higher level.

    "officers" narrows to officers (a forecast rule: officers decide on evacuation); "grid_workers",
    "villagers" and "everyone" widen the policy to at least those. No or an unknown label: the policy.
    """
    want = LABEL_AUDIENCE.get((label or "").strip().lower())
    if want is None:
        return base
    if want == {Role.OFFICER}:
        return [Role.OFFICER]
    return [r for r in Role if r in set(base) | want]


def rule_actions(n: m.Notice) -> set[str] | None:
    """The rule's `actions` label for the level ("sms, broadcast, drone"); None when the rule names none."""
    raw = n.labels.get("actions", "")
    acts = {a.strip().lower() for a in raw.split(",") if a.strip()}
    return acts or None


def plan(n: m.Notice, d: Directory, policy: RoutingPolicy) -> list[Planned]:
    """Every delivery a notice needs, ordered by urgency then proximity to the hazard.

    For a clear or a de-escalation this is everyone it could concern; the dispatcher keeps those told.
    """
    site = d.site(n.site)
    base = notice_extra(n, site)
    actions = rule_actions(n) if n.kind == m.ALERT else None
    drone = bool(policy.drone_channel) and n.kind == m.ALERT and site is not None and (
        "drone" in actions if actions is not None else n.level >= Level.parse(policy.drone_min_level))  # fmt: skip
    # A step down or an all-clear is planned for every zone and person it could concern: the rule's
    # audience and actions labels may have widened any level of the episode beyond the policy, and the
    # dispatcher keeps exactly those told (people waiting to go home must hear that it is over).
    ending = n.kind in (m.DOWN, m.CLEAR)
    broadcast = bool(policy.broadcast_channel) and site is not None and (ending or n.kind == m.ALERT and (
        "broadcast" in actions if actions is not None
        else n.audience_level >= Level.parse(policy.broadcast_min_level)))  # fmt: skip
    out: list[Planned] = []
    for chan, kinds in policy.record_channels.items():
        if n.kind in kinds:
            out.append(Planned(chan, "*", "*", "record", m.text(n, Role.VILLAGER, site), (-1, 0.0, ""), base))
    if n.kind in RECORD_ONLY:
        roles: list[Role] = []
    elif n.kind in OFFICERS_ONLY:
        roles = [Role.OFFICER]  # tests and data health never reach villagers, whatever the policy says
    elif n.kind == m.ESCALATION:
        roles = [Role.TOWN_OFFICER]
    elif n.kind == m.ALERT:
        roles = rule_audience(policy.audiences(n.level, site, n.site), n.labels.get("audience"))
        if drone and Role.DRONE_TEAM not in roles:
            roles.append(Role.DRONE_TEAM)  # the team gets its dispatch card by SMS with the mission
    else:
        roles = list(Role)  # ending: everyone told in the episode (above), the town and teams included
    people: list[Planned] = []
    for role in roles:
        for r in d.recipients:
            if not _reaches(r, role, n, site) or not r.phone:
                continue
            if role == Role.DRONE_TEAM and n.kind == m.ALERT:
                body = m.drone_card(n, site, _officer_name(d, n))
            else:
                body = m.text(n, role, site)
            extra = {**base, "recipient_name": r.name, "role": role.value, "grid": ",".join(r.grids),
                     "action": m.action(n, role)}  # fmt: skip
            rank = (URGENCY[role], _distance(r, site), r.id)
            for chan in policy.person_channels.get(role, [])[:1]:
                people.append(Planned(chan, r.id, r.phone, role.value, body, rank, extra))
    out += sorted(people, key=lambda p: p.rank)
    if site is not None and policy.broadcast_channel and broadcast:
        for gid in site.grids:
            grid = d.grid(gid)
            zone = (grid.speaker_zone if grid else None) or gid
            extra = {**base, "grid": gid, "zone": zone}
            text = m.broadcast_text(n, site)
            out.append(Planned(policy.broadcast_channel, zone, zone, "zone", text, (5, 0.0, zone), extra))
    if site is not None and policy.drone_channel and drone:
        officer = _officer_name(d, n)
        for r in d.recipients:
            if _reaches(r, Role.DRONE_TEAM, n, site):
                extra = {**base, "team": r.id, "team_name": r.name, "requesting_officer": officer}
                card = m.drone_card(n, site, officer)
                out.append(
                    Planned(policy.drone_channel, r.id, r.id, "drone_team", card, (3, 0.0, r.id), extra)
                )
    return out


def eta_s(planned: list[Planned], interval_s: dict[str, float]) -> float:
    """Expected seconds until the last recipient is reached, given each channel's send interval."""
    per_channel: dict[str, int] = {}
    for p in planned:
        per_channel[p.channel] = per_channel.get(p.channel, 0) + 1
    return max((k * interval_s.get(c, 0.0) for c, k in per_channel.items()), default=0.0)
