"""Fixed byte layouts for vendor LoRaWAN payloads, as data: offset, type, byte order, scale, sentinels."""

from __future__ import annotations

import math
import struct
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class LayoutError(ValueError):
    """A payload shorter than its layout, or a layout field that does not fit."""


FORMATS = {"u8": "B", "s8": "b", "u16": "H", "s16": "h", "u32": "I", "s32": "i", "float32": "f"}


class LayoutField(BaseModel):
    """One value at a fixed place in the payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quantity: str = Field(description="Quantity of the reading, e.g. crack_mm")
    offset: int = Field(ge=0, le=242, description="Byte offset in the FRMPayload")
    type: Literal["u8", "s8", "u16", "s16", "u32", "s32", "float32"] = Field(description="Encoding")
    byte_order: Literal["big", "little"] = Field("big", description="Byte order of multi-byte values")
    scale: float = Field(1.0, description="Engineering value = raw * scale + add")
    add: float = Field(0.0, description="Added after scaling")
    sentinels: list[float] = Field(
        default_factory=list, description="Raw values meaning 'no measurement' (bad)"
    )
    f_port: int | None = Field(None, description="Only for uplinks on this fPort (None: any)")


def decode_layout(
    payload: bytes, fields: list[LayoutField], f_port: int | None = None
) -> list[tuple[str, float, str]]:
    """(quantity, value, quality) for each field that applies to this fPort."""
    out: list[tuple[str, float, str]] = []
    for f in fields:
        if f.f_port is not None and f_port is not None and f.f_port != f_port:
            continue
        fmt = (">" if f.byte_order == "big" else "<") + FORMATS[f.type]
        size = struct.calcsize(fmt)
        if f.offset + size > len(payload):
            raise LayoutError(
                f"{f.quantity}: needs bytes {f.offset}..{f.offset + size - 1}, payload has {len(payload)}"
            )
        raw = float(struct.unpack_from(fmt, payload, f.offset)[0])
        if not math.isfinite(raw):
            out.append((f.quantity, 0.0, "bad"))
            continue
        quality = "bad" if raw in f.sentinels else "good"
        out.append((f.quantity, round(raw * f.scale + f.add, 9), quality))
    return out
