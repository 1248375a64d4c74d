"""The stored history the hub's windows start from, against real influxd: read only once the points
spilled during an InfluxDB outage are back in it, and waited for at start-up."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from edge.wire import Reading, to_ms
from ews.servers import free_port
from hub.influx import InfluxClient, InfluxConfig
from hub.reading_lines import reading_line
from hub.rules.engine import Engine
from hub.rules.loader import load_ruleset
from hub.store import Store, StoreConfig
from hub.stored import StoredHistory

from .rules.helpers import DEPLOY

RAIN = "fs-hp01-rg1"


def _spilled_outage(spill: Path, now: float) -> list[Reading]:
    """60 mm over the last hour, put to a store whose InfluxDB is down: the points wait on disk."""
    down = InfluxClient(InfluxConfig(url=f"http://127.0.0.1:{free_port()}", database="x", timeout_s=0.3))
    store = Store(down, StoreConfig(spill_dir=spill, flush_interval_s=0.05, retry_s=0.1))
    store.start()
    rain = [Reading(RAIN, "rain_mm", 6.0, now - 300 * k, k + 1) for k in range(10, 0, -1)]
    store.put([reading_line(r, "fs-gw01", "fs-hp01") for r in rain])
    store.stop()
    assert list(spill.glob("*.lp"))
    return rain


def test_history_is_read_only_once_the_spilled_points_are_written(
    influx_db: tuple[str, str], tmp_path: Path
) -> None:
    """The hub went down during an InfluxDB outage; its last hour of rain is in spill files. Read at
    start-up before the writer replayed them, the history lacked that hour (shown here by reading it
    without the check): the windows forgot 60 mm. Now the read waits for the replay."""
    url, db = influx_db
    client = InfluxClient(InfluxConfig(url=url, database=db))
    client.create_database()
    now = time.time()
    spill = tmp_path / "spill"
    rain = _spilled_outage(spill, now)
    engine = Engine(load_ruleset([DEPLOY / "flash_flood.yaml"]))
    store = Store(client, StoreConfig(spill_dir=spill, flush_interval_s=0.05, retry_s=0.1))

    unchecked = StoredHistory(client, lambda: now, 0.0, threading.Event())
    assert unchecked.load(engine) == []  # what start-up read when it came before the replay
    stored = StoredHistory(client, lambda: now, 20.0, threading.Event(), store.spill_waiting)
    assert stored.load(engine) is None  # spilled points are not in InfluxDB yet
    store.start()
    try:
        history = stored.at_start(engine)  # waits for the writer's replay
    finally:
        store.stop()
    assert not stored.late
    assert sorted((r.sensor, r.time, r.value) for r in history) == [
        (r.sensor, to_ms(r.time), r.value) for r in rain
    ]


def test_start_up_gives_up_after_its_wait_and_says_the_windows_are_late(tmp_path: Path) -> None:
    """InfluxDB does not answer within history_wait_s: start-up goes on with empty windows and marks
    them late, and the ticker's next try is due at once, then every RETRY_S."""
    down = InfluxClient(InfluxConfig(url=f"http://127.0.0.1:{free_port()}", database="x", timeout_s=0.3))
    engine = Engine(load_ruleset([DEPLOY / "flash_flood.yaml"]))
    stored = StoredHistory(down, time.time, 1.0, threading.Event())
    started = time.monotonic()
    assert stored.at_start(engine) == [] and stored.late
    waited = time.monotonic() - started
    assert 0.5 <= waited < 10.0  # it asked again (after 0.5 s), and gave up near wait_s, not forever
    assert stored.due() and not stored.due()
