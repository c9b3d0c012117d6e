"""Packaging: what `pip install forensic` gets is the whole tool.

The wheel holds every package of the source tree and claims no top-level name but
`forensic`; every third-party module the code imports is a declared dependency; and the
demo's whole job (scripts/demo.sh) runs from the wheel installed in a fresh virtualenv,
from a folder outside the repository with PYTHONPATH unset, so nothing resolves from the
source tree.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

from conftest import require_tools

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
PACKAGE_DIR: dict[str, str] = SETUPTOOLS["package-dir"]      # installed name -> repository folder
TOP = "forensic"
SAMPLE_TOOLS = ("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel")


def _run(args: list, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, (f"{' '.join(map(str, args))} exited {proc.returncode}\n"
                                  f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}")
    return proc


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that points Python at the source tree or the dev venv."""
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("FORENSIC_")}
    path = [p for p in env.get("PATH", "").split(os.pathsep)
            if p and not Path(p).resolve().is_relative_to(REPO)]
    env["PATH"] = os.pathsep.join(path)
    env.update(extra)
    return env


def _distribution_name(requirement: str) -> str:
    """PEP 508 requirement -> its PEP 503 normalised project name."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, f"cannot read a project name in {requirement!r}"
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


# -- the source tree's packages ------------------------------------------------------------

def _source_packages() -> dict[str, Path]:
    """Every package of the source tree (a folder with __init__.py under a mapped folder),
    by its installed name: extractors/chat -> forensic.extractors.chat."""
    found: dict[str, Path] = {}
    for name, folder in PACKAGE_DIR.items():
        for init in sorted((REPO / folder).rglob("__init__.py")):
            rel = init.parent.relative_to(REPO / folder)
            found[".".join((name, *rel.parts))] = init.parent
    return found


def test_every_package_folder_is_mapped_and_listed():
    unmapped = sorted(p.name for p in REPO.iterdir()
                      if (p / "__init__.py").is_file() and p.name not in PACKAGE_DIR.values())
    assert not unmapped, (f"top-level package folders {unmapped} are not mapped under {TOP} in "
                          "pyproject.toml [tool.setuptools.package-dir]")
    assert all(name == TOP or name.startswith(TOP + ".") for name in PACKAGE_DIR), PACKAGE_DIR
    source = _source_packages()
    listed = set(SETUPTOOLS["packages"])
    assert not source.keys() - listed, (
        f"packages in the source tree but not in pyproject.toml [tool.setuptools] packages: "
        f"{sorted(source.keys() - listed)}")
    assert not listed - source.keys(), (
        f"pyproject.toml lists packages that have no folder with __init__.py: {sorted(listed - source.keys())}")


# -- the wheel -----------------------------------------------------------------------------

def _ignore_for_copy(folder: str, names: list[str]) -> set[str]:
    """What a build must not see: VCS and tool folders, caches, earlier builds, demo output."""
    skip = {n for n in names if n.startswith(".") or n == "__pycache__" or n.endswith((".pyc", ".egg-info"))}
    if Path(folder) == REPO:
        skip |= {"build", "dist", "demo-out"} & set(names)
    return skip


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The wheel `pip wheel --no-deps` builds from a copy of the working tree (a build in the
    tree itself would leave build/ there, whose stale files later wheels would pick up)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=_ignore_for_copy)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp / "dist", src],
         cwd=tmp, env=_clean_env())
    wheels = list((tmp / "dist").glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_holds_every_package_and_no_other_top_level_name(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    tops = {n.split("/", 1)[0] for n in names}
    dist_info = {t for t in tops if t.endswith(".dist-info")}
    assert len(dist_info) == 1, tops
    assert tops - dist_info == {TOP}, (f"the wheel installs top-level names other than {TOP!r}: "
                                       f"{sorted(tops - dist_info - {TOP})}")
    packages = {"/".join(package.split(".")) for package in _source_packages()}
    assert not {f"{p}/__init__.py" for p in packages} - names, sorted(packages)
    missing = []                        # every module and data file, each where it is imported from
    for package, folder in PACKAGE_DIR.items():
        for path in sorted((REPO / folder).rglob("*")):
            rel = path.relative_to(REPO / folder)
            if (path.is_file() and path.suffix != ".pyc"
                    and not any(part.startswith(".") or part == "__pycache__" for part in rel.parts)):
                member = "/".join((*package.split("."), *rel.parts))
                if member not in names:
                    missing.append(f"{path.relative_to(REPO)} (as {member})")
    assert not missing, "files of the source tree's packages missing from the wheel:\n  " + "\n  ".join(missing)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "forensic = forensic.cli.main:entry" in zipfile.ZipFile(wheel).read(entry_points).decode()


# -- declared dependencies -----------------------------------------------------------------

def _assigns_requires(node: ast.Assign | ast.AnnAssign) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return any(isinstance(t, ast.Name) and t.id == "REQUIRES" for t in targets)


def _is_type_checking(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``): a block never run."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(root: Path, local: set[str]) -> dict[str, list[str]]:
    """Third-party top-level modules imported by the Python files under root -> where.
    Extractors' REQUIRES (modules imported by name at run time) count as imports."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        typing_only = {id(n) for block in ast.walk(tree) if _is_type_checking(block)
                       for stmt in block.body for n in ast.walk(stmt)}   # read by type checkers only
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and _assigns_requires(node):
                modules = [e.value for e in getattr(node.value, "elts", ())
                           if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top not in local:
                    found.setdefault(top, []).append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def _undeclared(imports: dict[str, list[str]], declared: set[str]) -> list[str]:
    providers = importlib.metadata.packages_distributions()
    problems = []
    for module, where in sorted(imports.items()):
        dists = {_distribution_name(d) for d in providers.get(module, [])}
        if not dists:
            problems.append(f"{module} (imported at {where[0]}): no installed distribution provides it")
        elif not dists & declared:
            problems.append(f"{module} (imported at {where[0]}): its distribution {sorted(dists)} is not declared")
    return problems


def test_every_import_of_the_package_is_a_declared_dependency():
    declared = {_distribution_name(r) for r in PROJECT["dependencies"]}
    imports: dict[str, list[str]] = {}
    for folder in PACKAGE_DIR.values():
        for module, where in _imports(REPO / folder, local={TOP}).items():
            imports.setdefault(module, []).extend(where)
    assert {"pyzipper", "click", "exifread"} <= imports.keys(), sorted(imports)   # the scan sees them
    problems = _undeclared(imports, declared)
    assert not problems, "pyproject.toml [project] dependencies lack:\n  " + "\n  ".join(problems)


def test_every_import_of_the_tests_is_declared_for_tests():
    tests = REPO / "tests"
    local = {TOP, "tests"} | {p.stem for p in tests.rglob("*.py")} | {p.name for p in tests.rglob("*") if p.is_dir()}
    declared = {_distribution_name(r) for r in PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"]}
    problems = _undeclared(_imports(tests, local), declared)
    assert not problems, ("pyproject.toml [project] dependencies and the test extra lack:\n  "
                          + "\n  ".join(problems))


# -- the wheel in a fresh virtualenv ---------------------------------------------------------

def _wheelhouse(tmp_path_factory) -> Path:
    """Wheels of the declared dependencies (and theirs), built once per dependency list and
    kept in the dev venv, so a fresh venv installs them with --no-index: quick, no network,
    and nothing that is not declared."""
    deps = sorted(PROJECT["dependencies"])
    key = hashlib.sha256(json.dumps([deps, sys.version, sysconfig.get_platform()]).encode()).hexdigest()[:16]
    in_venv = sys.prefix != sys.base_prefix
    root = Path(sys.prefix) / "wheelhouse" if in_venv else tmp_path_factory.mktemp("wheelhouse")
    house = root / key
    if house.is_dir():
        return house
    root.mkdir(parents=True, exist_ok=True)
    building = root / f".building-{key}-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "-w", building, *deps],
         cwd=tmp_path_factory.getbasetemp(), env=_clean_env())
    for old in root.iterdir():   # earlier dependency lists' wheelhouses, builds left for an hour
        if old.name != key and (not old.name.startswith(".building-") or time.time() - old.stat().st_mtime > 3600):
            shutil.rmtree(old, ignore_errors=True)
    try:
        building.rename(house)
    except OSError:              # another test run built it meanwhile
        shutil.rmtree(building, ignore_errors=True)
    return house


@pytest.fixture(scope="session")
def fresh_venv(wheel, tmp_path_factory) -> Path:
    """A new virtualenv (no pip, no system site-packages) with the wheel installed, not editable."""
    house = _wheelhouse(tmp_path_factory)
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], env=_clean_env())
    _run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q",
          "--no-index", "--find-links", house, wheel], cwd=venv.parent, env=_clean_env())
    return venv


