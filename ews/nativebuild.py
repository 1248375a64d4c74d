"""Build the native (mypyc) rule engine in place, verify it, and write the manifest hub.rules.native checks.

The compile runs in a child process (mypyc through setuptools' build_ext, with the tree's mypy settings)
into build/native/, and only a complete, verified build is moved next to the sources: the old manifest is
removed first and every file is swapped in with os.replace (a running hub keeps the inode it mapped), so a
process starting meanwhile sees either no manifest (pure Python) or a whole build. Any failure leaves the
pure-Python engine, which gives the same alerts, only slower.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

from hub.rules import native

log = logging.getLogger(__name__)

# Runs in the child: mypyc generates C into build/native/c, build_ext compiles it into build/native/lib.
# A bare Distribution, so setuptools does not read the project's own metadata from pyproject.toml.
_WORKER = """
import json, sys
from setuptools import Distribution
from mypyc.build import mypycify
a = json.loads(sys.argv[1])
exts = mypycify(a["paths"] + ["--cache-dir", a["cache"]], group_name=a["group"], target_dir=a["c"], opt_level="3")
dist = Distribution({"name": "ews-native", "ext_modules": exts, "script_name": "ews-native"})
cmd = dist.get_command_obj("build_ext")
cmd.build_lib, cmd.build_temp, cmd.inplace = a["lib"], a["temp"], 0
dist.run_command("build_ext")
"""


@dataclass(frozen=True)
class BuildResult:
    ok: bool
    message: str
    seconds: float = 0.0


def missing_prerequisites() -> list[str]:
    """What a build needs and this machine lacks, each with how to get it (empty when ready)."""
    missing = []
    if importlib.util.find_spec("mypyc") is None:
        missing.append("mypyc (pip install 'fengshan-ews[native]', or mypy>=1.10)")
    if importlib.util.find_spec("setuptools") is None:
        missing.append("setuptools (pip install setuptools)")
    cc = os.environ.get("CC") or str(sysconfig.get_config_var("CC") or "cc")
    if not cc.strip() or shutil.which(shlex.split(cc)[0]) is None:
        missing.append(f"a C compiler ({cc.split()[0] if cc.split() else 'cc'}; Debian: apt-get install gcc)")
    include = Path(sysconfig.get_paths()["include"])
    if not (include / "Python.h").is_file():
        missing.append(f"Python headers ({include}/Python.h; Debian: apt-get install python3-dev)")
    return missing


def remove_build(pkg: Path) -> list[Path]:
    """Delete the manifest and every compiled file of ours in the package (any interpreter's), and
    this interpreter's compiled modules an older build left (native.stray_extensions)."""
    gone = []
    strays = set(native.stray_extensions(pkg))
    for p in [pkg / native.MANIFEST, *sorted(pkg.iterdir())]:
        ours = (
            p.name == native.MANIFEST
            or p in strays
            or (
                p.suffix in (".so", ".pyd")
                and (p.name.split(".", 1)[0] in native.NATIVE_MODULES or p.name.startswith(native.GROUP_LIB))
            )
        )
        if ours and p.exists():
            p.unlink()
            gone.append(p)
    return gone


def _compile(root: Path, work: Path) -> tuple[bool, str]:
    lib = work / "lib"
    shutil.rmtree(lib, ignore_errors=True)
    args = {
        "paths": [f"hub/rules/{m}.py" for m in native.NATIVE_MODULES],
        "group": native.GROUP,
        "cache": str(work / "mypy_cache"),
        "c": str(work / "c"),
        "lib": str(lib),
        "temp": str(work / "temp"),
    }
    logfile = work / "build.log"
    with logfile.open("w", encoding="utf-8") as out:
        proc = subprocess.run(
            [sys.executable, "-c", _WORKER, json.dumps(args)],
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(root), native.PURE_ENV: "1"},
        )
    if proc.returncode != 0:
        tail = logfile.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-15:]
        return False, f"mypyc exited with {proc.returncode} (log {logfile}):\n" + "\n".join(tail)
    return True, ""


