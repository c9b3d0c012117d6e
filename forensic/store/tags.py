"""The examiner's tags (table ``tags``, laid out in :mod:`forensic.store.schema`): one row per
(target, tag). A target is a file (``target_ref`` = its locator), a chat message (its
artifact id) or a conversation (its id), each in one ``item``. What a tag means to an export
(sensitivity, selection) is :mod:`forensic.exporters.selection`'s business."""
from __future__ import annotations

import sqlite3

from forensic.store.db import dialect
from forensic.store.records import Tag


def add(db: sqlite3.Connection, kind: str, ref: str, item: str, tag: str, note: str | None, sensitive: bool,
        at: str, by: str | None) -> None:
    """Put ``tag`` on a target (the caller's transaction). Tagging it again keeps one row:
    the new note replaces the old one unless it is None, a sensitive tag stays sensitive,
    and the time and examiner are the new ones."""
    # PostgreSQL's layout keeps a target unique by its digest (any length: schema.PG_LONG_TEXT)
    ref_key = "text_sha256(target_ref)" if dialect(db) == "postgresql" else "target_ref"
    db.execute("INSERT INTO tags(target_kind, target_ref, item, tag, note, sensitive, at, by) "
               f"VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(target_kind, item, {ref_key}, tag) DO UPDATE SET "
               "note=COALESCE(excluded.note, tags.note), sensitive=MAX(tags.sensitive, excluded.sensitive), "
               "at=excluded.at, by=excluded.by",
               (kind, ref, item, tag, note, int(sensitive), at, by))


def remove(db: sqlite3.Connection, kind: str, item: str, ref: str, tag: str) -> int:
    """Take ``tag`` off a target (the caller's transaction); how many rows went (0 or 1)."""
    return db.execute("DELETE FROM tags WHERE target_kind=? AND item=? AND target_ref=? AND tag=?",
                      (kind, item, ref, tag)).rowcount


def listing(db: sqlite3.Connection, tag: str | None = None) -> list[Tag]:
    """The tags (or those named ``tag``), by name, item, then the order they were first put."""
    sql = "SELECT * FROM tags"
    args: tuple[str, ...] = ()
    if tag:
        sql, args = sql + " WHERE tag=?", (tag,)
    return [Tag.from_row(r) for r in db.execute(sql + " ORDER BY tag, item, id", args)]


def all_tags(db: sqlite3.Connection) -> list[Tag]:
    """Every tag, in the order they were first put."""
    return [Tag.from_row(r) for r in db.execute("SELECT * FROM tags ORDER BY id")]


def names(db: sqlite3.Connection) -> set[str]:
    """The names of the tags in use."""
    return {r[0] for r in db.execute("SELECT DISTINCT tag FROM tags")}
