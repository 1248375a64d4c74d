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


def test_status_shows_active_alerts_and_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hub.alerts.config import load
    from hub.alerts.dispatcher import Dispatcher
    from hub.alerts.state import StateStore
    from hub.rules.model import AlertState, Level, Transition

    from .conftest import ListSink, RecordingChannel

    cfg_path = tmp_path / "alerts.yaml"
    text = EXAMPLE.read_text(encoding="utf-8").replace("state_path: /var/lib/ews/alerts.sqlite",
                                                      f"state_path: {tmp_path / 'a.sqlite'}")  # fmt: skip
    cfg_path.write_text(text, encoding="utf-8")
    cfg = load(cfg_path)
    state = StateStore(cfg.state_path)
    state.open()
    chans = {n: RecordingChannel(n) for n in cfg.dispatch.policy.channel_names()}
    d = Dispatcher(cfg.dispatch, cfg.directory, chans, state, ListSink())
    d.process(Transition("rain", "fs-hp02", 1_780_000_000.0, Level.NONE, Level.RED, AlertState.FIRING))
    d.handle_sms("13800000203", "撤离 5/12", 1_780_000_300.0)
    state.close()
    assert main(["alerts", "status", str(cfg_path)]) == 0
    out = capsys.readouterr().out
    assert "active alerts: 1" in out and "fs-hp02/rain" in out and "NOT acknowledged" in out
    assert "fs-g3:5/12" in out and "pending=" in out  # nothing was started: deliveries still pending
