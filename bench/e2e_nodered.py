"""Node-RED peer runner: find the npm install, start it headless on loopback with the bench flow."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from bench.e2e_stats import proc_cpu_s
from ews.servers import ChildServer, ServerError

FLOW = Path(__file__).parent / "nodered" / "flow.json"
DEFAULT_DIRS = (Path("/tmp/ews-nodered"), Path.home() / ".cache" / "ews-nodered")

# Headless: no editor, no admin API, no credential prompt; loopback only. With EWS_NODELAY=1 every
# TCP socket Node opens gets setNoDelay(true) before it connects (MQTT.js never sets it, and Node's
# default leaves Nagle's algorithm on), which is the "no-delay forced on" variant.
SETTINGS = """
if (process.env.EWS_NODELAY === "1") {
    const net = require("net");
    const connect = net.Socket.prototype.connect;
    net.Socket.prototype.connect = function (...args) { this.setNoDelay(true); return connect.apply(this, args); };
}
module.exports = {
    uiHost: "127.0.0.1",
    uiPort: Number(process.env.EWS_NODERED_PORT),
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    flowFile: "flows.json",
    credentialSecret: false,
    logging: { console: { level: "info", metrics: false, audit: false } },
    telemetry: { enabled: false },
    diagnostics: { enabled: false },
    runtimeState: { enabled: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
};
"""


class PeerUnavailable(RuntimeError):
    """Node-RED cannot run here; the message says why (the bench prints it and goes on without it)."""


def find_red() -> Path:
    """red.js of an npm install (`npm install --prefix DIR node-red`); EWS_NODERED_DIR overrides."""
    if not shutil.which("node"):
        raise PeerUnavailable("node is not installed (apt-get install nodejs npm)")
    env = os.environ.get("EWS_NODERED_DIR")
    for d in ([Path(env)] if env else []) + list(DEFAULT_DIRS):
        red = d / "node_modules" / "node-red" / "red.js"
        if red.exists():
            return red
    raise PeerUnavailable(
        "node-red not found; install it outside the repo: npm install --prefix /tmp/ews-nodered node-red"
    )


def version(red: Path) -> str:
    pkg = red.parent / "package.json"
    try:
        return str(json.loads(pkg.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "unknown"


class NodeRed(ChildServer):
    """One Node-RED process; start() returns once the flow runs and its MQTT client is connected."""

    name = "node-red"

    def __init__(self, red: Path, workdir: Path, mqtt_port: int, http_port: int, nodelay: bool) -> None:
        super().__init__(workdir, http_port)
        self.red, self.nodelay = red, nodelay
        self.mqtt_port, self.http_port = mqtt_port, http_port

    def _argv(self) -> list[str]:
        flow = json.loads(FLOW.read_text(encoding="utf-8"))
        for node in flow:
            if node.get("type") == "mqtt-broker":
                node["port"] = str(self.mqtt_port)
                node["clientid"] = f"bench-nodered-{'nodelay' if self.nodelay else 'default'}"
        (self.workdir / "flows.json").write_text(json.dumps(flow), encoding="utf-8")
        (self.workdir / "settings.js").write_text(SETTINGS, encoding="utf-8")
        self.env = {
            **os.environ,
            "EWS_NODERED_PORT": str(self.http_port),
            "EWS_NODELAY": "1" if self.nodelay else "0",
        }
        return [
            "node",
            str(self.red),
            "--settings",
            str(self.workdir / "settings.js"),
            "--userDir",
            str(self.workdir),
        ]

    def _ready(self) -> bool:
        text = (self.workdir / f"{self.name}.log").read_text(errors="replace")
        if "Started flows" in text and "Connected to broker" in text:
            time.sleep(0.5)  # the subscription follows the CONNACK
            return True
        return False

    def start(self, timeout: float = 60.0) -> None:
        try:
            super().start(timeout)
        except ServerError as exc:
            raise PeerUnavailable(str(exc)) from None

    def cpu_s(self) -> float:
        assert self.proc is not None
        return proc_cpu_s(self.proc.pid)
