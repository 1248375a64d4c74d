"""`ews drone go ALERT --plan FILE --mavlink URL`: the human go that uploads a drone mission over MAVLink."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("drone", help="drone-team missions (upload only on a human go)")
    sub = parser.add_subparsers(dest="drone_command", required=True, metavar="ACTION")
    go = sub.add_parser("go", help="upload the mission, geofence and altitude limit of ALERT to an aircraft")
    go.add_argument("alert", help="alert id the mission was written for, e.g. fs-hp01/landslide")
    go.add_argument("--plan", type=Path, required=True, help="the .plan file written by the drone channel")
    go.add_argument("--mavlink", default="udpout:127.0.0.1:14550", help="pymavlink connection string")
    go.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the aircraft at each step"
    )
    go.add_argument("--yes", action="store_true", help="skip the typed confirmation (the command is the go)")
    go.set_defaults(func=run_go)


def _load(path: Path) -> dict[str, Any]:
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"ews drone go: cannot read plan {path}: {exc}") from None
    if plan.get("fileType") != "Plan" or "mission" not in plan:
        raise SystemExit(f"ews drone go: {path} is not a QGroundControl .plan file")
    return plan


def run_go(args: argparse.Namespace) -> int:
    from hub.channels.drone_upload import UploadError, upload

    plan = _load(args.plan)
    planned_for = plan.get("ews", {}).get("alert")
    if planned_for != args.alert:
        print(
            f"refused: {args.plan} was planned for alert {planned_for!r}, not {args.alert!r}", file=sys.stderr
        )
        return 2
    items = plan["mission"]["items"]
    target = next((i["params"][4:6] for i in items if i["command"] == 16), None)
    print(
        f"alert {args.alert}: {len(items)} mission items, target {target}, "
        f"altitude limit {plan['ews'].get('altitudeLimitM')} m, link {args.mavlink}"
    )
    print("This uploads the mission only; arming and take-off stay with the pilot.")
    if not args.yes:
        if not sys.stdin.isatty():
            print("refused: confirm interactively, or pass --yes", file=sys.stderr)
            return 2
        if input("type GO to upload / 输入 GO 确认上传: ").strip() != "GO":
            print("cancelled")
            return 1
    log.warning(
        "drone upload go alert=%s plan=%s link=%s by=%s",
        args.alert,
        args.plan,
        args.mavlink,
        getpass.getuser(),
    )
    try:
        result = upload(plan, args.mavlink, timeout_s=args.timeout)
    except UploadError as exc:
        print(f"upload failed: {exc}", file=sys.stderr)
        return 1
    print(result)
    return 0
