"""Gateway config: a valid file loads; every kind of mistake is reported with file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import ConfigError, gateway_config_from_dict, load_gateway_config
from edge.sensors.registry import SENSOR_KINDS
from ews.cli import main
from tests.edge.agent_fakes import CounterConfig

GOOD = """\
# 凤山村后山滑坡隐患点 gateway
id: fs-gw01
site: fs-hp01
mqtt: {host: hub.example, port: 8883, username: fs-gw01, password_env: EWS_GW01_PASSWORD}
outbox: {path: state/outbox.db, max_readings: 200000}
publish: {batch_max: 200}
sensors:
  - {kind: test-counter, id: fs-hp01-rg1, site: fs-hp01, period_s: 60}
  - {kind: test-counter, id: fs-hp01-cr1, site: fs-hp01, quantity: crack_mm}
autonomy:
  enabled: true
  unreachable_s: 1800
  relay: {kind: gpio, pin: 17, active_high: false}
  rules:
    - {name: rain-1h-red, window_s: 3600, threshold: 80}
health: {battery_file: /sys/class/power_supply/battery/voltage_now}
"""


@pytest.fixture
def kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test-only kind is registered for this test alone (monkeypatch restores the registry)."""
    monkeypatch.setitem(SENSOR_KINDS, "test-counter", CounterConfig)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gw.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_loads_with_paths_relative_to_the_file(tmp_path: Path, kinds: None) -> None:
    cfg = load_gateway_config(write(tmp_path, GOOD))
    assert cfg.id == "fs-gw01" and cfg.mqtt.port == 8883
    assert cfg.outbox.path == tmp_path / "state" / "outbox.db"
    assert [type(s).__name__ for s in cfg.sensors] == ["CounterConfig", "CounterConfig"]
    assert cfg.sensors[1].quantity == "crack_mm"  # type: ignore[attr-defined]
    assert cfg.autonomy.relay is not None and cfg.autonomy.relay.kind == "gpio"
    assert cfg.publish.batch_max == 200 and cfg.publish.max_inflight == 20


def test_unknown_kind_names_the_sensor_and_lists_known_kinds(tmp_path: Path, kinds: None) -> None:
    path = write(
        tmp_path, GOOD.replace("{kind: test-counter, id: fs-hp01-cr1", "{kind: crackmeter, id: fs-hp01-cr1")
    )
    with pytest.raises(ConfigError) as err:
        load_gateway_config(path)
    msg = str(err.value)
    assert str(path) in msg and "fs-hp01-cr1" in msg and "'crackmeter'" in msg and "test-counter" in msg


def test_bad_sensor_field_names_sensor_and_field(tmp_path: Path, kinds: None) -> None:
    path = write(tmp_path, GOOD.replace("period_s: 60}", "period_s: -5, colour: red}"))
    with pytest.raises(ConfigError) as err:
        load_gateway_config(path)
    msg = str(err.value)
    assert "fs-hp01-rg1" in msg and "period_s" in msg and "colour" in msg


def test_extra_and_missing_fields_are_named(tmp_path: Path, kinds: None) -> None:
    text = GOOD.replace("publish: {batch_max: 200}", "publish: {batch_max: 200, linger_ms: 5}").replace(
        "outbox: {path: state/outbox.db, max_readings: 200000}\n", ""
    )
    with pytest.raises(ConfigError) as err:
        load_gateway_config(write(tmp_path, text))
    msg = str(err.value)
    assert "publish.linger_ms" in msg and "outbox" in msg


def test_yaml_syntax_error_gives_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "id: fs-gw01\nmqtt: {port: 1883\noutbox: x\n")
    with pytest.raises(ConfigError, match=rf"{path}:\d+:\d+: not valid YAML"):
        load_gateway_config(path)


def test_duplicate_sensor_ids_and_bad_gateway_id(kinds: None) -> None:
    doc = {
        "id": "fs/gw01",
        "mqtt": {},
        "outbox": {"path": "o.db"},
        "sensors": [{"kind": "test-counter", "id": "a", "site": "s"}] * 2,
    }
    with pytest.raises(ConfigError) as err:
        gateway_config_from_dict(doc, "doc")
    assert "gateway id" in str(err.value)
    doc["id"] = "fs-gw01"
    with pytest.raises(ConfigError, match="sensor id a appears twice"):
        gateway_config_from_dict(doc, "doc")


def test_not_a_mapping_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_gateway_config(write(tmp_path, "- just\n- a list\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_gateway_config(tmp_path / "missing.yaml")


def test_ews_edge_check_and_invalid(tmp_path: Path, kinds: None, capsys: pytest.CaptureFixture[str]) -> None:
    # A file relay: --check loads a gpio relay's gpiozero, absent here (tests/edge/test_relay_check.py)
    good = write(
        tmp_path, GOOD.replace("{kind: gpio, pin: 17, active_high: false}", "{kind: file, path: siren}")
    )
    assert main(["edge", "--config", str(good), "--check"]) == 0
    assert "config OK" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: fs-gw01\n")
    assert main(["edge", "--config", str(bad)]) == 2
    assert f"ews edge: {bad}" in capsys.readouterr().err


def test_shipped_fengshan_gateway_configs_load() -> None:
    """deploy/fengshan/gateways/*.yaml validate against the real sensor registry."""
    root = Path(__file__).resolve().parents[2] / "deploy" / "fengshan" / "gateways"
    files = sorted(root.glob("fs-gw0*.yaml"))
    assert [f.name for f in files] == ["fs-gw01.yaml", "fs-gw02.yaml", "fs-gw03.yaml"]
    for f in files:
        cfg = load_gateway_config(f)
        assert cfg.id == f.stem and cfg.site == f"fs-hp0{f.stem[-1]}"
        assert all(s.id.startswith(f"{cfg.site}-") for s in cfg.sensors)
        assert cfg.autonomy.enabled and cfg.autonomy.relay is not None
        assert {r.threshold for r in cfg.autonomy.rules} == {80, 120, 150, 200}
