"""ChirpStack v4 uplink events published to real mosquitto at QoS 1, in ChirpStack's JSON format.

The event JSON follows ChirpStack v4's integration.UplinkEvent (api/proto/integration/integration.proto,
JSON field names as ChirpStack's MQTT integration publishes them with json encoding): deduplicationId,
time, deviceInfo{...devEui}, devAddr, fCnt, fPort, data (base64 FRMPayload), object, rxInfo[{gatewayId, rssi, snr}].
"""

from __future__ import annotations

import base64
import json
import queue
import time
import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from edge.mqttlink import MqttConfig, make_client
from edge.sensors.chirpstack import ChirpStackConfig, ChirpStackError, ChirpStackListener, decode_uplink
from edge.wire import Reading
from tests.edge.sensors.reading_queue import drain

APP = "52f14cd4-c6f1-4fbd-8f87-4025e1d49242"
CRACK_EUI = "70b3d57ed005a1c1"
TILT_EUI = "70b3d57ed005a1c2"
OBJ_EUI = "a840414bd1850c93"


def event(
    eui: str,
    fcnt: int,
    data: bytes = b"",
    obj: dict[str, Any] | None = None,
    t: str = "2026-07-20T01:00:00.123456Z",
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "deduplicationId": str(uuid.UUID(int=fcnt + int(eui, 16))),
        "time": t,
        "deviceInfo": {
            "tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
            "tenantName": "ChirpStack",
            "applicationId": APP,
            "applicationName": "fengshan",
            "deviceProfileId": "9d6a3d2e-3f4a-4f69-9b8e-2d2c4f4a1e11",
            "deviceProfileName": "crack-meter",
            "deviceName": f"dev-{eui[-4:]}",
            "devEui": eui,
            "deviceClassEnabled": "CLASS_A",
            "tags": {},
        },
        "devAddr": "01fa2b3c",
        "adr": True,
        "dr": 2,
        "fCnt": fcnt,
        "fPort": 2,
        "confirmed": False,
        "data": base64.b64encode(data).decode(),
        "rxInfo": [
            {"gatewayId": "0016c001ff10a235", "uplinkId": 40001, "rssi": -97, "snr": 6.2, "channel": 1},
            {"gatewayId": "0016c001ff10a236", "uplinkId": 40002, "rssi": -112, "snr": -3.5, "channel": 1},
        ],
        "txInfo": {
            "frequency": 471500000,
            "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 10, "codeRate": "CR_4_5"}},
        },
    }
    if obj is not None:
        doc["object"] = obj
    return doc


def cfg(port: int) -> ChirpStackConfig:
    return ChirpStackConfig.model_validate(
        {
            "kind": "chirpstack",
            "id": "fs-lns",
            "site": "fs-hp01",
            "mqtt": {"port": port},
            "client_id": "ews-test-chirpstack",
            "devices": {
                CRACK_EUI.upper(): {
                    "sensor": "fs-hp01-cr1",
                    "codec": "lpp",
                    "map": {"analog_input_1": "crack_mm", "voltage_2": "battery_v"},
                },
                TILT_EUI: {
                    "sensor": "fs-hp03-tl1",
                    "codec": "layout",
                    "layout": [{"quantity": "tilt_deg", "offset": 0, "type": "s16", "scale": 0.01}],
                },
                OBJ_EUI: {
                    "sensor": "fs-hp01-sm1",
                    "codec": "object",
                    "map": {"soil.moisture": "soil_moisture_pct"},
                    "signal": False,
                },
            },
        }
    )


def test_decode_uplink_pure() -> None:
    devices = cfg(1883).devices
    key, rs = decode_uplink(event(CRACK_EUI, 7, bytes.fromhex("010204D202740169")), devices, 0.0, "t")
    t = 1784509200.123456  # 2026-07-20T01:00:00.123456Z
    assert [(r.sensor, r.quantity, r.value, r.time, r.source) for r in rs] == [
        ("fs-hp01-cr1", "crack_mm", 12.34, t, "sensor"),
        ("fs-hp01-cr1", "battery_v", 3.61, t, "sensor"),
        ("fs-hp01-cr1", "signal_dbm", -97.0, t, "health"),
    ]
    _, rs = decode_uplink(event(OBJ_EUI, 1, obj={"soil": {"moisture": 33.5}}), devices, 0.0, "t")
    assert [(r.quantity, r.value) for r in rs] == [("soil_moisture_pct", 33.5)]


