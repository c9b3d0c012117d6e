"""docs/lab-setup.md's roles, run as written on a real PostgreSQL server: the administrator makes
the case, an examiner works on it through the group role, and cannot change or delete what the
store keeps of the custody log, nor the case's tables."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "lab-setup.md"


def _sql_blocks() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("### Roles: least privilege"):text.index("### Backups")]
    return re.findall(r"```sql\n(.*?)```", section, re.S)


@pytest.fixture(scope="module")
def lab(pg_server, tmp_path_factory):
    """A database with the doc's roles and a case made by forensic_admin, granted to the examiners."""
    import psycopg
    if shutil.which("psql") is None:
        pytest.skip("psql not installed (apt-get install postgresql-client)")
    roles, grants = _sql_blocks()
    url = pg_server.new_database()
    database = url.split("@/", 1)[1].split("?")[0]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(roles.replace("ON DATABASE forensic", f'ON DATABASE "{database}"'))
    admin_url = url.replace("forensic_test@", "forensic_admin@")
    root = tmp_path_factory.mktemp("lab") / "case"
    from forensic.cli.main import main
    assert main(["case", "init", str(root), "--case-id", "LAB-1", "--examiner", "Admin",
                 "--store", admin_url]) == 0                     # records case.created: a checkpoint
    grants_file = root.parent / "grants.sql"
    grants_file.write_text(grants, encoding="utf-8")
    proc = subprocess.run(["psql", "-v", "ON_ERROR_STOP=1", "-v", "schema=case_lab_1", "-f", str(grants_file),
                           admin_url], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return {"root": root, "admin": admin_url, "alice": url.replace("forensic_test@", "alice@")}


def test_an_examiner_works_on_the_case(lab, forensic, monkeypatch, tmp_path):
    monkeypatch.setenv("PGUSER", "alice")
    monkeypatch.setenv("FORENSIC_CASE", str(lab["root"]))
    evidence = tmp_path / "notes"
    evidence.mkdir()
    (evidence / "a.txt").write_text("meet at the hotel\n")
    forensic("evidence", "add", evidence)
    forensic("sample-image", tmp_path / "sample")             # chats, photos, places: every index
    forensic("evidence", "add", tmp_path / "sample" / "extraction.zip")
    assert forensic("triage", expect=None).code in (0, 3)          # 3: warnings recorded
    assert forensic("messages", "--json").jsonl()
    assert forensic("timeline", "--json").jsonl()
    files = forensic("files", "--json").jsonl()
    target = next(f for f in files if f["path"].endswith("a.txt"))
    forensic("tag", "add", "--tag", "relevant", "--note", "first", target["locator"])
    forensic("tag", "add", "--tag", "relevant", target["locator"])        # the note is kept
    tags = forensic("tag", "list", "--json").jsonl()
    assert [(t["tag"], t["note"]) for t in tags] == [("relevant", "first")]
    forensic("custody", "verify")
    import psycopg
    with psycopg.connect(lab["alice"]) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "alice"
        assert conn.execute("SELECT count(*) FROM case_lab_1.files").fetchone()[0] >= 1


@pytest.mark.parametrize("statement", [
    "DELETE FROM case_lab_1.custody_checkpoints",
    "UPDATE case_lab_1.custody_checkpoints SET root = 'forged'",
    "TRUNCATE case_lab_1.custody_checkpoints",
    "DELETE FROM case_lab_1.custody_pins",
    "DROP TABLE case_lab_1.files",
    "ALTER TABLE case_lab_1.custody_checkpoints DISABLE TRIGGER custody_checkpoints_append_only",
    "DROP TRIGGER custody_checkpoints_append_only ON case_lab_1.custody_checkpoints",
    "CREATE TABLE case_lab_1.planted(x int)",
])
def test_an_examiner_cannot_change_custody_or_tables(lab, statement):
    import psycopg
    with psycopg.connect(lab["alice"], autocommit=True) as conn:
        with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.RaiseException)):
            conn.execute(statement)
    with psycopg.connect(lab["admin"], autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM case_lab_1.custody_checkpoints").fetchone()[0] >= 1


def test_even_the_owner_cannot_rewrite_custody_rows(lab):
    import psycopg
    with psycopg.connect(lab["admin"], autocommit=True) as conn:
        for statement in ("DELETE FROM case_lab_1.custody_checkpoints",
                          "UPDATE case_lab_1.custody_pins SET public_key = 'x'"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
