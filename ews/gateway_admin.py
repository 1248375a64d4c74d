"""Broker accounts: create, rotate and remove MQTT credentials and keep the password file and ACL in step."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import logging
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ROLES = ("gateway", "hub", "officer", "bridge")
# The role is visible in the name, so logs and the password file read without the ACL at hand, and a
# gateway can never be given a name that the ACL treats as a hub or an officer.
ROLE_PREFIX = {"hub": "ews-hub", "officer": "officer-", "bridge": "bridge-"}
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_ACL_MARK = "# ews-account role="

# What each non-gateway role may do (gateways are covered by the template's %u patterns).
ROLE_RULES: dict[str, tuple[str, ...]] = {
    "hub": (
        "topic read ews/v1/#",
        "topic read $SYS/#",
        "topic write ews/v1/alert/#",
        "topic write ews/v1/cap/#",
        "topic write ews/v1/feed/#",
        "topic write ews/v1/gw/+/cmd/#",
        "topic write ews/v1/hub/#",
    ),
    "officer": (
        "topic write ews/v1/cmd/#",
        "topic write ews/v1/gw/+/cmd/#",
        "topic read ews/v1/cmd/#",
        "topic read ews/v1/alert/#",
        "topic read ews/v1/cap/#",
        "topic read ews/v1/gw/+/status",
        "topic read ews/v1/gw/+/ack",
    ),
    "bridge": ("topic readwrite ews/v1/#",),
}


class AdminError(Exception):
    """An account operation that cannot be done; the message says why and what to do instead."""


@dataclass(frozen=True)
class BrokerFiles:
    """Where the broker's password file and ACL live, the ACL template, and where credentials go."""

    password_file: Path
    acl_file: Path
    acl_template: Path
    secrets_dir: Path


def check_account_name(name: str, role: str) -> str:
    """A username that is a valid topic segment and carries its role's prefix (and no other's)."""
    if role not in ROLES:
        raise AdminError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if not _NAME_RE.match(name):
        raise AdminError(
            f"invalid account name {name!r}: use 1-63 of a-z 0-9 . _ -, starting with a letter or digit"
        )
    prefix = ROLE_PREFIX.get(role)
    if prefix and not name.startswith(prefix):
        raise AdminError(f"a {role} account name must start with {prefix!r}, got {name!r}")
    if role == "gateway":
        for other, pfx in ROLE_PREFIX.items():
            if name.startswith(pfx):
                raise AdminError(f"gateway name {name!r} starts with {pfx!r}, reserved for {other} accounts")
    return name


def generate_password() -> str:
    """A 256-bit random password, URL-safe so it survives YAML, shells and env files."""
    return secrets.token_urlsafe(32)


def hash_password(password: str, salt: bytes | None = None, iterations: int = 101) -> str:
    """Mosquitto 2.x's `$7$` hash (PBKDF2-SHA512), for hosts without mosquitto_passwd."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def read_password_users(path: Path) -> list[str]:
    if not path.exists():
        return []
    users = []
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        if ":" not in raw:
            raise AdminError(f"{path}:{lineno}: not a mosquitto password line")
        users.append(raw.split(":", 1)[0])
    return users


def parse_accounts(acl_text: str) -> dict[str, str]:
    """Name → role of the generated blocks in a rendered ACL."""
    accounts: dict[str, str] = {}
    role = None
    for raw in acl_text.splitlines():
        line = raw.strip()
        if line.startswith(_ACL_MARK):
            role = line[len(_ACL_MARK) :].strip()
        elif line.startswith("user ") and role:
            accounts[line[5:].strip()] = role
            role = None
    return accounts


def render_acl(template: str, accounts: dict[str, str]) -> str:
    """The template followed by one block per hub, officer and bridge account, in a stable order."""
    parts = [template.rstrip("\n"), ""]
    for name, role in sorted(accounts.items(), key=lambda kv: (ROLES.index(kv[1]), kv[0])):
        if role == "gateway":
            continue
        parts += [f"{_ACL_MARK}{role}", f"user {name}", *ROLE_RULES[role], ""]
    return "\n".join(parts)


def _write_atomic(path: Path, data: str, mode: int, like: Path | None = None) -> None:
    """Write via a private temp file and rename, keeping the old file's owner and group."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        ref = like if like is not None and like.exists() else None
        if ref is not None:
            st = ref.stat()
            if os.geteuid() == 0:
                os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _set_password_entry(path: Path, user: str, password: str | None) -> None:
    """Add, replace (password given) or delete (None) one user in a mosquitto password file."""
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [ln for ln in lines if ln.split(":", 1)[0] != user]
    if password is not None:
        tool = shutil.which("mosquitto_passwd")
        if tool:
            # Hash with the broker's own tool, fed on stdin so the password never shows in `ps`.
            with tempfile.TemporaryDirectory() as tmpdir:
                scratch = Path(tmpdir, "pw")
                subprocess.run(
                    [tool, "-c", str(scratch), user],
                    input=f"{password}\n{password}\n",
                    text=True,
                    capture_output=True,
                    check=True,
                )
                kept.append(scratch.read_text().strip())
        else:
            kept.append(f"{user}:{hash_password(password)}")
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o640
    _write_atomic(path, "".join(f"{ln}\n" for ln in kept), mode, like=path)


