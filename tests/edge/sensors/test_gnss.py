"""GNSS displacement from RTKLIB ENU solution lines: pure parsing, window means, a pty and a TCP stream.

Lines follow RTKLIB's solution output with out-solformat=enu (RTKLIB manual, appendix B "solution file
format"): GPST time, e/n/u baseline in m, Q (1 fix, 2 float, 5 single), ns, sde/sdn/sdu, sden/sdnu/sdue, age,
ratio. Values here are made up to show a slope creeping 2 cm east and settling 5 mm.
"""

from __future__ import annotations

import calendar
import queue
import socket
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.sensors.gnss import GnssConfig, GnssError, GnssStation, Solution, displacement, parse_enu_line
from edge.wire import Reading
from ews.devices.pty import PtyPair
from tests.edge.sensors.reading_queue import drain

HEADER = "%  GPST                  e-baseline(m)  n-baseline(m)  u-baseline(m)   Q  ns   sde(m)   sdn(m)   sdu(m)  sden(m)  sdnu(m)  sdue(m) age(s)  ratio"


def line(sec: int, e: float, n: float, u: float, q: int = 1) -> str:
    return f"2026/07/20 01:00:{sec:06.3f}  {e:13.4f}  {n:13.4f}  {u:13.4f}   {q}  12   0.0030   0.0028   0.0081   0.0011  -0.0021   0.0014   1.00   12.3"


def test_parse_calendar_and_week_forms() -> None:
    s = parse_enu_line(line(18, 103.2451, -52.1187, 8.0312))
    assert s == Solution(calendar.timegm((2026, 7, 20, 1, 0, 0, 0, 0, 0)), 103.2451, -52.1187, 8.0312, 1, 12)
    w = parse_enu_line("2320 86418.000   1.0000   2.0000   3.0000   2   9", gpst=True)
    assert w is not None and w.time == 315964800 + 2320 * 604800 + 86400 and w.q == 2
    assert parse_enu_line(HEADER) is None
    with pytest.raises(GnssError):
        parse_enu_line("2026/07/20 01:00:00.000 abc 1 2 1 12")


def test_displacement_from_baseline() -> None:
    base = (100.0, -50.0, 8.0)
    sols = [
        Solution(0, 100.02, -50.0, 7.995, 1, 12),
        Solution(1, 100.0201, -50.0, 7.995, 1, 12),
        Solution(2, 99.0, -49.0, 9.0, 5, 4),
    ]
    got = {r.quantity: (r.value, r.quality) for r in displacement(sols, base, "fs-hp01-gn1", 60.0)}
    assert got["disp_mm"] == (20.05, "good") and got["disp_u_mm"] == (-5.0, "good")  # single solution ignored
    assert displacement([Solution(0, 100.0, -50.0, 8.0, 5, 4)], base, "x", 0) == []


def cfg(url: str) -> GnssConfig:
    return GnssConfig.model_validate(
        {
            "kind": "gnss",
            "id": "fs-hp01-gn1",
            "site": "fs-hp01",
            "url": url,
            "period_s": 10,
            "baseline_m": [103.2451, -52.1187, 8.0312],
        }
    )


def stream() -> bytes:
    rows = [HEADER, "garbage \x00\xff line"]
    rows += [
        line(18 + i, 103.2651, -52.1187, 8.0262) for i in range(10)
    ]  # GPST 01:00:18-27 = UTC 01:00:00-09
    rows += [line(28, 103.2651, -52.1187, 8.0262)]  # closes the first 10 s window
    return ("\r\n".join(rows) + "\r\n").encode("latin-1")


def check(rs: list[Reading]) -> None:
    got = {r.quantity: (r.value, r.time) for r in rs}
    t = calendar.timegm((2026, 7, 20, 1, 0, 10, 0, 0, 0))
    assert got["disp_mm"] == (20.0, t) and got["disp_e_mm"] == (20.0, t) and got["disp_u_mm"] == (-5.0, t)


def test_serial_stream_over_pty() -> None:
    with PtyPair() as pty:
        station = cfg(pty.host).build()
        assert isinstance(station, GnssStation)
        got: queue.Queue[Reading] = queue.Queue()
        station.start(got.put)
        try:
            assert station.connected.wait(5)  # opening a tty flushes its input: write after the open
            with open(pty.device, "wb", buffering=0) as dev:
                dev.write(stream())
                check(drain(got, 4))
            assert station.stats["bad"] == 1 and station.alive()
        finally:
            station.stop()
        assert not station.alive()


def test_tcp_stream_from_rtkrcv_style_server() -> None:
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.sendall(stream())
            time.sleep(1.0)

    threading.Thread(target=serve, daemon=True).start()
    station = cfg(f"socket://127.0.0.1:{port}").build()
    got: queue.Queue[Reading] = queue.Queue()
    station.start(got.put)
    try:
        check(drain(got, 4))
    finally:
        station.stop()
        srv.close()


@given(st.text(max_size=150))
def test_parser_raises_only_its_own_error(text: str) -> None:
    try:
        parse_enu_line(text)
    except GnssError:
        pass
