"""Line protocol encoding, and /write + /query against a real influxd."""

from hypothesis import given
from hypothesis import strategies as st

from hub.influx import InfluxClient, InfluxConfig, InfluxError, line


def test_line_escapes_and_types() -> None:
    text = line(
        "rain_mm", {"site": "凤山 hp,1", "sensor": "a=b"}, {"value": 1.5, "seq": 7, "msg": 'say "hi"'}, 1.5
    )
    assert text == r'rain_mm,sensor=a\=b,site=凤山\ hp\,1 value=1.5,seq=7i,msg="say \"hi\"" 1500000000'


@given(st.text(min_size=1, max_size=20).filter(lambda s: "\n" not in s and "\r" not in s))
def test_any_site_name_round_trips_through_escaping(name: str) -> None:
    # line() must never produce a line whose tag section ends early: count unescaped spaces
    text = line("m", {"site": name}, {"value": 1.0}, 0)
    head = text.rsplit(" ", 2)[0]
    assert head.startswith("m,site=")


def test_write_and_query_real_influxd(influx_db: tuple[str, str]) -> None:
    url, db = influx_db
    client = InfluxClient(InfluxConfig(url=url, database=db))
    client.create_database()
    client.write(
        [
            line("rain_mm", {"site": "fs-hp01", "sensor": "rg1"}, {"value": float(i)}, 1_700_000_000 + i)
            for i in range(10)
        ]
    )
    assert client.count("rain_mm", "\"site\"='fs-hp01'") == 10
    series = client.query('SELECT sum("value") FROM "rain_mm"')
    assert series[0]["values"][0][1] == 45.0


def test_bad_query_is_not_recoverable(influx_db: tuple[str, str]) -> None:
    url, db = influx_db
    client = InfluxClient(InfluxConfig(url=url, database=db))
    try:
        client.query("SELEKT nonsense")
        raise AssertionError("expected InfluxError")
    except InfluxError as exc:
        assert not exc.recoverable


def test_unreachable_server_is_recoverable() -> None:
    from ews.servers import free_port

    client = InfluxClient(InfluxConfig(url=f"http://127.0.0.1:{free_port()}", database="x", timeout_s=0.5))
    try:
        client.write(["m value=1 1"])
        raise AssertionError("expected InfluxError")
    except InfluxError as exc:
        assert exc.recoverable
