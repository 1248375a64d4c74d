"""InfluxDB v1 HTTP API: line-protocol encoding, /write and InfluxQL /query (1.x, 2.x compat, 3 Core)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, Field


class InfluxError(Exception):
    """A write or query failed. recoverable=True: server down, 5xx, missing database or refused credentials:
    keep the data and try again; False: bad data or query (HTTP 400)."""

    def __init__(self, message: str, *, recoverable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.recoverable = recoverable
        self.status = status

    @property
    def database_missing(self) -> bool:
        """1.x answers 404 "database not found" when its data dir was wiped or the database never created."""
        return self.status == 404 and "database not found" in str(self)


class InfluxConfig(BaseModel):
    """Where the store writes. Token or password come from env or a 0600 file, never from this file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field("http://127.0.0.1:8086", description="Base URL of the v1-compatible HTTP API")
    database: str = Field("ews", description="Database (1.x) or bucket mapped by DBRP (2.x/3.x)")
    username: str | None = Field(None, description="1.x username")
    password_env: str | None = Field(None, description="Environment variable holding the 1.x password")
    token_env: str | None = Field(None, description="Environment variable holding a 2.x/3.x token")
    token_file: Path | None = Field(None, description="File holding a 2.x/3.x token (mode 0600)")
    timeout_s: float = Field(5.0, gt=0, description="HTTP timeout per request, seconds")


def _escape_key(s: str) -> str:
    return (
        s.replace("\\", "\\\\")
        .replace(",", r"\,")
        .replace("=", r"\=")
        .replace(" ", r"\ ")
        .replace("\n", r"\n")
    )


def _escape_measurement(s: str) -> str:
    return s.replace("\\", "\\\\").replace(",", r"\,").replace(" ", r"\ ").replace("\n", r"\n")


def _field_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v}i"
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"line protocol cannot carry {v}")
        return repr(v)
    text = str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def escape_unencodable(lines: list[str]) -> list[int]:
    """Escape in place the text UTF-8 cannot carry, and return the indexes of the lines changed.

    That is a lone UTF-16 surrogate: JSON "\\ud83d" decodes to one (a name an app cut inside an emoji).
    It is kept visible as the six characters \\ud83d. str.isascii() is O(1), so clean lines cost nothing."""
    changed = []
    for i, text in enumerate(lines):
        if text.isascii():
            continue
        try:
            text.encode()
        except UnicodeEncodeError:
            lines[i] = text.encode("utf-8", "backslashreplace").decode()
            changed.append(i)
    return changed


def line(measurement: str, tags: Mapping[str, str], fields: Mapping[str, Any], time_s: float) -> str:
    """One line of line protocol; time in epoch seconds, written with nanosecond precision."""
    if not fields:
        raise ValueError(f"{measurement}: a point needs at least one field")
    tag_part = "".join(f",{_escape_key(k)}={_escape_key(v)}" for k, v in sorted(tags.items()) if v != "")
    field_part = ",".join(f"{_escape_key(k)}={_field_value(v)}" for k, v in fields.items())
    return f"{_escape_measurement(measurement)}{tag_part} {field_part} {round(time_s * 1e9)}"


class InfluxClient:
    """Blocking client for one database; callers own threads and retries."""

    def __init__(self, cfg: InfluxConfig, session: requests.Session | None = None) -> None:
        self.cfg = cfg
        self.session = session or requests.Session()

    def _auth(self) -> tuple[dict[str, str], dict[str, str]]:
        headers: dict[str, str] = {}
        params: dict[str, str] = {}
        token = None
        if self.cfg.token_env:
            token = os.environ.get(self.cfg.token_env)
        elif self.cfg.token_file:
            token = self.cfg.token_file.read_text().strip()
        if token:
            headers["Authorization"] = f"Token {token}"
        elif self.cfg.username:
            params["u"] = self.cfg.username
            params["p"] = os.environ.get(self.cfg.password_env or "", "")
        return headers, params

    def _post(self, path: str, params: dict[str, str], data: bytes | None = None) -> requests.Response:
        try:  # an unreadable token file keeps the data as a refused login does
            headers, auth = self._auth()
            resp = self.session.post(
                f"{self.cfg.url}{path}",
                params={**auth, **params},
                data=data,
                headers=headers,
                timeout=self.cfg.timeout_s,
            )
        except OSError as exc:  # requests.RequestException is one
            raise InfluxError(
                f"influx {self.cfg.url}{path}: {exc.__class__.__name__}: {exc}", recoverable=True
            ) from None
        code, text = resp.status_code, resp.text[:300]
        if code in (401, 403):  # the server is fine and the data too: it will take them once the login is
            why = "credentials refused (check influx username/password_env or token)"
            raise InfluxError(f"influx {path}: HTTP {code}: {why}: {text}", recoverable=True, status=code)
        if code >= 500 or code in (404, 429):  # 404: database not found (or a wrong url): keep the data
            raise InfluxError(f"influx {path}: HTTP {code}: {text}", recoverable=True, status=code)
        if code >= 400:
            raise InfluxError(f"influx {path}: HTTP {code}: {text}", recoverable=False, status=code)
        return resp

    def create_database(self) -> None:
        self.query(f'CREATE DATABASE "{self.cfg.database}"', db=False)

    def write(self, lines: Iterable[str]) -> None:
        # The store escapes and counts lone surrogates (escape_unencodable); this only makes sure that no
        # caller's write can raise on one.
        body = "\n".join(lines).encode("utf-8", "backslashreplace")
        if body:
            self._post("/write", {"db": self.cfg.database, "precision": "ns"}, body)

    def query(self, q: str, db: bool = True, epoch: str = "s") -> list[dict[str, Any]]:
        """Run InfluxQL; return the series of the first statement (each with name, tags, columns, values),
        times as integers in `epoch` units (InfluxDB truncates to them)."""
        params = {"q": q, "epoch": epoch}
        if db:
            params["db"] = self.cfg.database
        results = self._post("/query", params).json().get("results", [])
        for res in results:
            if "error" in res:
                raise InfluxError(f"influx query {q!r:.120}: {res['error']}", recoverable=False)
        return list(results[0].get("series", [])) if results else []

    def count(self, measurement: str, where: str = "") -> int:
        q = f'SELECT count("value") FROM "{measurement}"' + (f" WHERE {where}" if where else "")
        series = self.query(q)
        return int(series[0]["values"][0][1]) if series else 0
