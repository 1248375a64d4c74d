"""`ews decode sl651 HEX...` and `ews decode lpp BASE64`: decode captured bytes to JSON for field technicians."""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("decode", help="decode captured sensor frames (SL 651, Cayenne LPP) to JSON")
    sub = p.add_subparsers(dest="protocol", required=True, metavar="PROTOCOL")
    s = sub.add_parser("sl651", help="SL 651-2014 frames given as hex (spaces allowed; '-' reads stdin)")
    s.add_argument("hex", nargs="+", help="frame bytes in hex; several frames may be run together")
    s.add_argument("--tz", type=float, default=8.0, help="station clock offset from UTC in hours (default 8)")
    s.set_defaults(func=run_sl651)
    lp = sub.add_parser("lpp", help="Cayenne LPP payload given as base64 (or hex with --hex)")
    lp.add_argument("payload", nargs="+", help="payload(s)")
    lp.add_argument("--hex", action="store_true", help="payloads are hex, not base64")
    lp.set_defaults(func=run_lpp)


def _out(doc: dict[str, Any]) -> None:
    print(json.dumps(doc, ensure_ascii=False))


def run_sl651(args: argparse.Namespace) -> int:
    from edge.sensors.sl651_body import describe
    from edge.sensors.sl651_codec import Scanner, SL651Error

    text = sys.stdin.read() if args.hex == ["-"] else " ".join(args.hex)
    try:
        data = bytes.fromhex("".join(text.split()))
    except ValueError as exc:
        print(f"ews decode sl651: not hex: {exc}", file=sys.stderr)
        return 2
    status = 0
    # Decode even when the CRC is wrong: the technician needs to see the frame, with crc_ok false.
    scanner = Scanner(check_crc=False)
    for item in [*scanner.feed(data), *scanner.flush()]:
        if isinstance(item, SL651Error):
            _out({"error": str(item)})
            status = 1
            continue
        doc = describe(item, int(args.tz * 3600))
        status |= 0 if doc["crc_ok"] and "error" not in doc else 1
        _out(doc)
    return status


def run_lpp(args: argparse.Namespace) -> int:
    from edge.sensors import lpp

    status = 0
    for text in args.payload:
        try:
            data = bytes.fromhex(text) if args.hex else base64.b64decode(text, validate=True)
            values = lpp.decode(data)
        except (ValueError, binascii.Error, lpp.LppError) as exc:
            _out({"payload": text, "error": str(exc)})
            status = 1
            continue
        _out(
            {
                "payload": text,
                "elements": [
                    {
                        "channel": v.channel,
                        "type": v.type,
                        "name": v.name,
                        "key": v.key,
                        "value": v.value,
                        "unit": v.unit,
                    }
                    for v in values
                ],
            }
        )
    return status
