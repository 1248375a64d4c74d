"""Console channel: one readable line per notification; a closed stream is an unrecoverable error."""

from __future__ import annotations

import io

import pytest

from hub.channels.base import ChannelError, Notification
from hub.channels.console import ConsoleChannel, ConsoleConfig
from hub.channels.registry import CHANNEL_KINDS


def note() -> Notification:
    extra = {"at": "1780000000.0", "kind": "alert"}
    return Notification(
        "fs-hp01/rain", "*", "【凤山预警】凤山村后山滑坡隐患点红色预警", "red", "fs-hp01", extra
    )


def test_prints_one_line_with_time_level_and_chinese_text() -> None:
    buf = io.StringIO()
    ch = ConsoleChannel(buf)
    assert ch.send(note()) == "console:1"
    assert buf.getvalue() == "20:26:40Z 🔴 red    fs-hp01 alert: 【凤山预警】凤山村后山滑坡隐患点红色预警\n"


def test_closed_stream_is_unrecoverable() -> None:
    buf = io.StringIO()
    buf.close()
    with pytest.raises(ChannelError) as err:
        ConsoleChannel(buf).send(note())
    assert err.value.recoverable is False


def test_registered_and_closed_config() -> None:
    assert CHANNEL_KINDS["console"] is ConsoleConfig
    with pytest.raises(ValueError):
        ConsoleConfig.model_validate({"kind": "console", "colour": True})
