"""What tagging and exporting read of the case store besides the plain listings: the files
at a locator, the photos and chat messages a selection is made of
(:mod:`forensic.exporters.selection`), and the photo records of the geotag exports
(:mod:`forensic.exporters.geo`). An item's files, or those with a given SHA-256, come from
:func:`forensic.store.files.listing`; its warnings from :func:`forensic.store.warnings.listing`.

Every listing has a fixed order (given with each function), so the same case and selection
always give the same bundle.
"""
from __future__ import annotations

import sqlite3
from typing import Iterator

from forensic.store.records import File, Photo, Record

PHOTO = "photo/exif"
VIDEO = "media/video"
MESSAGE = "chat/message"
# a record with the file it came from, as Record.from_row reads it
_RECORD_WITH_FILE = ("SELECT a.*, f.path AS path, f.locator AS locator, f.sha256 AS file_sha256 FROM artifacts a "
                     "LEFT JOIN files f ON f.id = a.file_id")


# -- files ----------------------------------------------------------------------------------------

def files_at(db: sqlite3.Connection, locator: str, item: str | None = None) -> list[File]:
    """The entries at this locator (one per item at most), of one item or all; by item."""
    sql = "SELECT * FROM files WHERE locator = ?" + (" AND item = ?" if item else "") + " ORDER BY item, id"
    return [File.from_row(r) for r in db.execute(sql, (locator, item) if item else (locator,))]


# -- photos ---------------------------------------------------------------------------------------

# a photo record (``a``) with a valid GPS position: gps_valid = 1 as SQLite's json_extract reads
# it (true, 1 or 1.0), written so PostgreSQL's (schema.PG_SQLITE_FUNCTIONS: a value as text)
# reads it the same; the exports' and the gallery's test (forensic.store.review)
GEOTAGGED = ("CASE WHEN json_type(a.fields, '$.gps_valid') IN ('integer', 'real') "
             "THEN CAST(json_extract(a.fields, '$.gps_valid') AS DOUBLE PRECISION) = 1 "
             "ELSE json_type(a.fields, '$.gps_valid') = 'true' END "
             "AND json_extract(a.fields, '$.lat') IS NOT NULL AND json_extract(a.fields, '$.lon') IS NOT NULL")


def photos(db: sqlite3.Connection, item: str | None = None, geotagged: bool = False,
           record_type: str = PHOTO) -> Iterator[Photo]:
    """The ``photo/exif`` records (one per photo) with the file holding each, of one item or
    all, streamed: by item, then walk order (file id, record id). ``geotagged``: only those
    with a valid GPS position (``gps_valid`` true, a latitude and a longitude).
    ``record_type`` :data:`VIDEO`: the ``media/video`` records instead (same shape)."""
    where, args = ["a.record_type = ?"], [record_type]
    if item is not None:
        where.append("a.item = ?")
        args.append(item)
    if geotagged:
        where.append(GEOTAGGED)
    sql = ("SELECT a.id, a.item, a.file_id, a.extractor, a.fields, a.corrupted, a.warnings, f.path, f.locator, "
           "f.sha256, f.deleted, f.mime, f.recovery, f.recovery_confidence FROM artifacts a "
           "LEFT JOIN files f ON f.id = a.file_id WHERE "
           + " AND ".join(where) + " ORDER BY a.item, a.file_id NULLS FIRST, a.id")
    for r in db.execute(sql, args):
        yield Photo.from_row(r)


# -- chat messages --------------------------------------------------------------------------------

def chat_messages(db: sqlite3.Connection, item: str | None = None,
                  conversation: str | None = None) -> list[Record]:
    """The ``chat/message`` records, of one item or all, with their files; of one
    conversation (its id or its title) when given. By item, then the order stored."""
    where, args = ["a.record_type = ?"], [MESSAGE]
    if item:
        where.append("a.item = ?")
        args.append(item)
    if conversation is not None:
        where.append("(json_extract(a.fields, '$.conversation.id') = ? OR "
                     "json_extract(a.fields, '$.conversation.title') = ?)")
        args += [conversation, conversation]
    return [Record.from_row(r) for r in db.execute(
        f"{_RECORD_WITH_FILE} WHERE {' AND '.join(where)} ORDER BY a.item, a.id", args)]

