"""`ews demo`: a compressed typhoon over three Fengshan hazard points, through real servers end to end."""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edge.agent import Agent
from edge.mqttlink import MqttConfig, make_client
from edge.wire import ROOT, decode_batch
from ews.demo_scenario import HOUR, profiles
from ews.demo_setup import RAIN_PERIOD_S, StormClock, gateway_configs, hub_config
from ews.devices.modbus_gauge import ModbusGauge
from ews.devices.modem_sim import ModemSimulator, read_log
from ews.servers import Influxd, Mosquitto
from hub.app import Hub
from hub.influx import InfluxClient, InfluxConfig

log = logging.getLogger(__name__)
CST = timedelta(hours=8)  # officers read China Standard Time
LEVEL_ZH = {"none": "解除", "blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}
LEVELS = ["none", "blue", "yellow", "orange", "red"]


@dataclass
class DemoOptions:
    hours: float = 26.0
    speed: float = 1250.0  # 26 storm hours in about 75 s
    mqtt: tuple[str, int] | None = None  # use a running broker instead of starting one
    influx_url: str | None = None  # use a running influxd instead of starting one
    database: str = "ews_demo"
    kill_broker_at_h: float | None = None  # stop our own broker at this storm hour...
    kill_broker_for_s: float = 10.0  # ...for this many wall seconds
    workdir: Path | None = None
    out: Callable[[str], None] = print
    broker: Mosquitto | None = field(default=None, repr=False)  # a broker the demo may stop and start


def _cst(ts: float) -> str:
    return (datetime.fromtimestamp(ts, UTC) + CST).strftime("%m-%d %H:%M")


class Timeline:
    """Subscribes like an officer's phone would: prints level changes and an hourly rain digest."""

    def __init__(self, mqtt: MqttConfig, site_names: dict[str, str], out: Callable[[str], None]) -> None:
        self.mqtt, self.site_names, self.out = mqtt, site_names, out
        self.alerts: list[dict[str, Any]] = []
        self.rain: dict[tuple[str, int], float] = {}
        self._printed_hour = -1
        self.lock = threading.Lock()
        self.client = make_client(mqtt, "ews-demo-timeline")

    def start(self) -> None:
        self.client.on_connect = lambda c, *_: c.subscribe(
            [(f"{ROOT}/alert/#", 1), (f"{ROOT}/gw/+/readings", 1)]
        )
        self.client.on_message = self._on_message
        self.client.connect_async(self.mqtt.host, self.mqtt.port)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        with self.lock:
            if "/alert/" in msg.topic:
                self._alert(json.loads(msg.payload))
            else:
                batch, _ = decode_batch(bytes(msg.payload), msg.topic)
                for r in batch.readings:
                    if r.quantity == "rain_mm":
                        key = (r.sensor[:7], int((r.time - 1) // HOUR))
                        self.rain[key] = self.rain.get(key, 0.0) + r.value

    def _alert(self, a: dict[str, Any]) -> None:
        if a.get("kind") not in ("alert", "clear", "down"):
            return
        level = a.get("level", "none")
        name = a.get("site_name") or self.site_names.get(a["site"], a["site"])
        arrow = f"{LEVEL_ZH.get(a.get('from_level') or 'none', '')}→{LEVEL_ZH.get(level, level)}"
        value = f" 数值{a['value']:.1f}" if isinstance(a.get("value"), int | float) else ""
        self.out(f"{_cst(a['at'])}  ⚠ {name} [{a.get('rule')}] {arrow}{value}  {a.get('message', '')[:60]}")
        if level != "none":
            self.alerts.append(
                {
                    "site": a["site"],
                    "level": level,
                    "rule": a.get("rule", ""),
                    "at": datetime.fromtimestamp(round(a["at"]), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                }  # fmt: skip
            )

    def digest(self, now: float) -> None:
        """Print one line per completed storm hour: each site's rain in that hour."""
        hour = int(now // HOUR) - 1
        with self.lock:
            if hour <= self._printed_hour:
                return
            self._printed_hour = hour
            parts = [
                f"{self.site_names[s][:6]} {self.rain.get((s, hour), 0.0):5.1f}mm"
                for s in sorted(self.site_names)
            ]
        self.out(f"{_cst((hour + 1) * HOUR)}  雨量(1h)  " + "  ".join(parts))


@contextlib.contextmanager
def _servers(opts: DemoOptions, workdir: Path) -> Iterator[tuple[tuple[str, int], str, Mosquitto | None]]:
    with contextlib.ExitStack() as stack:
        broker = opts.broker
        if opts.mqtt is None and broker is None:
            broker = stack.enter_context(Mosquitto(workdir / "mosquitto"))
        mqtt = opts.mqtt or ("127.0.0.1", broker.port if broker else 1883)
        url = opts.influx_url or stack.enter_context(Influxd(workdir / "influxd")).url
        yield mqtt, url, broker


def _wait(cond: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def run_demo(opts: DemoOptions) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        workdir = opts.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ews-demo-")))
        (mqtt_host, mqtt_port), influx_url, broker = stack.enter_context(_servers(opts, workdir))
        gauge = stack.enter_context(ModbusGauge(workdir=workdir))
        modem = ModemSimulator(workdir / "modem", log_path=workdir / "modem-sent.jsonl")
        modem.start()
        stack.callback(modem.stop)
        start = (time.time() // HOUR) * HOUR - opts.hours * HOUR  # the storm ends about now
        clock = StormClock(start, opts.speed)
        hub = Hub(hub_config(workdir, mqtt_host, mqtt_port, influx_url, opts.database, modem.port), clock)
        hub.start()
        stack.callback(hub.stop)
        sites = {sid: s.name for sid, s in hub.ruleset.sites.items()}
        timeline = Timeline(MqttConfig(host=mqtt_host, port=mqtt_port), sites, opts.out)
        timeline.start()
        stack.callback(timeline.stop)
        agents = [
            Agent(c, clock=clock)
            for c in gateway_configs(workdir, mqtt_host, mqtt_port, gauge.port, start, opts.hours)
        ]
        opts.out(
            f"凤山村台风暴雨演练: {len(sites)} 个隐患点, {opts.hours:.0f} 小时暴雨压缩为约 {opts.hours * HOUR / opts.speed:.0f} 秒"
        )
        for a in agents:
            a.start()
        _play_storm(opts, clock, gauge, timeline, broker, modem)
        # Drain: every accepted reading published, ingested, decided and stored.
        _wait(lambda: all(a.stats()["outbox_depth"] == 0 for a in agents), 60)
        for a in agents:
            a.stop()
        sent = sum(a.stats()["accepted"] for a in agents)
        assert hub.pipeline is not None
        _wait(lambda: hub.pipeline is not None and hub.pipeline.counts["readings"] >= sent, 30)
        hub.store.flush(30)
        time.sleep(0.5)  # let the last alert messages reach the timeline subscriber
        _wait(lambda: hub.dispatcher is not None and hub.dispatcher.idle(), 30)
        influx = InfluxClient(InfluxConfig(url=influx_url, database=opts.database))
        stored = count_stored(influx)
        alerts = list(timeline.alerts)
        max_level = max((a["level"] for a in alerts), key=LEVELS.index, default="none")
        deliveries = count_deliveries(workdir)
        evacuation = evacuation_progress(influx)
        _print_deliveries(opts.out, deliveries, evacuation)
        return {"readings_sent": sent, "readings_stored": stored, "alerts": alerts, "max_level": max_level,
                "lost": max(0, sent - stored), "deliveries": deliveries, "evacuation": evacuation}  # fmt: skip
    raise AssertionError("unreachable")


# What people do during the storm, by storm hour: (hour, phone, SMS text). Officers acknowledge the
# flash-flood gully's red alert; nobody answers for the landslide slope, so it goes up to the town.
# Grid workers report evacuation progress by SMS as households leave.
REPLIES = [
    (14.8, "13800000102", "收到"),  # 黄主任, fs-hp02 red
    (15.0, "13800000202", "撤离 fs-g2 9/22"),
    (15.3, "13800000201", "撤离 6/15"),
    (15.8, "13800000203", "撤离 12/12"),
    (16.2, "13800000201", "撤离 15/15"),
    (16.6, "13800000202", "撤离 fs-g2 22/22"),
    (17.0, "13800000204", "撤离 9/9"),
]


def _play_storm(
    opts: DemoOptions,
    clock: StormClock,
    gauge: ModbusGauge,
    timeline: Timeline,
    broker: Mosquitto | None,
    modem: ModemSimulator,
) -> None:
    """Tip the Modbus gauge as the storm falls on fs-hp01, print the hourly digest, maybe kill the broker."""
    rain = profiles()["fs-hp01"]
    tips = 0
    end = opts.hours * HOUR + RAIN_PERIOD_S
    killed_at: float | None = None
    replies = list(REPLIES)
    while (t := clock.storm_seconds()) < end:
        while replies and t >= replies[0][0] * HOUR:
            _, phone, text = replies.pop(0)
            modem.inject_sms(phone, text)
            opts.out(f"{_cst(clock())}  ✉ 收到短信 {phone[:3]}****{phone[-4:]}: {text}")
        want = int(rain.cumulative(t) * 10 + 1e-9)
        if want > tips:
            gauge.add_rain((want - tips) / 10)
            tips = want
        timeline.digest(clock())
        if (
            broker is not None
            and opts.kill_broker_at_h is not None
            and killed_at is None
            and t >= opts.kill_broker_at_h * HOUR
        ):
            opts.out(f"{_cst(clock())}  ✂ 断开 MQTT 服务器 {opts.kill_broker_for_s:.0f} 秒 (模拟链路中断)")
            broker.stop()  # SIGTERM: see docs/operations.md on broker crashes and persistence
            killed_at = time.monotonic()
        if (
            killed_at is not None
            and broker is not None
            and broker.proc is None
            and time.monotonic() - killed_at >= opts.kill_broker_for_s
        ):
            broker.start()
            opts.out(f"{_cst(clock())}  ✔ MQTT 服务器恢复")
        time.sleep(0.02)


def count_stored(client: InfluxClient) -> int:
    """Readings from the gateways that reached InfluxDB, counted back from the database."""
    total = 0
    for series in client.query('SELECT count("seq") FROM /.*/ WHERE "origin" =~ /^fs-gw/'):
        total += int(series["values"][0][1])
    return total


def stored_seqs(client: InfluxClient) -> dict[str, list[int]]:
    """Gateway sequence numbers found in InfluxDB, per gateway, sorted (loss and order checks)."""
    out: dict[str, list[int]] = {}
    for series in client.query('SELECT "seq" FROM /.*/ WHERE "origin" =~ /^fs-gw/ GROUP BY "origin"'):
        out.setdefault(series["tags"]["origin"], []).extend(int(v[1]) for v in series["values"])
    return {k: sorted(v) for k, v in out.items()}


def count_deliveries(workdir: Path) -> dict[str, int]:
    """What the channels actually produced: the modem's log of accepted SMS, WAV files, plans, CAP files."""
    sent = [p for p in read_log(workdir / "modem-sent.jsonl") if p.error is None]
    firsts = [p for p in sent if not p.concat or p.concat[2] == 1]  # one per message, not per part
    return {
        "sms": len(firsts),
        "sms_parts": len(sent),
        "broadcast": len(list((workdir / "broadcast").glob("**/*.wav"))),
        "drone": len(list((workdir / "missions").glob("**/*.plan"))),
        "cap": len(list((workdir / "cap").glob("**/*.xml"))),
        "escalations": sum("上报镇三防办" in p.text for p in firsts),
    }


def evacuation_progress(client: InfluxClient) -> dict[str, str]:
    """Latest households evacuated / total per grid, as stored by the dispatcher."""
    out: dict[str, str] = {}
    for series in client.query('SELECT last("evacuated"), last("total") FROM "evacuation" GROUP BY "grid"'):
        _, done, total = series["values"][0]
        out[series["tags"]["grid"]] = f"{done}/{total}"
    return dict(sorted(out.items()))


def _print_deliveries(out: Callable[[str], None], d: dict[str, int], evac: dict[str, str]) -> None:
    out(f"送达: 短信 {d['sms']} 条 ({d['sms_parts']} 段), 广播 {d['broadcast']} 次, 无人机任务 {d['drone']} 个, "
        f"CAP {d['cap']} 份, 上报镇里 {d['escalations']} 次")  # fmt: skip
    if evac:
        out("撤离进度: " + ", ".join(f"{g} {v}" for g, v in evac.items()))
