"""The latency floor: a minimal relay (decode the batch, publish each crossing) through the same broker.

It does what any MQTT decider must (one paho receive, one JSON decode, one paho publish) and nothing
else: no engine, no store, no dispatcher. Run in the same conditions as the hub, it shows how much of
the measured latency is the machine, Python and paho rather than the hub's own work.
"""

from __future__ import annotations

import json
import threading
from multiprocessing.connection import Connection
from typing import Any

from bench.e2e_workload import BASE, RULE
from edge.mqttlink import MqttConfig, make_client
from edge.wire import INGEST_SUBSCRIPTIONS


def serve(conn: Connection, host: str, port: int) -> None:
    cfg = MqttConfig(host=host, port=port)
    out = make_client(cfg, "bench-floor-out")
    up = threading.Event()
    out.on_connect = lambda *_a: up.set()
    out.connect(host, port, 30)
    out.loop_start()
    inp = make_client(cfg, "bench-floor-in")
    subscribed = threading.Event()

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        doc = json.loads(msg.payload)
        for row in doc["r"]:
            v = row[2]
            if abs(v) >= BASE:
                site = row[0].rsplit("-", 1)[0]
                body = {"alert_id": f"{site}/{RULE}", "kind": "alert" if v > 0 else "clear", "value": v}
                out.publish(f"bench/floor/{site}", json.dumps(body).encode(), qos=1)

    inp.on_connect = lambda c, *_a: c.subscribe([(t, 1) for t in INGEST_SUBSCRIPTIONS])
    inp.on_subscribe = lambda *_a: subscribed.set()
    inp.on_message = on_message
    inp.connect(host, port, 30)
    inp.loop_start()
    if not (up.wait(10) and subscribed.wait(10)):
        conn.send(("error", "floor relay could not connect"))
        return
    conn.send(("ready", None))
    conn.recv()
    inp.disconnect()
    inp.loop_stop()
    out.disconnect()
    out.loop_stop()
