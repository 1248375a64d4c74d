"""How every process connects to the broker: one paho client factory with TCP_NODELAY, auth and TLS."""

from __future__ import annotations

import os
import socket
import ssl
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import BaseModel, ConfigDict, Field


class MqttConfig(BaseModel):
    """Broker address and credentials. Secrets are named (env var or 0600 file), never written here."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(default="127.0.0.1", description="Broker host name or address")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker TCP port")
    username: str | None = Field(
        default=None, description="MQTT username (per gateway, per hub, per officer)"
    )
    password_env: str | None = Field(default=None, description="Environment variable holding the password")
    password_file: Path | None = Field(default=None, description="File holding the password (mode 0600)")
    tls_ca: Path | None = Field(default=None, description="CA certificate; enables TLS when set")
    keepalive_s: int = Field(default=30, ge=5, le=3600, description="MQTT keepalive, seconds")

    def password(self) -> str | None:
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ValueError(f"mqtt: environment variable {self.password_env} is not set")
            return value
        if self.password_file:
            mode = self.password_file.stat().st_mode & 0o077
            if mode:
                raise ValueError(
                    f"mqtt: {self.password_file} must not be readable by group or others (chmod 600)"
                )
            return self.password_file.read_text().strip()
        return None


def set_nodelay(sock: Any) -> None:
    """Disable Nagle: paho never does, and it costs ~40 ms stalls per burst (DESIGN.md §7)."""
    raw = getattr(sock, "_sock", sock)  # paho may wrap the socket (websockets); reach the TCP one
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass  # not a TCP socket (unix socket in some tests): nothing to disable


def make_client(cfg: MqttConfig, client_id: str, *, clean_start: bool = True, **kwargs: Any) -> mqtt.Client:
    """A paho 2.x client (MQTT 3.1.1) with TCP_NODELAY on every socket it opens."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_start,
        protocol=mqtt.MQTTv311,
        **kwargs,
    )
    client.on_socket_open = lambda _c, _u, sock: set_nodelay(sock)
    if cfg.username:
        client.username_pw_set(cfg.username, cfg.password())
    if cfg.tls_ca:
        client.tls_set(ca_certs=str(cfg.tls_ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    return client
