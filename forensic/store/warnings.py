"""What could not be read, and why (the ``warnings`` table), read typed. (A triage stores
them: :mod:`forensic.store.triage`.)"""
from __future__ import annotations

import sqlite3
from typing import Iterator

from forensic.store.artifacts import like as like_operator
from forensic.store.db import like_literal, stream
from forensic.store.records import StoredWarning


def listing(db: sqlite3.Connection, item: str | None = None, limit: int | None = None) -> Iterator[StoredWarning]:
    """The warnings of ``item`` (None: every item), in the order they were recorded, at most
    ``limit``; streamed from one cursor, closed when the generator ends or is closed."""
    sql = "SELECT * FROM warnings" + (" WHERE item = ?" if item is not None else "") + " ORDER BY id"
    args: list = [] if item is None else [item]
    if limit is not None:
        sql += " LIMIT ?"
        args.append(limit)
    yield from stream(db, sql, args, StoredWarning.from_row)


def at_locator_ending(db: sqlite3.Connection, item: str, suffix: str) -> list[StoredWarning]:
    """The warnings of ``item`` whose locator ends with ``suffix``, in the order they were
    recorded. ``%`` and ``_`` in ``suffix`` mean themselves; ASCII letters match in either
    case (SQLite's LIKE)."""
    pattern = "%" + like_literal(suffix)
    return [StoredWarning.from_row(r) for r in db.execute(
        f"SELECT * FROM warnings WHERE item = ? AND locator {like_operator(db)} ? ESCAPE '!' ORDER BY id",
        (item, pattern))]
