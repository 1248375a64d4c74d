"""Phone numbers never reach logs, InfluxDB or error texts in the clear."""

from __future__ import annotations

from hub.alerts.delivery import scrub
from hub.alerts.directory import mask_address, mask_phone, normalize_phone


def test_mask_and_normalize() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138-1234-5678") == "138****5678"
    assert normalize_phone("008613812345678") == normalize_phone("+8613812345678") == "13812345678"
    assert mask_address("fs-g1") == "fs-g1" and mask_address("drone-1") == "drone-1"


def test_scrub_gateway_errors() -> None:
    text = (
        "isv.MOBILE_NUMBER_ILLEGAL: 13800001101 rejected; retry +86 138 0000 1101; BizId=900619746936498440^0"
    )
    assert (
        scrub(text)
        == "isv.MOBILE_NUMBER_ILLEGAL: 138****1101 rejected; retry 138****1101; BizId=900619746936498440^0"
    )
    assert scrub("HTTP 503: busy") == "HTTP 503: busy"
