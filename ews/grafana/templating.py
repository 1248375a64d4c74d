"""Dashboard variables and annotation queries (Grafana templating) for the InfluxDB datasource."""

from __future__ import annotations

from ews.grafana.panels import Json, ds


def annotation(name: str, query: str, color: str, *, title: str, text: str, tags: str) -> Json:
    """An InfluxQL annotation query; Grafana shows it on every time series panel of the dashboard."""
    return {
        "name": name,
        "datasource": ds(),
        "enable": True,
        "hide": False,
        "iconColor": color,
        "query": query,
        "titleColumn": title,
        "textColumn": text,
        "tagsColumn": tags,
    }


def query_var(name: str, label: str, query: str, *, multi: bool = False, include_all: bool = False) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": ds(),
        "query": query,
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "multi": multi,
        "includeAll": include_all,
        "hide": 0,
        "current": {},
        "options": [],
    }


def custom_var(name: str, label: str, pairs: list[tuple[str, str]], *, multi: bool = False) -> Json:
    """A custom variable whose options show Chinese text but carry ids (`text : value` syntax)."""
    query = ",".join(f"{text} : {value}" for text, value in pairs)
    options = [{"text": t, "value": v, "selected": i == 0} for i, (t, v) in enumerate(pairs)]
    return {
        "name": name,
        "label": label,
        "type": "custom",
        "query": query,
        "multi": multi,
        "includeAll": multi,
        "hide": 0,
        "current": {"text": pairs[0][0], "value": pairs[0][1]} if pairs else {},
        "options": options,
    }


def textbox_var(name: str, label: str, default: str) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "textbox",
        "query": default,
        "hide": 0,
        "current": {"text": default, "value": default},
        "options": [{"text": default, "value": default, "selected": True}],
    }
