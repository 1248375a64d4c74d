"""`ews alerts check|plan`: config validation and a dry run of who an alert reaches, with masked numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from ews.cli import main

EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "fengshan" / "alerts.yaml"


def test_check_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "check", str(EXAMPLE)]) == 0
    assert "3 sites, 4 grids, 14 recipients" in capsys.readouterr().out


def test_check_reports_the_file_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "alerts.yaml"
    bad.write_text(EXAMPLE.read_text(encoding="utf-8").replace("grids: [fs-g1], lat", "grids: [fs-g9], lat", 1),
                   encoding="utf-8")  # fmt: skip
    assert main(["alerts", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "unknown grid 'fs-g9'" in err


def test_plan_lists_deliveries_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "plan", str(EXAMPLE), "--site", "fs-hp03", "--level", "orange"]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if " sms " in ln]
    assert [ln.split()[3] for ln in lines] == ["off-li", "off-huang", "gw-4", "v-401"]
    assert "138****1401" in out and "13800001401" not in out
    assert out.rstrip().endswith("deliveries=7 eta_s=0")
