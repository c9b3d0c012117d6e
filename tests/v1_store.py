"""A case store in the layout schema version 1 wrote, for the tests of migrations.

The tables as the first release created them (forensic/case.py of that release), before the
``files.times_tz_source`` column, with its unused ``triage_progress`` table; the custody log
added its two tables on first use; the search index and tags did not exist yet. A case made
and triaged for real is rewritten in that layout with the same rows (:func:`rewrite_as_v1`).
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

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


def rewrite_as_v1(case: Path, version: str = "1", wal: bool = False) -> None:
    """Replace CASE/case.db by a store with the same rows in the version 1 layout, whose
    ``meta.schema_version`` is ``version``."""
    store = case / "case.db"
    db = sqlite3.connect(store)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    old = case / "v1.db"
    v1 = sqlite3.connect(old)
    if wal:
        v1.execute("PRAGMA journal_mode=WAL")
    v1.executescript(V1_SCHEMA)
    v1.execute("ATTACH DATABASE ? AS cur", (str(store),))
    for table, cols in V1_COPIED.items():
        v1.execute(f"INSERT INTO {table}({cols}) SELECT {cols} FROM cur.{table}")
    v1.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
    v1.commit()
    v1.execute("DETACH DATABASE cur")
    if wal:
        v1.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    v1.close()
    os.replace(old, store)
    for suffix in ("-wal", "-shm"):
        Path(f"{old}{suffix}").unlink(missing_ok=True)
