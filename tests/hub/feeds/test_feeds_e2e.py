"""End to end on real parts: a forecast fetched over HTTP by the feed runner is published to a real
mosquitto and arrives decodable; forecast readings of two issues land in a real influxd, both kept."""

from __future__ import annotations

import queue
from datetime import UTC, datetime

import pytest
from pytest_httpserver import HTTPServer

from edge.mqttlink import MqttConfig, make_client
from edge.wire import INGEST_SUBSCRIPTIONS, Reading, decode_batch, origin_of_topic
from ews.servers import Mosquitto
from hub.feeds import openmeteo
from hub.feeds.openmeteo import ForecastConfig, ForecastFeed
from hub.feeds.runner import FeedRunner, mqtt_publisher
from hub.influx import InfluxClient, InfluxConfig, line
from tests.hub.feeds.helpers import FENGSHAN, NOW, body


def test_forecast_published_to_mosquitto_decodes(httpserver: HTTPServer, mosquitto: Mosquitto) -> None:
    httpserver.expect_request("/v1/forecast").respond_with_data(
        body("openmeteo-forecast-2pts.json"), content_type="application/json"
    )
    cfg = MqttConfig.model_validate({"port": mosquitto.port})
    got: queue.Queue[tuple[str, bytes]] = queue.Queue()
    sub = make_client(cfg, "test-ingest")
    sub.on_message = lambda _c, _u, msg: got.put((msg.topic, bytes(msg.payload)))
    subscribed: queue.Queue[bool] = queue.Queue()
    sub.on_subscribe = lambda *_a: subscribed.put(True)
    sub.connect("127.0.0.1", mosquitto.port)
    sub.subscribe([(t, 1) for t in INGEST_SUBSCRIPTIONS])
    sub.loop_start()
    pub = make_client(cfg, "hub-feeds")
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    try:
        subscribed.get(timeout=5)
        feed = ForecastFeed(
            ForecastConfig(
                kind="openmeteo",
                name="om",
                base_url=httpserver.url_for("/v1/forecast"),
                sites=["fs-hp01", "fs-hp02"],
            )
        )
        runner = FeedRunner([feed], FENGSHAN, mqtt_publisher(pub), clock=lambda: NOW)
        runner.poll("om")
        topic, payload = got.get(timeout=5)
    finally:
        pub.loop_stop()
        pub.disconnect()
        sub.loop_stop()
        sub.disconnect()
    assert topic == "ews/v1/feed/om/readings" and origin_of_topic(topic) == "om"
    batch, errors = decode_batch(payload, topic)
    assert errors == [] and batch.origin == "om"
    rain = [r for r in batch.readings if r.quantity == "rain_mm"]
    assert len(rain) == 22
    first = min((r for r in rain if r.sensor == "om@fs-hp01"), key=lambda r: r.time)
    assert (first.value, first.time, first.issued, first.source) == (
        0.4,
        1718506800.0,
        1718503200.0,
        "forecast",
    )
    health = [r for r in batch.readings if r.quantity == "feed_ok"]
    assert [(h.sensor, h.value, h.source) for h in health] == [("om", 1.0, "health")]


def _lines(readings: list[Reading], origin: str) -> list[str]:
    """Readings as docs/schema.md stores them (the lead's hub/store does this in production)."""
    out = []
    for r in readings:
        tags = {"sensor": r.sensor, "site": r.sensor.split("@", 1)[1], "origin": origin,
                "source": r.source, "quality": r.quality}  # fmt: skip
        if r.issued is not None:
            tags["issued"] = datetime.fromtimestamp(r.issued, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append(line(r.quantity, tags, {"value": r.value, "seq": r.seq}, r.time))
    return out


def test_two_issues_of_the_same_valid_hour_are_both_kept(influx_db: tuple[str, str]) -> None:
    url, db = influx_db
    client = InfluxClient(InfluxConfig.model_validate({"url": url, "database": db}))
    client.create_database()
    cfg = ForecastConfig(kind="openmeteo", name="om")
    raw = body("openmeteo-forecast-2pts.json")
    first = openmeteo.parse(raw, FENGSHAN[:2], NOW, cfg).readings
    # The next hour's issue says more rain for the same valid hours (same body, values scaled).
    second = [
        Reading(r.sensor, r.quantity, r.value * 1.5, r.time, r.seq, r.quality, r.source, r.issued)
        for r in openmeteo.parse(raw, FENGSHAN[:2], NOW + 3600, cfg).readings
    ]
    client.write(_lines(first, "om") + _lines(second, "om"))

    valid = 1718517600.0  # 06:00Z (rain of 05–06Z), in both issues
    series = client.query(
        f"SELECT value FROM rain_mm WHERE sensor = 'om@fs-hp01' AND time = {int(valid)}s GROUP BY issued"
    )
    by_issue = {s["tags"]["issued"]: s["values"][0][1] for s in series}
    assert by_issue == {"2024-06-16T02:00:00Z": 15.2, "2024-06-16T03:00:00Z": pytest.approx(15.2 * 1.5)}
    # Newest issue for the next 6 h after the second poll: what a forecast rule sums.
    newest = client.query(
        "SELECT sum(value) FROM rain_mm WHERE sensor = 'om@fs-hp01' AND issued = '2024-06-16T03:00:00Z' "
        f"AND time > {int(NOW + 3600)}s AND time <= {int(NOW + 3600 + 6 * 3600)}s"
    )
    assert newest[0]["values"][0][1] == pytest.approx((2.1 + 8.6 + 15.2 + 22.8 + 30.5 + 18.4) * 1.5)
