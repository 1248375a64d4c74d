"""`ews edge --check` loads the configured relay's driver: a gateway whose venv cannot import gpiozero
(or gpiozero without a pin factory) would never sound its siren, and the check used to say OK.

The shipped Fengshan gateway configs are checked. gpiozero and lgpio are Raspberry Pi OS packages, not
ews dependencies, so their presence is set per test: absent through sys.modules (an import then fails
as for a missing module), present as stand-in modules on sys.path.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ews.cli import main

GATEWAYS = Path(__file__).resolve().parents[2] / "deploy" / "fengshan" / "gateways"
GPIO = GATEWAYS / "fs-gw01.yaml"  # relay: {kind: gpio, pin: 17, active_high: false}
SERIAL = GATEWAYS / "fs-gw02.yaml"  # relay: {kind: serial, port: /dev/ttyUSB1}
FACTORIES = ("lgpio", "RPi", "RPi.GPIO", "pigpio")


def modules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, present: list[str], absent: list[str]) -> None:
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    for name in present:
        (tmp_path / f"{name}.py").write_text("# stand-in for the Raspberry Pi OS package\n")
        monkeypatch.setitem(sys.modules, name, None)  # recorded, so teardown forgets the stand-in again
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in absent:
        monkeypatch.setitem(sys.modules, name, None)


def test_gpio_relay_without_gpiozero_fails_naming_module_and_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    modules(monkeypatch, tmp_path, present=["lgpio"], absent=["gpiozero"])
    assert main(["edge", "--config", str(GPIO), "--check"]) == 1
    out, err = capsys.readouterr()
    assert "config OK" not in out
    assert f"{GPIO}: relay gpio pin 17: Python module gpiozero not found" in err
    assert "python3-gpiozero" in err and "--system-site-packages" in err


def test_gpio_relay_without_a_pin_factory_fails_naming_lgpio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    modules(monkeypatch, tmp_path, present=["gpiozero"], absent=list(FACTORIES))
    assert main(["edge", "--config", str(GPIO), "--check"]) == 1
    err = capsys.readouterr().err
    assert "gpiozero has no pin factory" in err and "python3-lgpio" in err


def test_gpio_relay_with_gpiozero_and_lgpio_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    modules(monkeypatch, tmp_path, present=["gpiozero", "lgpio"], absent=["RPi", "RPi.GPIO", "pigpio"])
    assert main(["edge", "--config", str(GPIO), "--check"]) == 0
    assert "gateway fs-gw01 with 4 sensors: config OK" in capsys.readouterr().out


def test_stand_ins_do_not_outlive_their_test() -> None:
    assert "gpiozero" not in sys.modules and "lgpio" not in sys.modules


def test_a_pin_factory_named_in_the_environment_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    modules(monkeypatch, tmp_path, present=["gpiozero"], absent=list(FACTORIES))
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "native")
    assert main(["edge", "--config", str(GPIO), "--check"]) == 0
    assert "config OK" in capsys.readouterr().out


def test_serial_relay_checks_with_the_real_pyserial(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["edge", "--config", str(SERIAL), "--check"]) == 0
    assert "gateway fs-gw02" in capsys.readouterr().out
