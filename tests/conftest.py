"""Shared fixtures. Third-party samples come from $FORENSIC_CORPUS (skipped when absent)."""
from __future__ import annotations

import os
import shutil
import tempfile
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TZ", "UTC")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/builders.py

# What the examiner's shell may hold (README: export FORENSIC_CASE=..., FORENSIC_KEY=...) must
# not reach a test: each test sets what it needs. Read at import by the pipeline: cleared first.
_OWN_ENV = ("FORENSIC_CASE", "FORENSIC_STORE", "FORENSIC_KEY", "FORENSIC_KEY_PASSPHRASE", "FORENSIC_TRIAGE_BATCH",
            "FORENSIC_TEST_TRIAGE_FAULT", "FORENSIC_TEST_CUSTODY_CRASH")
for _name in _OWN_ENV:
    os.environ.pop(_name, None)
# Triage checks every file against the examiner's hash set library ($FORENSIC_HASHSETS, else a
# folder in their home): a test must not depend on what that library holds. An empty one for the
# whole run; tests of hash sets point it at a library they build.
os.environ["FORENSIC_HASHSETS"] = tempfile.mkdtemp(prefix="forensic-test-hashsets-")


@pytest.fixture(scope="module", autouse=True)
def _no_state_leaks():
    """Test modules run in any order (pytest-randomly): a module that leaves the working
    directory or the environment the CLI reads changed fails here, and they are put back so
    the next module is not affected. (Per module: a module fixture may set $FORENSIC_KEY for
    all of its tests, as tests/exporters/test_bundle.py does.)"""
    cwd = os.getcwd()
    env = {k: v for k, v in os.environ.items() if k.startswith("FORENSIC_") or k == "TZ"}
    yield
    now = {k: v for k, v in os.environ.items() if k.startswith("FORENSIC_") or k == "TZ"}
    moved = os.getcwd() != cwd
    if moved:
        os.chdir(cwd)
    for k in now.keys() - env.keys():
        del os.environ[k]
    os.environ.update(env)
    leaked = sorted(k for k in now.keys() | env.keys() if now.get(k) != env.get(k))
    assert not moved and not leaked, f"the module left the working directory or {leaked} changed"


# The store backend the cases of a run are made on: SQLite (case.db, the default) or, with
# FORENSIC_TEST_BACKEND=postgresql, a throw-away PostgreSQL server (tests/pgserver.py) that this
# worker starts; each test module, and each test, gets a database of its own there through
# $FORENSIC_STORE, which `case init` reads (a module fixture's case is made in the module's).
BACKEND = os.environ.get("FORENSIC_TEST_BACKEND", "sqlite")


def pytest_collection_modifyitems(config, items):
    """In a PostgreSQL run, the tests of SQLite's own file (``sqlite_only``) are skipped."""
    if BACKEND != "postgresql":
        return
    skip = pytest.mark.skip(reason="about CASE/case.db itself: SQLite only")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def pg_server():
    """The run's PostgreSQL server (skipped where none can be started, failed in CI)."""
    import pgserver
    why = pgserver.available()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    server = pgserver.Server()
    yield server
    server.stop()


@pytest.fixture(scope="module", autouse=True)
def _module_store(request):
    if BACKEND != "postgresql":
        yield None
        return
    server = request.getfixturevalue("pg_server")
    url = server.new_database()
    os.environ["FORENSIC_STORE"] = url
    yield url
    os.environ.pop("FORENSIC_STORE", None)
    server.drop_database(url)


@pytest.fixture(autouse=True)
def _test_store(request, _module_store):
    if BACKEND != "postgresql":
        yield
        return
    server = request.getfixturevalue("pg_server")
    url = server.new_database()
    os.environ["FORENSIC_STORE"] = url
    yield
    os.environ["FORENSIC_STORE"] = _module_store
    server.drop_database(url)


_THIS = sys.modules[__name__]


def pytest_collectstart(collector):
    """Test modules import this file's helpers as ``conftest`` (``from conftest import
    require_tools``): before each is imported, that name is this module again, loaded once.
    pytest drops the name whenever it loads a sub-folder's conftest.py, and tests/cluster's
    puts its own folder first on sys.path, where ``conftest`` would be that file instead."""
    sys.modules["conftest"] = _THIS


_DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"


def corpus_dir() -> Path | None:
    path = Path(os.environ.get("FORENSIC_CORPUS", _DEFAULT_CORPUS))
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def corpus() -> Path:
    path = corpus_dir()
    if path is None:
        pytest.skip("third-party corpus not present (set FORENSIC_CORPUS)")
    return path


def require_tools(*names: str) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        pytest.skip(f"system tools missing: {', '.join(missing)} (run scripts/setup.sh)")


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self):
        import json
        return json.loads(self.out)

    def jsonl(self) -> list:
        import json
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


@pytest.fixture
def forensic(capsys):
    """Run the forensic CLI in-process through its error boundary: forensic('files', '--json')."""
    def run(*args, expect: int | None = 0) -> CliResult:
        from forensic.cli.main import main
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        result = CliResult(code, out, err)
        if expect is not None:
            assert code == expect, f"exit {code} (expected {expect})\nstdout:\n{out}\nstderr:\n{err}"
        return result
    return run
