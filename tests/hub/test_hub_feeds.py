"""The hub polls its configured feeds: a forecast served over HTTP is stored with its site and issue time
in real InfluxDB, and the Fengshan forecast rule (past 3 h + next 3 h) fires from it through real mosquitto.

Real parts: pytest-httpserver serving the recorded Open-Meteo body, mosquitto, influxd and the whole Hub
(feed runner, ingest, engine, dispatcher). The hub's clock is fixed at the recorded body's poll time.
"""

from pathlib import Path

from pytest_httpserver import HTTPServer

from ews.servers import Influxd, Mosquitto
from hub.app import Hub
from hub.config import load_hub_config
from hub.influx import InfluxClient, InfluxConfig
from tests.hub.feeds.helpers import NOW, body

from .hubproc import AlertWatch, Gateway, wait_for, write_config


def test_forecast_feed_to_store_and_rule(
    mosquitto: Mosquitto, influxd: Influxd, httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/v1/forecast").respond_with_data(
        body("openmeteo-forecast-2pts.json"), content_type="application/json"
    )
    feed = {"kind": "openmeteo", "name": "cma", "base_url": httpserver.url_for("/v1/forecast"),
            "sites": ["fs-hp01", "fs-hp02"], "interval_s": 3600, "jitter_s": 0}  # fmt: skip
    rules = [str(Path(__file__).resolve().parents[2] / "deploy" / "fengshan" / "rules" / "flash_flood.yaml")]
    cfg_path = write_config(
        tmp_path,
        "hubF",
        mosquitto.port,
        influxd.url,
        "ews",
        feeds=[feed],
        rules=rules,
        rebuild_on_start=False,
    )
    watch, gw = AlertWatch(mosquitto.port), Gateway(mosquitto.port, "fs-gw01")
    hub = Hub(load_hub_config(cfg_path), clock=lambda: NOW)
    hub.start()
    try:
        assert hub.ingest is not None and hub.ingest.wait_connected()
        # 50 mm over the last 3 hours at fs-hp01: below every critical-rain threshold on its own
        gw.rain("fs-hp01-rg1", 5.0, [NOW - 10_800 + 1080 * i for i in range(1, 11)])
        client = InfluxClient(InfluxConfig(url=influxd.url, database="ews"))
        q = 'SELECT count("value") FROM "rain_mm" WHERE "source" = \'forecast\' GROUP BY "site", "issued"'
        assert wait_for(lambda: len(client.query(q)) == 2, 20), client.query(q)
        tags = sorted(s["tags"]["site"] for s in client.query(q))
        assert tags == ["fs-hp01", "fs-hp02"]
        assert all(s["tags"]["issued"].endswith("Z") for s in client.query(q))
        # forecast next 3 h at fs-hp01 = 0.4 + 2.1 + 8.6 mm; with 50 mm observed: 61 mm ≥ 55 → blue
        assert wait_for(
            lambda: any(m["rule"] == "flash-flood-forecast" and m["level"] == "blue" for m in watch.messages),
            20,
        ), watch.messages
        assert not any(m["site"] == "fs-hp02" for m in watch.messages)  # 8.6 mm forecast: below 10 mm
        assert (
            hub.feeds is not None
            and hub.feeds.status["cma"].ok_polls >= 1
            and hub.feeds.status["cma"].failing is None
        )
    finally:
        hub.stop()
        watch.close()
        gw.close()
