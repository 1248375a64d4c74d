"""Test PKI: a throwaway CA and a server certificate for 127.0.0.1, made with the real openssl CLI."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_pki(directory: Path) -> Pki:
    """CA + server cert (EC P-256, SAN IP:127.0.0.1/localhost); keys stay in `directory`, mode 0600."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl not found: install the Debian package openssl")
    d = directory
    d.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True)

    run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(d / "ca.key"))
    run(
        "req",
        "-x509",
        "-new",
        "-key",
        str(d / "ca.key"),
        "-days",
        "2",
        "-subj",
        "/CN=EWS test CA",
        "-out",
        str(d / "ca.crt"),
    )
    run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(d / "server.key"))
    run("req", "-new", "-key", str(d / "server.key"), "-subj", "/CN=localhost", "-out", str(d / "server.csr"))
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run(
        "x509",
        "-req",
        "-in",
        str(d / "server.csr"),
        "-CA",
        str(d / "ca.crt"),
        "-CAkey",
        str(d / "ca.key"),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        str(d / "san.ext"),
        "-out",
        str(d / "server.crt"),
    )
    for key in ("ca.key", "server.key"):
        (d / key).chmod(0o600)
    return Pki(d / "ca.crt", d / "server.crt", d / "server.key")
