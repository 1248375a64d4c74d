"""LoRa UART framing and the gateway driver over a socat pty, with lost packets, lost acks and bad bytes."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator

import pytest
import serial  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st

from edge.sensors import lora_uart
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


def gateway_config(port: str, nodes: dict[int, str]) -> LoraUartConfig:
    """A gateway on `port` for nodes (address -> sensor), at fs-hp01."""
    return LoraUartConfig.model_validate(
        {
            "kind": "lora_uart",
            "id": "fs-lora",
            "site": "fs-hp01",
            "port": port,
            "nodes": {k: {"sensor": v} for k, v in nodes.items()},
        }
    )


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
    cfg = gateway_config("/dev/null", {8: "fs-hp01-rg2"})
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


def test_a_late_older_rain_total_is_neither_counted_nor_taken_as_the_baseline() -> None:
    """A node keeps unacked frames and sends them later (age_s up to 18 h). Taking an older total as the
    baseline counted its rain twice: 40 -> 50 -> late 45 -> 51 mm gave 10 + 0 (suspect) + 6 mm."""
    cfg = gateway_config("/dev/null", {8: "rg"})
    now = [NOW]
    gw = LoraUartGateway(cfg, clock=lambda: now[0])
    got: list[Reading] = []

    def send(seq: int, total: float, age: int = 0) -> bytes | None:
        records = [Record("rain_total_mm", total), Record("battery_v", 3.6)]
        return gw.handle(
            LoraFrame(DATA, 8, seq, encode_payload(age, records), first=seq == 0), b"", got.append
        )

    send(0, 40.0)
    now[0] += 600
    send(2, 50.0)
    assert send(1, 45.0, age=300) is not None  # still acked: the node must stop sending it
    now[0] += 600
    send(3, 51.0)
    rain = [(r.value, r.quality) for r in got if r.quantity == "rain_mm"]
    assert rain == [(0.0, "good"), (10.0, "good"), (1.0, "good")]
    assert [r.time for r in got if r.quantity == "battery_v"][2] == NOW + 300  # the rest of the frame is kept
    assert gw.stats["late_totals"] == 1
    now[0] -= 8 * 3600  # the clock is set back 8 h: newer totals still count, in doubt, not skipped
    send(4, 53.0)
    assert [(r.value, r.quality) for r in got if r.quantity == "rain_mm"][-1] == (2.0, "suspect")


def test_a_failed_ack_write_reopens_the_port_and_the_listener_lives_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The ack write had no error handling: one failed write ended the listener thread for good."""
    opened: list[object] = []
    real_open = lora_uart.serial.serial_for_url

    def open_port(*a: object, **kw: object) -> object:
        port = real_open(*a, **kw)
        if not opened:  # the first opening's writes fail, as on a USB adapter dropping out

            def broken(_data: bytes) -> int:
                raise serial.SerialException("write failed: [Errno 5] Input/output error")

            port.write = broken
        opened.append(port)
        return port

    monkeypatch.setattr(lora_uart.serial, "serial_for_url", open_port)
    with PtyPair() as pty:
        cfg = gateway_config(pty.host, {7: "cr"})
        gw = LoraUartGateway(cfg, clock=lambda: NOW)
        got: queue.Queue[Reading] = queue.Queue()
        gw.start(got.put)
        node = LoraNodeSim(pty.device, 7)
        try:
            assert gw.connected.wait(5)
            assert node.send([Record("crack_mm", 12.5)]) == 2  # the first ack was never sent
            assert node.send([Record("crack_mm", 12.75)]) == 1
            assert [r.value for r in drain(got)] == [12.5, 12.75]  # the retransmission is not emitted again
            assert gw.alive() and len(opened) == 2 and gw.stats["duplicates"] == 1
        finally:
            node.close()
            gw.stop()
    assert not gw.alive()
