"""Annotation channel against a real influxd: rows Grafana's annotation query can read."""

from __future__ import annotations

import pytest

from hub.channels.annotation import AnnotationConfig
from hub.channels.base import ChannelError, Notification
from hub.influx import InfluxClient, InfluxConfig


def note(kind: str, rule: str = "rain", at: float = 1_780_000_000.0) -> Notification:
    extra = {"kind": kind, "rule": rule, "at": repr(at), "level_num": "4", "level_zh": "红色",
             "site_name": "凤山村后山滑坡隐患点"}  # fmt: skip
    return Notification("fs-hp01/" + rule, "*", "【凤山预警】红色预警，请立即转移", "red", "fs-hp01", extra)


def test_rows_as_grafana_reads_them(influx_db: tuple[str, str]) -> None:
    url, db = influx_db
    cfg = InfluxConfig(url=url, database=db)
    ch = AnnotationConfig(influx=cfg).build()
    ch.send(note("alert"))
    ch.send(note("alert", rule="rain3h"))  # same site and instant, another rule: both kept
    ch.send(note("ack", at=1_780_000_060.0))
    ch.send(note("escalation", at=1_780_000_900.0))
    series = InfluxClient(cfg).query(
        "SELECT title, text, level_num, kind FROM annotation WHERE site='fs-hp01' ORDER BY time"
    )
    rows = series[0]["values"]
    assert [r[4] for r in rows] == ["alert", "alert", "ack", "escalation"]
    assert rows[0][1] == "红色预警 凤山村后山滑坡隐患点" and rows[0][3] == 4
    assert rows[3][1] == "上报镇里 凤山村后山滑坡隐患点" and rows[3][0] == 1_780_000_900


def test_influx_down_is_recoverable() -> None:
    ch = AnnotationConfig(influx=InfluxConfig(url="http://127.0.0.1:9", timeout_s=0.5)).build()
    with pytest.raises(ChannelError) as err:
        ch.send(note("alert"))
    assert err.value.recoverable is True
