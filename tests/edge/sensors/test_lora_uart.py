"""LoRa UART framing and the gateway driver over a socat pty, with lost packets, lost acks and bad bytes."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.sensors.lora_frame import (
    ACK,
    DATA,
    Dedupe,
    LoraFrame,
    LoraFrameError,
    Record,
    Scanner,
    decode,
    decode_payload,
    encode,
    encode_payload,
)
from edge.sensors.lora_uart import LoraUartConfig, LoraUartGateway
from edge.wire import Reading
from ews.devices.lora_node import LoraNodeSim
from ews.devices.pty import PtyPair

NOW = 1_784_509_200.0


def test_frame_layout_by_hand() -> None:
    raw = encode(LoraFrame(ACK, 0x0102, 0x0304, b""))
    # EB 90 | 11 = version 1, type ACK | 01 02 node | 03 04 seq | 00 length | CRC-16/MODBUS of 11..00
    assert raw[:8] == bytes.fromhex("EB90110102030400")
    assert decode(raw) == LoraFrame(ACK, 0x0102, 0x0304, b"")
    payload = encode_payload(30, [Record("crack_mm", 12.345), Record("battery_v", 3.6)])
    # age 001E | 02 FD 00003039 (12345 x 10^-3) | 09 FD 00000E10
    assert payload == bytes.fromhex("001E02FD0000303909FD00000E10")
    assert decode_payload(payload) == (30, [Record("crack_mm", 12.345), Record("battery_v", 3.6)])


def test_scanner_skips_noise_and_bad_crc() -> None:
    good = encode(LoraFrame(DATA, 7, 1, encode_payload(0, [Record("tilt_deg", 0.5)])))
    bad = bytearray(good)
    bad[10] ^= 1
    items = Scanner().feed(b"\x00+++AT\r\n" + bytes(bad) + good)
    frames = [i for i in items if isinstance(i, tuple)]
    assert [f.seq for f, _ in frames] == [1]
    assert any("CRC" in str(i) for i in items if isinstance(i, LoraFrameError))


def test_dedupe_window_and_reboot() -> None:
    d = Dedupe()

    def take(seq: int, first: bool = False) -> bool:
        frame = LoraFrame(DATA, 1, seq, b"", first)
        new = d.is_new(frame)
        if new:
            d.remember(frame)
        return new

    assert take(0, True) and not take(0, True)  # retransmitted boot frame
    assert take(1) and not take(1)
    assert take(0, True)  # the node rebooted: seq 0 again is new


def test_no_ack_and_no_loss_when_the_agent_cannot_take_readings() -> None:
    cfg = LoraUartConfig.model_validate(
        {
            "kind": "lora_uart",
            "id": "fs-lora",
            "site": "fs-hp01",
            "port": "/dev/null",
            "nodes": {8: {"sensor": "fs-hp01-rg2"}},
        }
    )
    gw = cfg.build(clock=lambda: NOW)
    assert isinstance(gw, LoraUartGateway)
    got: list[Reading] = []

    def broken(_r: Reading) -> None:
        raise OSError("disk full")

    def frame(seq: int, total: float) -> LoraFrame:
        return LoraFrame(DATA, 8, seq, encode_payload(0, [Record("rain_total_mm", total)]), first=seq == 0)

    assert gw.handle(frame(0, 10.0), b"", got.append) is not None
    assert gw.handle(frame(1, 12.5), b"", broken) is None  # not acked: the node will send it again
    assert gw.handle(frame(1, 12.5), b"", got.append) is not None
    assert [(r.quantity, r.value) for r in got] == [("rain_mm", 0.0), ("rain_mm", 2.5)]


@pytest.fixture
def link() -> Iterator[tuple[LoraUartGateway, LoraNodeSim, queue.Queue[Reading]]]:
    with PtyPair() as pty:
        cfg = LoraUartConfig.model_validate(
            {
                "kind": "lora_uart",
                "id": "fs-lora",
                "site": "fs-hp01",
                "port": pty.host,
                "mode": "fixed",
                "channel": 23,
                "rssi_byte": True,
                "period_s": 60,
                "nodes": {7: {"sensor": "fs-hp01-cr1"}, 8: {"sensor": "fs-hp01-rg2"}},
            }
        )
        gw = cfg.build(clock=lambda: NOW)
        assert isinstance(gw, LoraUartGateway)
        got: queue.Queue[Reading] = queue.Queue()
        gw.start(got.put)
        assert gw.connected.wait(5)
        node = LoraNodeSim(pty.device, 7)
        node.rssi_byte = 256 - 97
        try:
            yield gw, node, got
        finally:
            node.close()
            gw.stop()


def drain(q: queue.Queue[Reading], timeout: float = 0.3) -> list[Reading]:
    out: list[Reading] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            out.append(q.get(timeout=0.02))
        except queue.Empty:
            pass
    return out


def test_node_to_gateway_with_losses(link: tuple[LoraUartGateway, LoraNodeSim, queue.Queue[Reading]]) -> None:
    gw, node, got = link
    assert node.send([Record("crack_mm", 12.5)], age_s=5) == 1
    assert node.received[:3] == bytes([0, 7, 23])  # fixed mode: ack addressed to node 7 on channel 23
    rs = drain(got)
    assert [(r.sensor, r.quantity, r.value, r.time) for r in rs] == [
        ("fs-hp01-cr1", "crack_mm", 12.5, NOW - 5),
        ("fs-hp01-cr1", "signal_dbm", -97.0, NOW),
    ]
    node.lose_next = 2  # two transmissions lost in the air: the third gets through
    assert node.send([Record("crack_mm", 12.75)]) == 3
    node.lose_acks = 1  # the gateway's ack is lost: the node retransmits, the gateway acks but emits once
    node.corrupt_next = 1
    assert node.send([Record("crack_mm", 13.0)]) == 3  # corrupted, then ack lost, then acked duplicate
    values = [r.value for r in drain(got) if r.quantity == "crack_mm"]
    assert values == [12.75, 13.0]
    assert gw.stats["duplicates"] == 1 and gw.stats["bad"] >= 1


@given(st.binary(max_size=80))
def test_random_bytes_never_raise(data: bytes) -> None:
    Scanner(trailer=1).feed(data)
    for parse in (decode, decode_payload):
        try:
            parse(data)
        except LoraFrameError:
            pass


def test_noise_posing_as_a_long_frame_does_not_hold_back_real_ones() -> None:
    good = encode(LoraFrame(DATA, 7, 5, encode_payload(0, [Record("crack_mm", 1.0)])))
    fake = bytes.fromhex("EB901000070001C8")  # version 1, DATA, length 200: never completes
    items = Scanner().feed(fake + good)
    assert [f.seq for f, _ in (i for i in items if isinstance(i, tuple))] == [5]
