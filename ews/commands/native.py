"""`ews native build|status|clean`: the optional mypyc-compiled rule engine (see docs/operations.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("native", help="build or check the compiled (mypyc) rule engine")
    sub = p.add_subparsers(dest="native_command", required=True, metavar="ACTION")
    b = sub.add_parser(
        "build", help="compile hub/rules in place (about a minute); pure Python stays on failure"
    )
    b.add_argument("--force", action="store_true", help="rebuild even when the build matches the sources")
    b.add_argument("--root", type=Path, help="source tree to build (default: the one this ews runs from)")
    b.set_defaults(func=build)
    s = sub.add_parser("status", help="which engine runs (native or pure Python) and why")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--require-native", action="store_true", help="exit 1 unless the native engine runs")
    s.set_defaults(func=status)
    c = sub.add_parser("clean", help="remove the compiled files; the pure-Python engine runs")
    c.set_defaults(func=clean)


def build(args: argparse.Namespace) -> int:
    from ews.nativebuild import build as run_build

    print(
        "ews native: checking; a build (mypyc + C compiler) takes about a minute ...",
        file=sys.stderr,
        flush=True,
    )
    result = run_build(args.root, force=args.force)
    took = f" in {result.seconds:.0f} s" if result.seconds else ""
    print(f"ews native: {result.message}{took}", file=sys.stderr if not result.ok else sys.stdout)
    if not result.ok:
        print("ews native: the pure-Python engine will run (same alerts, slower)", file=sys.stderr)
    return 0 if result.ok else 1


def status(args: argparse.Namespace) -> int:
    import hub.rules.engine  # noqa: F401  (status() reports what really loaded)
    from hub.rules import native

    st = native.status()
    if args.json:
        print(json.dumps({"engine": st.mode, "reason": st.reason, "stale": st.stale, **st.built}))
    else:
        print(f"engine: {st.mode}\nreason: {st.reason}")
        for k, v in st.built.items():
            print(f"{k}: {v}")
    return 1 if args.require_native and not st.native else 0


def clean(args: argparse.Namespace) -> int:
    from ews.nativebuild import remove_build
    from hub.rules import native

    for p in remove_build(native.package_dir()):
        print(f"removed {p}")
    return 0
