"""Subcommands of `ews`: each module has register(subparsers)."""
