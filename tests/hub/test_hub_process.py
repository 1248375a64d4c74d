"""`ews hub` as a real process: config errors, alerts through real servers, SIGHUP, restarts, partitions."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from edge.clock import Frame
from edge.mqttlink import MqttConfig
from edge.outbox import Outbox
from edge.publisher import PublishConfig, Publisher
from edge.wire import Reading
from ews.servers import Influxd, Mosquitto
from hub.influx import InfluxClient, InfluxConfig

from .hubproc import REPO, RULES, AlertWatch, Gateway, HubRig, start_hub, wait_for, write_config


def _ews(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "ews.cli", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_example_deployment_config_checks() -> None:
    proc = _ews("hub", "--config", str(REPO / "deploy" / "fengshan" / "hub.yaml"), "--check")
    assert proc.returncode == 0, proc.stderr
    assert "config OK" in proc.stdout
    assert "warning" not in proc.stdout  # no shipped rule flaps with noise (hub/rules/lint.py)


def test_invalid_config_exits_nonzero_naming_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "hub.yaml"
    bad.write_text("rules: [x.yaml]\nmqtt: {port: 1883, colour: blue}\n")
    proc = _ews("hub", "--config", str(bad))
    assert proc.returncode == 2
    assert str(bad) in proc.stderr and "mqtt.colour" in proc.stderr
    bad.write_text("rules: [x.yaml]\nfeeds: [{kind: teletext, name: t}]\n")
    proc = _ews("hub", "--config", str(bad))
    assert proc.returncode == 2 and "unknown kind 'teletext'" in proc.stderr


def _minutes_ago(n: int, now: float) -> list[float]:
    return [now - 60 * m for m in range(n, 0, -5)]


def test_alerts_reload_and_restart_rebuild_windows(
    mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    """60 mm before a restart + 25 mm after must still make red (80 mm in 1 h): windows come back."""
    cfg = write_config(tmp_path, "hubA", mosquitto.port, influxd.url, "ews")
    with HubRig(cfg, tmp_path / "hub.log", mosquitto.port) as rig:
        watch, gw = rig.watch, rig.gw
        gw.rain("fs-hp01-rg1", 6.0, _minutes_ago(50, time.time()))  # 10 × 6 mm in the last 50 min: orange
        assert wait_for(lambda: "orange" in watch.levels("fs-hp01")), watch.messages
        rig.hub.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "rules reloaded" in rig.text()), rig.text()[-2000:]
        rig.restart()  # same config: rebuild_on_start reads the 60 mm back from InfluxDB
        gw.rain("fs-hp01-rg1", 12.5, [time.time() - 120, time.time() - 60])
        assert wait_for(lambda: watch.levels("fs-hp01") != []), watch.messages
        assert watch.levels("fs-hp01").count("orange") == 1, "the restart must not announce orange again"


def test_a_batch_sent_again_after_a_restart_counts_once(
    mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    """A gateway whose PUBACK was lost sends its batch again when it reconnects, after the hub has
    restarted and forgotten the sequence numbers it had seen. The rebuilt windows hold the stored copy
    of those readings, so the resent copy must count as a duplicate: 60 mm stays orange. Before, the
    store was read back in whole seconds, the gateway's fractional times did not match, and the same
    60 mm counted twice (red)."""
    cfg = write_config(tmp_path, "hubA", mosquitto.port, influxd.url, "ews")
    with HubRig(cfg, tmp_path / "hub.log", mosquitto.port) as rig:
        watch, gw = rig.watch, rig.gw
        times = _minutes_ago(50, time.time())
        gw.rain("fs-hp01-rg1", 6.0, times)  # 60 mm in the last hour: orange
        assert wait_for(lambda: "orange" in watch.levels("fs-hp01")), watch.messages
        # The restart rebuilds the windows from influxd: wait until the store has written them there
        # (a fixed sleep was too short on a loaded machine).
        store = InfluxClient(InfluxConfig.model_validate({"url": influxd.url, "database": "ews"}))
        assert wait_for(lambda: store.count("rain_mm", "\"sensor\" = 'fs-hp01-rg1'") == len(times))
        rig.restart()
        gw.seq -= len(times)  # the same batch again: same sequence numbers, same times
        gw.rain("fs-hp01-rg1", 6.0, times)
        # Rain at fs-hp02 on the same connection after it: once its alert is out, the resend was decided.
        gw.rain("fs-hp02-rg1", 6.0, _minutes_ago(50, time.time()))
        assert wait_for(lambda: "orange" in watch.levels("fs-hp02")), watch.messages
        assert "red" not in watch.levels("fs-hp01"), watch.levels("fs-hp01")
        assert watch.levels("fs-hp01").count("orange") == 1, "the restart must not announce orange again"


def test_a_hub_that_starts_before_influxdb_rebuilds_its_windows_when_it_answers(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """After a power cut the hub may start while InfluxDB is still loading. 60 mm fell before the
    restart. The hub waits for the store (here only 1 s), decides without it, and rebuilds its windows
    from it once it answers: 25 mm more then make red (85 mm in the hour). Before, the windows started
    empty and stayed so: 25 mm raised nothing, and orange would have stepped down on new rain alone."""
    influx = Influxd(tmp_path / "influx")
    influx.start()
    cfg = write_config(tmp_path, "hubA", mosquitto.port, influx.url, "ews", history_wait_s=1.0)
    try:
        with HubRig(cfg, tmp_path / "hub.log", mosquitto.port) as rig:
            rig.gw.rain("fs-hp01-rg1", 6.0, _minutes_ago(50, time.time()))  # 60 mm: orange
            assert wait_for(lambda: "orange" in rig.watch.levels("fs-hp01")), rig.watch.messages
            store = InfluxClient(InfluxConfig.model_validate({"url": influx.url, "database": "ews"}))
            assert wait_for(lambda: store.count("rain_mm", "\"sensor\" = 'fs-hp01-rg1'") == 10)
            influx.stop()
            rig.restart()
            assert "windows started without the stored history" in rig.text()
            influx = Influxd(tmp_path / "influx", port=influx.port)  # the same data, back up
            influx.start()
            assert wait_for(lambda: "windows rebuilt late from the store" in rig.text(), 20), rig.text()[
                -2000:
            ]
            rig.gw.rain("fs-hp01-rg1", 12.5, [time.time() - 120, time.time() - 60])
            assert wait_for(lambda: "red" in rig.watch.levels("fs-hp01")), rig.watch.messages
            assert rig.watch.levels("fs-hp01").count("orange") == 1
            # A reload while InfluxDB is away builds from what the engine holds, then again from the store.
            influx.stop()
            rig.hub.send_signal(signal.SIGHUP)
            assert wait_for(lambda: "rules reloaded" in rig.text()), rig.text()[-2000:]
            influx = Influxd(tmp_path / "influx", port=influx.port)
            influx.start()
            assert wait_for(lambda: rig.text().count("windows rebuilt late from the store") == 2, 20)
    finally:
        influx.stop()


def test_a_sensor_maintenance_window_keeps_test_tips_out(
    mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    """`ews/v1/cmd/silence` naming a sensor: 80 mm of test tips at fs-hp01 raise nothing, while rain at
    fs-hp02 (published after them, on the same connection) still raises its alert. Closed, the gauge
    counts again."""
    cfg = write_config(tmp_path, "hubA", mosquitto.port, influxd.url, "ews")
    with HubRig(cfg, tmp_path / "hub.log", mosquitto.port) as rig:
        watch, gw = rig.watch, rig.gw

        def window(minutes: int) -> None:
            rig.officer.command("silence", sensor="fs-hp01-rg1", minutes=minutes)

        window(120)
        assert wait_for(lambda: "sensor maintenance sensor=fs-hp01-rg1" in rig.text())
        now = time.time()
        # The technician's tips, taken since the window opened (readings taken before it are real).
        gw.rain("fs-hp01-rg1", 8.0, [now + 0.01 * k for k in range(10)])
        gw.rain("fs-hp02-rg1", 6.0, _minutes_ago(50, now))
        assert wait_for(lambda: "orange" in watch.levels("fs-hp02")), watch.messages
        assert watch.levels("fs-hp01") == []
        window(0)
        assert wait_for(lambda: rig.text().count("sensor maintenance sensor=fs-hp01-rg1") == 2)
        gw.rain("fs-hp01-rg1", 8.0, [time.time() - 60 * m for m in range(9, 0, -1)])  # real rain
        assert wait_for(lambda: watch.levels("fs-hp01") != []), watch.messages


def test_an_alert_whose_rule_a_reload_removed_is_closed_by_hand(
    mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    """Orange stands at fs-hp01 when a reload renames its rule. The old alert stands (only a person
    can say the danger is over), the log says how to close it, and `ews/v1/cmd/close` then ends it
    with an all-clear. The same command on an alert the rules still decide is refused and logged."""
    rules = tmp_path / "flash_flood.yaml"
    rules.write_text(RULES.read_text(encoding="utf-8"), encoding="utf-8")
    cfg = write_config(tmp_path, "hubA", mosquitto.port, influxd.url, "ews", rules=[str(rules)])
    old = "flash-flood-critical-rain"
    with HubRig(cfg, tmp_path / "hub.log", mosquitto.port) as rig:
        watch, officer = rig.watch, rig.officer

        def of(rule: str) -> list[tuple[str, str]]:
            with watch.lock:
                return [(m["kind"], m["level"]) for m in watch.messages if m["rule"] == rule]

        rig.gw.rain("fs-hp01-rg1", 6.0, _minutes_ago(50, time.time()))  # 60 mm in the last hour: orange
        assert wait_for(lambda: ("alert", "orange") in of(old)), watch.messages
        officer.command("close", site="fs-hp01", rule=old)
        assert wait_for(lambda: "command refused verb=close" in rig.text()), rig.text()[-2000:]
        assert "the rules still decide alert fs-hp01/flash-flood-critical-rain" in rig.text()

        assert "rule warning" not in rig.text()
        # The edit also drops what holds the rule's level against noise: a reload warns about it.
        edited = rules.read_text(encoding="utf-8").replace(f"id: {old}\n", f"id: {old}-v2\n")
        for steady in ("    hysteresis: 0.2\n", "    min_time_at_level: 1h\n", "    clear_for: 30m\n"):
            edited = edited.replace(steady, "", 1)
        rules.write_text(edited, encoding="utf-8")
        rig.hub.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "rules reloaded" in rig.text()), rig.text()[-2000:]
        assert f"rule warning: {rules}: rule {old}-v2: nothing holds a level against noise" in rig.text()
        assert f"alert left standing, its rule is gone site=fs-hp01 rule={old} level=orange" in rig.text()
        # The renamed rule sees the same 60 mm, not twice as much: the windows a reload rebuilds from
        # stored readings plus the ones the engine held count each reading once (edge.wire.to_ms).
        assert wait_for(lambda: of(f"{old}-v2") != []), watch.messages
        assert of(f"{old}-v2") == [("alert", "orange")]
        assert of(old) == [("alert", "orange")]  # no all-clear: nobody said the danger was over

        officer.command("close", site="fs-hp01", rule=old)
        assert wait_for(lambda: ("clear", "none") in of(old)), watch.messages
        assert f"alert closed by hand alert=fs-hp01/{old} level=orange who=officer-li" in rig.text()
        assert of(f"{old}-v2") == [("alert", "orange")]


def test_a_replaced_gateways_new_outbox_is_heard(
    mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    """The real edge publisher and outbox: fs-gw01 sends 30 readings, then its SD card is replaced and
    its new outbox counts from 1 again. Before, the hub took seq 1 to 30 for readings it had seen and
    dropped every one, so 60 mm raised nothing until the hub restarted; now the batch's stream says it
    is a new outbox, and orange comes."""
    cfg = write_config(tmp_path, "hubA", mosquitto.port, influxd.url, "ews")
    fast = PublishConfig(backoff_min_s=0.1, backoff_max_s=0.5, connect_timeout_s=5)
    with HubRig(cfg, tmp_path / "hub.log", mosquitto.port) as rig:
        for name, mm, times in (
            ("old.db", 0.0, [time.time() - 3000 + k for k in range(30)]),
            ("new.db", 6.0, _minutes_ago(50, time.time())),  # 60 mm in the last hour, seq 1 to 10
        ):
            outbox = Outbox(tmp_path / name)
            pub = Publisher("fs-gw01", MqttConfig(port=mosquitto.port), fast, outbox)
            pub.start()
            try:
                added = outbox.add([Reading("fs-hp01-rg1", "rain_mm", mm, t) for t in times])
                assert added[0].seq == 1
                assert wait_for(lambda box=outbox: box.count() == 0), (
                    outbox.count()
                )  # PUBACKed: at the broker
            finally:
                pub.stop()
                outbox.close()
        assert wait_for(lambda: "orange" in rig.watch.levels("fs-hp01")), rig.text()[-2000:]
        assert "sequence numbers start again origin=fs-gw01" in rig.text()


def test_rain_taken_while_the_gateway_clock_was_behind_counts_where_it_fell(
    mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    """The real edge outbox and publisher: fs-gw01 came back from a power cut with its clock 3 h behind
    and its link down, and stamped 60 mm in the last hour on that clock. The link and NTP come back,
    and the backlog is sent. Before, it reached the hub 3 h in the past, a burst that the hub rightly
    does not take for a clock, so the 1 h window never saw it and no warning came; now the outbox moves
    the readings by the clock's step (edge.clock.restamped), and orange comes. The clock frames are
    given by hand because a test cannot set the machine's clock."""
    cfg = write_config(tmp_path, "hubA", mosquitto.port, influxd.url, "ews")
    fast = PublishConfig(backoff_min_s=0.1, backoff_max_s=0.5, connect_timeout_s=5)
    behind = 3 * 3600.0
    with HubRig(cfg, tmp_path / "hub.log", mosquitto.port) as rig:
        outbox = Outbox(tmp_path / "outbox.db")
        stamped = [t - behind for t in _minutes_ago(50, time.time())]  # the wrong clock's times
        outbox.add(
            [Reading("fs-hp01-rg1", "rain_mm", 6.0, t) for t in stamped],
            frames=[Frame("boot-1", -behind)] * len(stamped),
        )
        pub = Publisher(
            "fs-gw01", MqttConfig(port=mosquitto.port), fast, outbox, frames=lambda: Frame("boot-1", 0.0)
        )
        pub.start()
        try:
            assert wait_for(lambda: outbox.count() == 0), outbox.count()
        finally:
            pub.stop()
            outbox.close()
        assert wait_for(lambda: "orange" in rig.watch.levels("fs-hp01")), rig.text()[-2000:]


