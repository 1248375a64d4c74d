"""Configs for the demo: three Fengshan gateways and a hub, built from the example deployment files."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from edge.config import GatewayConfig, gateway_config_from_dict
from ews.demo_scenario import HOUR, SLOPE, RainProfile, profiles
from hub.config import HubConfig

REPO = Path(__file__).resolve().parents[1]
RULES_DIR = REPO / "deploy" / "fengshan" / "rules"
ALERTS_FILE = REPO / "deploy" / "fengshan" / "alerts.yaml"

RAIN_PERIOD_S = 300.0  # automatic rain stations report every 5 minutes in the flood season
SLOPE_PERIOD_S = 600.0


class StormClock:
    """Event time that runs `speed` times faster than the wall clock from `start` (epoch seconds)."""

    def __init__(self, start: float, speed: float) -> None:
        self.start = start
        self.speed = speed
        self._m0 = time.monotonic()

    def __call__(self) -> float:
        return self.start + (time.monotonic() - self._m0) * self.speed

    def storm_seconds(self) -> float:
        return self() - self.start


def rain_steps(profile: RainProfile, hours: float, period: float = RAIN_PERIOD_S) -> list[list[Any]]:
    """5-minute rain increments of a tipping-bucket station (0.1 mm resolution), as scenario steps."""
    steps: list[list[Any]] = []
    reported = 0.0
    t = period
    while t <= hours * HOUR + 1e-6:
        total = int(profile.cumulative(t) * 10 + 1e-9) / 10  # whole tips fallen so far
        steps.append([t, "rain_mm", round(total - reported, 1)])
        reported = total
        t += period
    return steps


def slope_steps(sensor: str, quantity: str, hours: float) -> list[list[Any]]:
    ramp = SLOPE[(sensor, quantity)]
    n = int(hours * HOUR / SLOPE_PERIOD_S)
    return [[i * SLOPE_PERIOD_S, quantity, round(ramp.at(i * SLOPE_PERIOD_S), 3)] for i in range(1, n + 1)]


def _sim(sensor: str, site: str, steps: list[list[Any]], start: float, period: float) -> dict[str, Any]:
    return {
        "kind": "simulated",
        "id": sensor,
        "site": site,
        "period_s": period,
        "steps": steps,
        "start": start,
    }


def gateway_configs(
    workdir: Path, mqtt_host: str, mqtt_port: int, gauge_port: str, start: float, hours: float
) -> list[GatewayConfig]:
    """fs-gw01 reads its rain gauge over a real Modbus RTU serial line; the rest play the scenario."""
    rain = profiles()
    mqtt = {"host": mqtt_host, "port": mqtt_port, "keepalive_s": 10}
    layout: dict[str, tuple[str, list[dict[str, Any]]]] = {
        "fs-gw01": (
            "fs-hp01",
            [
                {
                    "kind": "modbus",
                    "id": "fs-hp01-rg1",
                    "site": "fs-hp01",
                    "port": gauge_port,
                    "unit": 1,
                    "profile": "rain_tipping_bucket",
                    "period_s": RAIN_PERIOD_S,
                    "timeout_s": 0.5,
                },
                _sim(
                    "fs-hp01-cr1",
                    "fs-hp01",
                    slope_steps("fs-hp01-cr1", "crack_mm", hours),
                    start,
                    SLOPE_PERIOD_S,
                ),
                _sim(
                    "fs-hp01-gn1",
                    "fs-hp01",
                    slope_steps("fs-hp01-gn1", "disp_mm", hours),
                    start,
                    SLOPE_PERIOD_S,
                ),
                _sim(
                    "fs-hp01-sm1",
                    "fs-hp01",
                    slope_steps("fs-hp01-sm1", "soil_moisture_pct", hours),
                    start,
                    SLOPE_PERIOD_S,
                ),
            ],
        ),  # fmt: skip
        "fs-gw02": (
            "fs-hp02",
            [
                _sim("fs-hp02-rg1", "fs-hp02", rain_steps(rain["fs-hp02"], hours), start, RAIN_PERIOD_S),
                _sim(
                    "fs-hp02-wl1",
                    "fs-hp02",
                    slope_steps("fs-hp02-wl1", "water_level_m", hours),
                    start,
                    RAIN_PERIOD_S,
                ),
            ],
        ),
        "fs-gw03": (
            "fs-hp03",
            [
                _sim("fs-hp03-rg1", "fs-hp03", rain_steps(rain["fs-hp03"], hours), start, RAIN_PERIOD_S),
                _sim(
                    "fs-hp03-tl1",
                    "fs-hp03",
                    slope_steps("fs-hp03-tl1", "tilt_deg", hours),
                    start,
                    SLOPE_PERIOD_S,
                ),
            ],
        ),
    }
    out = []
    for gw, (site, sensors) in layout.items():
        doc = {
            "id": gw,
            "site": site,
            "mqtt": mqtt,
            "outbox": {"path": str(workdir / f"{gw}-outbox.db")},
            "publish": {"backoff_min_s": 0.2, "backoff_max_s": 1.0},
            "sensors": sensors,
            "health": {"period_s": 1800.0},
        }
        out.append(gateway_config_from_dict(doc, where=f"demo gateway {gw}"))
    return out


def field_channels(
    workdir: Path, modem_port: str, mqtt: dict[str, Any], sites: dict[str, Any]
) -> dict[str, Any]:
    """The channels a village really has, on the demo's stand-ins: a GSM modem on a pty, speakers
    (no sound card here, so sox plays each WAV into nothing), drone missions and CAP files."""
    return {
        "sms": {"kind": "sms_modem", "port": modem_port, "baudrate": 115200, "send_timeout_s": 10},
        "broadcast": {"kind": "broadcast", "output": "local", "out_dir": str(workdir / "broadcast"), "repeat": 2,
                      "siren_s": 2.0, "play_command": ["sox", "-q", "{wav}", "-n"]},
        "drone": {"kind": "drone", "out_dir": str(workdir / "missions"), "sites": sites,
                  "home": {"name": "黎埠镇", "lat": 24.5856, "lon": 112.5412, "alt_amsl": 120}},
        "cap": {"kind": "cap", "folder": str(workdir / "cap"), "mqtt": mqtt},
    }  # fmt: skip


def hub_config(
    workdir: Path, mqtt_host: str, mqtt_port: int, influx_url: str, database: str, modem_port: str
) -> HubConfig:
    alerts = yaml.safe_load(ALERTS_FILE.read_text(encoding="utf-8"))
    alerts["state_path"] = str(workdir / "alerts.sqlite")
    mqtt = {"host": mqtt_host, "port": mqtt_port}
    influx = {"url": influx_url, "database": database}
    sites = {
        s["id"]: {"name": s["name"], "lat": s["lat"], "lon": s["lon"]} for s in alerts["directory"]["sites"]
    }
    alerts["channels"].update(field_channels(workdir, modem_port, mqtt, sites))
    policy = alerts["dispatch"]["policy"]
    policy.update(broadcast_channel="broadcast", drone_channel="drone")
    policy["record_channels"]["cap"] = ["alert", "clear", "down"]
    alerts["dispatch"]["rate_limits"] = {"sms": 0.0}  # the simulator answers at once; a real modem wants ~3 s
    # Channel output goes to stderr so stdout stays the timeline and the final JSON line.
    for name, ch in alerts["channels"].items():
        if ch.get("kind") == "console":
            ch["stream"] = "stderr"
        if ch.get("kind") == "mqtt_alert":
            ch["mqtt"] = mqtt
            ch["client_id"] = "ews-demo-hub-alerts"
        if ch.get("kind") == "annotation":
            ch["influx"] = influx
        alerts["channels"][name] = ch
    doc = {
        "hub_id": "demo",
        "mqtt": mqtt,
        "influx": influx,
        "store": {"spill_dir": str(workdir / "spill"), "flush_interval_s": 0.1},
        "rules": sorted(str(p) for p in RULES_DIR.glob("*.yaml")),
        "alerts": alerts,
        "tick_s": 0.2,
        "inbound_poll_s": 0.3,
        "rebuild_on_start": False,
    }
    return HubConfig.model_validate(doc)
