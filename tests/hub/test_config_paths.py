"""Where the hub writes: alert state and the InfluxDB spill go where ews-hub.service may write, and
`ews hub --check` refuses a config whose state the service could not create.

The service runs as `ews` with /etc/ews read-only (ProtectSystem=strict, ReadWritePaths=/var/lib/ews).
The example once put its state beside the config, in /etc/ews/var: `--check` said OK and the hub
crash-looped on EROFS. The permission tests run the check as a real unprivileged user (setpriv), as
the service does, because root may write anywhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ews.cli import main
from hub.config import DEFAULT_STATE_PATH, load_hub_config

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "deploy" / "fengshan"
RULES = [str(p) for p in sorted((EXAMPLE / "rules").glob("*.yaml"))]
NOBODY = 65534


def write_hub(etc: Path, alerts: dict[str, object], **store: object) -> Path:
    """A hub.yaml with its alerts in a separate file (as deployed), the example directory and rules."""
    etc.mkdir(parents=True, exist_ok=True)
    doc = yaml.safe_load((EXAMPLE / "alerts.yaml").read_text(encoding="utf-8"))
    doc.pop("state_path")
    (etc / "alerts.yaml").write_text(yaml.safe_dump({**doc, **alerts}, allow_unicode=True), encoding="utf-8")
    hub = {"rules": RULES, "alerts": "alerts.yaml", **({"store": store} if store else {})}
    (etc / "hub.yaml").write_text(yaml.safe_dump(hub), encoding="utf-8")
    return etc / "hub.yaml"


def test_example_writes_only_under_var_lib_ews() -> None:
    cfg = load_hub_config(EXAMPLE / "hub.yaml")
    assert cfg.alerts.state_path == Path("/var/lib/ews/alerts.sqlite")
    assert cfg.store.spill_dir == Path("/var/lib/ews/spill")


def test_relative_written_paths_follow_the_working_directory_not_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """systemd runs the hub in /var/lib/ews (WorkingDirectory=); the config directory is read-only."""
    path = write_hub(tmp_path / "etc", {"state_path": "state/alerts.sqlite"}, spill_dir="spill")
    run = tmp_path / "run"
    run.mkdir()
    monkeypatch.chdir(run)
    cfg = load_hub_config(path)
    assert cfg.alerts.state_path == run / "state" / "alerts.sqlite"
    assert cfg.store.spill_dir == run / "spill"
    assert cfg.rules == [Path(r) for r in RULES]  # files it only reads stay where the config names them


def test_state_path_left_out_goes_to_the_state_directory(tmp_path: Path) -> None:
    in_file = load_hub_config(write_hub(tmp_path / "a", {}))
    assert in_file.alerts.state_path == DEFAULT_STATE_PATH == Path("/var/lib/ews/alerts.sqlite")
    inline = tmp_path / "b.yaml"
    alerts = yaml.safe_load((tmp_path / "a" / "alerts.yaml").read_text(encoding="utf-8"))
    inline.write_text(
        yaml.safe_dump({"rules": RULES, "alerts": alerts}, allow_unicode=True), encoding="utf-8"
    )
    assert load_hub_config(inline).alerts.state_path == DEFAULT_STATE_PATH


def test_check_fails_naming_a_state_path_that_cannot_be_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Caught whoever runs it: a file where the state directory should be."""
    (tmp_path / "var").write_text("not a directory\n")
    state = tmp_path / "var" / "alerts.sqlite"
    ok_spill = tmp_path / "spill"
    path = write_hub(tmp_path / "etc", {"state_path": str(state)}, spill_dir=str(ok_spill))
    assert main(["hub", "--config", str(path), "--check"]) == 1
    out, err = capsys.readouterr()
    assert f"alerts.state_path {state}: cannot write in {tmp_path / 'var'}: not a directory" in err
    assert "config OK" not in out
    assert not ok_spill.exists()  # a check creates nothing

    spill = tmp_path / "var" / "spill"
    path = write_hub(
        tmp_path / "etc", {"state_path": str(tmp_path / "ok" / "a.sqlite")}, spill_dir=str(spill)
    )
    assert main(["hub", "--config", str(path), "--check"]) == 1
    assert f"store.spill_dir {spill}: cannot create {spill} in {tmp_path / 'var'}" in capsys.readouterr().err


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory an unprivileged user can read (pytest's tmp_path is private to root)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv (util-linux) to run the check as another user")
    d = Path(tempfile.mkdtemp(prefix="ews-check-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d)


def check_as_nobody(config: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
         sys.executable, "-m", "ews.cli", "hub", "--config", str(config), "--check"],
        capture_output=True, text=True, env=env, cwd="/", timeout=60,
    )  # fmt: skip


def test_check_as_the_service_user_refuses_state_beside_the_config(shared_dir: Path) -> None:
    """The shipped bug: state under the root-owned config directory, which the service user may read only."""
    etc = shared_dir / "etc"
    state = etc / "var" / "alerts.sqlite"  # where the old example's var/alerts.sqlite resolved to
    spill = shared_dir / "lib" / "spill"
    spill.parent.mkdir()
    os.chown(spill.parent, NOBODY, NOBODY)
    path = write_hub(etc, {"state_path": str(state)}, spill_dir=str(spill))
    for p in (etc, *etc.iterdir()):
        p.chmod(0o755 if p.is_dir() else 0o644)
    refused = check_as_nobody(path)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    expected = f"alerts.state_path {state}: cannot create {etc / 'var'} in {etc}: permission denied"
    assert expected in refused.stderr
    assert "config OK" not in refused.stdout

    write_hub(etc, {"state_path": str(spill.parent / "alerts.sqlite")}, spill_dir=str(spill))
    passed = check_as_nobody(path)
    assert passed.returncode == 0, passed.stderr
    assert f"alerts.state_path {spill.parent / 'alerts.sqlite'}: writable" in passed.stdout
    assert "is outside /var/lib/ews" in passed.stdout  # writable here, but not under ews-hub.service
    assert "config OK" in passed.stdout
    assert not spill.exists()


def test_check_refuses_a_state_file_another_user_made(shared_dir: Path) -> None:
    """`ews hub` run once by root leaves a root-owned 0600 database that the service cannot open."""
    lib = shared_dir / "lib"
    lib.mkdir()
    os.chown(lib, NOBODY, NOBODY)
    state = lib / "alerts.sqlite"
    state.write_bytes(b"")
    state.chmod(0o600)
    path = write_hub(shared_dir / "etc", {"state_path": str(state)}, spill_dir=str(lib / "spill"))
    for p in (shared_dir / "etc", *(shared_dir / "etc").iterdir()):
        p.chmod(0o755 if p.is_dir() else 0o644)
    result = check_as_nobody(path)
    assert result.returncode == 1 and f"cannot write {state}: permission denied" in result.stderr
