"""Drone dispatch: mission files and card from an alert, and `ews drone go` uploading over real MAVLink/UDP."""

from __future__ import annotations

import json
import os
import socket
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault(
    "MAVLINK20", "1"
)  # the vehicle below speaks MAVLink 2 (mission_type), like the uploader
from pymavlink import mavutil  # noqa: E402

from ews.cli import main as ews_main  # noqa: E402
from hub.channels import drone, drone_upload, mission  # noqa: E402
from hub.channels.base import ChannelError, Notification  # noqa: E402
from hub.channels.registry import CHANNEL_KINDS  # noqa: E402

ALERT = "fs-hp01/landslide"
SPEC_FOR_UPLOAD = mission.MissionSpec(
    alert_id=ALERT,
    site="fs-hp01",
    target_lat=24.6012,
    target_lon=112.5521,
    home_lat=24.5856,
    home_lon=112.5412,
)


class MavlinkVehicle:
    """A MAVLink vehicle endpoint on UDP loopback, written with pymavlink for this test.

    It stands in for an autopilot because no flight controller or SITL simulator (ArduPilot/PX4 builds)
    is available here. It implements the vehicle side of the MAVLink mission protocol as an autopilot
    does: heartbeats, MISSION_COUNT → MISSION_REQUEST_INT per item → MISSION_ITEM_INT → MISSION_ACK, for
    both mission and fence types, and PARAM_SET → PARAM_VALUE. It records everything it received.
    """

    def __init__(self, *, reject_with: int | None = None) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.conn = mavutil.mavlink_connection(
            f"udpin:127.0.0.1:{self.port}", source_system=1, source_component=1
        )
        self.reject_with = reject_with
        self.items: dict[int, list[Any]] = {0: [], 1: []}
        self.params: dict[str, float] = {}
        self.acks: list[int] = []
        self._expected: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MavlinkVehicle:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=3)
        self.conn.close()

    def _run(self) -> None:
        ml = mavutil.mavlink
        while not self._stop.is_set():
            msg = self.conn.recv_match(blocking=True, timeout=0.2)
            if msg is None:
                continue
            kind = msg.get_type()
            if kind == "HEARTBEAT":
                self.conn.mav.heartbeat_send(ml.MAV_TYPE_QUADROTOR, ml.MAV_AUTOPILOT_ARDUPILOTMEGA, 0, 0, 0)
            elif kind == "MISSION_COUNT":
                mt = msg.mission_type
                self.items[mt] = []
                self._expected[mt] = msg.count
                if self.reject_with is not None:
                    self.conn.mav.mission_ack_send(255, 190, self.reject_with, mt)
                else:
                    self.conn.mav.mission_request_int_send(255, 190, 0, mt)
            elif kind == "MISSION_ITEM_INT":
                mt = msg.mission_type
                if msg.seq == len(self.items[mt]):
                    self.items[mt].append(msg)
                if len(self.items[mt]) < self._expected[mt]:
                    self.conn.mav.mission_request_int_send(255, 190, len(self.items[mt]), mt)
                else:
                    self.acks.append(mt)
                    self.conn.mav.mission_ack_send(255, 190, ml.MAV_MISSION_ACCEPTED, mt)
            elif kind == "PARAM_SET":
                name = msg.param_id
                self.params[name] = msg.param_value
                self.conn.mav.param_value_send(name.encode(), msg.param_value, msg.param_type, 1, 0)


@pytest.fixture
def config(tmp_path: Path) -> drone.DroneConfig:
    cfg = CHANNEL_KINDS["drone"].model_validate(
        {
            "kind": "drone",
            "out_dir": str(tmp_path / "missions"),
            "home": {"name": "黎埠镇", "lat": 24.5856, "lon": 112.5412, "alt_amsl": 120},
            "sites": {"fs-hp01": {"name": "凤山村后山滑坡隐患点", "lat": 24.6012, "lon": 112.5521}},
        }
    )
    assert isinstance(cfg, drone.DroneConfig)
    return cfg


