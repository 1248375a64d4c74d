"""Cayenne LPP and fixed byte layouts: published example payloads decoded by hand, and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.sensors import lpp
from edge.sensors.payload_layout import LayoutError, LayoutField, decode_layout


def keyed(payload: str) -> dict[str, float]:
    return {v.key: v.value for v in lpp.decode(bytes.fromhex(payload))}


def test_examples_from_the_cayenne_lpp_documentation() -> None:
    # myDevices Cayenne LPP docs, "Examples": two temperatures, 27.2 °C on ch 3 (0x0110 = 272) and
    # 25.5 °C on ch 5 (0x00FF = 255); also shown in The Things Stack CayenneLPP formatter docs.
    assert keyed("03670110056700FF") == {"temperature_3": 27.2, "temperature_5": 25.5}
    # Same docs: temperature -4.1 °C (0xFFD7 = -41) on ch 1, accelerometer on ch 6: x 1.234 G (0x04D2),
    # y -1.234 G (0xFB2E), z 0
    assert keyed("0167FFD7067104D2FB2E0000") == {
        "temperature_1": -4.1,
        "accelerometer_6_x": 1.234,
        "accelerometer_6_y": -1.234,
        "accelerometer_6_z": 0.0,
    }
    # Same docs: GPS on ch 1: lat 0x06765F = 423519 -> 42.3519, lon 0xF2960A = -879094 -> -87.9094, alt 0x0003E8 -> 10 m
    assert keyed("018806765FF2960A0003E8") == {
        "gps_1_latitude": 42.3519,
        "gps_1_longitude": -87.9094,
        "gps_1_altitude": 10.0,
    }


def test_extended_types_and_errors() -> None:
    # analog input ch1 12.34 (0x04D2), voltage ch2 3.61 V (0x0169), percentage ch3 87
    assert keyed("010204D202740169037857") == {
        "analog_input_1": 12.34,
        "voltage_2": 3.61,
        "percentage_3": 87.0,
    }
    with pytest.raises(lpp.LppError, match="unknown LPP type 250"):
        lpp.decode(bytes.fromhex("01FA00"))
    with pytest.raises(lpp.LppError, match="needs 2 bytes"):
        lpp.decode(bytes.fromhex("016701"))


def test_byte_layout() -> None:
    fields = [
        LayoutField.model_validate(dict(quantity="crack_mm", offset=0, type="float32")),
        LayoutField.model_validate(dict(quantity="battery_v", offset=4, type="u16", scale=0.001)),
        LayoutField.model_validate(
            dict(
                quantity="tilt_deg", offset=6, type="s16", byte_order="little", scale=0.01, sentinels=[-32768]
            )
        ),
    ]
    # 12.5 = 41480000; 3600 mV = 0E10; -1.50° = -150 = 0xFF6A little-endian 6A FF
    assert decode_layout(bytes.fromhex("414800000E106AFF"), fields) == [
        ("crack_mm", 12.5, "good"),
        ("battery_v", 3.6, "good"),
        ("tilt_deg", -1.5, "good"),
    ]
    assert decode_layout(bytes.fromhex("414800000E100080"), fields)[2][2] == "bad"
    with pytest.raises(LayoutError, match="battery_v"):
        decode_layout(bytes.fromhex("41480000"), fields)


@given(st.binary(max_size=64))
def test_lpp_raises_only_its_own_error(data: bytes) -> None:
    try:
        lpp.decode(data)
    except lpp.LppError:
        pass


@given(st.binary(max_size=16))
def test_layout_raises_only_its_own_error(data: bytes) -> None:
    fields = [
        LayoutField.model_validate(dict(quantity="x", offset=3, type="float32")),
        LayoutField.model_validate(dict(quantity="y", offset=0, type="s8")),
    ]
    try:
        decode_layout(data, fields)
    except LayoutError:
        pass
