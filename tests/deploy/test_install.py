"""deploy/install.sh: lint-clean, idempotent into a prefix, a dry run touches nothing, and what it installs
for a hub runs on a real mosquitto (TLS with its generated CA, its hub account, its ACL).

apt, useradd and a running systemd are not available to a test, so the script runs with `--root DIR
--skip-packages` (the mode for building an SD-card image); that skips exactly those steps and the chown to
system users, and runs everything else for real (file sync, openssl, `ews gateway`, unit enablement).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ews.servers import Mosquitto, free_port
from tests.deploy.brokerconf import localize
from tests.deploy.mqttclients import Probe, cfg_for, is_refused

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "install.sh"


def install(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "EWS_CMD": f"{sys.executable} -m ews.cli",
        "PYTHONPATH": str(REPO),
    }
    return subprocess.run(
        ["bash", str(SCRIPT), "--root", str(root), "--skip-packages", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        digest = (
            hashlib.sha256(p.read_bytes()).hexdigest()
            if p.is_file() and not p.is_symlink()
            else str(p.readlink() if p.is_symlink() else "")
        )
        out[str(p.relative_to(root))] = (st.st_mode, st.st_mtime_ns, digest)
    return out


def test_script_is_lint_clean() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed (make deps installs it)")
    result = subprocess.run(["shellcheck", "-x", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("role", ["hub", "edge"])
def test_second_run_changes_nothing(tmp_path: Path, role: str) -> None:
    root = tmp_path / "root"
    debian_influx = Path("/etc/influxdb/influxdb.conf")
    if role == "hub" and debian_influx.exists():  # Debian's stock file, to be bound to loopback
        (root / "etc/influxdb").mkdir(parents=True)
        shutil.copy(debian_influx, root / "etc/influxdb/influxdb.conf")
    first = install(root, "--role", role)
    assert first.returncode == 0, first.stderr + first.stdout
    before = snapshot(root)
    assert f"etc/systemd/system/ews-{role}.service" in before
    assert f"etc/systemd/system/multi-user.target.wants/ews-{role}.service" in before
    assert "opt/ews/src/ews/cli.py" in before
    # A native build in the checkout is for its interpreter: the hub builds its own (never in a prefix).
    assert not [k for k in before if k.endswith(".so") or k.endswith("_native_build.json")]
    if role == "hub" and debian_influx.exists():
        conf = (root / "etc/influxdb/influxdb.conf").read_text()
        assert '\n  bind-address = "127.0.0.1:8086"\n' in conf
    second = install(root, "--role", role)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().endswith("changes: 0"), second.stdout
    assert snapshot(root) == before


def test_dry_run_touches_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    result = install(root, "--role", "hub", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would run" in result.stdout or "install " in result.stdout
    assert not root.exists()


def dry_run_without_root(tmp_path: Path, role: str) -> str:
    """A dry run on this machine (no --root), as on a fresh one: dpkg knows no package, apt offers lgpio."""
    if Path("/opt/ews").exists():
        pytest.skip("/opt/ews exists: this machine has an install, whose dry run differs")
    fake = tmp_path / role / "bin"
    fake.mkdir(parents=True)
    for name, rc in (("dpkg", 1), ("apt-cache", 0)):
        (fake / name).write_text(f"#!/bin/sh\nexit {rc}\n")
        (fake / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", str(SCRIPT), "--role", role, "--dry-run"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_edge_venv_sees_the_systems_gpiozero_and_lgpio(tmp_path: Path) -> None:
    """The siren relay imports gpiozero: a Raspberry Pi OS package, invisible to an isolated venv."""
    edge = dry_run_without_root(tmp_path, "edge")
    (apt,) = [ln for ln in edge.splitlines() if "apt-get install" in ln]
    assert {"python3-venv", "python3-gpiozero", "python3-lgpio"} <= set(apt.split())
    assert "would run: python3 -m venv --system-site-packages /opt/ews/venv" in edge
    hub = dry_run_without_root(tmp_path, "hub")
    assert "would run: python3 -m venv /opt/ews/venv" in hub  # the hub's venv stays isolated
    assert "gpiozero" not in hub


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True)


def names(crt: Path, check: str, name: str) -> bool:
    """Whether the certificate is valid for a host name (-checkhost) or address (-checkip), as TLS judges."""
    return " does match" in openssl("x509", "-in", str(crt), "-noout", check, name).stdout


def test_reissued_broker_certificate_keeps_the_ca_and_the_names(tmp_path: Path) -> None:
    """docs/security.md: move server.crt aside and rerun to reissue it. Every gateway trusts the old
    ca.crt, so the new certificate must verify against it; --san names the gateways connect by."""
    root = tmp_path / "root"
    san = ("--san", "hub.fengshan.example")
    assert install(root, "--role", "hub", *san).returncode == 0
    pki, crt = root / "etc/ews/pki", root / "etc/mosquitto/ews/server.crt"
    gateway_ca = tmp_path / "gateway-ca.crt"  # what the gateways were given
    shutil.copy(pki / "ca.crt", gateway_ca)
    ca_key = (pki / "ca.key").read_bytes()
    assert names(crt, "-checkhost", "hub.fengshan.example")

    crt.rename(tmp_path / "server.crt.old")
    again = install(root, "--role", "hub", *san)
    assert again.returncode == 0, again.stderr
    assert (pki / "ca.key").read_bytes() == ca_key
    assert (pki / "ca.crt").read_bytes() == gateway_ca.read_bytes()
    verify = openssl("verify", "-CAfile", str(gateway_ca), str(crt))
    assert verify.returncode == 0 and verify.stdout.strip().endswith(": OK"), verify.stdout + verify.stderr
    assert crt.read_bytes() != (tmp_path / "server.crt.old").read_bytes()
    assert names(crt, "-checkhost", "hub.fengshan.example")

    # A new address: its name is added, the old ones kept, from the same CA; reruns then change nothing.
    added = install(root, "--role", "hub", "--san", "192.0.2.7")
    assert added.returncode == 0 and "issue the broker certificate" in added.stdout, added.stdout
    assert openssl("verify", "-CAfile", str(gateway_ca), str(crt)).returncode == 0
    assert names(crt, "-checkhost", "hub.fengshan.example") and names(crt, "-checkip", "192.0.2.7")
    rerun = install(root, "--role", "hub")  # without --san: no name is dropped, nothing reissued
    assert rerun.returncode == 0 and "broker certificate" not in rerun.stdout, rerun.stdout
    assert names(crt, "-checkip", "192.0.2.7") and (pki / "ca.crt").read_bytes() == gateway_ca.read_bytes()


def test_grafana_reads_the_installed_dashboards(tmp_path: Path) -> None:
    """The provider's directory holds the repo's dashboards, readable by the grafana user (others), and
    reruns keep it in step; with Grafana installed, the provider goes into its provisioning."""
    import yaml

    root = tmp_path / "root"
    (root / "etc/grafana/provisioning/dashboards").mkdir(parents=True)
    assert install(root, "--role", "hub").returncode == 0
    provider = root / "etc/grafana/provisioning/dashboards/ews.yaml"
    assert provider.read_bytes() == (REPO / "deploy/grafana/provisioning/dashboards/ews.yaml").read_bytes()
    assert oct(provider.stat().st_mode & 0o777) == "0o644"
    (path,) = [p["options"]["path"] for p in yaml.safe_load(provider.read_text())["providers"]]
    dash = root / path.lstrip("/")
    shipped = sorted(p.name for p in (REPO / "dashboards").glob("*.json"))
    assert shipped and sorted(p.name for p in dash.iterdir()) == shipped
    for name in shipped:
        assert (dash / name).read_bytes() == (REPO / "dashboards" / name).read_bytes()
        assert oct((dash / name).stat().st_mode & 0o777) == "0o644"
    d = dash
    while d != root:  # every directory down to them can be entered by others (grafana)
        assert d.stat().st_mode & 0o005 == 0o005, d
        d = d.parent
    (dash / "retired.json").write_text("{}")
    (dash / shipped[0]).chmod(0o600)
    fixed = install(root, "--role", "hub")
    assert "remove stale" in fixed.stdout and not (dash / "retired.json").exists()
    assert oct((dash / shipped[0]).stat().st_mode & 0o777) == "0o644"


def test_installed_hub_broker_runs_with_tls_and_the_hub_account(tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert install(root, "--role", "hub").returncode == 0
    etc = root / "etc" / "mosquitto" / "ews"
    secrets = root / "etc" / "ews" / "secrets"
    assert oct((secrets / "ews-hub.password").stat().st_mode & 0o777) == "0o600"
    assert oct((root / "etc" / "ews" / "pki" / "ca.key").stat().st_mode & 0o777) == "0o600"
    assert oct(secrets.stat().st_mode & 0o777) == "0o700"
    tls_port = free_port()
    conf = (root / "etc" / "mosquitto" / "conf.d" / "ews.conf").read_text()
    broker = Mosquitto(
        tmp_path / "mosquitto",
        extra_conf=localize(conf, etc, {"listener 8883": f"listener {tls_port} 127.0.0.1"}),
        anonymous=False,
    )
    broker.start()
    try:
        hub = Probe(
            cfg_for(tls_port, "ews-hub", secrets / "ews-hub.password", root / "etc" / "ews" / "ca.crt")
        )
        assert not is_refused(hub.connect())
        hub.subscribe("ews/v1/#")
        hub.publish("ews/v1/alert/fs-hp01/rain", b"{}")
        assert hub.received_until("ews/v1/alert/fs-hp01/rain") == ["ews/v1/alert/fs-hp01/rain"]
        hub.close()
    finally:
        broker.stop()


def test_bridge_needs_its_secret_and_never_prints_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    args = ("--role", "hub", "--county", "county.example.cn:8883", "--village", "fengshan")
    missing = install(root, *args)
    assert missing.returncode == 1 and "bridge.password" in missing.stderr
    secret = "not-a-real-secret-bridge-test"
    pw = root / "etc" / "ews" / "secrets" / "bridge.password"
    pw.write_text(secret + "\n")
    pw.chmod(0o600)
    (root / "etc" / "mosquitto" / "ews" / "county-ca.crt").write_text(
        (root / "etc" / "ews" / "ca.crt").read_text()
    )
    done = install(root, *args)
    assert done.returncode == 0, done.stderr
    conf = root / "etc" / "mosquitto" / "conf.d" / "ews-bridge.conf"
    text = conf.read_text()
    assert f"remote_password {secret}" in text and "address county.example.cn:8883" in text
    assert "connection ews-county-fengshan" in text
    assert not [ln for ln in text.splitlines() if "@@" in ln and not ln.startswith("#")]
    assert oct(conf.stat().st_mode & 0o777) == "0o640"
    assert secret not in done.stdout + done.stderr + missing.stdout + missing.stderr
    assert install(root, *args).stdout.strip().endswith("changes: 0")


@pytest.mark.parametrize("unit", ["ews-hub.service", "ews-edge.service"])
def test_units_verify_and_are_hardened(tmp_path: Path, unit: str) -> None:
    text = (REPO / "deploy" / "systemd" / unit).read_text()
    settings = {
        ln.split("=", 1)[0]: ln.split("=", 1)[1]
        for ln in text.splitlines()
        if "=" in ln and not ln.startswith("#")
    }
    for key, value in {
        "Restart": "always",
        "Type": "notify",
        "WatchdogSec": "60",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "ReadWritePaths": "/var/lib/ews",
        "User": "ews",
    }.items():
        assert settings.get(key) == value, f"{unit}: {key}"
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    # verify wants ExecStart to exist: point it at a real binary, keep everything else as shipped.
    local = tmp_path / unit
    local.write_text(text.replace("/opt/ews/venv/bin/ews", shutil.which("true") or "/bin/true"))
    result = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True)
    problems = [ln for ln in result.stderr.splitlines() if unit in ln]
    assert not problems, problems
