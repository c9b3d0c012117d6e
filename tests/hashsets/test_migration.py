"""A store of version 4 (before hash sets) is migrated to 5 when opened: the two tables are
added empty, the custody log records the step, its files list unmarked, and a check then
marks them."""
from __future__ import annotations

import hashlib
import sqlite3

from forensic.store.schema import SCHEMA_VERSION
from tests import casestore
from tests.builders import write_tree


@casestore.older_versions
def test_a_version_4_store_gains_the_hashset_tables(tmp_path, forensic, monkeypatch):
    monkeypatch.setenv("FORENSIC_HASHSETS", str(tmp_path / "empty-library"))
    phone = write_tree(tmp_path / "phone", {"a.txt": b"alpha\n", "b.txt": b"beta\n"})
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "MIG-5", "--examiner", "E")
    forensic("evidence", "add", phone, "--case", case, "--id", "phone")
    forensic("triage", "--case", case)
    db = sqlite3.connect(case / "case.db")
    db.execute("DROP TABLE hashset_hits")
    db.execute("DROP TABLE hashset_checks")
    db.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    rows = forensic("files", "--case", case, "--json", "--kind", "file").jsonl()
    assert [(r["hashsets"], r["known_good"], r["known_bad"]) for r in rows] == [([], False, False)] * 2
    db = sqlite3.connect(case / "case.db")
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    assert db.execute("SELECT COUNT(*) FROM hashset_hits").fetchone() == (0,)
    db.close()
    [entry] = forensic("custody", "log", "--case", case, "--json", "--action", "case.migrated").jsonl()
    assert entry["details"]["from"] == 4 and [s["what"] for s in entry["details"]["steps"]][:1] == [
        "hashset_hits and hashset_checks: hash set matches and checks (none before)"]   # then later versions
    (tmp_path / "known.sha256").write_text(hashlib.sha256(b"alpha\n").hexdigest() + "  a.txt\n")
    forensic("hashset", "import", tmp_path / "known.sha256", "--name", "os", "--kind", "known-good")
    forensic("hashset", "check", "--case", case)
    marked = {r["path"]: r["known_good"] for r in forensic("files", "--case", case, "--json", "--kind", "file").jsonl()}
    assert marked == {"/a.txt": True, "/b.txt": False}
    forensic("custody", "verify", "--case", case)


def test_a_set_the_triage_had_no_digest_for_is_said(tmp_path, forensic, monkeypatch):
    """A case triaged before an MD5-only set was imported: ``hashset check`` cannot compare
    its files with that set, and says so (exit 3) instead of reporting them clean; triage
    after the import hashes MD5 too, and they match."""
    monkeypatch.setenv("FORENSIC_HASHSETS", str(tmp_path / "library"))
    phone = write_tree(tmp_path / "phone", {"a.txt": b"alpha\n", "b.txt": b"beta\n"})
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "MD5-1", "--examiner", "E")
    forensic("evidence", "add", phone, "--case", case, "--id", "phone")
    forensic("triage", "--case", case)
    (tmp_path / "bad.md5").write_text(hashlib.md5(b"beta\n").hexdigest() + "  b.txt\n")
    forensic("hashset", "import", tmp_path / "bad.md5", "--name", "md5only", "--kind", "known-bad")
    res = forensic("hashset", "check", "--case", case, expect=3)
    assert "2 file(s) not compared" in res.err
    assert forensic("files", "--case", case, "--known-bad", "--json").out == ""
    forensic("triage", "--case", case, "--force")
    [bad] = forensic("files", "--case", case, "--known-bad", "--json").jsonl()
    assert bad["path"] == "/b.txt" and bad["md5"] == hashlib.md5(b"beta\n").hexdigest()


def test_a_damaged_set_is_a_warning_never_a_failed_triage(tmp_path, forensic, monkeypatch):
    library = tmp_path / "library"
    monkeypatch.setenv("FORENSIC_HASHSETS", str(library))
    phone = write_tree(tmp_path / "phone", {"a.txt": b"alpha\n"})
    (tmp_path / "good.sha256").write_text(hashlib.sha256(b"alpha\n").hexdigest() + "  a.txt\n")
    forensic("hashset", "import", tmp_path / "good.sha256", "--name", "good", "--kind", "known-good")
    forensic("hashset", "import", tmp_path / "good.sha256", "--name", "broken", "--kind", "known-bad")
    with open(library / "broken" / "sha256.idx", "r+b") as fh:
        fh.truncate(20)
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "BRK-1", "--examiner", "E")
    forensic("evidence", "add", phone, "--case", case, "--id", "phone")
    forensic("triage", "--case", case, expect=3)
    [w] = forensic("warnings", "--case", case, "--json").jsonl()
    assert w["stage"] == "hashsets" and "hash set broken not checked" in w["message"]
    [row] = forensic("files", "--case", case, "--json", "--kind", "file").jsonl()
    assert row["hashsets"] == ["good"] and row["known_good"] and not row["known_bad"]
