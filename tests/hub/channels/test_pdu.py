"""The pure PDU codec: published vectors, GSM 7-bit and UCS-2 round trips, concatenation limits and headers."""

from __future__ import annotations

import calendar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.channels import pdu, sms_text

# Published SMS-SUBMIT example (dreamfabric.com "SMS and the PDU format", also in GSM 03.40 tutorials):
# to +46708251358, "hellohello", GSM 7-bit, relative validity 0xAA (4 days).
SUBMIT_HELLO = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
# Published SMS-DELIVER example (same source): SMSC +27381000015, sender 27838890001, "hellohello",
# time stamp 99-03-29 15:16:59 at GMT+2.
DELIVER_HELLO = "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37"

FENGSHAN = "【凤山预警】红色预警：凤山村后山滑坡隐患点裂缝24小时增加30毫米，请立即转移到安置点！"


def test_published_submit_decodes_and_reencodes_byte_for_byte():
    d = pdu.decode(SUBMIT_HELLO)
    assert (d.kind, d.address, d.text, d.dcs, d.validity) == ("submit", "+46708251358", "hellohello", 0, 0xAA)
    # 0xAA is 4 days of relative validity
    (encoded,) = pdu.encode_submit("+46708251358", "hellohello", validity_s=4 * 86400)
    assert encoded.hex == SUBMIT_HELLO
    assert encoded.tpdu_length == len(SUBMIT_HELLO) // 2 - 1


def test_published_deliver_decodes_with_time_zone():
    d = pdu.decode(DELIVER_HELLO)
    assert d.kind == "deliver" and d.text == "hellohello" and d.address == "27838890001"
    assert d.timestamp == calendar.timegm((1999, 3, 29, 15, 16, 59)) - 2 * 3600


def test_chinese_single_part_is_ucs2_up_to_70_chars():
    (p,) = pdu.encode_submit("13800138000", "汛" * 70)
    d = pdu.decode(p.hex)
    assert d.dcs == sms_text.DCS_UCS2 and d.concat is None and d.text == "汛" * 70
    assert d.address == "13800138000"


def test_71_chinese_chars_become_two_parts_of_67_and_4():
    parts = pdu.encode_submit("+8613800138000", "警" * 71, ref=42)
    decoded = [pdu.decode(p.hex) for p in parts]
    assert [len(d.text) for d in decoded] == [67, 4]
    assert [d.concat for d in decoded] == [pdu.Concat(42, 2, 1), pdu.Concat(42, 2, 2)]
    # 6 octets of header + 67 × 2 octets = 140, the maximum user data
    assert parts[0].tpdu_length == len(bytes.fromhex(parts[0].hex)) - 1
    assert bytes.fromhex(parts[0].hex)[-141] == 140


def test_gsm7_limits_160_single_153_per_part():
    assert len(pdu.encode_submit("10086", "a" * 160)) == 1
    parts = pdu.encode_submit("10086", "a" * 161, ref=3)
    assert [len(pdu.decode(p.hex).text) for p in parts] == [153, 8]


def test_gsm7_extension_character_is_never_split_across_parts():
    text = "a" * 152 + "€" + "b" * 8  # 162 septets: two parts, and ESC + € cannot straddle them
    parts = [pdu.decode(p.hex) for p in pdu.encode_submit("10086", text, ref=1)]
    assert [d.text for d in parts] == ["a" * 152, "€" + "b" * 8]


def test_surrogate_pair_is_never_split_across_parts():
    text = "警" * 66 + "🌧" + "雨" * 5  # 73 UTF-16 units: the pair would straddle the 67-unit boundary
    parts = [pdu.decode(p.hex) for p in pdu.encode_submit("10086", text, ref=1)]
    assert "".join(d.text for d in parts) == text
    assert parts[0].text == "警" * 66


def test_validity_and_status_report_and_smsc():
    (p,) = pdu.encode_submit("10086", "hi", validity_s=3600, status_report=True, smsc="+8613800200500")
    d = pdu.decode(p.hex)
    assert d.status_report and d.validity == 11  # (11 + 1) × 5 min = 1 h
    assert p.hex.startswith("0891683108200005F0")
    assert pdu.validity_octet(86400) == 167 and pdu.validity_octet(2 * 86400) == 168
    assert pdu.validity_octet(7 * 86400) == 173 and pdu.validity_octet(5 * 7 * 86400) == 197


