"""The Nagle trap is closed everywhere: every mosquitto.conf the project ships or starts sets
set_tcp_nodelay, and every paho client in the code base comes from edge.mqttlink.make_client (which sets
TCP_NODELAY on its socket; tests/edge/test_mqttlink.py proves that on a live socket).
"""

from __future__ import annotations

import re
from pathlib import Path

from ews.servers import Mosquitto

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("edge", "hub", "ews", "bench", "deploy", "tests")


def _active(text: str) -> list[str]:
    return [ln.split("#", 1)[0].strip() for ln in text.splitlines() if ln.split("#", 1)[0].strip()]


def test_every_shipped_broker_conf_sets_tcp_nodelay() -> None:
    confs = sorted((ROOT / "deploy").rglob("*.conf"))
    main = [c for c in confs if any(ln.startswith("listener") for ln in _active(c.read_text()))]
    assert main, "deploy/ ships no mosquitto listener config"
    for conf in main:
        assert "set_tcp_nodelay true" in _active(conf.read_text()), f"{conf}: set_tcp_nodelay true missing"
    # Snippets without a listener (the county bridge) go to conf.d next to ews-hub.conf, whose global
    # set_tcp_nodelay then applies to them: install.sh must install both into the same conf.d.
    install = (ROOT / "deploy" / "install.sh").read_text()
    for snippet in set(confs) - set(main):
        if "mosquitto" in snippet.parts:
            assert snippet.name in install and "ews-hub.conf" in install, f"{snippet} installed alone"


def test_the_broker_the_tests_demo_and_bench_start_sets_tcp_nodelay(tmp_path: Path) -> None:
    with Mosquitto(tmp_path / "m") as broker:  # mosquitto refuses to start on an unknown option
        assert "set_tcp_nodelay true" in _active(broker.conf_path.read_text())


def test_no_paho_client_is_built_outside_make_client() -> None:
    pattern = re.compile(
        r"\bmqtt\.Client\(|paho\.mqtt\.client\.Client\(|\bfrom paho\.mqtt\.client import Client\b"
    )
    offenders = []
    for d in SOURCE_DIRS:
        for path in (ROOT / d).rglob("*.py"):
            if path == ROOT / "edge" / "mqttlink.py":
                continue
            if pattern.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == [], f"paho clients built without make_client (no TCP_NODELAY): {offenders}"
