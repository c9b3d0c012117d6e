"""Records extractors made (the ``artifacts`` table): reading them typed, completing them
with links after they were logged, and their hashes for ``custody verify --deep``."""
from __future__ import annotations

import itertools
import json
import operator
import sqlite3
from typing import Iterable, Iterator, NamedTuple

from forensic.store.db import dialect, like_literal
from forensic.store.records import (FILE_ROW_COLUMNS, RECORD_ROW_COLUMNS, TIMES_COLUMNS, File, Link, Record,
                                     file_row_sha256, record_sha256, values_sha256)

_WITH_FILE = ("SELECT a.*, f.path AS path, f.locator AS locator, f.sha256 AS file_sha256 FROM artifacts a "
              "LEFT JOIN files f ON f.id = a.file_id")


def like(db: sqlite3.Connection) -> str:
    """SQLite's ``LIKE`` (ASCII letters match in either case) in ``db``'s SQL: PostgreSQL's
    ``ILIKE`` (its text compares as "C", where only ASCII letters have a case)."""
    return "ILIKE" if dialect(db) == "postgresql" else "LIKE"


def get(db: sqlite3.Connection, artifact_id: int) -> Record | None:
    row = db.execute(_WITH_FILE + " WHERE a.id = ?", (artifact_id,)).fetchone()
    return None if row is None else Record.from_row(row)


def of_item(db: sqlite3.Connection, item: str, record_type: str | None = None, extractor: str | None = None,
            with_attachments: bool = False) -> Iterator[Record]:
    """``item``'s records in the order they were stored; of one ``record_type``, of one
    extractor (its NAME, any version), only chat messages with attachments."""
    where, args = ["a.item = ?"], [item]
    if record_type is not None:
        where.append("a.record_type = ?")
        args.append(record_type)
    if extractor is not None:
        where.append(f"(a.extractor = ? OR a.extractor {like(db)} ?)")
        args += [extractor, extractor + "@%"]
    if with_attachments:
        where.append("json_array_length(a.fields, '$.attachments') > 0")
    for row in db.execute(f"{_WITH_FILE} WHERE {' AND '.join(where)} ORDER BY a.id", args).fetchall():
        yield Record.from_row(row)


def files_named(db: sqlite3.Connection, item: str, names: Iterable[str]) -> list[File]:
    """The regular files of ``item`` with one of these names."""
    names = list(names)
    out: list[File] = []
    for i in range(0, len(names), 500):
        batch = names[i:i + 500]
        out.extend(File.from_row(r) for r in db.execute(
            f"SELECT * FROM files WHERE item = ? AND kind = 'file' AND name IN ({','.join('?' * len(batch))}) "
            "ORDER BY id", (item, *batch)))
    return out


def files_under(db: sqlite3.Connection, item: str, prefix: str) -> list[File]:
    """The entries of ``item`` whose path starts with ``prefix``."""
    pattern = like_literal(prefix) + "%"
    return [File.from_row(r) for r in db.execute(
        f"SELECT * FROM files WHERE item = ? AND path {like(db)} ? ESCAPE '!' ORDER BY id", (item, pattern))]


class Linked(NamedTuple):
    """A link as stored: what the custody log records as ``artifact.linked``."""
    artifact_id: int
    item: str
    record_type: str
    locator: str | None           # the file the record came from
    file_sha256: str | None
    record_sha256: str            # of the fields now stored
    reason: str


def apply_links(db: sqlite3.Connection, item: str, links: Iterable[Link]) -> tuple[list[Linked], list[str]]:
    """Store each link's fields (the caller's transaction): what was stored, and why each
    link refused was refused (a record of another item or none, fields that are not a JSON
    object, a reason that is not text). A link that changes nothing is not stored, nor
    logged."""
    done: list[Linked] = []
    refused: list[str] = []
    for link in links:
        text, problem = _link_text(link)
        rec = get(db, link.artifact_id) if isinstance(link.artifact_id, int) else None
        if rec is None or rec.item != item:
            refused.append(f"no record {link.artifact_id!r} of item {item} to link")
        elif text is None:
            refused.append(f"link of record {rec.id}: {problem}")
        elif text != rec.fields_json:              # a link that changes nothing is not logged
            db.execute("UPDATE artifacts SET fields = ? WHERE id = ?", (text, rec.id))
            done.append(Linked(rec.id, rec.item, rec.record_type, rec.locator, rec.file_sha256,
                               record_sha256(text), str(link.reason)))
    return done, refused


