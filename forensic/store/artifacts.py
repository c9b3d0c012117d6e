"""Records extractors made (the ``artifacts`` table): reading them typed, completing them
with links after they were logged, and their hashes for ``custody verify --deep``."""
from __future__ import annotations

import json
import sqlite3
from typing import Iterable, Iterator, NamedTuple

from forensic.store.records import (FILE_ROW_COLUMNS, RECORD_ROW_COLUMNS, TIMES_COLUMNS, File, Link, Record,
                                     record_sha256, values_sha256)

_WITH_FILE = ("SELECT a.*, f.path AS path, f.locator AS locator, f.sha256 AS file_sha256 FROM artifacts a "
              "LEFT JOIN files f ON f.id = a.file_id")


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
        where.append("(a.extractor = ? OR a.extractor LIKE ?)")
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
    like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return [File.from_row(r) for r in db.execute(
        "SELECT * FROM files WHERE item = ? AND path LIKE ? ESCAPE '\\' ORDER BY id", (item, like))]


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
        # an extractor made the link: its values are checked here, whatever Link's annotations say
        fields: object = link.fields
        reason: object = link.reason
        rec = get(db, link.artifact_id) if isinstance(link.artifact_id, int) else None
        problem = None
        if rec is None or rec.item != item:
            problem = f"no record {link.artifact_id!r} of item {item} to link"
        elif not isinstance(fields, dict) or not isinstance(reason, str):
            problem = f"link of record {rec.id}: fields must be an object and the reason text"
        else:
            try:
                text = json.dumps(link.fields, ensure_ascii=False, allow_nan=False, default=str)
                sha = record_sha256(text)
            except (TypeError, ValueError, RecursionError) as exc:   # also UnicodeEncodeError
                problem = f"link of record {rec.id}: fields not storable as JSON ({exc})"
        if problem is not None or rec is None:
            refused.append(problem or "no record to link")
            continue
        if text == rec.fields_json:
            continue
        db.execute("UPDATE artifacts SET fields = ? WHERE id = ?", (text, link.artifact_id))
        done.append(Linked(rec.id, rec.item, rec.record_type, rec.locator, rec.file_sha256, sha, link.reason))
    return done, refused


def file_row_hashes(db: sqlite3.Connection, lo: int, hi: int) -> dict[int, str]:
    """file id -> ``row_sha256`` of the stored rows with ids in [lo, hi]."""
    cols = ", ".join(FILE_ROW_COLUMNS)
    return {r[0]: values_sha256(list(r[1:]))
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
    rows: dict[int, list] = {}
    for r in db.execute(f"SELECT artifact_id, {', '.join(TIMES_COLUMNS)} FROM timestamps "
                        "WHERE artifact_id BETWEEN ? AND ? ORDER BY artifact_id, rowid", (lo, hi)):
        rows.setdefault(r[0], []).append(list(r[1:]))
    return {aid: values_sha256(v) for aid, v in rows.items()}


NO_TIMES = values_sha256([])


def record_hashes(db: sqlite3.Connection) -> Iterator[tuple[int, str, str, str | None, str, str, str]]:
    """(artifact id, item, record type, locator of its file, SHA-256 of the stored fields,
    ``row_sha256``, ``times_sha256``) of every record, by id."""
    times = _all_times(db)
    cols = ", ".join(f"a.{c}" for c in RECORD_ROW_COLUMNS)
    for r in db.execute(f"SELECT a.id, f.locator, a.fields, {cols} FROM artifacts a "
                        "LEFT JOIN files f ON f.id = a.file_id ORDER BY a.id"):
        artifact_id, locator, fields, row = r[0], r[1], r[2], list(r[3:])
        yield (artifact_id, row[0], row[1], locator, record_sha256(fields), values_sha256(row),
               times.get(artifact_id, NO_TIMES))


def _all_times(db: sqlite3.Connection) -> dict[int, str]:
    top = db.execute("SELECT COALESCE(MAX(artifact_id), 0) FROM timestamps").fetchone()[0]
    return times_hashes(db, 0, top) if top else {}


def file_hashes(db: sqlite3.Connection) -> Iterator[tuple[int, str, str, str | None, bool, str]]:
    """(file id, item, locator, SHA-256, deleted, ``row_sha256``) of every stored entry, by id."""
    cols = ", ".join(FILE_ROW_COLUMNS)
    for r in db.execute(f"SELECT id, {cols} FROM files ORDER BY id"):
        row = dict(zip(("id", *FILE_ROW_COLUMNS), r, strict=True))
        yield r[0], row["item"], row["locator"], row["sha256"], bool(row["deleted"]), values_sha256(list(r[1:]))
