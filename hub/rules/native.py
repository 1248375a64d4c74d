"""Choose the engine at import: the mypyc-compiled modules when their build matches the sources, else pure Python.

`ews native build` (ews/nativebuild.py) compiles NATIVE_MODULES into extension modules next to their
sources and writes MANIFEST: the sha256 of every source the build depended on, of every file it produced,
and the interpreter it was built for. Python's import system prefers an extension module over the .py
beside it, so a build left behind after someone edits engine.py would silently run the old code. The
package's __init__ therefore calls select() before any submodule is imported: unless every hash and the
interpreter match (and EWS_PURE_PYTHON is not set) it puts a finder first on sys.meta_path that loads
those modules from their .py sources. Checking costs about a millisecond (sha256 of ~100 kB of sources, a stat of each built file).

This module is never compiled itself and imports nothing from the engine.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

log = logging.getLogger(__name__)

PACKAGE = "hub.rules"
# The hot path, compiled together into one shared library (calls between them stay native). Fits
# subclasses Window, so it is compiled with it; the loader, parser and text stay interpreted.
NATIVE_MODULES: tuple[str, ...] = (
    "vecs",
    "wake",
    "windows",
    "forecast",
    "state",
    "fits",
    "engine",
    "guards",
    "slopes",
    "gates",
    "emit",
    "restart",
    "lifecycle",
    "levels",
    "compiler",
    "calls",
    "domain_calls",
    "functions",
    "ruleset",
)
# mypyc's shared library for the group: hub/rules/_native__mypyc<EXT_SUFFIX>, imported by each shim.
GROUP = f"{PACKAGE}._native"
GROUP_LIB = "_native__mypyc"
MANIFEST = "_native_build.json"
MANIFEST_FORMAT = 1
# Compiled code bakes in the types of everything it imports, so any edit to the package (or to the
# Reading it consumes) invalidates the build, not only edits to the compiled modules.
EXTRA_SOURCES: tuple[str, ...] = ("edge/wire.py",)
PURE_ENV = "EWS_PURE_PYTHON"


@dataclass(frozen=True)
class NativeStatus:
    """Which engine this process runs and why; `stale` means a build exists but cannot be trusted."""

    mode: str  # "native" or "pure"
    reason: str
    stale: bool = False
    built: dict[str, str] = field(default_factory=dict)  # manifest facts: python, mypy, built_at

    @property
    def native(self) -> bool:
        return self.mode == "native"

    def line(self) -> str:
        return f"engine={self.mode} reason={self.reason!r}"


def ext_suffix() -> str:
    return str(sysconfig.get_config_var("EXT_SUFFIX") or ".so")


def interpreter() -> dict[str, str]:
    """What an extension module is bound to: implementation, minor version (the ABI) and suffix."""
    return {
        "implementation": sys.implementation.name,
        "cache_tag": str(sys.implementation.cache_tag),
        "ext_suffix": ext_suffix(),
    }


def package_dir() -> Path:
    return Path(__file__).resolve().parent


def tree_root(pkg: Path) -> Path:
    """The source tree holding hub/ and edge/ (hub/rules -> the directory above hub)."""
    return pkg.parent.parent


def extension_files(pkg: Path) -> list[Path]:
    """Every file a build puts in the package: one shim per module and the group's shared library."""
    suffix = ext_suffix()
    return [pkg / f"{m}{suffix}" for m in NATIVE_MODULES] + [pkg / f"{GROUP_LIB}{suffix}"]


def stray_extensions(pkg: Path) -> list[Path]:
    """This interpreter's extension modules in the package that the build does not make: left by an
    older build whose NATIVE_MODULES listed them. Python would import one instead of its .py beside it
    and run old code, so their presence makes the whole build untrusted until `ews native build`."""
    keep = {p.name for p in extension_files(pkg)}
    return sorted(p for p in pkg.glob(f"*{ext_suffix()}") if p.name not in keep)


def source_files(pkg: Path) -> list[Path]:
    """The sources a build depends on: every module of the package and EXTRA_SOURCES."""
    root = tree_root(pkg)
    return sorted(pkg.glob("*.py")) + [root / p for p in EXTRA_SOURCES]


