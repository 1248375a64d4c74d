"""Modbus register-map profiles as data: the profile model, loading, and pure register decoding."""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PROFILE_DIR = Path(__file__).with_name("profiles")

RegType = Literal["u16", "s16", "u32", "s32", "float32"]
WIDTH = {"u16": 1, "s16": 1, "u32": 2, "s32": 2, "float32": 2}


class ModbusMapError(ValueError):
    """A profile that does not load, or registers that do not decode; the message says which."""


class RegisterSpec(BaseModel):
    """One value read from a device: where it lives, how it is encoded, what it means."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quantity: str = Field(description="Quantity of the reading, e.g. rain_mm, crack_mm, tilt_x_deg")
    function: Literal[3, 4] = Field(3, description="Function code: 3 holding registers, 4 input registers")
    address: int = Field(ge=0, le=0xFFFF, description="Zero-based register address (protocol address)")
    type: RegType = Field("u16", description="Encoding: u16, s16, u32, s32 or float32 (IEEE 754)")
    word_order: Literal["big", "little"] = Field(
        "big", description="32-bit values: big = high word first (ABCD), little = low word first (CDAB)"
    )
    byte_swap: bool = Field(False, description="Swap the two bytes inside each register (BADC/DCBA devices)")
    scale: float = Field(1.0, description="Engineering value = raw * scale + offset")
    offset: float = Field(0.0, description="Added after scaling")
    sentinels: list[float] = Field(
        default_factory=list,
        description="Raw values that mean 'no measurement' (e.g. -32768 for 0x8000 as s16, -9999); "
        "such readings are marked bad",
    )
    valid_min: float | None = Field(None, description="Engineering values below this are marked suspect")
    valid_max: float | None = Field(None, description="Engineering values above this are marked suspect")
    counter: bool = Field(
        False,
        description="The register is a cumulative counter (tipping bucket); the driver sends increments, "
        "handling rollover and resets",
    )
    max_rate_per_h: float = Field(
        300.0,
        gt=0,
        description="Counters: the largest plausible increase per hour in engineering units; a larger "
        "jump is treated as a reset or corruption, never passed on",
    )

    @property
    def width(self) -> int:
        return WIDTH[self.type]

    @property
    def modulus(self) -> int:
        """Where a counter of this type rolls over (raw counts)."""
        return 1 << (16 * self.width)


class Resultant(BaseModel):
    """A derived value: the combined angle of two tilt axes, atan(sqrt(tan²x + tan²y))."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quantity: str = Field(description="Quantity of the derived reading, e.g. tilt_deg")
    of: tuple[str, str] = Field(description="The two axis quantities it combines, in degrees")


class Profile(BaseModel):
    """A device family's register map. Profiles are YAML files in edge/sensors/profiles/."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Profile name (the file name without .yaml)")
    description: str = Field("", description="What device family this fits and where the map comes from")
    registers: list[RegisterSpec] = Field(min_length=1, description="The values to read")
    resultant: Resultant | None = Field(None, description="Optional combined tilt angle")

    @model_validator(mode="after")
    def _check(self) -> Profile:
        names = [r.quantity for r in self.registers]
        if len(set(names)) != len(names):
            raise ValueError(f"profile {self.name}: quantities must be unique, got {names}")
        if self.resultant and not set(self.resultant.of) <= set(names):
            raise ValueError(f"profile {self.name}: resultant needs {self.resultant.of}, have {names}")
        return self


def shipped_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def load_profile(name_or_path: str) -> Profile:
    """A shipped profile by name, or a YAML file by path. ModbusMapError names the file on failure."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = PROFILE_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise ModbusMapError(f"unknown Modbus profile {name_or_path!r}; shipped: {shipped_profiles()}")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ModbusMapError(f"{path}: cannot read profile: {exc}") from None
    if not isinstance(doc, dict):
        raise ModbusMapError(f"{path}: a profile must be a mapping")
    doc.setdefault("name", path.stem)
    try:
        return Profile.model_validate(doc)
    except ValidationError as exc:
        raise ModbusMapError(f"{path}: {exc}") from None


def decode_raw(regs: list[int], spec: RegisterSpec) -> float:
    """The raw number held in `regs` (exactly spec.width registers), before scaling."""
    if len(regs) != spec.width or any(not 0 <= r <= 0xFFFF for r in regs):
        raise ModbusMapError(f"{spec.quantity}: need {spec.width} registers of 0..65535, got {regs!r:.60}")
    words = [((r & 0xFF) << 8) | (r >> 8) if spec.byte_swap else r for r in regs]
    if spec.width == 2 and spec.word_order == "little":
        words.reverse()
    data = b"".join(w.to_bytes(2, "big") for w in words)
    fmt = {"u16": ">H", "s16": ">h", "u32": ">I", "s32": ">i", "float32": ">f"}[spec.type]
    return float(struct.unpack(fmt, data)[0])


def engineering(raw: float, spec: RegisterSpec) -> tuple[float, str]:
    """Scale a raw value and judge it: (value, quality). Sentinels and NaN are bad, out of range suspect."""
    if not math.isfinite(raw):
        return 0.0, "bad"
    value = round(raw * spec.scale + spec.offset, 9)  # 3 * 0.1 should read 0.3, not 0.30000000000000004
    if raw in spec.sentinels:
        return value, "bad"
    if (spec.valid_min is not None and value < spec.valid_min) or (
        spec.valid_max is not None and value > spec.valid_max
    ):
        return value, "suspect"
    return value, "good"


def read_plan(specs: list[RegisterSpec]) -> list[tuple[int, int, int]]:
    """Group contiguous registers of one function code into reads: [(function, address, count)]."""
    plan: list[list[int]] = []
    for spec in sorted(specs, key=lambda s: (s.function, s.address)):
        last = plan[-1] if plan else None
        if last and last[0] == spec.function and last[1] + last[2] == spec.address and last[2] < 100:
            last[2] += spec.width
        elif last and last[0] == spec.function and last[1] <= spec.address < last[1] + last[2]:
            last[2] = max(last[2], spec.address + spec.width - last[1])  # overlapping view of one block
        else:
            plan.append([spec.function, spec.address, spec.width])
    return [(f, a, c) for f, a, c in plan]


def slice_for(spec: RegisterSpec, blocks: dict[tuple[int, int], list[int]]) -> list[int]:
    """The registers of `spec` out of the blocks read by read_plan, keyed by (function, address)."""
    for (function, start), regs in blocks.items():
        if (
            function == spec.function
            and start <= spec.address
            and spec.address + spec.width <= start + len(regs)
        ):
            return regs[spec.address - start : spec.address - start + spec.width]
    raise ModbusMapError(f"{spec.quantity}: register {spec.address:#06x} was not read")


def resultant_deg(x_deg: float, y_deg: float) -> float:
    """Combined inclination of a dual-axis sensor: the angle of the plane's normal from vertical."""
    tx, ty = math.tan(math.radians(x_deg)), math.tan(math.radians(y_deg))
    return round(math.degrees(math.atan(math.hypot(tx, ty))), 6)
