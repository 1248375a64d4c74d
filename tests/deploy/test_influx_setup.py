"""deploy/influxdb/setup.iql on real influxd: retention policies, downsampling CQs, idempotent reruns.

The CQs themselves only fire on the server's schedule (every 5 min / 1 h), so their exact query text is
run through `backfill` over a past hour of real points: the same SELECT ... INTO the server runs.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from types import ModuleType

import pytest

from hub.influx import InfluxClient, InfluxConfig, line

REPO = Path(__file__).resolve().parents[2]


def load_apply() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ews_influx_apply", REPO / "deploy/influxdb/apply.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def setup_mod() -> ModuleType:
    return load_apply()


@pytest.fixture
def client(influx_db: tuple[str, str]) -> InfluxClient:
    url, db = influx_db
    return InfluxClient(InfluxConfig.model_validate({"url": url, "database": db}))


def state(client: InfluxClient) -> tuple[object, object]:
    db = client.cfg.database
    rps = client.query(f'SHOW RETENTION POLICIES ON "{db}"', db=False)
    cqs = [s for s in client.query("SHOW CONTINUOUS QUERIES", db=False) if s["name"] == db]
    return rps, cqs


def test_policies_and_cqs_and_rerun_changes_nothing(setup_mod: ModuleType, client: InfluxClient) -> None:
    text = setup_mod.SETUP.read_text()
    first = setup_mod.apply(client, text)
    assert set(first.values()) == {"ok"}
    rps, cqs = state(client)
    by_name = {v[0]: v for v in rps[0]["values"]}  # type: ignore[index]
    assert by_name["raw"][1:] == ["2160h0m0s", "24h0m0s", 1, True]  # 90 days, the default
    assert by_name["ds_5m"][1] == by_name["ds_1h"][1] == "43800h0m0s"  # 5 years
    names = [v[0] for v in cqs[0]["values"]]  # type: ignore[index]
    assert names == ["cq_5m", "cq_1h"]
    again = setup_mod.apply(client, text)
    assert set(again.values()) == {"ok"}
    assert state(client) == (rps, cqs)


def test_drifted_policy_and_cq_are_brought_back(setup_mod: ModuleType, client: InfluxClient) -> None:
    db = client.cfg.database
    client.create_database()
    client.query(f'CREATE RETENTION POLICY "raw" ON "{db}" DURATION 30d REPLICATION 1 DEFAULT', db=False)
    client.query(
        f'CREATE CONTINUOUS QUERY "cq_5m" ON "{db}" BEGIN SELECT max("value") INTO "{db}"."raw".:MEASUREMENT '
        f'FROM "{db}"."raw"."rain_mm" GROUP BY time(10m) END',
        db=False,
    )
    done = setup_mod.apply(client, setup_mod.SETUP.read_text())
    assert "altered" in done.values() and "replaced" in done.values()
    rps, cqs = state(client)
    assert ["raw", "2160h0m0s", "24h0m0s", 1, True] in rps[0]["values"]  # type: ignore[index]
    assert "time(5m)" in cqs[0]["values"][0][1]  # type: ignore[index]


def test_downsampling_keeps_tags_drops_bad_and_events(setup_mod: ModuleType, client: InfluxClient) -> None:
    text = setup_mod.SETUP.read_text()
    setup_mod.apply(client, text)
    base = (int(time.time()) // 3600 - 2) * 3600  # an hour-aligned hour well inside the 90 days
    tags = {"sensor": "fs-hp01-rg1", "site": "fs-hp01", "origin": "fs-gw01", "source": "sensor"}
    lines = []
    for i in range(60):
        bad = i == 7  # a bad reading (say a stuck bucket) must not count
        q = {**tags, "quality": "bad" if bad else "good"}
        lines.append(line("rain_mm", q, {"value": 100.0 if bad else 0.5, "seq": i}, base + 60 * i))
        lines.append(
            line("crack_mm", {**tags, "sensor": "fs-hp01-cr1"}, {"value": float(i), "seq": i}, base + 60 * i)
        )
    lines.append(line("alert", {"site": "fs-hp01", "rule": "r"}, {"level_num": 3, "value": 1.0}, base + 30))
    client.write(lines)
    assert setup_mod.backfill(client, text, base, base + 3600) == 2
    db = client.cfg.database
    five = client.query(f'SELECT "sum", "n", "mean" FROM "{db}"."ds_5m"."rain_mm" WHERE site = \'fs-hp01\'')
    rows = five[0]["values"]
    assert len(rows) == 12
    assert rows[0][1:] == [2.5, 5, 0.5]
    assert rows[1][1:] == [2.0, 4, 0.5]  # the bad reading left out
    hour = client.query(
        f'SELECT "sum", "n", "min", "max" FROM "{db}"."ds_1h"."crack_mm" GROUP BY "sensor", "origin"'
    )
    assert hour[0]["tags"] == {"sensor": "fs-hp01-cr1", "origin": "fs-gw01"}
    assert hour[0]["values"][0][1:] == [float(sum(range(60))), 60, 0.0, 59.0]
    assert client.query(f'SELECT * FROM "{db}"."ds_5m"."alert"') == []