def note(**extra: str) -> Notification:
    text = "红色预警：后山裂缝24小时增加30毫米，请飞抵查看坡体"
    return Notification(ALERT, "drone-team", text, "red", "fs-hp01", extra=dict(extra))


@pytest.fixture
def written(config: drone.DroneConfig) -> Path:
    receipt = config.build().send(note(officer="黎埠镇应急办 张主任"))
    plan_path = Path(receipt.split(";")[0].removeprefix("drone:plan="))
    assert plan_path.exists()
    return plan_path


def test_send_writes_plan_kmz_and_card(config, written):
    plan_path, kmz_path, card_path = config.build().paths(ALERT)
    assert written == plan_path and plan_path.name == "fs-hp01_landslide.plan"
    plan = json.loads(plan_path.read_text(encoding="utf-8"))
    assert plan["ews"]["alert"] == ALERT
    assert plan["mission"]["items"][1]["params"][4:6] == [24.6012, 112.5521]
    with zipfile.ZipFile(kmz_path) as zf:
        assert "wpmz/waylines.wpml" in zf.namelist()
    card = card_path.read_text(encoding="utf-8")
    assert "24.601200,112.552100" in card and "WGS84" in card
    assert "后山裂缝24小时增加30毫米" in card and "黎埠镇应急办 张主任" in card
    assert "红色预警" in card and f"ews drone go {ALERT}" in card
    assert not list(plan_path.parent.glob("*.part"))


def test_card_for_matches_the_written_card(config, written):
    ch = config.build()
    n = note(officer="黎埠镇应急办 张主任")
    assert ch.card_for(n) == ch.paths(ALERT)[2].read_text(encoding="utf-8")
    assert "值班员" in ch.card_for(note())


def test_dispatcher_extra_keys_are_understood(config):
    """hub/alerts/routing.py sends requesting_officer, and empty lat/lon when it knows no site."""
    ch = config.build()
    n = Notification(ALERT, "drone-team", "card", "red", "fs-hp01",
                     extra={"lat": "", "lon": "", "requesting_officer": "李站长(13800000001)"})  # fmt: skip
    ch.send(n)
    assert "请求人：李站长(13800000001)" in ch.paths(ALERT)[2].read_text(encoding="utf-8")
    plan = json.loads(ch.paths(ALERT)[0].read_text(encoding="utf-8"))
    assert plan["mission"]["items"][1]["params"][4:6] == [24.6012, 112.5521]


def test_coordinates_from_the_notification_win(config):
    ch = config.build()
    ch.send(
        Notification("fs-hp09/flood", "t", "x", "orange", "fs-hp09", extra={"lat": "24.59", "lon": "112.56"})
    )
    plan = json.loads(ch.paths("fs-hp09/flood")[0].read_text(encoding="utf-8"))
    assert plan["mission"]["items"][1]["params"][4:6] == [24.59, 112.56]


def test_unknown_site_and_unsafe_altitude_are_not_recoverable(config, tmp_path):
    with pytest.raises(ChannelError) as err:
        config.build().send(Notification("x/y", "t", "x", "red", "fs-hp77"))
    assert not err.value.recoverable and "fs-hp77" in str(err.value)
    high = drone.DroneConfig.model_validate({**config.model_dump(), "cruise_alt_m": 300})
    with pytest.raises(ChannelError) as err:
        high.build().send(note())
    assert not err.value.recoverable and "altitude_limit" in str(err.value)


