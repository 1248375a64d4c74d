"""The SL 651 centre: stations dial in over TCP on loopback, or talk over a socat pty; M2 acks; readings."""

from __future__ import annotations

import calendar
import logging
import queue
from pathlib import Path

import pytest

from edge.sensors.base import ListeningSensor
from edge.sensors.registry import SENSOR_KINDS
from edge.sensors.sl651 import SL651Centre
from edge.sensors.sl651_body import parse_report
from edge.sensors.sl651_codec import parse_frame
from edge.sensors.sl651_encode import encode_hex
from edge.wire import Reading
from ews.devices.pty import PtyPair
from ews.devices.sl651_station import SerialLink, Station, TcpLink, bcd, hex_body
from tests.edge.sensors.reading_queue import drain

T0 = calendar.timegm((2026, 7, 20, 1, 0, 0, 0, 0, 0))  # 09:00 Beijing time
NOW = T0 + 30


def centre(**kw: object) -> SL651Centre:
    doc = {
        "kind": "sl651",
        "id": "fs-sl651",
        "site": "fs-hp02",
        "tcp_port": 0,
        "host": "127.0.0.1",
        "stations": {"0012345678": "fs-hp02-rg1", "0012345679": "fs-hp02-wl1"},
        "period_s": 300,
    }
    cfg = SENSOR_KINDS["sl651"].model_validate({**doc, **kw})
    sensor = cfg.build(clock=lambda: NOW)  # type: ignore[attr-defined]
    assert isinstance(sensor, ListeningSensor) and isinstance(sensor, SL651Centre)
    return sensor


@pytest.mark.parametrize("encoding", ["hex", "ascii"])
def test_tcp_centre_emits_acks_and_dedupes(encoding: str) -> None:
    c = centre()
    got: queue.Queue[Reading] = queue.Queue()
    c.start(got.put)
    try:
        assert c.address is not None
        link = TcpLink(*c.address)
        st = Station("0012345678", encoding=encoding)
        # first report: PT baseline (increment 0), water level and battery
        ack1 = link.send(st.report(0x32, T0, [("PT", 100.0), ("Z", 1.234), ("VT", 12.6)]))
        assert ack1 is not None
        a = parse_frame(ack1)
        assert (a.direction, a.function, a.station, a.end) == ("down", 0x32, "0012345678", 0x1B)
        assert parse_report(a).serial == 1 and parse_report(a).send_time == NOW
        first = {(r.quantity, r.value, r.time) for r in drain(got, 3)}
        assert first == {("rain_mm", 0.0, T0), ("water_level_m", 1.234, T0), ("battery_v", 12.6, T0)}
        # five minutes later 7.5 mm more: an increment
        frame2 = st.report(0x33, T0 + 300, [("PT", 107.5)])
        assert link.send(frame2) is not None
        assert [(r.sensor, r.quantity, r.value, r.time) for r in drain(got, 1)] == [
            ("fs-hp02-rg1", "rain_mm", 7.5, T0 + 300)
        ]
        # the station missed our ack and sends the same frame again: acked again, not counted twice
        assert link.send(frame2) is not None
        assert drain(got, 1, timeout=0.3) == []
        assert c.stats["duplicates"] == 1
        link.close()
        assert c.alive()  # the accept loop, which the agent's watchdog check asks about
    finally:
        c.stop()
    assert not c.alive()


def test_unknown_station_and_garbage_are_counted_not_acked() -> None:
    c = centre()
    got: queue.Queue[Reading] = queue.Queue()
    c.start(got.put)
    try:
        assert c.address is not None
        link = TcpLink(*c.address)
        stranger = Station("9999999999")
        link.send(stranger.report(0x32, T0, [("PJ", 1.0)]), wait_ack=False)
        known = Station("0012345679", cls="H")
        noisy = b"\x00garbage\x7e" + known.report(0x32, T0, [("Z", 2.5)])
        assert link.send(noisy) is not None
        assert [(r.sensor, r.quantity, r.value) for r in drain(got, 1)] == [
            ("fs-hp02-wl1", "water_level_m", 2.5)
        ]
        assert c.stats["unknown_station"] == 1  # and it got no ack: the station keeps its data
        assert c.stats["bad"] >= 2
        link.close()
    finally:
        c.stop()


def test_serial_line_station_over_a_pty() -> None:
    with PtyPair() as pty:
        c = centre(transport="serial", port=pty.host, rain="PJ")
        got: queue.Queue[Reading] = queue.Queue()
        c.start(got.put)
        assert c.connected.wait(5)
        link = SerialLink(pty.device)
        try:
            st = Station("0012345678")
            ack = link.send(st.report(0x32, T0, [("PJ", 3.5), ("PT", 50.0)]))
            assert ack is not None and parse_frame(ack).function == 0x32
            assert [(r.quantity, r.value) for r in drain(got, 1)] == [("rain_mm", 3.5)]
            assert drain(got, 1, timeout=0.2) == []  # PT is not rain when rain comes from PJ
        finally:
            link.close()
            c.stop()


def test_rain_counter_reset_on_station_reboot_is_suspect() -> None:
    c = centre()
    emitted: list[Reading] = []
    st = Station("0012345678")
    for i, pt in enumerate([500.0, 502.0, 0.4]):
        frame = parse_frame(st.report(0x32, T0 + 300 * i, [("PT", pt)]))
        c.handle(frame, "test", emitted.append)
    assert [(r.value, r.quality) for r in emitted] == [(0.0, "good"), (2.0, "good"), (0.4, "suspect")]