def _link_text(link: Link) -> tuple[str | None, str]:
    """The link's fields as stored JSON, or None and why not. An extractor made the link: its
    values are checked here, whatever Link's annotations say."""
    fields: object = link.fields
    reason: object = link.reason
    if not isinstance(fields, dict) or not isinstance(reason, str):
        return None, "fields must be an object and the reason text"
    try:
        text = json.dumps(fields, ensure_ascii=False, allow_nan=False, default=str)
        text.encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:     # UnicodeEncodeError is a ValueError
        return None, f"fields not storable as JSON ({exc})"
    return text, ""


def file_row_hashes(db: sqlite3.Connection, lo: int, hi: int) -> dict[int, str]:
    """file id -> ``row_sha256`` of the stored rows with ids in [lo, hi]."""
    cols = ", ".join(FILE_ROW_COLUMNS)
    return {r[0]: file_row_sha256(r[1:])
            for r in db.execute(f"SELECT id, {cols} FROM files WHERE id BETWEEN ? AND ?", (lo, hi))}


def record_row_hashes(db: sqlite3.Connection, lo: int, hi: int) -> dict[int, str]:
    """artifact id -> ``row_sha256`` (its columns but the id and fields) of the records with
    ids in [lo, hi]."""
    cols = ", ".join(RECORD_ROW_COLUMNS)
    return {r[0]: values_sha256(list(r[1:]))
            for r in db.execute(f"SELECT id, {cols} FROM artifacts WHERE id BETWEEN ? AND ?", (lo, hi))}


def times_hashes(db: sqlite3.Connection, lo: int, hi: int) -> dict[int, str]:
    """artifact id -> ``times_sha256`` (its timestamp rows, in the order stored) of the records
    with ids in [lo, hi]; a record without timestamps is absent (its hash: :data:`NO_TIMES`)."""
    return dict(_times(db, "WHERE artifact_id BETWEEN ? AND ?", (lo, hi)))


def _times(db: sqlite3.Connection, where: str = "", args: tuple = ()) -> Iterator[tuple[int, str]]:
    """(artifact id, ``times_sha256``) of the records with timestamps, by id, streamed (the
    rows of one record at a time in memory)."""
    cur = db.execute(f"SELECT artifact_id, {', '.join(TIMES_COLUMNS)} FROM timestamps {where} "
                     "ORDER BY artifact_id, rowid", args)
    for artifact_id, rows in itertools.groupby(cur, key=operator.itemgetter(0)):
        yield artifact_id, values_sha256([list(r[1:]) for r in rows])


NO_TIMES = values_sha256([])


def record_hashes(db: sqlite3.Connection) -> Iterator[tuple[int, str, str, str | None, str, str, str]]:
    """(artifact id, item, record type, locator of its file, SHA-256 of the stored fields,
    ``row_sha256``, ``times_sha256``) of every record, by id: the records and their timestamps
    read side by side, both in id order."""
    times = _times(db)
    pending = next(times, None)
    cols = ", ".join(f"a.{c}" for c in RECORD_ROW_COLUMNS)
    for r in db.execute(f"SELECT a.id, f.locator, a.fields, {cols} FROM artifacts a "
                        "LEFT JOIN files f ON f.id = a.file_id ORDER BY a.id"):
        artifact_id, locator, fields, row = r[0], r[1], r[2], list(r[3:])
        while pending is not None and pending[0] < artifact_id:    # timestamps of no record
            pending = next(times, None)
        stamps = pending[1] if pending is not None and pending[0] == artifact_id else NO_TIMES
        yield artifact_id, row[0], row[1], locator, record_sha256(fields), values_sha256(row), stamps


def file_hashes(db: sqlite3.Connection) -> Iterator[tuple[int, str, str, str | None, bool, str]]:
    """(file id, item, locator, SHA-256, deleted, ``row_sha256``) of every stored entry, by id."""
    cols = ", ".join(FILE_ROW_COLUMNS)
    at = {name: i for i, name in enumerate(FILE_ROW_COLUMNS, start=1)}
    item, locator, sha256, deleted = at["item"], at["locator"], at["sha256"], at["deleted"]
    for r in db.execute(f"SELECT id, {cols} FROM files ORDER BY id"):
        yield r[0], r[item], r[locator], r[sha256], bool(r[deleted]), file_row_sha256(r[1:])
