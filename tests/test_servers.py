"""The server fixtures really start mosquitto and influxd, and survive a stop/start on the same port."""

import socket
import urllib.request

from ews.servers import Influxd, Mosquitto


def test_mosquitto_restarts_on_same_port(mosquitto: Mosquitto) -> None:
    port = mosquitto.port
    socket.create_connection(("127.0.0.1", port), timeout=1).close()
    mosquitto.stop()
    mosquitto.start()
    assert mosquitto.port == port
    socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert "set_tcp_nodelay true" in mosquitto.conf_path.read_text()


def test_influxd_answers_ping(influxd_session: Influxd) -> None:
    with urllib.request.urlopen(f"{influxd_session.url}/ping", timeout=2) as resp:
        assert resp.status == 204