def test_no_ack_and_no_loss_when_the_agent_cannot_take_readings() -> None:
    c = centre()
    got: list[Reading] = []
    st = Station("0012345678")

    def broken(_r: Reading) -> None:
        raise OSError("disk full")

    first = parse_frame(st.report(0x32, T0, [("PT", 10.0)]))
    second = parse_frame(st.report(0x32, T0 + 300, [("PT", 14.5)]))
    assert c.handle(first, "test", got.append) is not None
    assert c.handle(second, "test", broken) is None  # no M2: the station retransmits
    assert c.handle(second, "test", got.append) is not None
    assert [(r.value, r.quality) for r in got] == [(0.0, "good"), (4.5, "good")]


def test_silent_dtu_connection_is_closed() -> None:
    c = centre(idle_timeout_s=0.3)
    c.start(lambda _r: None)
    try:
        assert c.address is not None
        link = TcpLink(*c.address)
        link.sock.settimeout(3)
        assert link.sock.recv(16) == b""  # the centre hung up on the half-open connection
        link.close()
    finally:
        c.stop()


def test_pt_baseline_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "sl651.json"
    st = Station("0012345678")
    got: list[Reading] = []
    c = centre(state_file=str(state))
    c.handle(parse_frame(st.report(0x32, T0, [("PT", 100.0)])), "test", got.append)
    again = centre(state_file=str(state))  # the agent restarted
    again.handle(parse_frame(st.report(0x32, T0 + 3600, [("PT", 131.5)])), "test", got.append)
    assert [(r.value, r.quality) for r in got] == [(0.0, "good"), (31.5, "good")]


@pytest.mark.parametrize("encoding", ["hex", "ascii"])
def test_alarm_bits_in_zt_do_not_cost_the_report(encoding: str) -> None:
    # ZT is 32 status bits; 0x0C (water level and flow over their limits) is not BCD, and the whole
    # report (water level, rain, battery) was once rejected and never acknowledged: exactly in a flood.
    c = centre(quantities={"Z": "water_level_m", "VT": "battery_v", "ZT": "station_status"})
    got: queue.Queue[Reading] = queue.Queue()
    c.start(got.put)
    try:
        assert c.address is not None
        link = TcpLink(*c.address)
        st = Station("0012345679", cls="H", encoding=encoding)
        assert link.send(st.report(0x32, T0, [("PT", 123.4), ("Z", 12.345), ("VT", 12.5), ("ZT", 0x0C)]))
        assert {(r.quantity, r.value) for r in drain(got, 4)} == {
            ("rain_mm", 0.0),
            ("water_level_m", 12.345),
            ("battery_v", 12.5),
            ("station_status", 12.0),
        }
        assert c.stats["bad"] == 0 and c.stats["bad_elements"] == 0
        link.close()
    finally:
        c.stop()


def test_an_element_that_cannot_be_decoded_is_skipped_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    c = centre()
    got: list[Reading] = []
    for serial_no in (1, 2):
        body = hex_body(serial_no, T0, "0012345679", "H", T0, [("Z", 2.5)])
        body += bytes([0xFF, 0x0A, 0x10, 0xAB, 0xCD])  # a vendor's own element FF0A, 2 bytes, not BCD
        body += bytes([0x38, 0x12]) + bcd(12.5, 2, 2)  # VT after it: the parser must stay in step
        frame = encode_hex(up=True, centre=1, station="0012345679", password="A000", function=0x32, body=body)
        with caplog.at_level(logging.WARNING, logger="edge.sensors.sl651"):
            assert c.handle(parse_frame(frame), "test", got.append) is not None  # acknowledged
    assert [(r.quantity, r.value) for r in got] == [("water_level_m", 2.5), ("battery_v", 12.5)] * 2
    assert c.stats["bad_elements"] == 2 and c.stats["bad"] == 0
    logged = [r.getMessage() for r in caplog.records if "element skipped" in r.getMessage()]
    assert len(logged) == 1 and "station=0012345679" in logged[0] and "FF0A" in logged[0]


def test_station_clock_set_back_keeps_counting_rain() -> None:
    # The station's clock ran 8 h fast (UTC taken for Beijing time) and is corrected. Its PT totals
    # then arrive with times before the baseline's: they were all dropped until the clock caught up,
    # and those 8 h of rain then came as one implausible jump, thrown away.
    c = centre()
    st = Station("0012345678")
    got: list[Reading] = []
    c.handle(parse_frame(st.report(0x32, T0 + 8 * 3600, [("PT", 100.0)])), "test", got.append)
    for k in range(1, 13):  # 14.4 mm/h, a report every 5 minutes
        c.handle(parse_frame(st.report(0x33, T0 + 300 * k, [("PT", 100 + 1.2 * k)])), "test", got.append)
    assert [(r.value, r.quality) for r in got] == [(0.0, "good"), (1.2, "suspect")] + [(1.2, "good")] * 11
    assert got[-1].time == T0 + 3600
    # an hourly report from earlier in that hour arrives late: its rain is in the totals already
    late = parse_frame(st.report(0x34, T0 + 1800, [("PT", 106.0)]))
    assert c.handle(late, "test", got.append) is not None
    assert len(got) == 13 and c.stats["late_totals"] == 1


def test_unquoted_station_address_in_yaml_is_a_clear_config_error() -> None:
    import yaml
    from pydantic import ValidationError

    doc = yaml.safe_load("stations: {0012345670: fs-hp02-rg1}")  # YAML 1.1 reads this as octal
    with pytest.raises(ValidationError, match="quoted"):
        centre(stations=doc["stations"])
