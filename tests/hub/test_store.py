"""The batched store against real influxd, including an outage: nothing is lost, spills are replayed."""

from pathlib import Path

from ews.servers import Influxd
from hub.influx import InfluxClient, InfluxConfig, line
from hub.store import Store, StoreConfig


def _lines(start: int, n: int) -> list[str]:
    return [
        line(
            "rain_mm",
            {"sensor": "fs-hp01-rg1", "site": "fs-hp01"},
            {"value": 0.5, "seq": i},
            1_700_000_000 + i,
        )
        for i in range(start, start + n)
    ]


def test_batches_reach_influxd(influx_db: tuple[str, str], tmp_path: Path) -> None:
    url, db = influx_db
    client = InfluxClient(InfluxConfig(url=url, database=db))
    client.create_database()
    store = Store(client, StoreConfig(spill_dir=tmp_path / "spill", batch_points=100, flush_interval_s=0.05))
    store.start()
    for i in range(0, 1000, 37):
        store.put(_lines(i, 37))
    assert store.flush(10)
    store.stop()
    assert client.count("rain_mm") == 1036  # 28 puts of 37 points
    assert store.written == 1036 and store.spilled == 0


def test_influxd_outage_spills_then_replays_everything(influxd: Influxd, tmp_path: Path) -> None:
    client = InfluxClient(InfluxConfig(url=influxd.url, database="outage", timeout_s=1))
    client.create_database()
    store = Store(
        client, StoreConfig(spill_dir=tmp_path / "spill", batch_points=50, flush_interval_s=0.05, retry_s=0.2)
    )
    store.start()
    store.put(_lines(0, 100))
    assert store.flush(10)
    influxd.stop()
    store.put(_lines(100, 300))  # arrives while InfluxDB is down
    import time

    deadline = time.monotonic() + 10
    while store.spilled < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.spilled >= 300
    assert list((tmp_path / "spill").glob("*.lp"))
    influxd.start()
    assert store.flush(30)
    store.stop()
    assert client.count("rain_mm") == 400
    assert not list((tmp_path / "spill").glob("*.lp"))


def test_stop_while_down_keeps_points_on_disk(tmp_path: Path) -> None:
    from ews.servers import free_port

    client = InfluxClient(InfluxConfig(url=f"http://127.0.0.1:{free_port()}", database="x", timeout_s=0.3))
    store = Store(client, StoreConfig(spill_dir=tmp_path / "spill", flush_interval_s=0.05, retry_s=0.1))
    store.start()
    store.put(_lines(0, 10))
    store.stop()
    on_disk = sum(len(p.read_text().splitlines()) for p in (tmp_path / "spill").glob("*.lp"))
    assert on_disk == 10
