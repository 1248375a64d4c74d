"""`ews rules check` and `ews replay` through the real CLI entry point."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ews.cli import main

from .helpers import DEPLOY


def test_rules_check_prints_what_each_rule_watches(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", *map(str, sorted(DEPLOY.glob("*.yaml")))]) == 0
    out = capsys.readouterr().out
    assert "rule flash-flood-critical-rain @ fs-hp02" in out
    assert "watches fs-hp02-rg1/rain_mm: 1h, 3h, 6h, 1d" in out
    assert "watches forecast rain_mm @ fs-hp02" in out
    assert "health sensor-stale: stale" in out
    assert out.strip().splitlines()[-1].startswith("ok: history needed")


def test_rules_check_reports_errors_with_file_rule_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    text = (
        (DEPLOY / "flash_flood.yaml")
        .read_text(encoding="utf-8")
        .replace("sum(rain, 3h)", "sum(rain, 3 hours)", 1)
    )
    bad.write_text(text, encoding="utf-8")
    assert main(["rules", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "rule flash-flood-critical-rain" in err and "values.rain_3h" in err


def write_storm_csv(path: Path) -> None:
    """A 4 h storm on the declared fs-hp02 gauge and on fs-hp02-rg2, which no rule file declares."""
    t0 = datetime(2026, 6, 21, 0, 0, tzinfo=UTC)
    rows = ["time,sensor,quantity,value"]
    for i in range(48):
        t = (t0 + timedelta(minutes=5 * (i + 1))).strftime("%Y-%m-%dT%H:%M:%SZ")
        mm = 8.0 if 12 <= i < 24 else 0.5
        rows.append(f"{t},fs-hp02-rg1,rain_mm,{mm}")
        rows.append(f"{t},fs-hp02-rg2,rain_mm,{mm / 2}")
    rows.append("not-a-time,fs-hp02-rg1,rain_mm,1.0")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_replay_writes_one_json_line_per_transition(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    csv_path = tmp_path / "storm.csv"
    write_storm_csv(csv_path)
    assert main(["replay", "--rules", str(DEPLOY / "flash_flood.yaml"), "--input", str(csv_path)]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(x) for x in captured.out.splitlines()]
    assert lines, captured.err
    assert set(lines[0]) == {"at", "rule", "site", "from", "to", "value"}
    ff = [x for x in lines if x["rule"] == "flash-flood-critical-rain"]
    assert [x["to"] for x in ff][:4] == ["blue", "yellow", "orange", "red"]
    assert all(x["site"] == "fs-hp02" for x in ff)
    assert ff[0]["at"].endswith("Z") and ff[0]["from"] == "none"
    # 12 × 8 mm = 96 mm in the wettest hour: red on the 1 h column (≥ 80) at the declared gauge.
    assert ff[3]["value"] >= 80
    assert "storm.csv:" in captured.err and "skipped row" in captured.err  # the bad row, with its line
    assert "period too short" not in caplog.text  # both gauges report at the declared 5 min


def test_replay_warns_of_a_sensor_reporting_far_slower_than_its_period(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """fs-hp02-rg1 is declared at 300 s; this record has it every 30 min (an hourly-reporting station
    declared at the flood-season cadence). Its levels would be held, so the replay says so."""
    t0 = datetime(2026, 6, 21, 0, 0, tzinfo=UTC)
    rows = ["time,sensor,quantity,value"]
    for i in range(12):
        t = (t0 + timedelta(minutes=30 * (i + 1))).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(f"{t},fs-hp02-rg1,rain_mm,1.0")
        rows.append(f"{t},fs-hp02-rg2,rain_mm,1.0")  # undeclared: its period is inferred, no warning
    path = tmp_path / "slow.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(["replay", "--rules", str(DEPLOY / "flash_flood.yaml"), "--input", str(path)]) == 0
    warned = [r.getMessage() for r in caplog.records if "period too short" in r.getMessage()]
    assert len(warned) == 1 and "sensor=fs-hp02-rg1 period_s=300 median_gap_s=1800" in warned[0]


def replay_lines(
    rules: list[Path], csv_path: Path, capsys: pytest.CaptureFixture[str]
) -> list[dict[str, object]]:
    args = ["replay", *[a for r in rules for a in ("--rules", str(r))], "--input", str(csv_path)]
    assert main(args) == 0
    return [json.loads(x) for x in capsys.readouterr().out.splitlines()]


def test_replay_takes_rows_in_any_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A logger's export grouped by sensor, or a platform's newest first. The engine's time never goes
    back, so fed in file order every row after a later one was judged old: the storm gave nothing."""
    csv_path = tmp_path / "storm.csv"
    write_storm_csv(csv_path)
    in_order = replay_lines([DEPLOY / "flash_flood.yaml"], csv_path, capsys)
    head, *rows = csv_path.read_text(encoding="utf-8").splitlines()
    for name, shuffled in (
        ("by_sensor", sorted(rows, key=lambda r: r.split(",")[1])),
        ("newest", rows[::-1]),
    ):
        other = tmp_path / f"{name}.csv"
        other.write_text("\n".join([head, *shuffled]) + "\n", encoding="utf-8")
        assert replay_lines([DEPLOY / "flash_flood.yaml"], other, capsys) == in_order


