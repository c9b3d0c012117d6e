"""The store layer against cases older versions wrote, and ``custody verify --deep``.

A case is made and triaged for real, then its store is rewritten in the layout the first
release (schema version 1) wrote: the tables as that release created them (frozen below),
the same rows. Opening it migrates it in one transaction, the custody log records
``case.migrated``, and every listing reads the same as before.
"""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from builders import tiny_jpeg, write_tree

# The store as schema version 1 created it (forensic/case.py of that release), before the
# ``files.times_tz_source`` column, with its unused ``triage_progress`` table; the custody log
# added its two tables on first use; the search index and tags did not exist yet.
V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items (
    item TEXT PRIMARY KEY, source_path TEXT NOT NULL, format TEXT NOT NULL, description TEXT,
    size INTEGER NOT NULL, sha256 TEXT NOT NULL, md5 TEXT NOT NULL,
    acquisition_hashes TEXT NOT NULL DEFAULT '{}', acquisition_hash_verified INTEGER,
    details TEXT NOT NULL DEFAULT '{}', added_at TEXT NOT NULL, triaged_at TEXT, triage_summary TEXT);
CREATE TABLE files (
    id INTEGER PRIMARY KEY, item TEXT NOT NULL REFERENCES items(item), locator TEXT NOT NULL,
    path TEXT NOT NULL, layers TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, size INTEGER,
    sha256 TEXT, md5 TEXT, sha1 TEXT, deleted INTEGER NOT NULL DEFAULT 0,
    allocated INTEGER NOT NULL DEFAULT 1, mime TEXT, magic TEXT,
    extension_mismatch INTEGER NOT NULL DEFAULT 0,
    modified_at TEXT, accessed_at TEXT, changed_at TEXT, born_at TEXT,
    times_tz_known INTEGER NOT NULL DEFAULT 1, inode TEXT, link_target TEXT,
    warnings INTEGER NOT NULL DEFAULT 0, UNIQUE(item, locator));
CREATE INDEX files_sha256 ON files(sha256);
CREATE INDEX files_mime ON files(item, mime);
CREATE TABLE warnings (id INTEGER PRIMARY KEY, item TEXT NOT NULL, locator TEXT, stage TEXT NOT NULL,
    message TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE artifacts (id INTEGER PRIMARY KEY, item TEXT NOT NULL, file_id INTEGER REFERENCES files(id),
    record_type TEXT NOT NULL, extractor TEXT NOT NULL, source_ref TEXT, fields TEXT NOT NULL,
    corrupted INTEGER NOT NULL DEFAULT 0, warnings TEXT NOT NULL DEFAULT '[]');
CREATE INDEX artifacts_type ON artifacts(record_type, item);
CREATE TABLE timestamps (artifact_id INTEGER REFERENCES artifacts(id), file_id INTEGER REFERENCES files(id),
    label TEXT NOT NULL, utc TEXT, local TEXT, tz_known INTEGER NOT NULL, tz_source TEXT NOT NULL, raw TEXT);
CREATE INDEX timestamps_utc ON timestamps(utc);
CREATE TABLE triage_progress (item TEXT NOT NULL, unit TEXT NOT NULL, done_at TEXT NOT NULL,
    PRIMARY KEY(item, unit));
CREATE TABLE custody_checkpoints (tree_size INTEGER NOT NULL, root TEXT NOT NULL, at TEXT NOT NULL,
    record TEXT NOT NULL);
CREATE TABLE custody_pins (examiner TEXT NOT NULL, key_id TEXT NOT NULL, public_key TEXT NOT NULL);
"""
V1_COPIED = {
    "meta": "key, value",
    "items": "item, source_path, format, description, size, sha256, md5, acquisition_hashes, "
             "acquisition_hash_verified, details, added_at, triaged_at, triage_summary",
    "files": "id, item, locator, path, layers, name, kind, size, sha256, md5, sha1, deleted, allocated, mime, "
             "magic, extension_mismatch, modified_at, accessed_at, changed_at, born_at, times_tz_known, inode, "
             "link_target, warnings",
    "warnings": "id, item, locator, stage, message, at",
    "artifacts": "id, item, file_id, record_type, extractor, source_ref, fields, corrupted, warnings",
    "timestamps": "artifact_id, file_id, label, utc, local, tz_known, tz_source, raw",
    "custody_checkpoints": "tree_size, root, at, record",
    "custody_pins": "examiner, key_id, public_key",
}

CHAT = ("12/01/2024, 09:15 - Alice: work starts at 6\n"
        "12/01/2024, 09:16 - Bob: IMG-20241201-WA0001.jpg (file attached)\n"
        "12/01/2024, 09:17 - Alice: no excuses\n").encode()


def _rewrite_as_v1(case: Path) -> None:
    """Replace CASE/case.db by a store with the same rows in the version 1 layout."""
    store = case / "case.db"
    db = sqlite3.connect(store)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    old = case / "v1.db"
    v1 = sqlite3.connect(old)
    v1.executescript(V1_SCHEMA)
    v1.execute("ATTACH DATABASE ? AS cur", (str(store),))
    for table, cols in V1_COPIED.items():
        v1.execute(f"INSERT INTO {table}({cols}) SELECT {cols} FROM cur.{table}")
    v1.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    v1.commit()
    v1.execute("DETACH DATABASE cur")
    v1.close()
    os.replace(old, store)


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
    _rewrite_as_v1(triaged)
    db = sqlite3.connect(triaged / "case.db")
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
    db.close()

    after = _listings(forensic, triaged)
    assert after == before

    db = sqlite3.connect(triaged / "case.db")
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("2",)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"tags", "chat_messages", "chat_index"} <= tables and "triage_progress" not in tables
    assert db.execute("SELECT value FROM meta WHERE key='migrated_from'").fetchone() is None
    db.close()
    entries = forensic("custody", "log", "--case", triaged, "--json", "--action", "case.migrated").jsonl()
    assert len(entries) == 1                     # recorded once, by the first command
    assert entries[0]["details"]["from"] == 1 and entries[0]["details"]["to"] == 2
    forensic("custody", "verify", "--case", triaged)
    forensic("custody", "verify", "--deep", "--case", triaged)


def test_a_failed_migration_leaves_the_old_store(triaged, forensic, monkeypatch):
    _rewrite_as_v1(triaged)
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