def _write_credentials(path: Path, password: str, owner: str | None) -> None:
    """The secret goes only here: a 0600 file, created private from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        if owner:
            shutil.chown(tmp, user=owner, group=owner)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class AccountStore:
    """The broker's accounts as held in its password file and rendered ACL."""

    def __init__(self, files: BrokerFiles) -> None:
        self.files = files

    def credentials_path(self, name: str) -> Path:
        return self.files.secrets_dir / f"{name}.password"

    def accounts(self) -> dict[str, str]:
        """Every account with its role; password-file users without an ACL block are gateways."""
        acl = self.files.acl_file.read_text() if self.files.acl_file.exists() else ""
        roles = parse_accounts(acl)
        return {u: roles.get(u, "gateway") for u in read_password_users(self.files.password_file)}

    def _render(self, accounts: dict[str, str]) -> None:
        if not self.files.acl_template.exists():
            raise AdminError(f"ACL template {self.files.acl_template} not found")
        text = render_acl(self.files.acl_template.read_text(), accounts)
        acl = self.files.acl_file
        if acl.exists() and acl.read_text() == text:
            return  # unchanged: leave the file (and its mtime) alone so reruns change nothing
        mode = acl.stat().st_mode & 0o777 if acl.exists() else 0o640
        _write_atomic(acl, text, mode, like=acl)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One change at a time: two admins adding gateways at once must not lose each other's entry."""
        lock = self.files.password_file.with_name(f".{self.files.password_file.name}.lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def add(
        self, name: str, role: str = "gateway", *, owner: str | None = None, if_missing: bool = False
    ) -> Path:
        """Create an account with a fresh password; return the 0600 credentials file holding it."""
        with self._locked():
            return self._add(name, role, owner, if_missing)

    def rotate(self, name: str, *, owner: str | None = None) -> Path:
        """Give an existing account a new password; the old one stops working at the broker's next reload."""
        with self._locked():
            return self._rotate(name, owner)

    def remove(self, name: str) -> None:
        with self._locked():
            self._remove(name)

    def _add(self, name: str, role: str, owner: str | None, if_missing: bool) -> Path:
        check_account_name(name, role)
        accounts = self.accounts()
        creds = self.credentials_path(name)
        if name in accounts:
            if accounts[name] != role:
                raise AdminError(f"account {name} exists with role {accounts[name]}, not {role}")
            if if_missing and creds.exists():
                self._render(accounts)
                log.info("account present name=%s role=%s", name, role)
                return creds
            if not if_missing:
                raise AdminError(f"account {name} exists; use `ews gateway rotate {name}` for a new password")
        accounts[name] = role
        self._set(name, accounts, owner)
        log.info("account added name=%s role=%s credentials=%s", name, role, creds)
        return creds

    def _rotate(self, name: str, owner: str | None) -> Path:
        accounts = self.accounts()
        if name not in accounts:
            raise AdminError(f"no account {name}; add it with `ews gateway add {name}`")
        self._set(name, accounts, owner)
        log.info(
            "account rotated name=%s role=%s credentials=%s",
            name,
            accounts[name],
            self.credentials_path(name),
        )
        return self.credentials_path(name)

    def _remove(self, name: str) -> None:
        accounts = self.accounts()
        if name not in accounts:
            raise AdminError(f"no account {name}")
        role = accounts.pop(name)
        _set_password_entry(self.files.password_file, name, None)
        self._render(accounts)
        self.credentials_path(name).unlink(missing_ok=True)
        log.info("account removed name=%s role=%s", name, role)

    def _set(self, name: str, accounts: dict[str, str], owner: str | None) -> None:
        password = generate_password()
        # Credentials first: if the broker files fail to update, the old password still works and a
        # rerun replaces the credentials file; the reverse order could lock the account out.
        _write_credentials(self.credentials_path(name), password, owner)
        _set_password_entry(self.files.password_file, name, password)
        self._render(accounts)


def gateway_snippet(name: str, hub_host: str, hub_port: int, ca_path: str) -> str:
    """The mqtt section of a gateway's config; names the credentials file, never the secret."""
    return "\n".join(
        [
            f"# mqtt section of /etc/ews/edge.yaml on gateway {name}",
            "mqtt:",
            f"  host: {hub_host}",
            f"  port: {hub_port}",
            f"  username: {name}",
            f"  password_file: /etc/ews/secrets/{name}.password",
            f"  tls_ca: {ca_path}",
        ]
    )
