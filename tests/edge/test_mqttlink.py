"""make_client sets TCP_NODELAY on the real socket it opens to a real mosquitto."""

import socket
import time

from edge.mqttlink import MqttConfig, make_client
from ews.servers import Mosquitto


def test_client_socket_has_nodelay(mosquitto: Mosquitto) -> None:
    client = make_client(MqttConfig(port=mosquitto.port), "nodelay-test")
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    try:
        deadline = time.monotonic() + 5
        while not client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.01)
        sock = client.socket()
        assert sock is not None
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        client.disconnect()
        client.loop_stop()


def test_password_file_must_be_private(tmp_path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    secret.chmod(0o644)
    cfg = MqttConfig(username="gw", password_file=secret)
    try:
        cfg.password()
        raise AssertionError("a world-readable password file must be refused")
    except ValueError as exc:
        assert "chmod 600" in str(exc)
    secret.chmod(0o600)
    assert cfg.password() == "s3cret"
