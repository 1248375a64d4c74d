"""SL 651-2014 framing and bodies against recorded frames from independent public sources, decoded by hand.

Sources (frames copied as data, no code):
- CAP: a station capture published with comger/sl651 (github.com/comger/sl651, testdata.csv): station
  1090330853, centre 01, password A000, 2026-02-02; uplinks and the centre's M2 acknowledgements.
- FJ: the example frames of 福建省水文监测数据接入规定 V1.0 (Fujian hydrology data access rules, 2023),
  as collected in wainshine/SL651 (sl651-toolkit/examples/fujian_messages.txt). Some lines there carry a
  stray trailing 7E after the CRC, which we keep: it is exactly the garbage a resyncing reader must skip.
"""

from __future__ import annotations

import calendar

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from edge.sensors.sl651_body import describe, parse_report
from edge.sensors.sl651_codec import Frame, Scanner, SL651Error, crc16, parse_frame
from edge.sensors.sl651_encode import encode_ascii, encode_hex
from ews.devices.sl651_station import Station

CAP_2F = "7e7e011090330853a0002f000802009f26020209410003bde3"
CAP_32 = (
    "7e7e011090330853a00032004d02009e260202094021f1f1109033085350f0f026020209402219000000272b00000000003923"
    "00000138371b000000302b000004300020190000001f1900000026190000001a1900000038121197035f3c"
)
CAP_32_ACK = "7e7e109033085301a00032800802009e2602020940241b8c37"
CAP_34 = (
    "7e7e011090330853a000340079020094260202090031f1f1109033085350f0f02602020805f460ffffffffffffffffffffff00"
    "f0f02602020805f5c0ffffffffffffffffffffffffffffffffffffffffffff0011f0f0260202090020190000001a19000000"
    "2619000000272b0000000000392300000168371b000000302b00000430003812115503ff1f"
)
CAP_31 = (
    "7e7e011090330853a00031004e020096260202090033f1f1109033085350f0f0260202080504180000053923ffffffffffff"
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff0000017003a2bc"
)
FJ_32 = "7E7E1000123456781234320025020003140612020000F1F1001234567848F0F014061202002019000055071900021538121290033D9E"
FJ_33 = "7E7E011000000006000033002B022F7A221202131027F1F1100000000648F0F02212021310392300028960201900000026190031963812131703DAF1"
FJ_34 = (
    "7E7E0110000000060000340068022F7B221202131525F1F1100000000648F0F02212021220F460000000000000000000000000"
    "F0F022120213152619003196F0F02212021220F55C0A2D0A2D0A2D0A2D0A2D0A2D0A2D0A2D0A2D0A2D0AEC0AECF0F0221202"
    "131539230002896020190000003812131603329C7E"
)


def bj(y: int, mo: int, d: int, h: int, mi: int, s: int = 0) -> float:
    """Beijing time to UTC epoch."""
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) - 8 * 3600


def one(hexstr: str) -> Frame:
    items = Scanner().feed(bytes.fromhex(hexstr))
    frames = [i for i in items if isinstance(i, Frame)]
    assert len(frames) == 1, items
    return frames[0]


def values(frame: Frame) -> dict[str, list[tuple[float | None, float]]]:
    out: dict[str, list[tuple[float | None, float]]] = {}
    for ob in parse_report(frame).observations:
        out.setdefault(ob.ident, []).append((ob.value, ob.time))
    return out


def test_crc_is_modbus_sent_high_byte_first() -> None:
    raw = bytes.fromhex(CAP_2F)
    assert crc16(raw[:-2]) == 0xBDE3 and raw[-2:] == b"\xbd\xe3"


def test_keepalive_2f() -> None:
    f = one(CAP_2F)
    assert (f.direction, f.centre, f.station, f.password, f.function, f.crc_ok) == (
        "up",
        1,
        "1090330853",
        "A000",
        0x2F,
        True,
    )
    r = parse_report(f)
    assert r.serial == 0x9F and r.send_time == bj(2026, 2, 2, 9, 41, 0)
    assert r.observations == []


def test_timed_report_32_from_capture() -> None:
    # Hand decode: F1F1 1090330853 50('P' rain station) F0F0 2602020940; 22 19 000000 PN05 N(5,1)=0.0;
    # 39 23 00000138 Z N(7,3)=0.138 m; 20/1F/26/1A 19 000000 PJ/PD/PT/P1 = 0.0; 38 12 1197 VT N(4,2)=11.97 V
    f = one(CAP_32)
    r = parse_report(f)
    assert (r.serial, r.station_class, r.send_time) == (0x9E, "P", bj(2026, 2, 2, 9, 40, 21))
    v = values(f)
    t = bj(2026, 2, 2, 9, 40)
    assert v["Z"] == [(0.138, t)] and v["VT"] == [(11.97, t)]
    assert v["PN05"] == v["PJ"] == v["PT"] == v["P1"] == v["PD"] == [(0.0, t)]


