"""Turn the shipped mosquitto config into one that runs in a temp dir on free ports (paths and ports only)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MOSQ = REPO / "deploy" / "mosquitto"


def localize(conf: str, etc_dir: Path, replacements: dict[str, str] | None = None) -> str:
    """Rewrite /etc/mosquitto/ews/ paths to `etc_dir`; drop the lines the test fixture already sets
    (its own plain listener and per_listener_settings, which must come before any listener)."""
    out = []
    for line in conf.replace("/etc/mosquitto/ews/", f"{etc_dir}/").splitlines():
        stripped = line.strip()
        if stripped.startswith("per_listener_settings") or stripped.startswith("listener 1883"):
            continue
        for old, new in (replacements or {}).items():
            line = line.replace(old, new)
        out.append(line)
    # ews.servers.Mosquitto already runs the broker as the test's user (pytest's temp dirs are private
    # to it). In production install.sh makes the password file, ACL and key root:mosquitto 0640 instead.
    return "\n".join(out)