def _key(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digests(paths: Sequence[Path], root: Path) -> dict[str, str]:
    return {_key(p, root): sha256(p) for p in paths if p.is_file()}


def stamps(paths: Sequence[Path], root: Path) -> dict[str, str]:
    """Size and mtime of built files, the way Python validates .pyc files: hashing the 2 MB library
    would cost 4 ms per start, and the sources, which decide correctness, are hashed in full."""
    out = {}
    for p in paths:
        if p.is_file():
            st = p.stat()
            out[_key(p, root)] = f"{st.st_size}:{st.st_mtime_ns}"
    return out


def any_extension(pkg: Path) -> bool:
    """True when a compiled module of ours (of any interpreter) is in the package directory."""
    return any(
        p.name.split(".", 1)[0] in NATIVE_MODULES or p.name.startswith(GROUP_LIB)
        for p in pkg.iterdir()
        if p.suffix in (".so", ".pyd")
    )


def decide(pkg: Path, environ: dict[str, str] | os._Environ[str]) -> NativeStatus:
    """The engine to run for the package at `pkg` (pure function of its files and the environment)."""
    if environ.get(PURE_ENV, "") not in ("", "0"):
        return NativeStatus("pure", f"{PURE_ENV}={environ[PURE_ENV]}")
    root = tree_root(pkg)
    strays = stray_extensions(pkg)
    if strays:
        names = ", ".join(p.name for p in strays[:3])
        return NativeStatus(
            "pure", f"compiled modules no build makes ({names}); run `ews native build`", True
        )
    present = [p.exists() for p in extension_files(pkg)]
    if not any(present):
        if any_extension(pkg):
            return NativeStatus(
                "pure", "native build is for another interpreter; run `ews native build`", True
            )
        return NativeStatus("pure", "native engine not built (`ews native build`)")
    try:
        manifest = json.loads((pkg / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return NativeStatus("pure", f"native files without {MANIFEST}; run `ews native build`", True)
    except (OSError, ValueError) as exc:
        return NativeStatus("pure", f"unreadable {MANIFEST}: {exc}", True)
    built = {k: str(manifest.get(k, "")) for k in ("python", "mypy", "built_at")}
    if manifest.get("format") != MANIFEST_FORMAT or not isinstance(manifest.get("sources"), dict):
        return NativeStatus("pure", f"{MANIFEST} has an unknown format", True, built)
    if manifest.get("interpreter") != interpreter():
        return NativeStatus(
            "pure", f"built for {manifest.get('interpreter')}, running {interpreter()}", True, built
        )
    if not all(present):
        missing = [p.name for p, ok in zip(extension_files(pkg), present, strict=True) if not ok]
        return NativeStatus("pure", f"native build incomplete, missing {', '.join(missing)}", True, built)
    for what, have in (
        ("sources", digests(source_files(pkg), root)),
        ("outputs", stamps(extension_files(pkg), root)),
    ):
        recorded: dict[str, str] = manifest.get(what) or {}
        changed = sorted(k for k in have.keys() | recorded.keys() if have.get(k) != recorded.get(k))
        if changed:
            head = ", ".join(changed[:3]) + (" ..." if len(changed) > 3 else "")
            reason = f"{what} changed since the native build ({head}); run `ews native build`"
            return NativeStatus("pure", reason, True, built)
    return NativeStatus("native", "native build matches the sources", False, built)


class PreferSource:
    """Loads the named modules of one package directory from their .py files, never an extension.

    A plain meta path finder (find_spec only): importlib.abc would cost ~45 ms of imports at start-up."""

    def __init__(self, pkg: Path, names: Sequence[str]) -> None:
        self.pkg = pkg
        self.names = frozenset(f"{PACKAGE}.{n}" for n in names)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        src = self.pkg / f"{fullname.rpartition('.')[2]}.py"
        if not src.is_file():
            return None
        loader = importlib.machinery.SourceFileLoader(fullname, str(src))
        return importlib.util.spec_from_file_location(fullname, str(src), loader=loader)


def _install_finder(pkg: Path) -> None:
    # Idempotent: a reload of the package replaces the finder rather than stacking a second one.
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, PreferSource)]
    strays = [p.name.split(".", 1)[0] for p in stray_extensions(pkg)]
    sys.meta_path.insert(0, PreferSource(pkg, [*NATIVE_MODULES, *strays]))


def select(pkg_dir: str | os.PathLike[str] | None = None) -> NativeStatus:
    """Decide once per process, before any engine module is imported; see the module docstring."""
    global _status  # set once per import of the package: the choice cannot change while modules are loaded
    pkg = Path(pkg_dir).resolve() if pkg_dir is not None else package_dir()
    try:
        st = decide(pkg, os.environ)
    except OSError as exc:  # an unreadable file is a reason to run the sources, never to fail the import
        st = NativeStatus("pure", f"cannot check the native build: {exc}", True)
    if not st.native:
        loaded = [m for m in NATIVE_MODULES if f"{PACKAGE}.{m}" in sys.modules]
        if loaded:  # too late to choose; report what really runs
            st = NativeStatus("pure", f"{st.reason} (modules were imported before the check)", st.stale)
        if any_extension(pkg) or stray_extensions(pkg):
            _install_finder(pkg)
        if st.stale:
            log.warning("native engine not used, running pure Python reason=%r", st.reason)
    _status = st
    return st


_status: NativeStatus | None = None


def status() -> NativeStatus:
    """The engine this process runs (native or pure) and why; checks what was actually imported."""
    st = _status if _status is not None else select()
    engine = sys.modules.get(f"{PACKAGE}.engine")
    if engine is not None and st.native != _is_extension(engine):
        real = "native" if _is_extension(engine) else "pure"
        return NativeStatus(real, f"{PACKAGE}.engine was loaded from {engine.__file__}", True, st.built)
    return st


def _is_extension(mod: ModuleType) -> bool:
    spec = getattr(mod, "__spec__", None)
    return spec is not None and isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)
