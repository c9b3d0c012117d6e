"""The case store's copies of custody-log state: the latest checkpoints (so cutting the log
and its checkpoints file back together still shows against the store) and the examiners'
pinned keys (checked before a command records; the log's own pins decide at verification)."""
from __future__ import annotations

import sqlite3

from forensic.store import postgres


def is_store_error(exc: BaseException) -> bool:
    """``exc`` is the case store's own error (SQLite's, or the PostgreSQL server's)."""
    return isinstance(exc, sqlite3.Error) or postgres.is_error(exc)


def latest_checkpoint(db: sqlite3.Connection) -> str | None:
    """The line of the largest checkpoint copied into the store (the last copied of that size),
    or None. The largest, not the last: whoever may copy one (every examiner, on PostgreSQL,
    where the copies are append-only) could otherwise copy an old one again, or give a row the
    highest rowid, and so have a log cut back to it verify clean."""
    row = db.execute("SELECT record FROM custody_checkpoints ORDER BY tree_size DESC, rowid DESC "
                     "LIMIT 1").fetchone()
    return None if row is None else str(row[0])


def add_checkpoint(db: sqlite3.Connection, tree_size: int, root: str, at: str, record: str) -> None:
    db.execute("INSERT INTO custody_checkpoints(tree_size, root, at, record) VALUES (?, ?, ?, ?)",
               (tree_size, root, at, record))


def pins(db: sqlite3.Connection) -> list[tuple[str, str]]:
    """(examiner, public key in base64) of every key pinned so far."""
    return [(str(name), str(key)) for name, key in db.execute("SELECT examiner, public_key FROM custody_pins")]


def add_pin(db: sqlite3.Connection, examiner: str, key_id: str, public_key: str) -> None:
    db.execute("INSERT INTO custody_pins(examiner, key_id, public_key) VALUES (?, ?, ?)",
               (examiner, key_id, public_key))
