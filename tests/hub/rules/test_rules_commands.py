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
