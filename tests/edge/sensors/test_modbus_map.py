"""Register decoding and the shipped profiles: pure code, fed with register values worked out by hand."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.sensors.modbus_map import (
    ModbusMapError,
    RegisterSpec,
    decode_raw,
    engineering,
    load_profile,
    read_plan,
    resultant_deg,
    shipped_profiles,
    slice_for,
)


def spec(**kw: object) -> RegisterSpec:
    return RegisterSpec.model_validate({"quantity": "q", "address": 0, **kw})


def test_every_shipped_profile_loads() -> None:
    names = shipped_profiles()
    assert {"rain_tipping_bucket", "crack_float32", "tilt_dual_axis", "soil_moisture", "water_level"} <= set(
        names
    )
    for name in names:
        assert load_profile(name).registers


def test_rain_profile_is_a_counter_of_tenths_at_register_zero() -> None:
    (reg,) = load_profile("rain_tipping_bucket").registers
    assert (reg.function, reg.address, reg.type, reg.scale, reg.counter) == (3, 0, "u16", 0.1, True)
    assert reg.modulus == 65536


@pytest.mark.parametrize(
    ("kw", "regs", "raw"),
    [
        ({"type": "u16"}, [0xFFFF], 65535),
        ({"type": "s16"}, [0xFFFF], -1),
        ({"type": "s16"}, [0x8000], -32768),
        ({"type": "u32"}, [0x0001, 0x0002], 65538),
        ({"type": "u32", "word_order": "little"}, [0x0002, 0x0001], 65538),
        ({"type": "s32"}, [0xFFFF, 0xFFFE], -2),
        # 12.5 = 0x41480000 (sign 0, exponent 130, mantissa 0x480000)
        ({"type": "float32"}, [0x4148, 0x0000], 12.5),
        ({"type": "float32", "word_order": "little"}, [0x0000, 0x4148], 12.5),
        # BADC: bytes swapped inside each word
        ({"type": "float32", "byte_swap": True}, [0x4841, 0x0000], 12.5),
        # -9999.0 = 0xC61C3C00
        ({"type": "float32"}, [0xC61C, 0x3C00], -9999.0),
    ],
)
def test_decode_raw(kw: dict[str, object], regs: list[int], raw: float) -> None:
    assert decode_raw(regs, spec(**kw)) == raw


def test_scaling_sentinels_and_ranges() -> None:
    s = spec(type="s16", scale=0.01, sentinels=[-32768], valid_min=-90, valid_max=90)
    assert engineering(-123, s) == (-1.23, "good")
    assert engineering(-32768, s)[1] == "bad"
    assert engineering(9100, s) == (91.0, "suspect")
    assert engineering(3, spec(scale=0.1)) == (0.3, "good")  # not 0.30000000000000004
    assert engineering(math.nan, spec(type="float32"))[1] == "bad"


def test_read_plan_groups_contiguous_registers_per_function() -> None:
    specs = [
        spec(quantity="a", address=0, type="float32"),
        spec(quantity="b", address=2),
        spec(quantity="c", address=10),
        spec(quantity="d", address=0, function=4, type="u32"),
    ]
    assert read_plan(specs) == [(3, 0, 3), (3, 10, 1), (4, 0, 2)]
    blocks = {(3, 0): [0x4148, 0, 7], (3, 10): [9], (4, 0): [0, 5]}
    assert [slice_for(s, blocks) for s in specs] == [[0x4148, 0], [7], [9], [0, 5]]


def test_resultant_tilt() -> None:
    assert resultant_deg(0.0, 0.0) == 0.0
    # tan 3° = 0.052408, tan 4° = 0.069927, hypot = 0.087385, atan = 4.9942°
    assert resultant_deg(3.0, 4.0) == pytest.approx(4.9942, abs=1e-4)
    assert resultant_deg(-2.0, 0.0) == pytest.approx(2.0)


def test_unknown_and_broken_profiles_name_the_problem(tmp_path: object) -> None:
    with pytest.raises(ModbusMapError, match="unknown Modbus profile 'nope'"):
        load_profile("nope")
    from pathlib import Path

    bad = Path(str(tmp_path)) / "bad.yaml"
    bad.write_text("registers:\n  - quantity: x\n    address: 0\n    type: u64\n")
    with pytest.raises(ModbusMapError, match="bad.yaml"):
        load_profile(str(bad))


@given(
    st.lists(st.integers(min_value=-(2**20), max_value=2**20), max_size=3),
    st.sampled_from(["u16", "s16", "u32", "s32", "float32"]),
    st.booleans(),
    st.booleans(),
)
def test_decode_never_raises_anything_but_its_own_error(
    regs: list[int], type_: str, little: bool, swap: bool
) -> None:
    s = spec(type=type_, word_order="little" if little else "big", byte_swap=swap)
    try:
        raw = decode_raw(regs, s)
    except ModbusMapError:
        return
    engineering(raw, s)
