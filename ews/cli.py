"""The `ews` command line: one entry point, one registry line per subcommand module."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Each module defines `register(subparsers)` which adds its parser and sets `func(args) -> int`.
# One line per command module; order is the order of `ews --help`.
COMMANDS: list[str] = [
    "ews.commands.demo",
    "ews.commands.edge",
    "ews.commands.hub",
    "ews.commands.gateway",
    "ews.commands.drone",
    "ews.commands.dashboards",
    "ews.commands.report",
    "ews.commands.feeds",
    "ews.commands.cap",
    "ews.commands.decode",
    "ews.commands.alerts",
    "ews.commands.rules",
    "ews.commands.replay",
    "ews.commands.native",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ews", description="Fengshan disaster early-warning system (凤山预警)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def setup_logging(verbose: bool) -> None:
    """One logging style for every process: structured key=value lines on stderr."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
        stream=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
