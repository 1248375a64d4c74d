"""Upload dashboards to Grafana through grafana-client: folder, overwrite, datasource uid mapping."""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaException

from ews.grafana.check import load, walk_panels
from ews.grafana.panels import DS_TYPE, DS_UID

log = logging.getLogger(__name__)


class PushError(RuntimeError):
    """Grafana refused or could not be reached; the message names the dashboard and the HTTP status."""


@dataclass(frozen=True)
class PushTarget:
    url: str
    token: str
    folder_uid: str = "ews"
    folder_title: str = "凤山预警"
    overwrite: bool = True
    timeout_s: float = 10.0


def remap_datasources(dash: dict[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """Return a copy whose InfluxDB datasource uids are replaced (repo uid → the Grafana instance's uid)."""
    out = copy.deepcopy(dash)

    def fix(ds: Any) -> None:
        if isinstance(ds, dict) and ds.get("type") == DS_TYPE and ds.get("uid") in mapping:
            ds["uid"] = mapping[ds["uid"]]

    for p in walk_panels(out.get("panels", [])):
        fix(p.get("datasource"))
        for t in p.get("targets", []):
            fix(t.get("datasource"))
    for a in out.get("annotations", {}).get("list", []):
        fix(a.get("datasource"))
    for v in out.get("templating", {}).get("list", []):
        fix(v.get("datasource"))
    return out


def _ensure_folder(api: GrafanaApi, target: PushTarget) -> None:
    try:
        api.folder.get_folder(target.folder_uid)
        return
    except GrafanaException as exc:
        if exc.status_code != 404:
            raise PushError(f"grafana {target.url}: folder {target.folder_uid}: {exc.message}") from None
    log.info("grafana folder create uid=%s title=%s", target.folder_uid, target.folder_title)
    try:
        api.folder.create_folder(target.folder_title, uid=target.folder_uid)
    except GrafanaException as exc:
        raise PushError(f"grafana {target.url}: create folder {target.folder_uid}: {exc.message}") from None


def resolve_datasource(api: GrafanaApi, name: str) -> str:
    """The uid of the datasource called `name` on that Grafana (for instances not provisioned by us)."""
    try:
        return str(api.datasource.get_datasource_by_name(name)["uid"])
    except GrafanaException as exc:
        raise PushError(f"grafana datasource {name!r}: {exc.message}") from None


def push(
    files: list[Path],
    target: PushTarget,
    mapping: Mapping[str, str] | None = None,
    datasource_name: str | None = None,
    api: GrafanaApi | None = None,
) -> list[dict[str, Any]]:
    """Upload each file into the folder; returns Grafana's answers (uid, url, version) in file order."""
    api = api or GrafanaApi.from_url(target.url, credential=target.token, timeout=target.timeout_s)
    uid_map = dict(mapping or {})
    if datasource_name:
        uid_map[DS_UID] = resolve_datasource(api, datasource_name)
    _ensure_folder(api, target)
    results = []
    for path in files:
        dash = remap_datasources(load(path), uid_map)
        dash.pop("id", None)  # Grafana matches on uid; a stale numeric id from another instance would clash
        body = {
            "dashboard": dash,
            "folderUid": target.folder_uid,
            "overwrite": target.overwrite,
            "message": f"ews dashboards push {path.name}",
        }
        try:
            answer = api.dashboard.update_dashboard(body)
        except GrafanaException as exc:
            raise PushError(
                f"grafana {target.url}: dashboard {path.name} (uid {dash.get('uid')}): "
                f"HTTP {exc.status_code}: {exc.message}"
            ) from None
        log.info(
            "grafana dashboard pushed file=%s uid=%s url=%s", path.name, dash.get("uid"), answer.get("url")
        )
        results.append(answer)
    return results
