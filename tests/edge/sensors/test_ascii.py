"""Vendor ASCII sensors over a socat pty: shipped profile, custom regex, silence, noise, fuzzing."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from edge.sensors.ascii import PROFILES, AsciiConfig, AsciiError, parse_response
from edge.sensors.base import PolledSensor, SensorError
from ews.devices.ascii_sensor import AsciiDevice
from ews.devices.pty import PtyPair

NOW = 1_784_509_200.0


def test_parse_the_issue_example() -> None:
    got = parse_response("X=+00.430\r\nY=-00.084\r\n", re.compile(PROFILES["xy_tilt"][1]), {})
    assert got == {"tilt_x_deg": 0.43, "tilt_y_deg": -0.084}
    with pytest.raises(AsciiError, match="no match"):
        parse_response("ERR 05\r\n", re.compile(PROFILES["xy_tilt"][1]), {})


def cfg(**kw: object) -> AsciiConfig:
    return AsciiConfig.model_validate(
        {"kind": "ascii", "id": "fs-hp03-tl1", "site": "fs-hp03", "timeout_s": 0.5, **kw}
    )


def test_streaming_tilt_profile_with_resultant_and_noise() -> None:
    with (
        PtyPair() as pty,
        AsciiDevice(pty.device, "X={x:+07.3f}\r\nY={y:+07.3f}\r\n", {"x": 0.43, "y": -0.084}) as dev,
    ):
        s = cfg(port=pty.host, profile="xy_tilt", resultant="tilt_deg").build()
        assert isinstance(s, PolledSensor) and s.bus == pty.host
        got = {r.quantity: r.value for r in s.poll(NOW)}
        assert got["tilt_x_deg"] == 0.43 and got["tilt_y_deg"] == -0.084
        assert got["tilt_deg"] == pytest.approx(0.4381, abs=1e-4)  # atan(hypot(tan .43°, tan .084°))
        dev.values["x"] = 1.5
        dev.garbage = b"\xff\x00Y=+9"  # a broken line before the answer
        assert {r.quantity: r.value for r in s.poll(NOW + 60)}["tilt_x_deg"] == 1.5
        dev.silent = True
        with pytest.raises(SensorError, match="fs-hp03-tl1"):
            s.poll(NOW + 120)


def test_queried_crack_meter_with_custom_regex_and_scale() -> None:
    with PtyPair() as pty, AsciiDevice(pty.device, "RD,{d:.1f},um\r\n", {"d": 1234.5}, query=b"MEAS?\r\n"):
        s = cfg(
            id="fs-hp01-cr1",
            port=pty.host,
            query="MEAS?\\r\\n",
            pattern=r"RD,(?P<crack_mm>[-\d.]+),um",
            scale={"crack_mm": 0.001},
        ).build()
        (r,) = s.poll(NOW)
        assert (r.sensor, r.quantity, r.value, r.time) == ("fs-hp01-cr1", "crack_mm", 1.2345, NOW)


def test_an_answer_cut_off_at_the_timeout_is_an_error_not_a_shorter_number() -> None:
    """Past the timeout the whole buffer was parsed, so "Y=-12.3" of a "Y=-12.345" still on its way was
    taken as a good -12.3. Only complete lines count, as they do before the timeout."""
    with (
        PtyPair() as pty,
        AsciiDevice(pty.device, "X=+00.430\r\nY=-12.3", {}, query=b"?\r\n") as dev,
    ):
        s = cfg(port=pty.host, profile="xy_tilt", query="?\\r\\n").build()
        with pytest.raises(SensorError, match=r"fs-hp03-tl1: answer cut off .*'Y=-12.3'"):
            s.poll(NOW)
        dev.template = "X=+00.430\r\nY=-12.345\r\n"
        assert {r.quantity: r.value for r in s.poll(NOW + 60)}["tilt_y_deg"] == -12.345


def test_config_errors() -> None:
    with pytest.raises(ValidationError, match="named groups"):
        cfg(port="/dev/null", pattern=r"X=(\d+)")
    with pytest.raises(ValidationError, match="exactly one"):
        cfg(port="/dev/null")


@given(st.text(max_size=120))
def test_parse_raises_only_its_own_error(text: str) -> None:
    for _q, pattern in PROFILES.values():
        try:
            parse_response(text, re.compile(pattern), {})
        except AsciiError:
            pass
    try:
        parse_response(text, re.compile(r"(?P<v>\S+)"), {})
    except AsciiError:
        pass
