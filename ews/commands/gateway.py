"""`ews gateway add|rotate|remove|list`: broker accounts for gateways, hubs, officers and bridges."""

from __future__ import annotations

import argparse
import logging
import socket
import subprocess
import sys
from pathlib import Path

from ews.gateway_admin import ROLES, AccountStore, AdminError, BrokerFiles, gateway_snippet

log = logging.getLogger(__name__)

# The template ships in the source tree, which install.sh installs editable under /opt/ews/src.
_TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "acl.template"
# Where a gateway reads its password: gateway_snippet's password_file (tests/deploy/test_gateway_admin.py).
GATEWAY_SECRETS = "/etc/ews/secrets"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "gateway",
        help="broker accounts: add a gateway (or hub, officer, bridge), rotate or remove its password",
        description="Manage MQTT accounts. Passwords go only into 0600 credentials files; "
        "run `systemctl reload mosquitto` (or pass --reload) for the broker to pick changes up.",
    )
    p.add_argument("--password-file", type=Path, default=Path("/etc/mosquitto/ews/passwd"))
    p.add_argument("--acl-file", type=Path, default=Path("/etc/mosquitto/ews/acl"))
    p.add_argument("--acl-template", type=Path, default=_TEMPLATE)
    p.add_argument("--secrets-dir", type=Path, default=Path("/etc/ews/secrets"))
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="create an account and its credentials file")
    add.add_argument("name", help="gateway id (fs-gw04), or ews-hub*, officer-*, bridge-* for other roles")
    add.add_argument("--role", choices=ROLES, default="gateway")
    add.add_argument("--owner", help="system user to own the credentials file (e.g. ews)")
    add.add_argument("--if-missing", action="store_true", help="do nothing if the account exists")
    add.add_argument("--hub-host", help="hub address gateways connect to (default: this host's FQDN)")
    add.add_argument("--hub-port", type=int, default=8883)
    add.add_argument("--ca", default="/etc/ews/ca.crt", help="CA path on the gateway")
    rot = sub.add_parser("rotate", help="give an account a new password")
    rot.add_argument("name")
    rot.add_argument("--owner", help="system user to own the credentials file")
    rem = sub.add_parser("remove", help="delete an account (a stolen gateway)")
    rem.add_argument("name")
    for action in (add, rot, rem):
        action.add_argument("--reload", action="store_true", help="reload mosquitto after the change")
    sub.add_parser("list", help="list accounts and roles")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    store = AccountStore(BrokerFiles(args.password_file, args.acl_file, args.acl_template, args.secrets_dir))
    try:
        if args.action == "list":
            for name, role in sorted(store.accounts().items()):
                print(f"{name}\t{role}")
            return 0
        if args.action == "add":
            creds = store.add(args.name, args.role, owner=args.owner, if_missing=args.if_missing)
            if args.role == "gateway":
                # Looked up only here: a DNS lookup while building the parser would slow every `ews` command.
                host = args.hub_host or socket.getfqdn()
                print(gateway_snippet(args.name, host, args.hub_port, args.ca))
                # The same path as the snippet's password_file, or the gateway cannot log in.
                dest = f"{GATEWAY_SECRETS}/{args.name}.password"
                print(f"# copy {creds} to the gateway as {dest} (owner ews, mode 0600)")
            else:
                print(f"# credentials for {args.name}: {creds}")
        elif args.action == "rotate":
            creds = store.rotate(args.name, owner=args.owner)
            print(f"# new credentials for {args.name}: {creds}; install them where the account connects from")
        elif args.action == "remove":
            store.remove(args.name)
    except (AdminError, OSError, subprocess.CalledProcessError) as exc:
        print(f"ews gateway: {exc}", file=sys.stderr)
        return 1
    if getattr(args, "reload", False):
        result = subprocess.run(["systemctl", "reload", "mosquitto"], capture_output=True, text=True)
        if result.returncode != 0:
            log.error("mosquitto reload failed rc=%s error=%s", result.returncode, result.stderr.strip())
            return 1
    elif args.action != "list":
        print("# reload the broker for this to take effect: systemctl reload mosquitto")
    return 0