def test_centre_ack_from_capture_is_a_downlink_with_same_serial() -> None:
    f = one(CAP_32_ACK)
    assert (f.direction, f.station, f.centre, f.function, f.end) == ("down", "1090330853", 1, 0x32, 0x1B)
    assert parse_report(f).serial == 0x9E


def test_hourly_report_34_with_drp_drz_blocks() -> None:
    # F4 60 + 12 bytes: 11 x FF (invalid) then 00 -> 0.0 mm for 08:55-09:00; F5 C0 + 12 x 2 bytes: FFFF x 11,
    # then 0011 = 17 x 0.01 m = 0.17 m. Observation time 08:05 = end of the first 5-minute interval.
    v = values(one(CAP_34))
    drp = v["DRP"]
    assert [x for x, _ in drp] == [None] * 11 + [0.0]
    assert drp[0][1] == bj(2026, 2, 2, 8, 5) and drp[-1][1] == bj(2026, 2, 2, 9, 0)
    assert v["DRZ1"][-1] == (0.17, bj(2026, 2, 2, 9, 0))
    assert v["Z"] == [(0.168, bj(2026, 2, 2, 9, 0))] and v["VT"] == [(11.55, bj(2026, 2, 2, 9, 0))]


def test_uniform_interval_report_31() -> None:
    # 04 18 000005: time step 5 minutes; 39 23 then twelve 4-byte Z values from 08:05, the last 0.170 m
    z = values(one(CAP_31))["Z"]
    assert len(z) == 12 and z[-1] == (0.17, bj(2026, 2, 2, 9, 0)) and z[0] == (None, bj(2026, 2, 2, 8, 5))


def test_fujian_examples() -> None:
    v = values(
        one(FJ_32)
    )  # station class 48 'H' (river); PJ 5.5 mm, EJ 21.5 mm, VT 12.90 V at 2014-06-12 02:00
    t = bj(2014, 6, 12, 2, 0)
    assert v["PJ"] == [(5.5, t)] and v["EJ"] == [(21.5, t)] and v["VT"] == [(12.9, t)]
    v = values(one(FJ_33))  # added report: Z 28.960 m, PT 319.6 mm
    assert v["Z"][0][0] == 28.96 and v["PT"][0][0] == 319.6
    v = values(one(FJ_34))  # F5 with length byte 5C (vendor quirk): still 12 x 2 bytes; 0A2D = 26.05 m
    assert [x for x, _ in v["DRZ1"]] == [26.05] * 10 + [27.96] * 2
    assert v["DRP"][0] == (0.0, bj(2022, 12, 2, 12, 20))


def test_hour_end_block_time_is_moved_back() -> None:
    # FJ 34 for station 0012345678 stamps F0F0 02:00 before its DRZ block, sent at 02:00:00: the block must be
    # 01:05..02:00, not 02:00..02:55 (in the future of the frame).
    fj = (
        "7E7E100012345678123434003A020003140612020000F1F1001234567848F0F01406120200F55C0AAA0AAA"
        + "FF" * 20
        + "391A0027303812129003ADF7"
    )
    drz = values(one(fj))["DRZ1"]
    assert drz[0] == (27.3, bj(2014, 6, 12, 1, 5)) and drz[-1] == (None, bj(2014, 6, 12, 2, 0))


def test_vendor_leaders_f128_f028() -> None:
    raw = bytearray(bytes.fromhex(FJ_32)[:-2])
    raw = bytearray(bytes(raw).replace(b"\xf1\xf1", b"\xf1\x28").replace(b"\xf0\xf0", b"\xf0\x28"))
    raw += crc16(bytes(raw)).to_bytes(2, "big")
    assert values(one(raw.hex()))["PJ"] == [(5.5, bj(2014, 6, 12, 2, 0))]


def test_scanner_resyncs_after_garbage_crc_errors_and_truncation() -> None:
    good1, good2 = bytes.fromhex(CAP_2F), bytes.fromhex(FJ_32)
    broken = bytearray(bytes.fromhex(CAP_32))
    broken[40] ^= 0x01  # one flipped bit: CRC must catch it
    stream = b"\x00\xffAT+CSQ\r\n" + good1 + bytes(broken) + good2[:30] + good1 + b"\x7e" + good2
    sc = Scanner()
    items = []
    for i in range(0, len(stream), 7):  # arrives in small pieces, as from a serial port
        items += sc.feed(stream[i : i + 7])
    frames = [i for i in items if isinstance(i, Frame)]
    errors = [str(i) for i in items if isinstance(i, SL651Error)]
    assert [f.function for f in frames] == [0x2F, 0x2F, 0x32]
    assert any("CRC mismatch" in e for e in errors) and any("garbage" in e for e in errors)


