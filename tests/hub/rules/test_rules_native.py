"""The native (mypyc) engine: same transitions as pure Python, never run stale, forced off by EWS_PURE_PYTHON.

A real compile, no fakes: the session reuses the in-place build `make native` made when it matches the
sources, else compiles once into a temporary copy of the tree (about a minute of one core). Skipped, with
the reason, only when this machine cannot compile (no C compiler, Python headers or mypyc). Each engine
runs in its own interpreter, because which engine a process runs is decided once, when hub.rules loads.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ews.nativebuild import build, missing_prerequisites
from hub.rules import native

REPO = Path(__file__).resolve().parents[3]
COPY = ("hub", "edge", "ews", "bench", "tests", "pyproject.toml")
SKIP_FILES = shutil.ignore_patterns("__pycache__", ".hypothesis", "*.so", native.MANIFEST)
WARNING = "native engine not used"

# 50 sites x 150 rounds (25 h) with 60 % of the sites in the storm cycle: thousands of transitions
# through every rule of bench/engine.py's mix (sums, k-of-n, rates, tangent angle, hysteresis, for:).
WORKLOAD = """
import json, sys
import hub.rules.engine
from bench.workload import build, workload
from hub.rules import native
eng = build(50)
st = eng.initial_state()
out = []
for rnd in workload(50, 150, storm_share=0.6):
    for i in range(0, len(rnd), 500):
        st, trs = eng.evaluate(st, rnd[i : i + 500], rnd[0].time)
        out += [repr(t) for t in trs]
s = native.status()
print(json.dumps({"engine": s.mode, "file": hub.rules.engine.__file__, "transitions": out}))
"""
STATUS = """
import json, hub.rules.engine, hub.rules.windows
from hub.rules import native
s = native.status()
print(json.dumps({"engine": s.mode, "reason": s.reason, "stale": s.stale, "file": hub.rules.engine.__file__}))
"""


def copy_tree(src: Path, dest: Path, built: bool) -> Path:
    """The parts of a source tree the engine, bench and tests need; with `built`, its native build too."""
    dest.mkdir(parents=True)
    for name in COPY:
        p = src / name
        if p.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", ".hypothesis") if built else SKIP_FILES
            shutil.copytree(p, dest / name, ignore=ignore)  # copy2: keeps the mtimes the manifest records
        else:
            shutil.copy2(p, dest / name)
    return dest


def py(tree: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != native.PURE_ENV}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=tree,
        env={**base, "PYTHONPATH": str(tree), **env},
        capture_output=True,
        text=True,
        timeout=240,
    )


def result(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


@pytest.fixture(scope="session")
def native_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A source tree whose native build is current: this checkout's own, or a fresh one compiled once."""
    if native.decide(REPO / "hub" / "rules", {}).native:
        return REPO
    missing = missing_prerequisites()
    if missing:
        pytest.skip("cannot compile the native engine here: " + "; ".join(missing))
    tree = copy_tree(REPO, tmp_path_factory.mktemp("native") / "tree", built=False)
    res = build(tree)
    assert res.ok, res.message
    return tree


def test_native_and_pure_engines_give_identical_transitions(native_tree: Path) -> None:
    fast = result(py(native_tree, WORKLOAD))
    slow = result(py(native_tree, WORKLOAD, EWS_PURE_PYTHON="1"))
    assert fast["engine"] == "native" and fast["file"].endswith(native.ext_suffix())
    assert slow["engine"] == "pure" and slow["file"].endswith("engine.py")
    assert len(fast["transitions"]) > 500  # the storm really drives rules through their levels
    assert fast["transitions"] == slow["transitions"]


