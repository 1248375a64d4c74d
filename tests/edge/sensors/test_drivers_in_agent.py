"""The real drivers inside the real gateway agent: a Modbus gauge on a pty and an SL 651 station over TCP,
through the outbox and publisher to real mosquitto. Proves the driver contract the agent relies on
(build() with no arguments, poll(now) per bus, start(emit) for listeners, ack after emit)."""

from __future__ import annotations

import calendar
import queue
import time
from pathlib import Path
from typing import Any

from edge.agent import Agent
from edge.config import GatewayConfig
from edge.mqttlink import MqttConfig, make_client
from edge.sensors.sl651_codec import parse_frame
from edge.wire import decode_batch, readings_topic
from ews.devices.modbus_gauge import ModbusGauge
from ews.devices.sl651_station import Station, TcpLink
from ews.servers import free_port


def test_gauge_and_sl651_station_reach_the_broker(mosquitto: Any, tmp_path: Path) -> None:
    got: queue.Queue[tuple[str, str, float, str]] = queue.Queue()
    sub = make_client(MqttConfig.model_validate({"port": mosquitto.port}), "hub-test")

    def on_message(_c: Any, _u: Any, m: Any) -> None:
        for r in decode_batch(bytes(m.payload))[0].readings:
            got.put((r.sensor, r.quantity, r.value, r.quality))

    sub.on_message = on_message
    sub.connect("127.0.0.1", mosquitto.port)
    sub.subscribe(readings_topic("fs-gw02"), qos=1)
    sub.loop_start()
    sl651_port = free_port()
    with ModbusGauge(unit=1) as gauge:
        cfg = GatewayConfig.model_validate(
            {
                "id": "fs-gw02",
                "site": "fs-hp02",
                "mqtt": {"port": mosquitto.port},
                "outbox": {"path": str(tmp_path / "outbox.db")},
                "health": {"period_s": 3600},
                "sensors": [
                    {
                        "kind": "modbus",
                        "id": "fs-hp02-rg1",
                        "site": "fs-hp02",
                        "port": gauge.port,
                        "unit": 1,
                        "profile": "rain_tipping_bucket",
                        "period_s": 0.2,
                        "timeout_s": 0.3,
                    },
                    {
                        "kind": "sl651",
                        "id": "fs-sl651",
                        "site": "fs-hp02",
                        "host": "127.0.0.1",
                        "tcp_port": sl651_port,
                        "stations": {"0012345679": "fs-hp02-wl1"},
                    },
                ],
            }
        )
        agent = Agent(cfg)
        agent.start()
        try:
            time.sleep(0.5)  # a few polls: the gauge's baseline
            gauge.add_rain(12.5)
            link = TcpLink("127.0.0.1", sl651_port)
            obs = calendar.timegm(time.gmtime(time.time() - 60)[:5] + (0, 0, 0, 0))
            ack = link.send(Station("0012345679", cls="H").report(0x32, obs, [("Z", 2.345), ("VT", 12.5)]))
            assert ack is not None and parse_frame(ack).function == 0x32
            link.close()
            seen: list[tuple[str, str, float, str]] = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not (
                sum(v for s, q, v, _ in seen if q == "rain_mm") >= 12.5
                and any(q == "water_level_m" for _, q, _, _ in seen)
            ):
                try:
                    seen.append(got.get(timeout=0.1))
                except queue.Empty:
                    pass
        finally:
            agent.stop()
            sub.loop_stop()
            sub.disconnect()
    rain = [v for s, q, v, _ in seen if s == "fs-hp02-rg1" and q == "rain_mm"]
    assert round(sum(rain), 6) == 12.5  # increments add up to exactly the rain that fell, nothing twice
    assert ("fs-hp02-wl1", "water_level_m", 2.345, "good") in seen
    assert ("fs-hp02-wl1", "battery_v", 12.5, "good") in seen
