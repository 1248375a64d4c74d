"""Run a dashboard's queries against InfluxDB the way Grafana would (macros expanded) and report each."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ews.grafana.check import iter_queries
from ews.grafana.macros import Context, MacroError, expand
from hub.influx import InfluxClient, InfluxError

Value = str | list[str]


@dataclass(frozen=True)
class Outcome:
    where: str
    query: str
    series: int
    error: str = ""


def variable_choices(client: InfluxClient, dash: dict[str, Any]) -> dict[str, list[Value]]:
    """Values to try per variable: each option (and all of them for multi-value ones); for query
    variables, Grafana's default pick (the first value in the variable's sort order)."""
    choices: dict[str, list[Value]] = {}
    for v in dash.get("templating", {}).get("list", []):
        name, kind = v["name"], v.get("type")
        if kind == "query":
            values = sorted({str(row[1]) for s in client.query(v["query"]) for row in s["values"]})
            values = values[::-1] if v.get("sort") in (2, 4, 6) else values
            choices[name] = list[Value](values[:1])
        elif kind == "textbox" or kind == "constant":
            choices[name] = [str(v.get("query", ""))]
        else:
            options = [str(o["value"]) for o in v.get("options", [])]
            if v.get("multi"):
                multi: list[Value] = [[o] for o in options]
                choices[name] = [*multi, options]
            else:
                choices[name] = list[Value](options)
    return choices


def assignments(choices: Mapping[str, Sequence[Value]]) -> list[dict[str, Value]]:
    keys = list(choices)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(choices[k] for k in keys))]


def run(
    client: InfluxClient, dash: dict[str, Any], from_ms: int, to_ms: int, variables: Mapping[str, Value]
) -> list[Outcome]:
    """Every panel, annotation and variable query with these variable values; errors are collected."""
    out = []
    for q in iter_queries(dash):
        ctx = Context(from_ms, to_ms, q.max_data_points, variables=variables)
        try:
            text = expand(q.text, ctx, q.where)
        except MacroError as exc:
            out.append(Outcome(q.where, q.text, 0, str(exc)))
            continue
        try:
            series = client.query(text)
        except InfluxError as exc:
            out.append(Outcome(q.where, text, 0, str(exc)))
            continue
        out.append(Outcome(q.where, text, sum(1 for s in series if s.get("values"))))
    return out
