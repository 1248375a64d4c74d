"""Health probe: file-backed sources (battery, signal, CPU temperature), disk, and log-once when absent."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from edge.health import HealthConfig, HealthProbe

T = 1_780_000_000.0


def test_reads_configured_sources_as_health_readings(tmp_path: Path) -> None:
    (tmp_path / "bat").write_text("12650000\n")  # sysfs voltage_now, microvolts
    (tmp_path / "sig").write_text("-87\n")
    (tmp_path / "temp").write_text("48312\n")  # thermal_zone0, millidegrees
    cfg = HealthConfig(
        battery_file=tmp_path / "bat", signal_file=tmp_path / "sig", cpu_temp_file=tmp_path / "temp"
    )
    readings = HealthProbe("fs-gw02", cfg, tmp_path).read(T, outbox_depth=17, outbox_dropped=3)
    got = {r.quantity: r.value for r in readings}
    assert got["battery_v"] == pytest.approx(12.65)
    assert got["signal_dbm"] == -87.0
    assert got["cpu_temp_c"] == pytest.approx(48.312)
    assert got["outbox_depth"] == 17.0 and got["outbox_dropped"] == 3.0
    assert 0.0 <= got["disk_free_pct"] <= 100.0
    assert {(r.sensor, r.source, r.time) for r in readings} == {("fs-gw02-health", "health", T)}


def test_missing_or_garbled_source_is_skipped_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "sig").write_text("no modem\n")
    cfg = HealthConfig(battery_file=tmp_path / "absent", signal_file=tmp_path / "sig", cpu_temp_file=None)
    probe = HealthProbe("fs-gw01", cfg, tmp_path)
    with caplog.at_level(logging.INFO, logger="edge.health"):
        for i in range(3):
            quantities = {r.quantity for r in probe.read(T + i, 0, 0)}
    assert quantities == {"outbox_depth", "outbox_dropped", "disk_free_pct"}
    assert caplog.text.count("quantity=battery_v") == 1 and caplog.text.count("quantity=signal_dbm") == 1
    (tmp_path / "sig").write_text("-95")
    assert "signal_dbm" in {r.quantity for r in probe.read(T + 5, 0, 0)}
