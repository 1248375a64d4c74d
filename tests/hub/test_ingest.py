"""Hub ingest against a real mosquitto: good batches pass, bad ones are counted and never stop the loop."""

import json
import time
from collections.abc import Callable

from edge.mqttlink import MqttConfig, make_client
from edge.wire import Batch, Reading, command_topic, encode_batch, readings_topic
from ews.servers import Mosquitto
from hub.ingest import Ingest


def _wait(cond: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def _publisher(broker: Mosquitto):
    client = make_client(MqttConfig(port=broker.port), "test-pub")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    return client


def test_good_bad_and_spoofed_payloads(mosquitto: Mosquitto) -> None:
    got: list[Batch] = []
    lines: list[str] = []
    commands: list[tuple[str, dict]] = []
    ingest = Ingest(
        MqttConfig(port=mosquitto.port),
        "hub-test",
        got.append,
        lambda: 1.7e9,
        lambda v, d: commands.append((v, d)),
        lines.extend,
    )
    ingest.start()
    assert ingest.wait_connected()
    pub = _publisher(mosquitto)
    try:
        good = Batch("fs-gw01", (Reading("fs-hp01-rg1", "rain_mm", 1.5, 1.7e9, 1),))
        pub.publish(readings_topic("fs-gw01"), b"{not json", qos=1).wait_for_publish()
        pub.publish(readings_topic("fs-gw02"), encode_batch(good), qos=1).wait_for_publish()  # spoofed origin
        bad_row = json.dumps(
            {
                "v": 1,
                "o": "fs-gw01",
                "r": [["s", "rain_mm", "NaN?", 1, 2], ["fs-hp01-rg1", "rain_mm", 2.0, 1.7e9, 2]],
            }
        )
        pub.publish(readings_topic("fs-gw01"), bad_row.encode(), qos=1).wait_for_publish()
        pub.publish(readings_topic("fs-gw01"), encode_batch(good), qos=1).wait_for_publish()
        pub.publish(
            command_topic("ack"), json.dumps({"who": "officer-li", "alert": "fs-hp01/flash"}).encode(), qos=1
        ).wait_for_publish()
        pub.publish(command_topic("ack"), b'{"alert": "no sender"}', qos=1).wait_for_publish()
        assert _wait(lambda: len(got) == 2 and len(commands) == 1)
    finally:
        pub.loop_stop()
        ingest.stop()
    assert [r.value for b in got for r in b.readings] == [2.0, 1.5]
    assert ingest.counts["rejected_bad_payload"] == 2  # not JSON; command without sender
    assert ingest.counts["rejected_origin_mismatch"] == 1
    assert ingest.counts["rejected_bad_row"] == 1
    assert commands == [("ack", {"who": "officer-li", "alert": "fs-hp01/flash"})]
    assert any(x.startswith("command_audit,verb=ack,who=officer-li") for x in lines)
    assert sum(x.startswith("rejected,") for x in lines) == 4


def test_persistent_session_gets_what_was_sent_while_hub_was_down(mosquitto: Mosquitto) -> None:
    got: list[Batch] = []
    ingest = Ingest(MqttConfig(port=mosquitto.port), "hub-persist", got.append, lambda: 1.7e9)
    ingest.start()
    assert ingest.wait_connected()
    ingest.stop()  # the broker keeps the session and queues QoS 1 messages for it
    pub = _publisher(mosquitto)
    for i in range(1, 21):
        b = Batch("fs-gw01", (Reading("fs-hp01-rg1", "rain_mm", 0.5, 1.7e9 + i, i),))
        pub.publish(readings_topic("fs-gw01"), encode_batch(b), qos=1).wait_for_publish()
    pub.loop_stop()
    ingest = Ingest(MqttConfig(port=mosquitto.port), "hub-persist", got.append, lambda: 1.7e9)
    ingest.start()
    try:
        assert _wait(lambda: len(got) == 20)
    finally:
        ingest.stop()
    assert [b.readings[0].seq for b in got] == list(range(1, 21))


def test_a_gateway_may_report_only_its_own_sensors(mosquitto: Mosquitto) -> None:
    got: list[Batch] = []
    ingest = Ingest(
        MqttConfig(port=mosquitto.port), "hub-own", got.append, lambda: 1.7e9,
        gateway_sensors={"fs-gw01": ["fs-hp01-*"]},
    )  # fmt: skip
    ingest.start()
    assert ingest.wait_connected()
    pub = _publisher(mosquitto)
    try:
        rows = (
            Reading("fs-hp01-rg1", "rain_mm", 1.0, 1.7e9, 1),
            Reading("fs-hp02-wl1", "water_level_m", 9.9, 1.7e9, 2),  # another gateway's sensor: spoofed
            Reading("fs-gw01-health", "battery_v", 12.5, 1.7e9, 3, source="health"),
        )
        pub.publish(readings_topic("fs-gw01"), encode_batch(Batch("fs-gw01", rows)), qos=1).wait_for_publish()
        assert _wait(lambda: len(got) == 1)
    finally:
        pub.loop_stop()
        ingest.stop()
    assert [r.sensor for r in got[0].readings] == ["fs-hp01-rg1", "fs-gw01-health"]
    assert ingest.counts["rejected_foreign_sensor"] == 1
