"""Smoke run of the end-to-end bench so it cannot rot: real mosquitto, influxd, hub, generator, subscriber.

No assertion on speed (figures depend on the machine); the run must produce every figure, lose nothing,
duplicate nothing, agree with the reference on the fixed dataset and store every reading in InfluxDB.
The Node-RED peer is left out here (it comes from npm and takes seconds to start); the bench itself
reports when it is missing.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.e2e import check, ratios, run
from bench.e2e_table import table

SMOKE = {"sensors": 200, "rates": [20, 500], "seconds": 1.0, "low_seconds": 1.0, "storm": 20,
         "saturation": 5000, "batch": 500, "peer_rates": [], "floor_rates": [500]}  # fmt: skip


def _figures(lat: dict[str, Any]) -> None:
    assert lat["n"] > 0
    for k in ("p50", "p99", "p99_9", "max"):
        assert isinstance(lat[k], float) and math.isfinite(lat[k]) and lat[k] > 0, (k, lat)
    assert lat["p50"] <= lat["p99"] <= lat["p99_9"] <= lat["max"]


def _clean(step: dict[str, Any]) -> None:
    assert step["loss"] == 0 and step["duplicates"] == 0 and step["unexpected"] == 0, step
    assert step["received"] == step["alerts"] > 0


def test_bench_e2e_smoke(tmp_path: Path) -> None:
    notes: list[str] = []
    out = run(SMOKE, tmp_path, peer=False, say=notes.append)

    assert out["equivalence"]["equal"], out["equivalence"]
    assert [s["rate"] for s in out["ladder"]] == [20, 500]
    for step in out["ladder"]:
        _clean(step)
        _clean(step["decided"])
        _figures(step["latency_ms"])
        _figures(step["decided"]["latency_ms"])
        assert step["cpu"] > 0
        assert step["hub"]["readings"] == step["readings"]
    influx = out["ladder"][1]["influx"]
    assert influx["missing"] == 0 and influx["stored"] == out["ladder"][1]["readings"]
    assert math.isfinite(influx["max_unstored_age_s"])

    storm = out["storm"]
    _clean(storm)
    _figures(storm["latency_ms"])
    assert storm["clear_loss"] == 0 and storm["clear_duplicates"] == 0

    sat = out["saturation"]
    assert sat["readings"] == 5000 and sat["decided_per_s"] > 0 and sat["stored_per_s"] > 0

    floor = out["floor"]["ladder"][0]
    _clean(floor)
    _figures(floor["latency_ms"])

    assert out["influx_total"]["missing"] == 0 and out["influx_total"]["stored"] > 0
    assert out["peer"] == {"skipped": "--no-peer given"}
    assert ratios(out) == {}
    assert check(out) == []
    text = table(out)
    assert "hub delivered" in text and "Node-RED peer not run" in text