def test_property_tests_pass_under_the_native_engine(native_tree: Path) -> None:
    """The hypothesis properties (incremental == brute force, guarded == unguarded, running fits ==
    batch fits) with compiled windows, guards and engine; bench's interpreted NaiveWindow subclasses
    the compiled Window."""
    assert result(py(native_tree, STATUS))["engine"] == "native"
    files = [f"tests/hub/rules/test_rules_{n}.py" for n in ("engine_props", "guards", "windows")]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
        cwd=native_tree,
        env={**{k: v for k, v in os.environ.items() if k != native.PURE_ENV}, "PYTHONPATH": str(native_tree)},
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_an_edited_source_falls_back_to_pure_python_with_one_warning(
    native_tree: Path, tmp_path: Path
) -> None:
    tree = copy_tree(native_tree, tmp_path / "tree", built=True)
    assert result(py(tree, STATUS))["engine"] == "native"
    engine_py = tree / "hub" / "rules" / "engine.py"
    engine_py.write_text(engine_py.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    proc = py(tree, STATUS)
    st = result(proc)
    assert st["engine"] == "pure" and st["stale"] and st["file"] == str(engine_py)
    assert "hub/rules/engine.py" in st["reason"]
    assert proc.stderr.count(WARNING) == 1, proc.stderr


def test_a_build_for_another_interpreter_or_replaced_file_is_not_trusted(
    native_tree: Path, tmp_path: Path
) -> None:
    tree = copy_tree(native_tree, tmp_path / "tree", built=True)
    pkg = tree / "hub" / "rules"
    assert native.decide(pkg, {}).native
    lib = pkg / f"{native.GROUP_LIB}{native.ext_suffix()}"
    os.utime(lib, ns=(lib.stat().st_atime_ns, lib.stat().st_mtime_ns + 10**9))  # e.g. another build copied in
    st = native.decide(pkg, {})
    assert not st.native and st.stale and "outputs changed" in st.reason
    manifest = json.loads((pkg / native.MANIFEST).read_text(encoding="utf-8"))
    manifest["interpreter"]["cache_tag"] = "cpython-399"
    (pkg / native.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    st = native.decide(pkg, {})
    assert not st.native and st.stale and "built for" in st.reason
    (pkg / native.MANIFEST).unlink()
    proc = py(tree, STATUS)
    assert result(proc)["engine"] == "pure" and proc.stderr.count(WARNING) == 1


def test_a_module_an_older_build_compiled_is_not_run_stale(native_tree: Path, tmp_path: Path) -> None:
    """A module taken off NATIVE_MODULES leaves its extension behind, and Python imports an extension
    in preference to the .py beside it. Until a build removes it, nothing compiled is trusted and that
    module loads from its source. (The leftover here is a copy of another module's shim: it fails to
    import where a real one would load silently and run the old code; both are what the check stops.)"""
    tree = copy_tree(native_tree, tmp_path / "tree", built=True)
    pkg = tree / "hub" / "rules"
    periods = pkg / "periods.py"
    periods.write_text(periods.read_text(encoding="utf-8") + "\nSOURCE = True\n", encoding="utf-8")
    stray = pkg / f"periods{native.ext_suffix()}"
    shutil.copy2(pkg / f"levels{native.ext_suffix()}", stray)
    st = native.decide(pkg, {})
    assert not st.native and st.stale and stray.name in st.reason
    code = "import json, hub.rules.periods as p; print(json.dumps([p.__file__, getattr(p, 'SOURCE', 0)]))"
    proc = py(tree, code)
    assert result(proc) == [str(periods), True] and proc.stderr.count(WARNING) == 1
    assert build(tree).ok and not stray.exists() and native.decide(pkg, {}).native
    assert result(py(tree, code))[0] == str(periods)


def test_ews_pure_python_forces_the_sources_without_a_warning(native_tree: Path) -> None:
    proc = py(native_tree, STATUS, EWS_PURE_PYTHON="1")
    st = result(proc)
    assert st["engine"] == "pure" and not st["stale"] and st["file"].endswith("engine.py")
    assert st["reason"] == "EWS_PURE_PYTHON=1"
    assert WARNING not in proc.stderr


def test_without_a_compiler_the_build_fails_clearly_and_pure_python_runs(
    native_tree: Path, tmp_path: Path
) -> None:
    tree = copy_tree(native_tree, tmp_path / "tree", built=True)
    wire = tree / "edge" / "wire.py"
    wire.write_text(wire.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")  # the build is stale
    proc = subprocess.run(
        [sys.executable, "-m", "ews.cli", "native", "build", "--root", str(tree)],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree), "CC": "/nonexistent/cc"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "missing: a C compiler (/nonexistent/cc" in proc.stderr
    assert not list((tree / "hub" / "rules").glob("*.so"))  # stale files removed: no warning every start
    proc = py(tree, STATUS)
    st = result(proc)
    assert st["engine"] == "pure" and not st["stale"] and WARNING not in proc.stderr
