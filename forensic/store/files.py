"""The walked entries of the evidence items (the ``files`` table), read typed: the listings
``forensic files`` and the trainer's grader make. (How many entries an item holds, and
whether it holds any: :mod:`forensic.store.triage`.)"""
from __future__ import annotations

import sqlite3
from typing import Iterator, Sequence

from forensic.store.db import stream
from forensic.store.records import File


def listing(db: sqlite3.Connection, items: Sequence[str] | None = None, *, deleted: bool | None = None,
            mime_prefix: str | None = None, mismatch: bool | None = None, kind: str | None = None,
            sha256: str | None = None) -> Iterator[File]:
    """The entries of ``items`` (None: every item), by item then in walk order, streamed from
    one cursor (closed when the generator ends or is closed: a listing of 100,000 files is
    never held in memory). Each filter given narrows it: ``deleted`` and ``mismatch`` True
    (or False) keep only the entries that are (or are not) deleted or whose extension
    contradicts their content; ``mime_prefix`` a content type starting with it; ``kind`` and
    ``sha256`` that exact value."""
    where: list[str] = []
    args: list = []
    if items is not None:
        where.append(f"item IN ({','.join('?' * len(items))})")
        args.extend(items)
    if deleted is not None:
        where.append("deleted = ?")
        args.append(int(deleted))
    if mime_prefix:
        # substr, not LIKE: a prefix holding % or _ means itself
        where.append("substr(mime, 1, ?) = ?")
        args.extend([len(mime_prefix), mime_prefix])
    if mismatch is not None:
        where.append("extension_mismatch = ?")
        args.append(int(mismatch))
    if kind is not None:
        where.append("kind = ?")
        args.append(kind)
    if sha256 is not None:
        where.append("sha256 = ?")
        args.append(sha256)
    sql = "SELECT * FROM files" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY item, id"
    yield from stream(db, sql, args, File.from_row)