def test_upload_reaches_mission_ack_accepted(written):
    plan = json.loads(written.read_text(encoding="utf-8"))
    with MavlinkVehicle() as vehicle:
        result = drone_upload.upload(plan, f"udpout:127.0.0.1:{vehicle.port}", timeout_s=10)
    assert vehicle.acks == [0, 1]  # mission then fence, each acknowledged MAV_MISSION_ACCEPTED
    items = vehicle.items[0]
    # ArduPilot: seq 0 is home, then the plan's items in order
    assert [i.command for i in items] == [16, 22, 16, 195, 2000, 18, 2001, 197, 20]
    assert (items[2].x, items[2].y, items[2].z) == (246012000, 1125521000, 80.0)
    # The camera points at the hazard point: ROI lat/lon as degE7 in a global frame, not 24, 112.
    roi = items[3]
    assert (roi.frame, roi.x, roi.y) == (mission.FRAME_GLOBAL_RELATIVE_ALT, 246012000, 1125521000)
    assert items[5].param1 == 2.0 and items[5].param3 == 60.0
    (fence,) = vehicle.items[1]
    assert fence.command == mission.FENCE_CIRCLE_INCLUSION and fence.param1 >= 1800
    assert vehicle.params == {"FENCE_ALT_MAX": 120.0}
    assert "mission=9 fence=1" in result


def test_older_plan_with_a_positioned_item_in_frame_mission_is_sent_as_degE7():
    # Plan files written before the ROI fix (still on disk in out_dir) carry the ROI in frame MISSION.
    plan = mission.plan(SPEC_FOR_UPLOAD)
    plan["mission"]["items"][2]["frame"] = mission.FRAME_MISSION
    frame, command, _p, x, y, _z = drone_upload.mission_items(plan)[3]
    assert command == mission.DO_SET_ROI_LOCATION
    assert (frame, x, y) == (mission.FRAME_GLOBAL_RELATIVE_ALT, 246012000, 1125521000)
    # Items without a position keep frame MISSION and their plain parameters.
    frame, command, _p, x, y, _z = drone_upload.mission_items(plan)[4]
    assert (frame, command, x, y) == (mission.FRAME_MISSION, mission.IMAGE_START_CAPTURE, 0, 0)


def test_upload_reports_a_rejection(written):
    plan = json.loads(written.read_text(encoding="utf-8"))
    vehicle = MavlinkVehicle(reject_with=mavutil.mavlink.MAV_MISSION_NO_SPACE)
    with vehicle, pytest.raises(drone_upload.UploadError, match="MAV_MISSION_NO_SPACE"):
        drone_upload.upload(plan, f"udpout:127.0.0.1:{vehicle.port}", timeout_s=5)


def test_upload_without_an_aircraft_times_out():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with pytest.raises(drone_upload.UploadError, match="no heartbeat"):
            drone_upload.upload({"mission": {"items": []}}, f"udpout:127.0.0.1:{port}", timeout_s=1.5)


def test_ews_drone_go_uploads_on_the_human_go(written, capsys):
    with MavlinkVehicle() as vehicle:
        rc = ews_main(
            [
                "drone",
                "go",
                ALERT,
                "--plan",
                str(written),
                "--mavlink",
                f"udpout:127.0.0.1:{vehicle.port}",
                "--yes",
                "--timeout",
                "10",
            ]
        )
    assert rc == 0 and vehicle.acks == [0, 1]
    out = capsys.readouterr().out
    assert "arming and take-off stay with the pilot" in out and "uploaded mission=9" in out


def test_ews_drone_go_refuses_the_wrong_alert_and_an_unconfirmed_go(written, capsys, monkeypatch):
    assert ews_main(["drone", "go", "fs-hp02/flood", "--plan", str(written)]) == 2
    assert "planned for alert 'fs-hp01/landslide'" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin.isatty", lambda: False, raising=False)
    assert ews_main(["drone", "go", ALERT, "--plan", str(written)]) == 2
    assert "confirm interactively" in capsys.readouterr().err


def test_ews_drone_go_interactive_confirmation(written, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    assert ews_main(["drone", "go", ALERT, "--plan", str(written)]) == 1
    assert "cancelled" in capsys.readouterr().out


def test_ews_drone_go_bad_plan_file(tmp_path):
    bad = tmp_path / "x.plan"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(SystemExit, match="cannot read plan"):
        ews_main(["drone", "go", ALERT, "--plan", str(bad)])
