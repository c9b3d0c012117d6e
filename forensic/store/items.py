"""Evidence items and the case's own metadata."""
from __future__ import annotations

import json
import sqlite3

from forensic.errors import CaseError
from forensic.store.db import dialect
from forensic.store.records import Item


def meta(db: sqlite3.Connection) -> dict[str, str]:
    return dict(db.execute("SELECT key, value FROM meta"))


def get(db: sqlite3.Connection, item: str) -> Item | None:
    row = db.execute("SELECT * FROM items WHERE item = ?", (item,)).fetchone()
    return None if row is None else Item.from_row(row)


def all_items(db: sqlite3.Connection) -> list[Item]:
    """Every item, in the order they were added."""
    return [Item.from_row(r) for r in db.execute("SELECT * FROM items ORDER BY added_at, item")]


def ids(db: sqlite3.Connection) -> list[str]:
    """Every item's id, sorted."""
    return [r[0] for r in db.execute("SELECT item FROM items ORDER BY item")]


def with_sha256(db: sqlite3.Connection, sha256: str) -> list[str]:
    """The items whose content has this SHA-256 (the same evidence added twice)."""
    return [r[0] for r in db.execute("SELECT item FROM items WHERE sha256 = ? ORDER BY added_at, item", (sha256,))]


def check_source_path(db: sqlite3.Connection, source_path: str | bytes) -> None:
    """A CaseError when ``db`` cannot keep this source path exactly: a path that is not UTF-8
    (kept as its bytes, a BLOB, on SQLite) on PostgreSQL, whose text column would hold the
    bytes' hex spelling ("\\x2f...") instead, an evidence path no triage finds again."""
    if isinstance(source_path, bytes) and dialect(db) == "postgresql":
        raise CaseError(f"the evidence path {source_path!r} is not UTF-8, which a case store on "
                        "PostgreSQL cannot keep exactly",
                        hint="add it through a UTF-8 path (a symbolic link or a bind mount named in UTF-8)")


def add(db: sqlite3.Connection, row: dict) -> None:
    """Store a new item (``row``: column -> value; JSON columns already encoded)."""
    check_source_path(db, row["source_path"])
    db.execute(f"INSERT INTO items({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))


def set_triaged(db: sqlite3.Connection, item: str, at: str, summary: dict) -> None:
    db.execute("UPDATE items SET triaged_at = ?, triage_summary = ? WHERE item = ?",
               (at, json.dumps(summary), item))


def clear_triage(db: sqlite3.Connection, item: str) -> None:
    """Remove what a triage of ``item`` stored (``triage --force``), keeping the item."""
    db.execute("DELETE FROM timestamps WHERE artifact_id IN (SELECT id FROM artifacts WHERE item = ?)", (item,))
    db.execute("DELETE FROM artifacts WHERE item = ?", (item,))
    db.execute("DELETE FROM warnings WHERE item = ?", (item,))
    db.execute("DELETE FROM hashset_hits WHERE item = ?", (item,))
    db.execute("DELETE FROM files WHERE item = ?", (item,))
    db.execute("UPDATE items SET triaged_at = NULL, triage_summary = NULL WHERE item = ?", (item,))
