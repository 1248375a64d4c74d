"""Contract suite for the store-and-forward buffer (in the style of Telegraf's models/buffer_test.go).

Every buffer implementation must pass these; `make_outbox` is the one place to add another.
The outbox under test is the real SQLite file on disk in a temporary directory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.outbox import Outbox, OutboxError
from edge.wire import Reading

MakeOutbox = Callable[..., Outbox]


@pytest.fixture
def make_outbox(tmp_path: Path) -> Iterator[MakeOutbox]:
    opened: list[Outbox] = []

    def make(max_readings: int = 1000, name: str = "outbox.db") -> Outbox:
        box = Outbox(tmp_path / name, max_readings=max_readings)
        opened.append(box)
        return box

    yield make
    for box in opened:
        box.close()


def rd(
    sensor: str = "fs-hp01-rg1", t: float = 1_780_000_000.0, v: float = 0.5, q: str = "rain_mm"
) -> Reading:
    return Reading(sensor, q, v, t)


def test_add_assigns_strictly_increasing_seq(make_outbox: MakeOutbox) -> None:
    box = make_outbox()
    out = box.add([rd(t=1), rd(t=2)]) + box.add([rd(t=3)])
    seqs = [r.seq for r in out]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3 and seqs[0] >= 1
    assert box.count() == 3


def test_add_empty_is_noop(make_outbox: MakeOutbox) -> None:
    box = make_outbox()
    assert box.add([]) == []
    assert box.count() == 0


def test_take_batch_returns_backlog_in_seq_order_and_respects_n(make_outbox: MakeOutbox) -> None:
    box = make_outbox()
    added = box.add([rd(t=i) for i in range(10)])
    first = box.take_batch(4)
    second = box.take_batch(4)
    third = box.take_batch(4)
    assert [r.seq for r in first + second + third] == [r.seq for r in added]
    assert len(first) == 4 and len(third) == 2
    assert box.take_batch(4) == []  # everything is in flight


def test_round_trip_keeps_every_field(make_outbox: MakeOutbox) -> None:
    box = make_outbox()
    r = Reading("fs-gw01-health", "battery_v", 12.6, 1_780_000_001.25, 0, "suspect", "health", None)
    f = Reading("cma@fs-hp01", "rain_mm", 42.0, 1_780_003_600.0, 0, "good", "forecast", 1_780_000_000.0)
    added = box.add([r, f])
    got = box.take_batch(10)
    assert got == added
    assert got[0].quality == "suspect" and got[1].issued == 1_780_000_000.0


def test_ack_removes_and_release_returns(make_outbox: MakeOutbox) -> None:
    box = make_outbox()
    box.add([rd(t=i) for i in range(6)])
    a = box.take_batch(3)
    b = box.take_batch(3)
    assert box.ack(r.seq for r in a) == 3
    assert box.count() == 3
    box.release(r.seq for r in b)
    again = box.take_batch(10)
    assert [r.seq for r in again] == [r.seq for r in b]
    assert box.ack([r.seq for r in again]) == 3
    assert box.count() == 0
    assert box.ack([again[0].seq]) == 0  # a duplicate PUBACK is harmless


def test_release_all_after_link_loss_resends_everything_unacked(make_outbox: MakeOutbox) -> None:
    box = make_outbox()
    added = box.add([rd(t=i) for i in range(5)])
    box.ack([r.seq for r in box.take_batch(2)])
    box.take_batch(10)
    box.release()
    assert [r.seq for r in box.take_batch(10)] == [r.seq for r in added[2:]]


def test_seq_persists_across_reopen_even_when_empty(make_outbox: MakeOutbox) -> None:
    box = make_outbox(name="persist.db")
    added = box.add([rd(t=1), rd(t=2)])
    box.ack([r.seq for r in box.take_batch(10)])
    box.close()
    box2 = make_outbox(name="persist.db")
    assert box2.count() == 0
    later = box2.add([rd(t=3)])
    assert later[0].seq > added[-1].seq
    assert box2.last_seq() == later[0].seq


def test_the_stream_is_the_files_own_and_outlives_a_reopen(make_outbox: MakeOutbox) -> None:
    """Sequence numbers count in one file; its stream tells the hub a new file's 1 from the old one's."""
    box = make_outbox(name="a.db")
    stream = box.stream
    box.close()
    again = make_outbox(name="a.db")
    assert again.stream == stream > 0
    fresh = make_outbox(name="b.db")  # a new SD card
    assert fresh.add([rd()])[0].seq == 1
    assert fresh.stream not in (0, stream) and fresh.stream < 2**63


def test_unacked_readings_survive_reopen(make_outbox: MakeOutbox) -> None:
    box = make_outbox(name="survive.db")
    added = box.add([rd(t=i) for i in range(5)])
    box.take_batch(3)  # in flight, never acked: the process "dies"
    box.close()
    box2 = make_outbox(name="survive.db")
    assert box2.count() == 5
    assert box2.take_batch(10) == added


def test_fresh_first_gives_newest_of_each_series_then_backlog(make_outbox: MakeOutbox) -> None:
    box = make_outbox()
    added = box.add(
        [rd("a", t=1), rd("b", t=1), rd("a", t=2), rd("b", t=2, q="battery_v"), rd("a", t=3), rd("b", t=3)]
    )
    fresh = box.take_batch(10, fresh_first=True)
    newest = {
        ("a", "rain_mm"): added[4].seq,
        ("b", "rain_mm"): added[5].seq,
        ("b", "battery_v"): added[3].seq,
    }
    assert {(r.sensor, r.quantity): r.seq for r in fresh} == newest
    backlog = box.take_batch(10)
    assert [r.seq for r in backlog] == [added[i].seq for i in (0, 1, 2)]


def test_fresh_first_respects_n_and_skips_in_flight(make_outbox: MakeOutbox) -> None:
    box = make_outbox()
    box.add([rd(f"s{i}", t=i) for i in range(5)])
    first = box.take_batch(2, fresh_first=True)
    second = box.take_batch(10, fresh_first=True)
    assert len(first) == 2 and len(second) == 3
    assert not {r.seq for r in first} & {r.seq for r in second}


def test_full_drops_oldest_routine_never_newest_of_a_sensor(make_outbox: MakeOutbox) -> None:
    box = make_outbox(max_readings=5)
    old_b = box.add([rd("b", t=0)])  # b's only reading: the newest of b, must survive
    a = box.add([rd("a", t=i) for i in range(1, 8)])
    assert box.count() == 5
    assert box.dropped == 3
    kept = box.take_batch(10)
    assert old_b[0] in kept
    assert [r.seq for r in kept if r.sensor == "a"] == [r.seq for r in a[-4:]]
    assert box.dropped_by_sensor() == {"a": 3}


def test_full_never_drops_event_readings(make_outbox: MakeOutbox) -> None:
    box = make_outbox(max_readings=3)
    event = box.add([Reading("fs-gw01-autonomy", "relay_on", 1.0, 5.0, source="health")], routine=False)
    event2 = box.add([Reading("fs-gw01-autonomy", "relay_on", 0.0, 6.0, source="health")], routine=False)
    box.add([rd("a", t=i) for i in range(10)])
    kept = box.take_batch(10)
    assert event[0] in kept and event2[0] in kept
    assert box.count() == 3


def test_dropped_count_persists(make_outbox: MakeOutbox) -> None:
    box = make_outbox(max_readings=2, name="drops.db")
    box.add([rd(t=i) for i in range(5)])
    assert box.dropped == 3
    box.close()
    assert make_outbox(max_readings=2, name="drops.db").dropped == 3


def test_over_bound_when_nothing_droppable_still_accepts(make_outbox: MakeOutbox) -> None:
    """Losing an accepted newest reading is worse than exceeding the bound: it is kept and logged."""
    box = make_outbox(max_readings=2)
    out = box.add([rd(f"s{i}") for i in range(4)])
    assert box.count() == 4 and box.dropped == 0
    assert box.take_batch(10) == out


def test_wait_wakes_on_add(make_outbox: MakeOutbox) -> None:
    box = make_outbox()
    assert box.wait(0.01) is False
    woke = threading.Event()

    def waiter() -> None:
        if box.wait(5):
            woke.set()

    t = threading.Thread(target=waiter)
    t.start()
    box.add([rd()])
    t.join(5)
    assert woke.is_set()
    assert box.wait(0) is True


def test_concurrent_adders_get_unique_seqs(make_outbox: MakeOutbox) -> None:
    box = make_outbox(max_readings=10_000)
    results: list[list[Reading]] = []

    def adder(sensor: str) -> None:
        mine: list[Reading] = []
        for i in range(50):
            mine += box.add([rd(sensor, t=i)])
        results.append(mine)

    threads = [threading.Thread(target=adder, args=(f"s{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [r.seq for mine in results for r in mine]
    assert len(set(seqs)) == 200
    for mine in results:  # per-sensor order is seq order
        assert [r.seq for r in mine] == sorted(r.seq for r in mine)
    assert box.count() == 200


def test_on_disk_settings_are_wal_and_full_sync(make_outbox: MakeOutbox, tmp_path: Path) -> None:
    box = make_outbox(name="pragma.db")
    assert box._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_a_corrupt_page_makes_take_batch_raise_outbox_error(make_outbox: MakeOutbox, tmp_path: Path) -> None:
    """The class promises OutboxError; a raw sqlite3.Error from take_batch ended the publisher thread."""
    box = make_outbox(name="corrupt.db")
    box.add([rd(t=1_780_000_000.0 + i) for i in range(2000)])
    root = box._db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'readings'").fetchone()[0]
    size = box._db.execute("PRAGMA page_size").fetchone()[0]
    box.close()
    with open(tmp_path / "corrupt.db", "r+b") as f:  # an SD card returning garbage for the table's root
        f.seek((root - 1) * size)
        f.write(b"\xff" * size)
    box = make_outbox(name="corrupt.db")  # it opens: SQLite counts the rows from the intact index
    for fresh in (True, False):
        with pytest.raises(OutboxError, match="cannot read: database disk image is malformed"):
            box.take_batch(10, fresh_first=fresh)
    assert box.in_flight() == 0
