"""`ews gateway`: credentials files are 0600, the secret never reaches stdout, stderr or logs, names
carry their role, and reruns leave the broker files untouched."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from ews.cli import main
from ews.gateway_admin import AccountStore, AdminError, BrokerFiles, check_account_name, hash_password
from tests.deploy.brokerconf import MOSQ


def files(tmp_path: Path) -> BrokerFiles:
    return BrokerFiles(tmp_path / "passwd", tmp_path / "acl", MOSQ / "acl.template", tmp_path / "secrets")


def cli(tmp_path: Path, *args: str) -> int:
    f = files(tmp_path)
    return main(
        [
            "gateway",
            "--password-file", str(f.password_file),
            "--acl-file", str(f.acl_file),
            "--acl-template", str(f.acl_template),
            "--secrets-dir", str(f.secrets_dir),
            *args,
        ]
    )  # fmt: skip


def test_add_writes_private_credentials_and_never_prints_the_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert cli(tmp_path, "add", "fs-gw04", "--hub-host", "hub.fengshan.example") == 0
    creds = tmp_path / "secrets" / "fs-gw04.password"
    secret = creds.read_text().strip()
    assert len(secret) >= 40
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert stat.S_IMODE(creds.parent.stat().st_mode) == 0o700
    out, err = capsys.readouterr()
    assert "username: fs-gw04" in out and "password_file:" in out and "hub.fengshan.example" in out
    for text in (out, err, caplog.text, (tmp_path / "passwd").read_text(), (tmp_path / "acl").read_text()):
        assert secret not in text
    assert "fs-gw04:$7$" in (tmp_path / "passwd").read_text()  # stored hashed only


def test_rotate_changes_the_secret_and_logs_no_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert cli(tmp_path, "add", "officer-wang", "--role", "officer") == 0
    first = (tmp_path / "secrets" / "officer-wang.password").read_text()
    assert cli(tmp_path, "rotate", "officer-wang") == 0
    second = (tmp_path / "secrets" / "officer-wang.password").read_text()
    assert first != second
    out, err = capsys.readouterr()
    for secret in (first.strip(), second.strip()):
        assert secret not in out + err + caplog.text
    assert "user officer-wang" in (tmp_path / "acl").read_text()


def test_add_twice_is_an_error_but_if_missing_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(tmp_path, "add", "ews-hub", "--role", "hub", "--if-missing") == 0
    snapshot = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.rglob("*") if p.is_file()}
    assert cli(tmp_path, "add", "ews-hub", "--role", "hub", "--if-missing") == 0
    again = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.rglob("*") if p.is_file()}
    assert again == snapshot
    assert cli(tmp_path, "add", "ews-hub", "--role", "hub") == 1
    assert "rotate" in capsys.readouterr().err


def test_names_carry_their_role() -> None:
    assert check_account_name("fs-gw01", "gateway") == "fs-gw01"
    for name, role in [
        ("officer-li", "gateway"),  # a gateway must not look like an officer
        ("ews-hub-2", "gateway"),
        ("zhang", "officer"),
        ("fs-gw01", "hub"),
        ("fs/gw01", "gateway"),  # topic separator
        ("fs-gw+", "gateway"),  # wildcard
        ("FS-GW01", "gateway"),
        ("", "gateway"),
        ("fs-gw01", "root"),
    ]:
        with pytest.raises(AdminError):
            check_account_name(name, role)


def test_list_and_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = AccountStore(files(tmp_path))
    store.add("fs-gw01")
    store.add("bridge-fengshan", "bridge")
    assert store.accounts() == {"fs-gw01": "gateway", "bridge-fengshan": "bridge"}
    store.remove("bridge-fengshan")
    assert "bridge-fengshan" not in (tmp_path / "acl").read_text()
    assert not (tmp_path / "secrets" / "bridge-fengshan.password").exists()
    assert cli(tmp_path, "list") == 0
    assert capsys.readouterr().out.strip() == "fs-gw01\tgateway"
    with pytest.raises(AdminError):
        store.remove("fs-gw09")


def test_python_hash_has_mosquitto_format() -> None:
    """Format check only; tests/deploy/test_broker_acl.py proves the real broker accepts it."""
    h = hash_password("x", salt=b"0123456789ab")
    assert h.startswith("$7$101$MDEyMzQ1Njc4OWFi$") and len(h.split("$")[-1]) == 88


def test_concurrent_adds_lose_nothing(tmp_path: Path) -> None:
    """Several admins (threads with their own store objects, so their own lock file handles) at once."""
    from concurrent.futures import ThreadPoolExecutor

    names = [f"fs-gw{i:02d}" for i in range(1, 13)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda n: AccountStore(files(tmp_path)).add(n), names))
    assert sorted(AccountStore(files(tmp_path)).accounts()) == names


def test_printed_snippet_is_a_valid_mqtt_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    from edge.mqttlink import MqttConfig

    assert cli(tmp_path, "add", "fs-gw05", "--hub-host", "hub.libu.example", "--hub-port", "8883") == 0
    doc = yaml.safe_load(capsys.readouterr().out)
    cfg = MqttConfig.model_validate(doc["mqtt"])
    assert (cfg.host, cfg.port, cfg.username) == ("hub.libu.example", 8883, "fs-gw05")
    assert cfg.password_file == Path("/etc/ews/secrets/fs-gw05.password")


def test_copy_instruction_names_the_snippets_password_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The technician copies the file where the printed line says; the gateway reads password_file."""
    import yaml

    assert cli(tmp_path, "add", "fs-gw06", "--hub-host", "hub.libu.example") == 0
    out = capsys.readouterr().out
    password_file = yaml.safe_load(out)["mqtt"]["password_file"]
    (copy,) = [ln for ln in out.splitlines() if ln.startswith("# copy ")]
    creds = tmp_path / "secrets" / "fs-gw06.password"
    assert copy == f"# copy {creds} to the gateway as {password_file} (owner ews, mode 0600)"
