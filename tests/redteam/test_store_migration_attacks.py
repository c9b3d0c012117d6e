"""Red team, issue 18: the store's schema version, its migration, and the custody entries
it queues in ``meta.migrated_from`` (recorded as ``case.migrated`` by the first command
that may record), attacked with real stores and real processes."""
from __future__ import annotations

import hashlib
import json
import signal
import textwrap
from pathlib import Path

import pytest

from forensic.chain_of_custody.signing import Signer, write_keypair
from forensic.store.schema import SCHEMA_VERSION
from redteam.redteam_case import FORENSIC, cli, edit_store, phone_tree, query, rewrite_as_v1


pytestmark = pytest.mark.sqlite_only     # stores of older versions are SQLite files

@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("keys")
    ann = Signer.generate("ann")
    key, pub = write_keypair(ann, tmp / "ann")
    mallory = Signer.generate("mallory")
    mkey, mpub = write_keypair(mallory, tmp / "mallory")
    return {"key": key, "pub": pub, "mallory": mallory, "mkey": mkey}


def make_case(tmp: Path, key: Path | None = None) -> Path:
    phone = phone_tree(tmp / "phone")
    case = tmp / "case"
    for args in (("case", "init", case, "--case-id", "RT-M", "--examiner", "ann"),
                 ("evidence", "add", phone, "--case", case, "--id", "phone"),
                 ("triage", "phone", "--case", case)):
        r = cli(*args, key=key)
        assert r.returncode in (0, 3), r.stderr
    return case


def migrated_entries(case: Path) -> list:
    r = cli("custody", "log", "--case", case, "--json", "--action", "case.migrated")
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def digest(case: Path) -> str:
    return hashlib.sha256((case / "case.db").read_bytes()).hexdigest()


# -- versions the tool must refuse ---------------------------------------------------------------

def test_a_store_of_a_newer_version_is_refused_and_left_unchanged(tmp_path):
    case = make_case(tmp_path)
    rewrite_as_v1(case, version="99", wal=True)
    before = digest(case)
    for args in (("files",), ("custody", "verify", "--deep"), ("triage", "phone", "--force")):
        r = cli(*args, "--case", case)
        assert r.returncode != 0 and "newer than this tool" in r.stderr, r.stderr
    assert digest(case) == before
    assert query(case, "SELECT value FROM meta WHERE key = 'schema_version'") == [("99",)]
    assert query(case, "SELECT 1 FROM sqlite_master WHERE name = 'triage_progress'")


def test_a_store_without_a_schema_version_is_refused_and_left_unchanged(tmp_path):
    case = make_case(tmp_path)
    rewrite_as_v1(case, wal=True)
    edit_store(case, "DELETE FROM meta WHERE key = 'schema_version'")
    before = digest(case)
    r = cli("files", "--case", case)
    assert r.returncode != 0 and "no schema version" in r.stderr
    assert digest(case) == before


@pytest.mark.parametrize("value", ["abc", "2.0", "0", "-1"])
def test_a_store_with_a_meaningless_schema_version_is_refused_plainly(tmp_path, value):
    case = make_case(tmp_path)
    edit_store(case, f"UPDATE meta SET value = '{value}' WHERE key = 'schema_version'")
    r = cli("files", "--case", case)
    assert r.returncode != 0
    assert "unexpected" not in r.stderr and "schema" in r.stderr, r.stderr


# -- a migration killed half way -------------------------------------------------------------------

def test_a_migration_killed_half_way_leaves_version_1_then_migrates(tmp_path):
    case = make_case(tmp_path)
    rewrite_as_v1(case)
    before = query(case, "SELECT * FROM files ORDER BY id")
    # The real step runs, then the process is SIGKILLed before the transaction commits.
    script = textwrap.dedent(f"""
        import os, signal, sys
        from forensic.store import schema
        real = schema.MIGRATIONS[1]
        def then_die(db):
            real(db)
            os.kill(os.getpid(), signal.SIGKILL)
        schema.MIGRATIONS[1] = then_die
        from forensic.cli.main import main
        sys.exit(main(["files", "--case", {str(case)!r}]))
    """)
    import subprocess
    r = subprocess.run([FORENSIC[0], "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == -signal.SIGKILL
    assert query(case, "SELECT value FROM meta WHERE key = 'schema_version'") == [("1",)]
    assert query(case, "SELECT 1 FROM sqlite_master WHERE name = 'triage_progress'")
    assert "times_tz_source" not in {row[1] for row in query(case, "PRAGMA table_info(files)")}
    assert query(case, "SELECT value FROM meta WHERE key = 'migrated_from'") == []
    assert query(case, "SELECT * FROM files ORDER BY id") == before
    assert cli("files", "--case", case).returncode == 0
    assert query(case, "SELECT value FROM meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    assert len(migrated_entries(case)) == 1
    assert cli("custody", "verify", "--deep", "--case", case).returncode == 0


# -- case.migrated in a signed case ----------------------------------------------------------------

def test_a_signed_case_opened_without_a_key_keeps_the_entry_queued_then_records_it_once(tmp_path, keys):
    case = make_case(tmp_path, keys["key"])
    rewrite_as_v1(case)
    assert cli("files", "--case", case).returncode == 0            # no key: migrated, not recorded
    assert query(case, "SELECT value FROM meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    assert query(case, "SELECT value FROM meta WHERE key = 'migrated_from'")
    assert migrated_entries(case) == []
    assert cli("custody", "verify", "--case", case, "--pub", keys["pub"]).returncode == 0
    assert cli("files", "--case", case, key=keys["key"]).returncode == 0
    assert cli("files", "--case", case, key=keys["key"]).returncode == 0
    [entry] = migrated_entries(case)
    assert entry["details"]["from"] == 1 and entry["details"]["to"] == SCHEMA_VERSION
    assert query(case, "SELECT value FROM meta WHERE key = 'migrated_from'") == []
    assert cli("custody", "verify", "--case", case, "--pub", keys["pub"]).returncode == 0


def test_a_key_the_case_has_not_pinned_does_not_record_the_queued_entry(tmp_path, keys):
    case = make_case(tmp_path, keys["key"])
    rewrite_as_v1(case)
    cli("files", "--case", case, key=keys["mkey"])
    assert migrated_entries(case) == []
    assert cli("custody", "verify", "--case", case, "--pub", keys["pub"]).returncode == 0


def test_two_commands_at_once_record_case_migrated_once(tmp_path, monkeypatch):
    """Two commands open the migrated store at once (a listing in one terminal, a triage in
    another): both see the queued entry. The first records it and, in a second step, empties
    the queue; the second runs between those steps (reproduced exactly, in one process: right
    after the first's custody write)."""
    from forensic.case import Case
    from forensic.chain_of_custody import hooks
    case = make_case(tmp_path)
    rewrite_as_v1(case)
    first, second = Case.open(case), Case.open(case)
    real_exit = hooks.CustodyLog.__exit__
    ran: list[bool] = []

    def exit_then_the_other_command(self, *exc):
        real_exit(self, *exc)
        if not ran:
            ran.append(True)
            hooks.record_pending(second)
    monkeypatch.setattr(hooks.CustodyLog, "__exit__", exit_then_the_other_command)
    try:
        hooks.record_pending(first)
    finally:
        first.close()
        second.close()
    monkeypatch.undo()
    assert ran
    assert len(migrated_entries(case)) == 1
