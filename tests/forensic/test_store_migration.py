"""The store layer against cases older versions wrote, and ``custody verify --deep``.

A case is made and triaged for real, then its store is rewritten in the layout the first
release (schema version 1) wrote: the tables as that release created them (frozen below),
the same rows. Opening it migrates it in one transaction, the custody log records
``case.migrated``, and every listing reads the same as before.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from builders import tiny_jpeg, write_tree
from forensic.store.schema import SCHEMA_VERSION
from v1_store import rewrite_as_v1

pytestmark = pytest.mark.sqlite_only     # stores of older versions are SQLite files

CHAT = ("12/01/2024, 09:15 - Alice: work starts at 6\n"
        "12/01/2024, 09:16 - Bob: IMG-20241201-WA0001.jpg (file attached)\n"
        "12/01/2024, 09:17 - Alice: no excuses\n").encode()


@pytest.fixture
def triaged(tmp_path, forensic) -> Path:
    phone = write_tree(tmp_path / "phone", {
        "WhatsApp/Chat.txt": CHAT,
        "WhatsApp/IMG-20241201-WA0001.jpg": tiny_jpeg(),
        "DCIM/photo.jpg": tiny_jpeg(b"Canon", b"EOS"),
    })
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "MIG-1", "--examiner", "Ana Examiner")
    forensic("evidence", "add", phone, "--case", case, "--id", "phone")
    forensic("triage", "phone", "--case", case, expect=None)
    return case


def _listings(forensic, case: Path) -> dict:
    return {"files": forensic("files", "--case", case, "--json").out,
            "messages": forensic("messages", "--case", case, "--json").out,
            "conversations": forensic("conversations", "--case", case, "--json").out,
            "photos": forensic("photos", "--case", case, "--json").out}


def test_a_version_1_store_migrates_and_reads_the_same(triaged, forensic):
    before = _listings(forensic, triaged)
    assert "no excuses" in before["messages"] and "Canon" in before["photos"]
    rewrite_as_v1(triaged)
    db = sqlite3.connect(triaged / "case.db")
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
    db.close()

    after = _listings(forensic, triaged)
    assert after == before

    db = sqlite3.connect(triaged / "case.db")
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"tags", "chat_messages", "chat_index"} <= tables and "triage_progress" not in tables
    assert db.execute("SELECT value FROM meta WHERE key='migrated_from'").fetchone() is None
    db.close()
    entries = forensic("custody", "log", "--case", triaged, "--json", "--action", "case.migrated").jsonl()
    assert len(entries) == 1                     # recorded once, by the first command
    assert entries[0]["details"]["from"] == 1 and entries[0]["details"]["to"] == SCHEMA_VERSION
    forensic("custody", "verify", "--case", triaged)
    forensic("custody", "verify", "--deep", "--case", triaged)


def test_a_failed_migration_leaves_the_old_store(triaged, forensic, monkeypatch):
    rewrite_as_v1(triaged)
    from forensic.store import schema

    def half_then_fail(db):
        db.execute("DROP TABLE triage_progress")
        db.execute("ALTER TABLE files ADD COLUMN times_tz_source TEXT")
        raise sqlite3.OperationalError("disk I/O error (injected)")
    monkeypatch.setitem(schema.MIGRATIONS, 1, half_then_fail)
    result = forensic("files", "--case", triaged, expect=None)
    assert result.code != 0
    db = sqlite3.connect(triaged / "case.db")
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
    assert db.execute("SELECT 1 FROM sqlite_master WHERE name='triage_progress'").fetchone()
    assert "times_tz_source" not in {r[1] for r in db.execute("PRAGMA table_info(files)")}
    db.close()


def test_deep_verify_finds_a_record_edited_in_the_store(triaged, forensic):
    ok = forensic("custody", "verify", "--deep", "--case", triaged, "--json").json()
    assert ok["deep"]["ok"] and ok["deep"]["records_checked"] > 0 and ok["deep"]["files_checked"] > 0
    db = sqlite3.connect(triaged / "case.db")
    aid, fields = db.execute("SELECT id, fields FROM artifacts WHERE record_type='chat/message' "
                             "AND fields LIKE '%no excuses%'").fetchone()
    db.execute("UPDATE artifacts SET fields=? WHERE id=?", (fields.replace("no excuses", "no worries"), aid))
    db.commit()
    db.close()
    bad = forensic("custody", "verify", "--deep", "--case", triaged, "--json", expect=4).json()
    assert bad["ok"] is True                     # the log itself is intact ...
    assert bad["deep"]["ok"] is False            # ... the store is not
    [m] = [m for m in bad["deep"]["mismatches"] if m["problem"] == "record changed"]
    assert m["artifact_id"] == aid and isinstance(m["seq"], int)
    # the search index was built from the record as logged: it no longer matches the record
    assert bad["deep"]["problems"] == {"record changed": 1, "search index changed": 1}
    line = forensic("custody", "log", "--case", triaged, "--json", "--from-seq", m["seq"]).jsonl()[0]
    assert line["details"]["artifact_id"] == aid        # the entry the store contradicts
    text = forensic("custody", "verify", "--deep", "--case", triaged, expect=4)
    assert "record changed" in text.out + text.err and f"seq {m['seq']}" in text.out + text.err


def test_deep_verify_finds_a_changed_evidence_file(triaged, forensic, tmp_path):
    forensic("custody", "verify", "--deep", "--evidence", "--case", triaged)
    photo = tmp_path / "phone" / "DCIM" / "photo.jpg"
    photo.write_bytes(photo.read_bytes() + b"\0")
    bad = forensic("custody", "verify", "--deep", "--evidence", "--case", triaged, "--json", expect=4).json()
    problems = {m["problem"] for m in bad["deep"]["mismatches"]}
    assert "evidence changed" in problems
    [m] = [m for m in bad["deep"]["mismatches"] if m["problem"] == "evidence changed"]
    assert m["item"] == "phone" and isinstance(m["seq"], int)


def test_links_are_logged_so_deep_verify_holds_after_finalize(triaged, forensic):
    """The chat's attachment was linked at the end of the triage (its record rewritten):
    the log has an artifact.linked entry with the hash of what is stored."""
    linked = forensic("custody", "log", "--case", triaged, "--json", "--action", "artifact.linked").jsonl()
    assert linked, "the attachment link was not logged"
    db = sqlite3.connect(triaged / "case.db")
    fields = json.loads(db.execute("SELECT fields FROM artifacts WHERE id=?",
                                   (linked[0]["details"]["artifact_id"],)).fetchone()[0])
    db.close()
    assert fields["attachments"][0]["missing"] is False and fields["attachments"][0]["sha256"]
    report = forensic("custody", "verify", "--deep", "--case", triaged, "--json").json()
    assert report["deep"]["ok"], report["deep"]


@pytest.mark.parametrize("edit", [
    "UPDATE files SET deleted = 1 - deleted WHERE name = 'photo.jpg'",
    "UPDATE files SET locator = locator || ' (copy)' WHERE name = 'photo.jpg'",
    "UPDATE files SET sha256 = NULL WHERE name = 'photo.jpg'",
    "UPDATE artifacts SET record_type = 'photo/other' WHERE record_type = 'photo/exif'",
    "UPDATE artifacts SET file_id = (SELECT id FROM files WHERE name = 'Chat.txt') "
    "WHERE record_type = 'photo/exif' AND file_id = (SELECT id FROM files WHERE name = 'photo.jpg')",
    "UPDATE files SET modified_at = '2020-01-01T00:00:00Z' WHERE name = 'photo.jpg'",
    "UPDATE files SET mime = 'text/plain', extension_mismatch = 1 WHERE name = 'photo.jpg'",
    "UPDATE timestamps SET utc = '2019-05-05T05:05:05Z' WHERE rowid = (SELECT MIN(rowid) FROM timestamps)",
    "DELETE FROM timestamps WHERE rowid = (SELECT MAX(rowid) FROM timestamps)",
])
def test_deep_verify_finds_what_the_log_states_of_each_row(triaged, forensic, edit):
    db = sqlite3.connect(triaged / "case.db")
    assert db.execute(edit).rowcount >= 1
    db.commit()
    db.close()
    bad = forensic("custody", "verify", "--deep", "--case", triaged, "--json", expect=4).json()
    assert not bad["deep"]["ok"] and all(isinstance(m.get("seq"), int) for m in bad["deep"]["mismatches"])


def test_record_hashes_read_the_same_times_as_each_batch_logged(triaged):
    """The streamed hashes --deep reads for every record equal those a triage reads back per
    batch, records without timestamps included."""
    from forensic.case import Case
    from forensic.store import artifacts
    case = Case.open(triaged)
    try:
        streamed = {r[0]: r[6] for r in artifacts.record_hashes(case.db)}
        per_batch = artifacts.times_hashes(case.db, 0, max(streamed))
        assert streamed == {aid: per_batch.get(aid, artifacts.NO_TIMES) for aid in streamed}
        assert artifacts.NO_TIMES in streamed.values() or len(per_batch) == len(streamed)
    finally:
        case.close()


@pytest.mark.parametrize("line", [b"[1]", b'"text"', b"[" * 100_000 + b"]" * 100_000,
                                  b'{"action":"file.recorded","details":{"file_id":true},"subject":"x"}',
                                  b'{"action":"artifact.recorded","details":[],"subject":{"item":7}}'])
def test_deep_verify_reads_a_hostile_log_line_without_crashing(triaged, forensic, line):
    """A line that is not an entry breaks the chain (exit 4, named by the log's check); the
    store check goes on and reports, never an unexpected error."""
    with open(triaged / "custody.jsonl", "ab") as f:
        f.write(line + b"\n")
    result = forensic("custody", "verify", "--deep", "--case", triaged, "--json", expect=4)
    report = result.json()
    assert report["ok"] is False and "deep" in report
    assert report["deep"]["records_checked"] > 0 and "unexpected" not in result.err


def test_a_version_3_store_gains_person_roles(triaged, forensic):
    """Version 3 had no person_roles: opening it adds the (empty) table, the custody log
    records the one step, and persons can then be marked."""
    db = sqlite3.connect(triaged / "case.db")
    db.execute("DROP TABLE person_roles")
    db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    assert forensic("person", "list", "--case", triaged, "--json").out == ""
    db = sqlite3.connect(triaged / "case.db")
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    assert db.execute("SELECT COUNT(*) FROM person_roles").fetchone() == (0,)
    db.close()
    [entry] = forensic("custody", "log", "--case", triaged, "--json", "--action", "case.migrated").jsonl()
    assert entry["details"]["from"] == 3 and [s["what"] for s in entry["details"]["steps"]][0] == \
        "person_roles: the persons marked as victim, witness or suspect (none before)"
    forensic("custody", "verify", "--case", triaged)