_WHERE = """
import importlib, json, os, sys, sysconfig
names = ["forensic", "forensic.cli", "forensic.cli.main", "forensic.extractors", "forensic.exporters",
         "forensic.chain_of_custody"]
print(json.dumps({"site": sysconfig.get_path("purelib"), "path": [os.path.abspath(p) for p in sys.path],
                  "files": {n: importlib.import_module(n).__file__ for n in names}}))
"""


@pytest.mark.slow
def test_demo_runs_from_the_wheel_in_a_fresh_venv(fresh_venv, tmp_path):
    require_tools(*SAMPLE_TOOLS)
    assert not tmp_path.resolve().is_relative_to(REPO)
    work = tmp_path / "work"
    work.mkdir()
    env = _clean_env(XDG_CACHE_HOME=str(tmp_path / "cache"))
    python = fresh_venv / "bin" / "python"
    forensic = fresh_venv / "bin" / "forensic"

    where = json.loads(_run([python, "-c", _WHERE], cwd=work, env=env).stdout)
    site = Path(where["site"]).resolve()
    assert site.is_relative_to(fresh_venv.resolve()), where["site"]
    for name, file in where["files"].items():
        assert Path(file).resolve().is_relative_to(site), f"{name} resolved from {file}, not {site}"
    assert not any(Path(p).resolve().is_relative_to(REPO) for p in where["path"]), where["path"]
    stray = [f for f in PACKAGE_DIR.values() if f != TOP and (site / f).exists()] + list(site.glob("__editable__*"))
    assert not stray, f"in the fresh venv's site-packages: {stray}"
    assert forensic.read_text().splitlines()[0] == f"#!{python}"
    # A module missing from the wheel only makes its extractor unavailable (never fatal), and
    # the training check skips the facts of an unavailable extractor: so ask.
    listed = _run([forensic, "extractors", "--json"], cwd=work, env=env).stdout
    extractors = [json.loads(line) for line in listed.splitlines()]
    unavailable = [f"{e['name']}: {e['reason']}" for e in extractors if not e["available"]]
    assert extractors and not unavailable, "unavailable in the installed wheel:\n  " + "\n  ".join(unavailable)

    out = tmp_path / "demo"
    proc = _run(["bash", REPO / "scripts" / "demo.sh"], cwd=work, env=dict(env, DEMO_FORENSIC=str(forensic),
                                                                        DEMO_OUT=str(out)), timeout=600)
    objects = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    verified = next(o for o in objects if "files_checked" in o)
    assert verified["ok"] and verified["signature"] == "valid" and verified["custody"] == "valid"
    assert verified["encrypted"]
    custody = next(o for o in objects if "checkpoints" in o)
    assert custody["ok"] and custody["signatures_verified"] > 0
    assert "score: 100 / 100" in proc.stdout
    total = re.search(r"^total +(\d+) +(\d+) +(\d+) +(\d+)$", proc.stdout, re.M)
    assert total and int(total[1]) > 0 and total.groups()[1:] == ("0", "0", "0"), proc.stdout   # none skipped
    assert (out / "bundle" / "DEMO-001-bundle" / "data" / "report" / "index.html").is_file()
    assert str(forensic) in proc.stderr        # the demo says which executable it ran