def test_replay_refuses_nan_and_inf_as_the_hub_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hub's wire refuses a value that is not finite; replay took it, and a NaN rain row held the
    1 h sum at NaN (blue and yellow never came), or a health alert printed `"value": NaN` (not JSON)."""
    csv_path = tmp_path / "storm.csv"
    write_storm_csv(csv_path)
    clean = replay_lines([DEPLOY / "flash_flood.yaml", DEPLOY / "health.yaml"], csv_path, capsys)
    text = csv_path.read_text(encoding="utf-8")
    bad = tmp_path / "nan.csv"
    bad.write_text(text + "2026-06-21T01:02:00Z,fs-hp02-rg1,rain_mm,NaN\n2026-06-21T01:03:00Z,fs-hp02-rg1,rain_mm,inf\n",
                   encoding="utf-8")  # fmt: skip
    args = ["replay", "--rules", str(DEPLOY / "flash_flood.yaml"), "--rules", str(DEPLOY / "health.yaml")]
    assert main([*args, "--input", str(bad)]) == 0
    out = capsys.readouterr()
    assert [json.loads(x) for x in out.out.splitlines()] == clean  # strict JSON, and the same decisions
    assert "nan.csv:99: value must be a finite number" in out.err and "nan.csv:100:" in out.err


def test_replay_ticks_between_readings_as_the_hub_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An hourly GNSS rule holding 20 minutes (`for:`): the hub's ticker raises it 20 minutes after
    the reading and clears it 20 minutes after the next. Evaluated only at readings, replay said nothing."""
    rules = tmp_path / "hold.yaml"
    rules.write_text(
        "sites:\n  - {id: s1, name: 测试点, lat: 24.6, lon: 112.5, hazard: landslide, grids: [g1]}\n"
        "sensors:\n  - {id: s1-gn1, site: s1, quantity: disp_mm, period_s: 3600}\n"
        "rules:\n  - id: hold\n    inputs: {gn: {sensor: s1-gn1}}\n"
        "    levels: {yellow: 'last(gn) >= 10'}\n    for: 20m\n    clear_for: 20m\n",
        encoding="utf-8",
    )
    csv_path = tmp_path / "gnss.csv"
    rows = ["time,sensor,quantity,value"] + [
        f"2026-06-21T{h:02d}:00:00Z,s1-gn1,disp_mm,{v}" for h, v in enumerate([3.0, 12.0, 3.0, 3.0])
    ]
    csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    got = [(x["at"], x["to"]) for x in replay_lines([rules], csv_path, capsys)]
    assert got == [("2026-06-21T01:20:00Z", "yellow"), ("2026-06-21T02:20:00Z", "none")]


def test_replay_reads_a_csv_excel_saved_in_gb18030(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Excel on a Chinese Windows saves CSV in GBK (GB18030): one Chinese note aborted the whole
    replay with a bare codec error."""
    csv_path = tmp_path / "storm.csv"
    write_storm_csv(csv_path)
    utf8 = replay_lines([DEPLOY / "flash_flood.yaml"], csv_path, capsys)
    head, *rows = csv_path.read_text(encoding="utf-8").splitlines()
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("\n".join([head + ",备注", *(r + ",暴雨" for r in rows)]).encode("gb18030") + b"\n")
    assert replay_lines([DEPLOY / "flash_flood.yaml"], gbk, capsys) == utf8


def test_an_undeclared_sensor_is_inferred_as_the_quantity_rules_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """fs-hp02-rg2 also reports its battery, first in the file. Inferred as a battery sensor, none of its
    rain counted; it is now inferred as what the rules read (rain_mm)."""
    t0 = datetime(2026, 6, 21, 0, 0, tzinfo=UTC)
    rows = ["time,sensor,quantity,value", "2026-06-20T23:00:00Z,fs-hp02-rg2,battery_v,12.6"]
    for i in range(24):
        t = (t0 + timedelta(minutes=5 * (i + 1))).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(f"{t},fs-hp02-rg2,rain_mm,8.0")
    csv_path = tmp_path / "rg2.csv"
    csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    got = replay_lines([DEPLOY / "flash_flood.yaml"], csv_path, capsys)
    assert [x["to"] for x in got if x["rule"] == "flash-flood-critical-rain"][:2] == ["blue", "yellow"]


def test_rules_check_names_a_file_that_is_not_utf8(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Notepad on an older Chinese Windows saves GBK: a traceback before, now the file and what to do."""
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes((DEPLOY / "flash_flood.yaml").read_text(encoding="utf-8").encode("gb18030"))
    assert main(["rules", "check", str(gbk)]) == 1
    err = capsys.readouterr().err
    assert "gbk.yaml" in err and "UTF-8" in err and "Traceback" not in err
