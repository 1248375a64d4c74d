"""`ews report` on the demo storm in real influxd: PDF and PNG pages, and a searchable Chinese text layer.

The PDF's text is read back with pdftotext (poppler-utils, in the Makefile's APT_PACKAGES): the fonts are
embedded as TrueType (Type 42) with a ToUnicode map, so officers can search and copy the report.
"""

from __future__ import annotations

import argparse
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from ews.cli import main
from ews.commands.report import parse_time
from ews.grafana.sites import FENGSHAN
from ews.report.data import fetch
from hub.influx import InfluxClient, InfluxConfig
from tests.data import storm as storm_data


@pytest.fixture(scope="module")
def storm_url(influxd_session) -> tuple[str, storm_data.Storm]:  # type: ignore[no-untyped-def]
    client = InfluxClient(
        InfluxConfig.model_validate({"url": influxd_session.url, "database": "report_storm"})
    )
    return influxd_session.url, storm_data.load(client)


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} missing: install poppler-utils (make deps)"
    return path


def test_pdf_has_summary_site_and_response_pages_with_chinese_text(
    storm_url: tuple[str, storm_data.Storm], tmp_path: Path
) -> None:
    url, storm = storm_url
    out = tmp_path / "storm.pdf"
    args = [
        "report",
        "--from",
        str(storm.start),
        "--to",
        str(storm.end),
        "--out",
        str(out),
        "--influx-url",
        url,
    ]
    assert main([*args, "--db", "report_storm"]) == 0
    info = subprocess.run([_tool("pdfinfo"), str(out)], capture_output=True, text=True, check=True).stdout
    assert "Pages:           5" in info  # summary + one page per hazard point + response
    text = subprocess.run(
        [_tool("pdftotext"), str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    for site in FENGSHAN:
        assert site.name in text
    assert "过程总结报告" in text and "红色 I" in text and "预警发布、确认与人员转移" in text
    fonts = subprocess.run([_tool("pdffonts"), str(out)], capture_output=True, text=True, check=True).stdout
    assert "Type 3" not in fonts and "NotoSansCJK" in fonts


def test_png_one_file_per_page_for_one_site(storm_url: tuple[str, storm_data.Storm], tmp_path: Path) -> None:
    url, storm = storm_url
    out = tmp_path / "storm.png"
    args = [
        "report",
        "--from",
        str(storm.start),
        "--to",
        str(storm.end),
        "--site",
        "fs-hp02",
        "--out",
        str(out),
    ]
    assert main([*args, "--influx-url", url, "--db", "report_storm"]) == 0
    pages = sorted(tmp_path.glob("storm*.png"))
    assert [p.name for p in pages] == ["storm-2.png", "storm-3.png", "storm.png"]
    for page in pages:
        head = page.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", head[16:24])
        assert (width, height) == (1240, 1753)  # A4 portrait at 150 dpi


def test_bad_arguments_are_refused_with_a_reason(
    storm_url: tuple[str, storm_data.Storm], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, storm = storm_url
    base = [
        "report",
        "--from",
        str(storm.start),
        "--to",
        str(storm.end),
        "--influx-url",
        url,
        "--db",
        "report_storm",
    ]
    assert main([*base, "--out", str(tmp_path / "storm.docx")]) == 2
    assert "written as .pdf or .png" in capsys.readouterr().err
    assert main([*base, "--site", "fs-hp09", "--out", str(tmp_path / "x.pdf")]) == 2
    assert "unknown site 'fs-hp09'" in capsys.readouterr().err


def test_times_parse_as_iso_with_beijing_default_or_epoch() -> None:
    assert parse_time("1752969600") == 1752969600
    assert parse_time("2025-07-20T00:00:00Z") == 1752969600
    assert parse_time("2025-07-20T08:00") == 1752969600  # no zone: Beijing time
    with pytest.raises(argparse.ArgumentTypeError, match="ISO 8601"):
        parse_time("yesterday")


def test_a_quiet_day_renders_every_page_without_data(
    storm_url: tuple[str, storm_data.Storm], tmp_path: Path
) -> None:
    url, storm = storm_url
    out = tmp_path / "quiet.pdf"
    quiet = ["--from", str(storm.start - 3 * 86400), "--to", str(storm.start - 2 * 86400)]
    assert main(["report", *quiet, "--out", str(out), "--influx-url", url, "--db", "report_storm"]) == 0
    text = subprocess.run(
        [_tool("pdftotext"), str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert text.count("\f") == 5  # one form feed per page
    assert "本时段无人员转移记录" in text and "红色 I" not in text.split("临界雨量")[0]


def test_report_rain_leaves_out_readings_the_rules_drop(storm_url: tuple[str, storm_data.Storm]) -> None:
    """The storm holds a bad Modbus sentinel (-3276.8 at fs-hp03) and a technician's 50 mm at fs-hp01
    marked maintenance: the report's rain, windows and peaks are the rain the rules counted."""
    url, storm = storm_url
    client = InfluxClient(InfluxConfig.model_validate({"url": url, "database": "report_storm"}))
    data = fetch(client, FENGSHAN, storm.start, storm.end)
    totals = {sd.site.id: sd.total_rain(storm.start) for sd in data.sites}
    assert totals == pytest.approx({site: sum(v for _, v in rain) for site, rain in storm.rain.items()})
    peaks = {sd.site.id: sd.peak("1h") for sd in data.sites}
    want = {
        site: max(sum(v for t2, v in rain if t - 3600 < t2 <= t) for t, _ in rain)
        for site, rain in storm.rain.items()
    }
    assert peaks == pytest.approx(want)
