"""The issue's end to end: a forecast fetched by the hub's feed runner over HTTP goes through real
mosquitto into the hub's ingest and pipeline, lands in real InfluxDB tagged with its issue time, and a
forecast-based rule ("observed 6 h + forecast next 6 h") fires from it.

Real parts: pytest-httpserver serving the recorded Open-Meteo body, mosquitto, hub.ingest.Ingest,
hub.pipeline.Pipeline with the real rule engine, hub.store.Store and influxd. Only the dispatcher is a
list (this test checks what reaches it), and the clock is fixed at the recorded body's poll time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pytest_httpserver import HTTPServer

from edge.mqttlink import MqttConfig, make_client
from ews.servers import Mosquitto
from hub.feeds.base import Feed
from hub.feeds.cap import CapConfig, CapFeed
from hub.feeds.capparse import parse_alert
from hub.feeds.openmeteo import ForecastConfig, ForecastFeed
from hub.feeds.runner import FeedRunner, mqtt_publisher
from hub.influx import InfluxClient, InfluxConfig
from hub.ingest import Ingest
from hub.pipeline import Pipeline
from hub.rules.engine import Engine
from hub.rules.loader import load_ruleset
from hub.rules.model import Level, Transition
from hub.store import Store, StoreConfig
from tests.hub.feeds.helpers import FENGSHAN, NOW, body

RULES = """
sites:
  - {id: fs-hp01, name: 凤山村后山滑坡隐患点, lat: 24.6012, lon: 112.5521, hazard: landslide, grids: [fs-g1]}
  - {id: fs-hp02, name: 凤山河山洪沟, lat: 24.5958, lon: 112.5603, hazard: flash_flood, grids: [fs-g2]}
sensors:
  - {id: fs-hp01-rg1, site: fs-hp01, quantity: rain_mm, period_s: 300}
  - {id: fs-hp02-rg1, site: fs-hp02, quantity: rain_mm, period_s: 300}
rules:
  - id: rain-observed-plus-forecast
    description: observed 6 h sum + forecast next 6 h sum against four levels
    sites: [fs-hp01, fs-hp02]
    inputs:
      rain: {quantity: rain_mm}
      fc: {forecast: rain_mm}
    values:
      total_6h: sum(rain, 6h) + forecast_sum(fc, 6h)
    thresholds:
      total_6h: [40, 60, 75, 120]
    value: sum(rain, 6h) + forecast_sum(fc, 6h)
    message: "{site_name}：实测6小时加预报未来6小时雨量{total_6h:.1f}毫米"
"""


class Dispatcher:
    def __init__(self) -> None:
        self.got: list[Transition] = []

    def submit(self, transitions: list[Transition]) -> None:
        self.got.extend(transitions)


def wait(cond: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not cond():
        time.sleep(0.02)
    return cond()


class HubPath:
    """The hub's path for feed batches: mosquitto → Ingest → Pipeline (real engine) → Store → influxd."""

    def __init__(self, rules: str, tmp_path: Path, broker: Mosquitto, influx_db: tuple[str, str]) -> None:
        path = tmp_path / "rules.yaml"
        path.write_text(rules, encoding="utf-8")
        ruleset = load_ruleset([path])
        url, db = influx_db
        self.client = InfluxClient(InfluxConfig.model_validate({"url": url, "database": db}))
        self.client.create_database()
        spill = {"spill_dir": tmp_path / "spill", "flush_interval_s": 0.05}
        self.store = Store(self.client, StoreConfig.model_validate(spill))
        self.dispatcher = Dispatcher()
        sensor_sites = {sid: s.site for sid, s in ruleset.sensors.items()}
        self.pipeline = Pipeline(Engine(ruleset), sensor_sites, self.store, self.dispatcher, self.clock)
        self.mqtt = MqttConfig.model_validate({"port": broker.port})
        self.ingest = Ingest(
            self.mqtt, "hub-e2e", self.pipeline.handle_batch, self.clock, on_lines=self.store.put
        )
        self.pub = make_client(self.mqtt, "hub-feeds-e2e")
        self.now = NOW

    def clock(self) -> float:
        return self.now

    def __enter__(self) -> HubPath:
        self.store.start()
        self.ingest.start()
        self.pub.connect("127.0.0.1", self.mqtt.port)
        self.pub.loop_start()
        assert self.ingest.wait_connected()
        return self

    def __exit__(self, *exc: object) -> None:
        self.pub.loop_stop()
        self.pub.disconnect()
        self.ingest.stop()
        self.store.stop()

    def runner(self, feed: Feed) -> FeedRunner:
        return FeedRunner([feed], FENGSHAN, mqtt_publisher(self.pub), clock=self.clock)