def test_two_partitioned_hubs_decide_each_reading_once(
    mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    a = start_hub(
        write_config(tmp_path, "hubA", mosquitto.port, influxd.url, "ews", sites=["fs-hp01"]),
        tmp_path / "a.log",
    )
    b = start_hub(
        write_config(tmp_path, "hubB", mosquitto.port, influxd.url, "ews", sites=["fs-hp02", "fs-hp03"], store_unassigned=False),
        tmp_path / "b.log",
    )  # fmt: skip
    watch = AlertWatch(mosquitto.port)
    gws = {s: Gateway(mosquitto.port, f"fs-gw0{s[-1]}") for s in ("fs-hp01", "fs-hp02", "fs-hp03")}
    try:
        assert wait_for(
            lambda: all("hub running" in (tmp_path / f).read_text() for f in ("a.log", "b.log")), 30
        )
        now = time.time()
        for site, gw in gws.items():
            gw.rain(f"{site}-rg1", 9.0, _minutes_ago(50, now))  # 90 mm in the last hour: red everywhere
        assert wait_for(lambda: all("red" in watch.levels(s) for s in gws), 20), watch.messages
        time.sleep(1.0)  # a second hub deciding the same site would publish its copy by now
        for site in gws:
            assert watch.levels(site).count("red") == 1, (site, watch.levels(site))
    finally:
        for p in (a, b):
            p.send_signal(signal.SIGTERM)
            p.wait(30)
        watch.close()
        for gw in gws.values():
            gw.close()