def test_uplinks_through_real_mosquitto(mosquitto: Any) -> None:
    c = cfg(mosquitto.port)
    listener = c.build(clock=lambda: 0.0)
    assert isinstance(listener, ChirpStackListener)
    got: queue.Queue[Reading] = queue.Queue()
    listener.start(got.put)
    pub = make_client(MqttConfig.model_validate({"port": mosquitto.port}), "chirpstack-sim")
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    try:
        assert listener.subscribed.wait(5)

        def publish(doc: Any, eui: str) -> None:
            body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
            pub.publish(f"application/{APP}/device/{eui}/event/up", body, qos=1).wait_for_publish(5)

        publish(event(CRACK_EUI, 10, bytes.fromhex("010204D2")), CRACK_EUI)
        publish(event(TILT_EUI, 3, bytes.fromhex("FF6A")), TILT_EUI)  # -150 -> -1.50°
        publish(b"{not json", CRACK_EUI)
        publish(event("0000000000000001", 1, b"\x01"), "0000000000000001")  # unknown device
        publish(event(CRACK_EUI, 11, bytes.fromhex("01FA")), CRACK_EUI)  # bad LPP
        publish(event(CRACK_EUI, 10, bytes.fromhex("010204D2")), CRACK_EUI)  # duplicate delivery
        rs = drain(got, 4)
        assert sorted((r.sensor, r.quantity, r.value) for r in rs) == [
            ("fs-hp01-cr1", "crack_mm", 12.34),
            ("fs-hp01-cr1", "signal_dbm", -97.0),
            ("fs-hp03-tl1", "signal_dbm", -97.0),
            ("fs-hp03-tl1", "tilt_deg", -1.5),
        ]
        deadline = time.monotonic() + 3
        while listener.stats["rejected"] + listener.stats["duplicates"] < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert listener.stats["rejected"] == 3 and listener.stats["duplicates"] == 1
        assert listener.alive()  # paho's network thread, which the agent's watchdog check asks about
        # The agent is down for a while: QoS 1 events wait in its persistent session and arrive after restart.
        listener.stop()
        assert not listener.alive()
        publish(event(CRACK_EUI, 12, bytes.fromhex("010204D3")), CRACK_EUI)
        again = cfg(mosquitto.port).build(clock=lambda: 0.0)
        again.start(got.put)
        try:
            rs = drain(got, 2)
            assert ("crack_mm", 12.35) in [(r.quantity, r.value) for r in rs]
        finally:
            again.stop()
    finally:
        listener.stop()
        pub.loop_stop()
        pub.disconnect()


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
        max_leaves=10,
    )
)
def test_decode_uplink_raises_only_its_own_error(doc: Any) -> None:
    devices = cfg(1883).devices
    for candidate in (
        doc,
        {"deviceInfo": {"devEui": CRACK_EUI}, "data": doc},
        {"deviceInfo": {"devEui": OBJ_EUI}, "object": doc},
    ):
        try:
            decode_uplink(candidate, devices, 0.0, "fuzz")
        except ChirpStackError:
            pass


def test_no_puback_until_the_agent_took_the_readings(mosquitto: Any) -> None:
    """If emit fails (disk full), the event is not acknowledged and the broker delivers it again later."""
    failing = cfg(mosquitto.port).build(clock=lambda: 0.0)
    assert isinstance(failing, ChirpStackListener)

    def broken(_r: Reading) -> None:
        raise OSError("disk full")

    failing.start(broken)
    pub = make_client(MqttConfig.model_validate({"port": mosquitto.port}), "chirpstack-sim2")
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    try:
        assert failing.subscribed.wait(5)
        doc = json.dumps(event(CRACK_EUI, 20, bytes.fromhex("010204D2"))).encode()
        pub.publish(f"application/{APP}/device/{CRACK_EUI}/event/up", doc, qos=1).wait_for_publish(5)
        time.sleep(0.3)
        failing.stop()
        got: queue.Queue[Reading] = queue.Queue()
        again = cfg(mosquitto.port).build(clock=lambda: 0.0)
        again.start(got.put)
        try:
            assert ("crack_mm", 12.34) in [(r.quantity, r.value) for r in drain(got, 2)]
        finally:
            again.stop()
    finally:
        pub.loop_stop()
        pub.disconnect()