def test_ascii_frame_round_trip_and_values() -> None:
    body = b"0012 260202094021 ST 1090330853 P TT 2602020940 PJ 2.5 PT 123.4 Z 1.234 VT 12.31"
    raw = encode_ascii(up=True, centre=1, station="1090330853", password="A000", function=0x32, body=body)
    assert (
        raw[:1] == b"\x01" and raw[1:13] == b"011090330853" and raw[-4:] == f"{crc16(raw[:-4]):04X}".encode()
    )
    f = one(raw.hex())
    assert (f.encoding, f.function, f.station) == ("ascii", 0x32, "1090330853")
    r = parse_report(f)
    assert r.serial == 0x12 and r.station_class == "P"
    t = bj(2026, 2, 2, 9, 40)
    assert values(f) == {"PJ": [(2.5, t)], "PT": [(123.4, t)], "Z": [(1.234, t)], "VT": [(12.31, t)]}


@pytest.mark.parametrize("encoding", ["hex", "ascii"])
def test_zt_status_is_a_32_bit_field_not_bcd(encoding: str) -> None:
    # 0x8000000C: water level and flow over their limits, and the top bit; neither nibble C nor 8000...
    # read as a BCD or decimal number, and the whole report was rejected.
    st = Station("0012345678", encoding=encoding)
    raw = st.report(0x32, bj(2026, 2, 2, 9, 40), [("Z", 1.5), ("ZT", 0x8000000C)])
    frame = one(raw.hex())
    assert {k: [v for v, _t in vs] for k, vs in values(frame).items()} == {"Z": [1.5], "ZT": [2147483660.0]}
    assert parse_report(frame).skipped == []
    zt = next(e for e in describe(frame)["elements"] if e["id"] == "ZT")
    assert zt["bits"] == "8000000C"


def test_errors_name_the_problem() -> None:
    with pytest.raises(SL651Error, match="CRC mismatch"):
        parse_frame(bytes.fromhex(CAP_2F[:-4] + "0000"))
    bad_time = bytearray(bytes.fromhex(CAP_2F)[:-2])
    bad_time[17] = 0x13  # month 13
    bad_time += crc16(bytes(bad_time)).to_bytes(2, "big")
    with pytest.raises(SL651Error, match="send time"):
        parse_report(parse_frame(bytes(bad_time)))


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_random_bytes_only_ever_raise_sl651error(data: bytes) -> None:
    for item in Scanner(check_crc=False).feed(data):
        if isinstance(item, Frame):
            try:
                parse_report(item)
            except SL651Error:
                pass
    try:
        parse_report(parse_frame(data, check_crc=False))
    except SL651Error:
        pass


@settings(max_examples=300)
@given(st.binary(min_size=1, max_size=120), st.integers(0, 200))
@example(noise=b"\x04", at=131)  # a time step (DRxnn) one byte long; found by a CI run (int(''))
def test_mutated_real_frames_only_raise_sl651error(noise: bytes, at: int) -> None:
    base = bytearray(bytes.fromhex(CAP_34))
    pos = at % len(base)
    base[pos : pos + len(noise)] = noise
    for item in Scanner(check_crc=False).feed(bytes(base)):
        if isinstance(item, Frame):
            try:
                parse_report(item)
            except SL651Error:
                pass


@settings(max_examples=300)
@given(
    st.text(alphabet="0123456789ABCDEFPTZVJNDRSTHM. -+\r\n", max_size=120),
    st.sampled_from([0x2F, 0x31, 0x32, 0x34]),
)
def test_ascii_bodies_with_valid_crc_only_raise_sl651error(body: str, function: int) -> None:
    raw = encode_ascii(
        up=True, centre=1, station="0012345678", password="A000", function=function, body=body.encode()
    )
    frame = parse_frame(raw)
    try:
        parse_report(frame)
    except SL651Error:
        pass


@settings(max_examples=300)
@given(st.binary(max_size=120), st.sampled_from([0x31, 0x32, 0x34]))
def test_hex_bodies_with_valid_crc_only_raise_sl651error(tail: bytes, function: int) -> None:
    head = bytes.fromhex("0001260720090000F1F1001234567850F0F02607200900")  # serial, time, ST, TT
    raw = encode_hex(
        up=True, centre=1, station="0012345678", password="A000", function=function, body=head + tail
    )
    try:
        parse_report(parse_frame(raw))
    except SL651Error:
        pass


def test_noise_that_looks_like_a_long_header_does_not_hold_back_real_frames() -> None:
    # 7E7E ... with length 0xFFF and STX: a plausible header for a 4 KB frame that never comes
    fake = bytes.fromhex("7E7E011090330853A000320FFF02")
    sc = Scanner()
    items = sc.feed(fake + bytes.fromhex(CAP_2F))
    assert [i.function for i in items if isinstance(i, Frame)] == [0x2F]
