"""Who and where: hazard sites, grids and recipients (officers, grid workers, villagers, drone team, town)."""

from __future__ import annotations

import math
import re
from collections import Counter
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator


class Role(StrEnum):
    """Audiences. The order of URGENCY below is the order notifications go out."""

    OFFICER = "officer"  # village disaster officer on duty (村三防责任人)
    GRID_WORKER = "grid_worker"  # 网格员: takes the alert door to door and reports evacuation
    TOWN_OFFICER = "town_officer"  # 镇三防办: escalation target (大事镇里谈)
    DRONE_TEAM = "drone_team"
    VILLAGER = "villager"


# Lower goes first: the people who act on an alert hear it before the people they will warn.
URGENCY: dict[Role, int] = {
    Role.OFFICER: 0,
    Role.GRID_WORKER: 1,
    Role.TOWN_OFFICER: 2,
    Role.DRONE_TEAM: 3,
    Role.VILLAGER: 4,
}

_PHONE = re.compile(r"^\+?[0-9]{6,15}$")


def normalize_phone(phone: str) -> str:
    """Digits only, without a +86 / 0086 country prefix, so inbound senders match the directory."""
    digits = re.sub(r"[^0-9]", "", phone)
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def looks_like_phone(address: str) -> bool:
    return bool(_PHONE.match(address.replace(" ", "").replace("-", "")))


def mask_address(address: str) -> str:
    """Mask an address if it is a phone number; zones, team ids and topics stay readable."""
    return mask_phone(address) if looks_like_phone(address) else address


def mask_phone(phone: str) -> str:
    """138****5678: enough to tell recipients apart in logs and InfluxDB, not enough to call them."""
    digits = normalize_phone(phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine; plenty for a village)."""
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


class Site(BaseModel):
    """A hazard point (隐患点) and the grids it threatens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Site id, e.g. fs-hp01")
    name: str = Field(description="Chinese name used in messages, e.g. 凤山村后山滑坡隐患点")
    hazard: str = Field(description="Hazard type: landslide, flash_flood, collapse, debris_flow, flood, ...")
    lat: float = Field(ge=-90, le=90, description="Latitude, WGS84 degrees")
    lon: float = Field(ge=-180, le=180, description="Longitude, WGS84 degrees")
    grids: list[str] = Field(
        default_factory=list, description="Grids (网格) whose people this site threatens"
    )


class Grid(BaseModel):
    """A village grid (网格): one grid worker's patch, one loudspeaker zone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Grid id, e.g. fs-g1")
    name: str = Field("", description="Chinese name, e.g. 凤山一组")
    households: int = Field(0, ge=0, description="Households to evacuate; the default total for 撤离 reports")
    speaker_zone: str | None = Field(None, description="Loudspeaker zone id; defaults to the grid id")


class Recipient(BaseModel):
    """One person (or team) who can be notified."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Stable recipient id (used in delivery state; never reuse)")
    name: str = Field(description="Name shown to officers, e.g. 李村长")
    role: Role = Field(description="officer, grid_worker, villager, drone_team or town_officer")
    phone: str | None = Field(None, description="Mobile number for SMS, e.g. 13800001234 or +8613800001234")
    grids: list[str] = Field(default_factory=list, description="Grids this person lives in or covers")
    sites: list[str] = Field(
        default_factory=list, description="Officers/teams: sites they answer for; empty means all sites"
    )
    lat: float | None = Field(None, ge=-90, le=90, description="Home or post latitude (orders villagers)")
    lon: float | None = Field(None, ge=-180, le=180, description="Home or post longitude")

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is not None and not _PHONE.match(v.replace(" ", "").replace("-", "")):
            raise ValueError(f"phone {v!r} is not a phone number (digits, optional leading +)")
        return v


class Directory(BaseModel):
    """The village's sites, grids and people, validated once at start-up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sites: list[Site] = Field(default_factory=list, description="Hazard points")
    grids: list[Grid] = Field(default_factory=list, description="Grids (网格)")
    recipients: list[Recipient] = Field(default_factory=list, description="People and teams")
    # Lookups by id: a county has thousands of sites and a storm looks one up per transition.
    _site_by_id: dict[str, Site] = PrivateAttr(default_factory=dict)
    _grid_by_id: dict[str, Grid] = PrivateAttr(default_factory=dict)
    _recipient_by_id: dict[str, Recipient] = PrivateAttr(default_factory=dict)

    def model_post_init(self, _context: object) -> None:
        self._site_by_id = {s.id: s for s in self.sites}
        self._grid_by_id = {g.id: g for g in self.grids}
        self._recipient_by_id = {r.id: r for r in self.recipients}

    @model_validator(mode="after")
    def _check(self) -> Directory:
        for what, ids in (
            ("site", [s.id for s in self.sites]),
            ("grid", [g.id for g in self.grids]),
            ("recipient", [r.id for r in self.recipients]),
        ):
            dup = {i for i, k in Counter(ids).items() if k > 1}
            if dup:
                raise ValueError(f"duplicate {what} id(s): {', '.join(sorted(dup))}")
        grid_ids = {g.id for g in self.grids}
        site_ids = {s.id for s in self.sites}
        for s in self.sites:
            for g in s.grids:
                if g not in grid_ids:
                    raise ValueError(f"site {s.id}: unknown grid {g!r}")
        for r in self.recipients:
            for g in r.grids:
                if g not in grid_ids:
                    raise ValueError(f"recipient {r.id}: unknown grid {g!r}")
            for s_id in r.sites:
                if s_id not in site_ids:
                    raise ValueError(f"recipient {r.id}: unknown site {s_id!r}")
        return self

    def site(self, site_id: str) -> Site | None:
        return self._site_by_id.get(site_id)

    def grid(self, grid_id: str) -> Grid | None:
        return self._grid_by_id.get(grid_id)

    def recipient(self, rid: str) -> Recipient | None:
        return self._recipient_by_id.get(rid)

    def by_phone(self, phone: str) -> Recipient | None:
        """The recipient whose number matches an inbound SMS sender (country prefix ignored)."""
        want = normalize_phone(phone)
        return next((r for r in self.recipients if r.phone and normalize_phone(r.phone) == want), None)
