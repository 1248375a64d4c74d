"""`ews decode`: what a field technician sees for captured bytes (recorded frames, see test_sl651_codec)."""

from __future__ import annotations

import json

import pytest

from ews.cli import main
from tests.edge.sensors.test_sl651_codec import CAP_32, FJ_32


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict]]:
    rc = main(list(argv))
    out = capsys.readouterr().out
    return rc, [json.loads(line) for line in out.splitlines()]


def test_decode_sl651_prints_each_frame(capsys: pytest.CaptureFixture[str]) -> None:
    spaced = " ".join(CAP_32[i : i + 2] for i in range(0, len(CAP_32), 2))  # as copied from a serial monitor
    rc, docs = run(capsys, "decode", "sl651", spaced, FJ_32)
    assert rc == 0 and len(docs) == 2
    d = docs[0]
    assert (d["function"], d["function_name"], d["station"], d["station_class"], d["crc_ok"]) == (
        "32",
        "遥测站定时报",
        "1090330853",
        "P",
        True,
    )
    assert (
        d["send_time"] == "2026-02-02T09:40:21+08:00" and d["observation_time"] == "2026-02-02T09:40:00+08:00"
    )
    z = next(e for e in d["elements"] if e["id"] == "Z")
    assert z == {
        "id": "Z",
        "code": "39",
        "name": "瞬时河道水位、潮位",
        "unit": "m",
        "value": 0.138,
        "time": "2026-02-02T09:40:00+08:00",
    }
    assert [e["id"] for e in docs[1]["elements"]] == ["PJ", "EJ", "VT"]


def test_decode_sl651_shows_bad_crc_and_truncation(capsys: pytest.CaptureFixture[str]) -> None:
    bad = CAP_32[:-4] + "0000"
    rc, docs = run(capsys, "decode", "sl651", bad + "7e7e0110")
    assert rc == 1
    assert docs[0]["crc_ok"] is False and docs[0]["elements"]
    assert "truncated" in docs[-1]["error"]


def test_decode_lpp(capsys: pytest.CaptureFixture[str]) -> None:
    rc, docs = run(capsys, "decode", "lpp", "A2cBEAVnAP8=", "not base64!")
    assert rc == 1
    assert [(e["key"], e["value"], e["unit"]) for e in docs[0]["elements"]] == [
        ("temperature_3", 27.2, "°C"),
        ("temperature_5", 25.5, "°C"),
    ]
    assert "error" in docs[1]
