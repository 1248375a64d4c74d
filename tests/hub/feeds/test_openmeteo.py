"""Open-Meteo forecast, flood and marine bodies (recorded in the real response shape) → readings, purely."""

from __future__ import annotations

import json

import pytest

from hub.feeds import flood, marine, openmeteo
from hub.feeds.base import FeedError
from tests.hub.feeds.helpers import FENGSHAN, NOW, body

HP01, HP02, _HP03 = FENGSHAN
FORECAST = openmeteo.ForecastConfig(kind="openmeteo", name="om")
ISSUED = 1718503200.0  # NOW rounded down to the hour


def test_forecast_two_points_rain_and_probability() -> None:
    result = openmeteo.parse(body("openmeteo-forecast-2pts.json"), (HP01, HP02), NOW, FORECAST)
    rain = [r for r in result.readings if r.sensor == "om@fs-hp01" and r.quantity == "rain_mm"]
    # 12 hourly rows from 02:00Z; the 02:00 row (rain of 01–02Z) is in the past at 02:20 and left out.
    assert len(rain) == 11
    assert rain[0].time == ISSUED + 3600 and rain[0].value == 0.4
    assert sum(r.value for r in rain[:6]) == pytest.approx(0.4 + 2.1 + 8.6 + 15.2 + 22.8 + 30.5)
    assert {(r.source, r.issued) for r in result.readings} == {("forecast", ISSUED)}
    prob = [r for r in result.readings if r.sensor == "om@fs-hp02" and r.quantity == "rain_prob_pct"]
    assert prob[0].value == 40
    assert result.skipped == 0


def test_forecast_iso_times_nulls_are_skipped_and_counted() -> None:
    result = openmeteo.parse(body("openmeteo-forecast-iso.json"), (HP01,), NOW, FORECAST)
    assert [r.time for r in result.readings if r.quantity == "rain_mm"] == [
        ISSUED + 3600 * i for i in range(1, 6)
    ]
    assert result.skipped == 1  # the null probability


def test_forecast_model_suffixed_keys() -> None:
    doc = json.loads(body("openmeteo-forecast-iso.json"))
    hourly = doc["hourly"]
    hourly["precipitation_cma_grapes_global"] = hourly.pop("precipitation")
    hourly["precipitation_probability_cma_grapes_global"] = hourly.pop("precipitation_probability")
    result = openmeteo.parse(json.dumps(doc).encode(), (HP01,), NOW, FORECAST)
    assert len([r for r in result.readings if r.quantity == "rain_mm"]) == 5


def test_forecast_stale_when_no_hour_after_now() -> None:
    with pytest.raises(FeedError) as exc:
        openmeteo.parse(body("openmeteo-forecast-iso.json"), (HP01,), NOW + 86400, FORECAST, "src")
    assert exc.value.kind == "stale"


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"<html>502 Bad Gateway</html>", "not JSON"),
        (
            b'{"error":true,"reason":"Cannot initialize WeatherVariable from invalid String value"}',
            "Open-Meteo error",
        ),
        (b'{"hourly":{"time":[1],"precipitation":[1,2]}}', "wrong length"),
        (b'{"latitude":1}', "no 'hourly'"),
        (b"[]", "expected 1 location"),
    ],
)
def test_forecast_malformed_bodies(raw: bytes, fragment: str) -> None:
    with pytest.raises(FeedError) as exc:
        openmeteo.parse(raw, (HP01,), NOW, FORECAST, "http://om/v1/forecast")
    assert exc.value.kind == "malformed" and fragment in str(exc.value)
    assert exc.value.source == "http://om/v1/forecast"


def test_forecast_negative_rain_dropped() -> None:
    doc = json.loads(body("openmeteo-forecast-iso.json"))
    doc["hourly"]["precipitation"][2] = -1.0
    result = openmeteo.parse(json.dumps(doc).encode(), (HP01,), NOW, FORECAST)
    assert all(r.value >= 0 for r in result.readings)
    assert result.skipped == 2 and "negative" in result.notes[-1]


def test_flood_daily_discharge_valid_at_end_of_day() -> None:
    cfg = flood.FloodConfig(kind="flood", name="glofas")
    result = flood.parse(body("openmeteo-flood-2pts.json"), (HP01, HP02), NOW, cfg)
    q = [r for r in result.readings if r.sensor == "glofas@fs-hp02" and r.quantity == "river_discharge_m3s"]
    day0 = 1718496000.0  # 2024-06-16T00:00Z
    assert [r.time for r in q] == [day0 + 86400 * i for i in range(1, 6)]  # today ends after now: kept
    assert q[2].value == 214.9
    qmax = [r for r in result.readings if r.quantity == "river_discharge_max_m3s"]
    assert len(qmax) == 10 and max(r.value for r in qmax) == 305.2
    assert {r.issued for r in result.readings} == {NOW // 21600 * 21600}


def test_marine_land_point_nulls_give_a_note_not_an_error() -> None:
    cfg = marine.MarineConfig(kind="marine", name="sea")
    coast = FENGSHAN[0].__class__("zj-coast", 21.45, 111.05)
    result = marine.parse(body("openmeteo-marine-coast-and-land.json"), (coast, HP01), NOW, cfg)
    assert {r.sensor for r in result.readings} == {"sea@zj-coast"}
    assert {r.quantity for r in result.readings} == {
        "wave_height_m",
        "swell_wave_height_m",
        "sea_level_height_msl_m",
    }
    assert len(result.readings) == 15  # 5 future hours × 3 variables
    assert result.skipped == 15  # the land point's nulls
    assert any("fs-hp01" in n and "land point" in n for n in result.notes)


def test_request_params_one_call_for_all_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OM_KEY", "k-123")
    feed = openmeteo.ForecastFeed(
        openmeteo.ForecastConfig(kind="openmeteo", name="om", api_key_env="OM_KEY", forecast_hours=24)
    )
    params = feed.request(FENGSHAN)
    assert params["latitude"] == "24.6012,24.5958,24.5987"
    assert params["longitude"] == "112.5521,112.5603,112.5488"
    assert params["hourly"] == "precipitation,precipitation_probability"
    assert params["models"] == "cma_grapes_global" and params["apikey"] == "k-123"
    assert params["timeformat"] == "unixtime" and params["forecast_hours"] == "24"


def test_missing_api_key_env_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OM_KEY", raising=False)
    cfg = openmeteo.ForecastConfig(kind="openmeteo", name="om", api_key_env="OM_KEY")
    with pytest.raises(FeedError) as exc:
        openmeteo.ForecastFeed(cfg).request(FENGSHAN)
    assert exc.value.kind == "config" and "OM_KEY" in str(exc.value)