def test_forecast_feed_to_influx_and_a_forecast_rule_fires(
    httpserver: HTTPServer, mosquitto: Mosquitto, influx_db: tuple[str, str], tmp_path: Path
) -> None:
    httpserver.expect_request("/v1/forecast").respond_with_data(
        body("openmeteo-forecast-2pts.json"), content_type="application/json"
    )
    with HubPath(RULES, tmp_path, mosquitto, influx_db) as hub:
        feed = ForecastFeed(
            ForecastConfig(
                kind="openmeteo",
                name="om",
                base_url=httpserver.url_for("/v1/forecast"),
                sites=["fs-hp01", "fs-hp02"],
            )
        )
        assert hub.runner(feed).poll("om") is not None
        assert wait(lambda: len(hub.dispatcher.got) >= 2)
        assert hub.store.flush()

    levels = {t.site: t.to_level for t in hub.dispatcher.got}
    # fs-hp01: 0.4+2.1+8.6+15.2+22.8+30.5 = 79.6 mm forecast in (02:20, 08:20]; no rain observed yet.
    assert levels == {"fs-hp01": Level.ORANGE, "fs-hp02": Level.YELLOW}
    t01 = next(t for t in hub.dispatcher.got if t.site == "fs-hp01")
    assert t01.value is not None and abs(t01.value - 79.6) < 1e-6

    series = hub.client.query(
        "SELECT count(value) FROM rain_mm WHERE sensor = 'om@fs-hp01' AND source = 'forecast' GROUP BY issued"
    )
    assert [(s["tags"]["issued"], s["values"][0][1]) for s in series] == [("2024-06-16T02:00:00Z", 11)]
    health = hub.client.query("SELECT value FROM feed_ok WHERE sensor = 'om'")
    assert health[0]["values"][0][1] == 1.0


WARNING_RULES = """
sites:
  - {id: fs-hp01, name: 凤山村后山滑坡隐患点, lat: 24.6012, lon: 112.5521, hazard: landslide, grids: [fs-g1]}
  - {id: fs-hp02, name: 凤山河山洪沟, lat: 24.5958, lon: 112.5603, hazard: flash_flood, grids: [fs-g2]}
sensors:
  - {id: gd-cap@fs-hp01, site: fs-hp01, quantity: warning_level, period_s: 300}
  - {id: gd-cap@fs-hp02, site: fs-hp02, quantity: warning_level, period_s: 300}
rules:
  - id: official-warning-covers-site
    description: an official CAP warning in force over the site, at its colour
    inputs:
      warn: {quantity: warning_level}
    values:
      level: max_of(last(warn))
    thresholds:
      level: [1, 2, 3, 4]
    value: max_of(last(warn))
    message: "{site_name}：气象部门预警覆盖本点"
"""


def test_cap_warning_over_a_site_fires_its_colour_and_clears_on_cancel(
    httpserver: HTTPServer, mosquitto: Mosquitto, influx_db: tuple[str, str], tmp_path: Path
) -> None:
    httpserver.expect_request("/red.xml").respond_with_data(body("gd-yangshan-rainstorm-red-update.cap.xml"))
    with HubPath(WARNING_RULES, tmp_path, mosquitto, influx_db) as hub:
        runner = hub.runner(CapFeed(CapConfig(kind="cap", name="gd-cap", url=httpserver.url_for("/red.xml"))))
        hub.now = parse_alert(body("gd-yangshan-rainstorm-red-update.cap.xml")).sent + 60
        runner.poll("gd-cap")
        assert wait(lambda: len(hub.dispatcher.got) >= 2)
        fired = {t.site: t.to_level for t in hub.dispatcher.got}
        assert fired == {"fs-hp01": Level.ORANGE, "fs-hp02": Level.RED}

        httpserver.clear()
        httpserver.expect_request("/red.xml").respond_with_data(body("gd-yangshan-rainstorm-cancel.cap.xml"))
        hub.now = parse_alert(body("gd-yangshan-rainstorm-cancel.cap.xml")).sent + 60
        runner.poll("gd-cap")
        assert wait(lambda: any(t.to_level == Level.NONE for t in hub.dispatcher.got[2:]))
        assert hub.store.flush()
    stored = hub.client.query("SELECT value FROM warning_level WHERE sensor = 'gd-cap@fs-hp02'")
    assert [v[1] for v in stored[0]["values"]] == [4.0, 0.0]
