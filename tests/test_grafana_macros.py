"""Grafana's InfluxQL interpolation as the expander reproduces it (values follow Grafana's InfluxDB
datasource: $timeFilter in epoch ms, rounded $__interval, multi-value variables as escaped regex groups)."""

from __future__ import annotations

import pytest

from ews.grafana.macros import Context, MacroError, expand, interval_text, round_interval_ms, variables_in

FROM, TO = 1_752_969_600_000, 1_753_077_600_000  # 30 h


def test_time_filter_and_range_bounds() -> None:
    ctx = Context(FROM, TO)
    assert expand("SELECT 1 FROM x WHERE $timeFilter", ctx) == (
        f"SELECT 1 FROM x WHERE time >= {FROM}ms and time <= {TO}ms"
    )
    assert (
        expand("time > ${__to}ms - 1h AND time <= ${__to}ms", ctx) == f"time > {TO}ms - 1h AND time <= {TO}ms"
    )
    assert expand("$__from $__range_s", ctx) == f"{FROM} {(TO - FROM) // 1000}"


@pytest.mark.parametrize(
    ("span_ms", "points", "expected"),
    [
        (30 * 3600_000, 1000, "2m"),  # 108 s → 2 m
        (3600_000, 1000, "10s"),  # 3.6 s → 5 s, raised to the datasource's 10 s minimum
        (7 * 86400_000, 1000, "10m"),
        (24 * 3600_000, 100, "15m"),
    ],
)
def test_interval_rounds_like_grafana(span_ms: int, points: int, expected: str) -> None:
    ctx = Context(FROM, FROM + span_ms, max_data_points=points)
    assert expand("GROUP BY time($__interval)", ctx) == f"GROUP BY time({expected})"
    assert expand("$__interval_ms", ctx) == str(ctx.interval_ms)


def test_round_interval_table_edges() -> None:
    assert round_interval_ms(1) == 10
    assert round_interval_ms(100_000) == 120_000
    assert round_interval_ms(10**12) == 604_800_000
    assert (
        interval_text(90_000) == "90s" and interval_text(3_600_000) == "1h" and interval_text(250) == "250ms"
    )


def test_single_and_multi_value_variables() -> None:
    ctx = Context(
        FROM,
        TO,
        variables={"site": "fs-hp01", "sites": ["fs-hp01", "fs-hp02"], "issued": "2025-07-20T06:00:00Z"},
    )
    assert expand("\"site\" = '$site'", ctx) == "\"site\" = 'fs-hp01'"
    assert expand('"site" =~ /^$sites$/', ctx) == r'"site" =~ /^(fs\-hp01|fs\-hp02)$/'
    assert expand("[[site]] ${site} ${sites:raw}", ctx) == "fs-hp01 fs-hp01 fs-hp01,fs-hp02"
    assert expand("'$issued'", ctx) == "'2025-07-20T06:00:00Z'"
    # A one-element list is how a multi-value variable with one choice arrives: still regex-escaped.
    one = Context(FROM, TO, variables={"sites": ["a.b/c"]})
    assert expand("/^$sites$/", one) == r"/^a\.b\/c$/"


def test_unknown_variables_fail_naming_the_query() -> None:
    ctx = Context(FROM, TO)
    with pytest.raises(MacroError, match=r"panel 1: undefined variable \$tag_site"):
        expand(
            "SELECT 1 FROM x WHERE \"site\" = '$tag_site'", ctx, where="panel 1"
        )  # alias syntax in a query
    with pytest.raises(MacroError, match=r"panel 3: undefined variable \$gateway"):
        expand('"gateway" =~ /^$gateway$/', ctx, where="panel 3")


def test_variables_in_finds_every_syntax() -> None:
    assert variables_in("$a ${b} ${c:regex} [[d]] /^$e$/") == {"a", "b", "c", "d", "e"}
