"""The batched store against real influxd, including an outage: nothing is lost, spills are replayed."""

import errno
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ews.servers import Influxd, Mosquitto
from hub.app import Hub
from hub.config import load_hub_config
from hub.influx import InfluxClient, InfluxConfig, line
from hub.store import Store, StoreConfig

from .hubproc import write_config


def _lines(start: int, n: int, t0: float = 1_700_000_000) -> list[str]:
    return [
        line(
            "rain_mm",
            {"sensor": "fs-hp01-rg1", "site": "fs-hp01"},
            {"value": 0.5, "seq": i},
            t0 + i,
        )
        for i in range(start, start + n)
    ]


def test_batches_reach_influxd(influx_db: tuple[str, str], tmp_path: Path) -> None:
    client = _client(influx_db)
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


def _client(influx_db: tuple[str, str]) -> InfluxClient:
    """A client of the fixture's influxd, its database created."""
    url, db = influx_db
    client = InfluxClient(InfluxConfig(url=url, database=db))
    client.create_database()
    return client


def _wait(cond: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not cond():
        time.sleep(0.02)
    return cond()


def test_a_lone_surrogate_is_escaped_and_the_writer_goes_on(
    influx_db: tuple[str, str], tmp_path: Path
) -> None:
    # JSON "\ud83d" is valid and decodes to a lone surrogate, which UTF-8 cannot carry: an operator app
    # that cut a name inside an emoji. The writer used to die on it, and nothing was written after.
    client = _client(influx_db)
    store = Store(client, StoreConfig(spill_dir=tmp_path / "spill", flush_interval_s=0.05))
    store.start()
    who = json.loads('"\\u674e\\ud83d"')
    store.put([line("command_audit", {"who": who}, {"verb": "ack", "detail": who}, 1_700_000_000)])
    assert store.flush(5)
    store.put(_lines(0, 50))
    assert store.flush(5)
    store.stop()
    assert client.count("rain_mm") == 50
    rows = client.query('SELECT "detail", "who" FROM "command_audit"')
    assert rows[0]["values"][0][1:] == ["李\\ud83d", "李\\ud83d"]  # kept visible, escaped
    assert store.escaped == 1 and store.rejected == 0


def test_a_torn_spill_file_is_replayed_without_its_cut_line(
    influx_db: tuple[str, str], tmp_path: Path
) -> None:
    # A power cut while spilling: a file from an older hub cut inside a character, and a .tmp of this one.
    client = _client(influx_db)
    spill = tmp_path / "spill"
    spill.mkdir()
    notice = line("hub_notice", {"kind": "new_outbox"}, {"detail": "序号重新从1开始"}, 1_700_000_000).encode()
    cut = notice[: notice.index("序".encode()) + 1]
    (spill / "00000000000000000001-0001.lp").write_bytes("\n".join(_lines(0, 10)).encode() + b"\n" + cut)
    tmp = spill / "00000000000000000002-0001.lp.tmp"
    tmp.write_bytes("".join(f"{text}\n" for text in _lines(10, 5)).encode() + _lines(15, 1)[0].encode()[:-4])
    store = Store(client, StoreConfig(spill_dir=spill, flush_interval_s=0.05))
    store.start()
    store.put(_lines(100, 50))
    assert store.flush(5)
    assert store.alive() and not store.spill_waiting()
    store.stop()
    assert client.count("rain_mm") == 65  # 10 + 5 whole lines of the two files, and the 50 after
    assert client.query('SELECT * FROM "hub_notice"') == []
    assert store.torn == 2 and not list(spill.glob("*.tmp"))


def test_a_refused_chunk_of_a_spill_file_does_not_lose_the_rest(influxd: Influxd, tmp_path: Path) -> None:
    # A spill file of 2101 points replayed in chunks of 100: one point is older than the 90-day policy
    # (a gateway back after a season offline), so InfluxDB 1.x refuses its chunk as a partial write.
    client = InfluxClient(InfluxConfig(url=influxd.url, database="rp"))
    client.create_database()
    client.query('CREATE RETENTION POLICY "raw" ON "rp" DURATION 90d REPLICATION 1 DEFAULT', db=False)
    now = time.time()
    old = line("rain_mm", {"sensor": "fs-hp09-rg1"}, {"value": 0.2}, now - 100 * 86400)
    batch = _lines(0, 2100, now - 3600)
    batch.insert(500, old)
    spill = tmp_path / "spill"
    spill.mkdir()
    (spill / "00000000000000000001-0001.lp").write_text("".join(f"{text}\n" for text in batch))
    store = Store(client, StoreConfig(spill_dir=spill, batch_points=100, flush_interval_s=0.05))
    store.start()
    assert store.flush(30)
    store.stop()
    assert client.count("rain_mm") == 2100
    assert store.written == 2100 and store.rejected == 1  # 99 of the refused chunk were written
    kept = [text for p in spill.glob("*.bad") for text in p.read_text().splitlines()]
    assert len(kept) == 100 and old in kept  # the refused chunk, for forensics


def test_a_full_disk_while_influxd_is_down_keeps_points_in_memory(
    influxd: Influxd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = InfluxClient(InfluxConfig(url=influxd.url, database="full", timeout_s=0.5))
    client.create_database()
    spill = tmp_path / "spill"
    cfg = StoreConfig(
        spill_dir=spill, batch_points=100, flush_interval_s=0.05, max_memory_points=1000, retry_s=0.2
    )
    store = Store(client, cfg)
    store.start()
    influxd.stop()
    store.put(_lines(0, 100))
    assert _wait(lambda: store.spilled == 100)

    def full(fd: int) -> None:  # the SD card fills up during a long InfluxDB outage
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    store.put(_lines(100, 3000))  # past max_memory_points: the writer tries to spill them, and fails
    time.sleep(1.5)
    assert store.alive() and store.spilled == 100
    assert not list(spill.glob("*.tmp"))  # no half-written file left to replay
    monkeypatch.undo()  # space again, and InfluxDB back
    influxd.start()
    assert store.flush(30)
    store.stop()
    assert client.count("rain_mm") == 3100


def test_a_missing_database_is_created_and_nothing_is_dropped(
    influx_db: tuple[str, str], tmp_path: Path
) -> None:
    # InfluxDB 1.x answers 404 "database not found": a wiped data dir, or influxd was not up when the hub
    # started and created it. That is not bad data: the points wait and the store creates the database.
    url, db = influx_db
    client = InfluxClient(InfluxConfig(url=url, database=db))
    store = Store(client, StoreConfig(spill_dir=tmp_path / "spill", flush_interval_s=0.05, retry_s=0.1))
    store.start()
    store.put(_lines(0, 50))
    assert store.flush(10)
    store.stop()
    assert client.count("rain_mm") == 50
    assert store.written == 50 and store.rejected == 0


class _AuthInfluxd(Influxd):
    """influxd with authentication on, as a deployment with an InfluxDB login has it."""

    def _argv(self) -> list[str]:
        argv = super()._argv()
        conf = self.workdir / "influxdb.conf"
        conf.write_text(conf.read_text().replace("[http]\n", "[http]\n  auth-enabled = true\n"))
        return argv


def test_refused_credentials_keep_the_points_until_the_login_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _AuthInfluxd(tmp_path / "influxd") as server:
        InfluxClient(InfluxConfig(url=server.url)).query(
            "CREATE USER ews WITH PASSWORD 'right' WITH ALL PRIVILEGES", db=False
        )
        monkeypatch.setenv("EWS_TEST_INFLUX_PW", "wrong")  # a password changed on one side only
        cfg = InfluxConfig(url=server.url, database="auth", username="ews", password_env="EWS_TEST_INFLUX_PW")
        client = InfluxClient(cfg)
        store = Store(client, StoreConfig(spill_dir=tmp_path / "spill", flush_interval_s=0.05, retry_s=0.1))
        store.start()
        store.put(_lines(0, 50))
        assert _wait(lambda: store.spilled == 50)
        monkeypatch.setenv("EWS_TEST_INFLUX_PW", "right")  # then 404: the store creates the database
        assert store.flush(10)
        store.stop()
        assert client.count("rain_mm") == 50 and store.rejected == 0


def test_the_hub_is_unhealthy_when_its_store_writer_is_not_running(
    mosquitto: Mosquitto, influx_db: tuple[str, str], tmp_path: Path
) -> None:
    url, db = influx_db
    hub = Hub(load_hub_config(write_config(tmp_path, "hubS", mosquitto.port, url, db)))
    hub.start()
    try:
        assert hub.ingest is not None and hub.ingest.wait_connected()
        assert hub.healthy()
        hub.store.stop()  # the writer thread ends: nothing reaches InfluxDB any more
        assert not hub.healthy()  # so the watchdog restarts the hub
    finally:
        hub.stop()