def _install(pkg: Path, lib_pkg: Path, manifest: dict[str, object]) -> None:
    (pkg / native.MANIFEST).unlink(missing_ok=True)  # from here until the end, new processes run pure
    for dest in native.extension_files(pkg):
        tmp = dest.with_name(dest.name + ".new")
        try:
            shutil.copyfile(lib_pkg / dest.name, tmp)
            os.chmod(tmp, 0o755)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
    manifest["outputs"] = native.stamps(native.extension_files(pkg), pkg.parent.parent)
    tmp = pkg / (native.MANIFEST + ".new")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, pkg / native.MANIFEST)


def _verify(root: Path) -> tuple[bool, str]:
    """Import the installed build in a fresh interpreter: it must choose native and load the .so files."""
    probe = (
        "import json, hub.rules.engine, hub.rules.windows, hub.rules.fits; from hub.rules import native;"
        "s = native.status(); print(json.dumps([s.mode, s.reason, hub.rules.engine.__file__]))"
    )
    env = {k: v for k, v in os.environ.items() if k != native.PURE_ENV}
    env["PYTHONPATH"] = str(root)
    proc = subprocess.run([sys.executable, "-c", probe], cwd=root, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        return False, f"importing the build failed: {proc.stderr.strip()[-2000:]}"
    mode, reason, engine_file = json.loads(proc.stdout.strip().splitlines()[-1])
    if mode != "native" or not engine_file.endswith(native.ext_suffix()):
        return False, f"the build does not load: engine={mode} reason={reason} file={engine_file}"
    return True, ""


def build(root: Path | None = None, force: bool = False) -> BuildResult:
    """Compile NATIVE_MODULES of the tree at `root` (default: the tree this code runs from) in place."""
    pkg = (root / "hub" / "rules") if root is not None else native.package_dir()
    root = native.tree_root(pkg)
    started = time.monotonic()
    if os.access(pkg, os.W_OK):
        for stray in native.stray_extensions(pkg):  # of no build: a module no longer compiled runs from
            stray.unlink()  # its .py again, and the build itself may still be current
    current = native.decide(pkg, {})
    if current.native and not force:
        (pkg / native.MANIFEST).touch()  # make compares times: up to date now
        return BuildResult(True, "native engine up to date")
    missing = missing_prerequisites()
    if missing:
        if current.stale:
            remove_build(pkg)  # stale files would only make every start warn
        return BuildResult(False, "cannot build the native engine, missing: " + "; ".join(missing))
    if not os.access(pkg, os.W_OK):
        return BuildResult(False, f"cannot build the native engine: {pkg} is not writable")
    work = root / "build" / "native"
    work.mkdir(parents=True, exist_ok=True)
    with (work / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two makes at once: the second waits, then finds it up to date
        if not force and native.decide(pkg, {}).native:
            return BuildResult(True, "native engine up to date (built meanwhile)")
        return _build_locked(pkg, root, work, current, started)


def _build_locked(
    pkg: Path, root: Path, work: Path, current: native.NativeStatus, started: float
) -> BuildResult:
    sources = native.digests(native.source_files(pkg), root)
    ok, why = _compile(root, work)
    if ok and native.digests(native.source_files(pkg), root) != sources:
        ok, why = False, "sources changed during the build; run it again"
    lib_pkg = work / "lib" / "hub" / "rules"
    if ok:
        absent = [p.name for p in native.extension_files(pkg) if not (lib_pkg / p.name).is_file()]
        ok, why = (False, f"build produced no {', '.join(absent)}") if absent else (True, "")
    if not ok:
        if current.stale:
            remove_build(pkg)
        return BuildResult(False, f"native build failed: {why}", time.monotonic() - started)
    import mypy.version  # present: the compile just used it

    _install(
        pkg,
        lib_pkg,
        {
            "format": native.MANIFEST_FORMAT,
            "interpreter": native.interpreter(),
            "python": sys.version.split()[0],
            "mypy": mypy.version.__version__,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "modules": list(native.NATIVE_MODULES),
            "sources": sources,
        },
    )
    ok, why = _verify(root)
    if not ok:
        remove_build(pkg)
        return BuildResult(False, f"native build rejected: {why}", time.monotonic() - started)
    return BuildResult(
        True, f"native engine built ({len(native.NATIVE_MODULES)} modules)", time.monotonic() - started
    )