@pytest.mark.parametrize("bad", ["", "abc", "12", "+86 138 0013 8000 x", "1" * 21])
def test_invalid_numbers_are_rejected(bad):
    with pytest.raises(pdu.PduError, match="invalid phone number"):
        pdu.encode_submit(bad, "hi")


def test_number_spaces_and_dashes_are_tolerated():
    assert pdu.normalize_number("+86 138-0013-8000") == "+8613800138000"


def test_empty_text_is_rejected():
    with pytest.raises(pdu.PduError, match="empty"):
        pdu.encode_submit("10086", "")


def test_deliver_round_trip_with_time_zone_and_concatenation():
    at = calendar.timegm((2026, 7, 1, 2, 30, 5))
    hexes = pdu.encode_deliver("+8613900000001", "撤离 12/15 " + "户" * 70, at, ref=9, tz_quarters=32)
    decoded = [pdu.decode(h) for h in hexes]
    assert all(d.kind == "deliver" and d.timestamp == at for d in decoded)
    assert "".join(d.text for d in decoded) == "撤离 12/15 " + "户" * 70
    assert [d.concat.seq for d in decoded if d.concat] == [1, 2]


def test_alphanumeric_sender_and_16bit_reference_decode():
    # Hand-assembled per TS 23.040: OA type 0xD0 "Info" (7 semi-octets), UDH IEI 0x08 ref 0x1234 part 1/2, UCS-2 "好".
    oa = "07D049B7F90D"
    tpdu = "44" + oa + "0008" + "62107200000000" + "09" + "060804123402014F60"
    d = pdu.decode("00" + tpdu)
    assert d.address == "Info"
    assert d.concat == pdu.Concat(0x1234, 2, 1)
    assert d.text == "你"


@pytest.mark.parametrize("junk", ["zz", "0011000B91", "00", "0002"])
def test_malformed_pdus_raise_pdu_error(junk):
    with pytest.raises(pdu.PduError):
        pdu.decode(junk)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=400), st.integers(0, 255))
def test_any_text_round_trips_through_submit(text, ref):
    parts = pdu.encode_submit("+8613800138000", text, ref=ref)
    decoded = [pdu.decode(p.hex) for p in parts]
    assert "".join(d.text for d in decoded) == text
    for p in parts:
        assert p.tpdu_length == len(bytes.fromhex(p.hex)) - 1
        assert p.tpdu_length - 15 <= 140  # 15 octets of header fields (13-digit number), then user data
    if len(parts) > 1:
        assert [d.concat for d in decoded] == [pdu.Concat(ref, len(parts), i + 1) for i in range(len(parts))]


def test_status_report_decodes_reference_recipient_and_status():
    # Hand-assembled per TS 23.040 §9.2.2.3: MR 0x2A, RA +8613800138001, SCTS and DT, TP-ST 0 (delivered).
    scts = "62117201030423"  # 2026-11-27 10:30:40 +08:00 (semi-octets swapped)
    tpdu = "06" + "2A" + "0D91683108108300F1" + scts + scts + "00"
    d = pdu.decode("00" + tpdu)
    assert (d.kind, d.reference, d.address, d.status) == ("status", 0x2A, "+8613800138001", 0)
    assert d.timestamp == calendar.timegm((2026, 11, 27, 10, 30, 40)) - 8 * 3600


GSM7_CHARS = sms_text.GSM7.replace("\x1b", "") + "".join(sms_text.GSM7_EXT)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(GSM7_CHARS), min_size=1, max_size=500), st.integers(0, 255))
def test_gsm7_text_round_trips_with_septet_packing_after_the_header(text, ref):
    parts = pdu.encode_submit("10086", text, ref=ref)
    decoded = [pdu.decode(p.hex) for p in parts]
    assert all(d.dcs == sms_text.DCS_GSM7 for d in decoded)
    assert "".join(d.text for d in decoded) == text
    septets = [sum(2 if ch in sms_text.GSM7_EXT else 1 for ch in d.text) for d in decoded]
    assert all(n <= (sms_text.GSM7_PART if len(parts) > 1 else sms_text.GSM7_SINGLE) for n in septets)
