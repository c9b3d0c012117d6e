"""A case: a folder holding ``case.db`` (SQLite, WAL) and the custody log.

Every write goes through a transaction, so an interrupted command leaves either the
old state or the new one, never half of it.
"""
from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from forensic.errors import CaseError
from forensic.timestamps import iso_utc, now_utc

DB_NAME = "case.db"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    item TEXT PRIMARY KEY,
    source_path TEXT NOT NULL,
    format TEXT NOT NULL,
    description TEXT,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    md5 TEXT NOT NULL,
    acquisition_hashes TEXT NOT NULL DEFAULT '{}',
    acquisition_hash_verified INTEGER,
    details TEXT NOT NULL DEFAULT '{}',
    added_at TEXT NOT NULL,
    triaged_at TEXT,
    triage_summary TEXT
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    item TEXT NOT NULL REFERENCES items(item),
    locator TEXT NOT NULL,
    path TEXT NOT NULL,
    layers TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    size INTEGER,
    sha256 TEXT,
    md5 TEXT,
    sha1 TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    allocated INTEGER NOT NULL DEFAULT 1,
    mime TEXT,
    magic TEXT,
    extension_mismatch INTEGER NOT NULL DEFAULT 0,
    modified_at TEXT, accessed_at TEXT, changed_at TEXT, born_at TEXT,
    times_tz_known INTEGER NOT NULL DEFAULT 1,
    times_tz_source TEXT,
    inode TEXT,
    link_target TEXT,
    warnings INTEGER NOT NULL DEFAULT 0,
    UNIQUE(item, locator)
);
CREATE INDEX IF NOT EXISTS files_sha256 ON files(sha256);
CREATE INDEX IF NOT EXISTS files_mime ON files(item, mime);
CREATE TABLE IF NOT EXISTS warnings (
    id INTEGER PRIMARY KEY,
    item TEXT NOT NULL,
    locator TEXT,
    stage TEXT NOT NULL,
    message TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS artifacts (
    id INTEGER PRIMARY KEY,
    item TEXT NOT NULL,
    file_id INTEGER REFERENCES files(id),
    record_type TEXT NOT NULL,
    extractor TEXT NOT NULL,
    source_ref TEXT,
    fields TEXT NOT NULL,
    corrupted INTEGER NOT NULL DEFAULT 0,
    warnings TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS artifacts_type ON artifacts(record_type, item);
CREATE TABLE IF NOT EXISTS timestamps (
    artifact_id INTEGER REFERENCES artifacts(id),
    file_id INTEGER REFERENCES files(id),
    label TEXT NOT NULL,
    utc TEXT,
    local TEXT,
    tz_known INTEGER NOT NULL,
    tz_source TEXT NOT NULL,
    raw TEXT
);
CREATE INDEX IF NOT EXISTS timestamps_utc ON timestamps(utc);
CREATE TABLE IF NOT EXISTS triage_progress (
    item TEXT NOT NULL,
    unit TEXT NOT NULL,
    done_at TEXT NOT NULL,
    PRIMARY KEY(item, unit)
);
"""


@dataclass
class Case:
    root: Path
    db: sqlite3.Connection

    # -- opening -----------------------------------------------------------------
    @classmethod
    def init(cls, root: Path, case_id: str, examiner: str, organisation: str | None = None) -> "Case":
        root = Path(root)
        if (root / DB_NAME).exists():
            raise CaseError(f"a case already exists in {root}",
                            hint="open it with --case, or choose another folder")
        root.mkdir(parents=True, exist_ok=True)
        db = _connect(root / DB_NAME)
        with db:
            db.executescript(_SCHEMA)
            meta = {
                "schema_version": str(SCHEMA_VERSION),
                "case_id": case_id,
                "examiner": examiner,
                "organisation": organisation or "",
                "created_at": iso_utc(now_utc()),
            }
            db.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", meta.items())
        return cls(root, db)

    def reconnected(self) -> "Case":
        """This case on a database connection of its own, opened as :meth:`open` opens it
        (a forked child process must not use its parent's connection)."""
        return Case(self.root, _connect(self.root / DB_NAME))

    @classmethod
    def open(cls, root: Path | str | None) -> "Case":
        root = Path(root if root is not None else os.environ.get("FORENSIC_CASE", "."))
        path = root / DB_NAME
        if not path.is_file():
            raise CaseError(f"no case in {root} (no {DB_NAME})",
                            hint="create one with 'forensic case init DIR', or pass --case DIR / set FORENSIC_CASE")
        try:
            db = _connect(path)
            db.executescript(_SCHEMA)  # idempotent: adds tables newer versions introduced
            _migrate(db)
            version = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise CaseError(f"the case store {path} cannot be read: {exc}") from exc
        if version is None:
            raise CaseError(f"{path} is not a forensic case store (no schema version)")
        if int(version[0]) > SCHEMA_VERSION:
            raise CaseError(f"case store schema {version[0]} is newer than this tool understands",
                            hint="upgrade forensic")
        return cls(root, db)

    def close(self) -> None:
        self.db.close()

    # -- metadata ------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta"))

    @property
    def case_id(self) -> str:
        return self.meta()["case_id"]

    @property
    def examiner(self) -> str:
        return self.meta()["examiner"]

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work (BEGIN IMMEDIATE .. COMMIT, rolled back on error)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    # -- items -----------------------------------------------------------------------
    def item(self, item: str) -> sqlite3.Row:
        row = self.db.execute("SELECT * FROM items WHERE item=?", (item,)).fetchone()
        if row is None:
            known = [r[0] for r in self.db.execute("SELECT item FROM items ORDER BY item")]
            raise CaseError(f"no evidence item {item!r} in this case",
                            hint=("items: " + ", ".join(known)) if known else "add one with 'forensic evidence add'")
        return row

    def items(self) -> list[sqlite3.Row]:
        return list(self.db.execute("SELECT * FROM items ORDER BY added_at, item"))


def stored_path(path: Path) -> str | bytes:
    """A path as the case store keeps it: text, or its bytes (a BLOB) when the name is not
    UTF-8, so the evidence can be opened again by its exact name."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return os.fsencode(text)


def item_source(row) -> Path:
    """The evidence source path of an ``items`` row (see :func:`stored_path`)."""
    value = row["source_path"]
    return Path(os.fsdecode(value) if isinstance(value, bytes) else value)


def _migrate(db: sqlite3.Connection) -> None:
    """Columns added after a table was first created (same schema version: additive only)."""
    cols = {r[1] for r in db.execute("PRAGMA table_info(files)")}
    if "times_tz_source" not in cols:
        db.execute("ALTER TABLE files ADD COLUMN times_tz_source TEXT")


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


def loads(text: str | None, default=None):
    return json.loads(text) if text else default
