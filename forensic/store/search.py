"""What ``forensic search`` reads from the case store: file names, chat messages and the
scalar fields of every other record, streamed row by row (the matching is done by
:mod:`forensic.search`, with the same compiled terms as the raw-byte pass)."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Iterator

from forensic.store.db import dialect, like_literal

MESSAGE_TYPE = "chat/message"
MESSAGE_FIELDS = ("body", "text", "caption")
HIT_TYPE = "search/hit"           # a hit ``forensic search --save`` recorded (never searched itself)


@dataclass(frozen=True, slots=True)
class NameRow:
    file_id: int
    item: str
    locator: str
    name: str
    deleted: bool


@dataclass(frozen=True, slots=True)
class RecordText:
    """One text value of a record: ``field`` of artifact ``record_id`` (made from file
    ``locator``)."""
    record_id: int
    item: str
    record_type: str
    locator: str | None
    field: str
    value: str


def _in(items: list[str]) -> tuple[str, tuple]:
    if not items:
        return "IN (NULL)", ()          # none (PostgreSQL has no empty list, SQLite's "IN ()")
    return f"IN ({', '.join('?' * len(items))})", tuple(items)


PAGE_ROWS = 2000            # rows read at a time by _by_key (names, records)
PAGE_DOCUMENTS = 50         # ... documents' texts (each up to search.text.MAX_DOCUMENT)


def _by_key(db: sqlite3.Connection, sql: str, args: tuple, key: str, page: int | None = None) -> Iterator[sqlite3.Row]:
    """The rows of ``sql`` (a SELECT whose first column is ``key``, ending with its WHERE
    clause) by ``key``. SQLite's cursor steps through them; psycopg's would hold the whole
    result, so on PostgreSQL they are read ``page`` rows at a time, each page from the last key
    on: a case's million records are never held at once."""
    if dialect(db) == "sqlite":
        yield from db.execute(f"{sql} ORDER BY {key}", args)
        return
    page = page or PAGE_ROWS
    last = -(1 << 63)
    while True:
        rows = db.execute(f"{sql} AND {key} > ? ORDER BY {key} LIMIT {int(page)}", (*args, last)).fetchall()
        yield from rows
        if len(rows) < page:
            return
        last = rows[-1][0]


def names(db: sqlite3.Connection, items: list[str]) -> Iterator[NameRow]:
    clause, args = _in(items)
    for r in _by_key(db, f"SELECT id, item, locator, name, deleted FROM files WHERE item {clause}", args, "id"):
        yield NameRow(r[0], r[1], r[2], r[3], bool(r[4]))


def _strings(value: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")


def record_texts(db: sqlite3.Connection, items: list[str], messages: bool, metadata: bool) -> Iterator[RecordText]:
    """The text values of records: a chat message's body (``messages``), every string
    field of the other records, and a message's other fields (``metadata``)."""
    clause, args = _in(items)
    sql = (f"SELECT a.id, a.item, a.record_type, f.locator, a.fields FROM artifacts a "
           f"LEFT JOIN files f ON f.id = a.file_id WHERE a.item {clause} AND a.record_type != '{HIT_TYPE}'")
    for rid, item, rtype, locator, fields in _by_key(db, sql, args, "a.id"):
        try:
            data = json.loads(fields)
        except ValueError:
            continue
        for field, value in _strings(data, ""):
            is_body = rtype == MESSAGE_TYPE and field in MESSAGE_FIELDS
            if (is_body and messages) or (not is_body and metadata):
                yield RecordText(rid, item, rtype, locator, field, value)


# -- the text of documents (content_text, content_fts, content_index) -------------------------

@dataclass(frozen=True, slots=True)
class ContentText:
    """The text extracted from one document (``extractor``: pdf, ooxml, html, bom-text)."""
    item: str
    locator: str
    path: str | None
    deleted: bool
    extractor: str
    text: str


def content_indexed(db: sqlite3.Connection, item: str, triaged_at: str | None) -> bool:
    """Whether the item's documents were indexed since its last triage."""
    row = db.execute("SELECT triaged_at FROM content_index WHERE item = ?", (item,)).fetchone()
    return row is not None and row[0] == triaged_at


NUL_STANDIN = "\ufffd"        # a NUL of a document's text as PostgreSQL keeps it (its text holds none)


def replace_content(db: sqlite3.Connection, item: str, triaged_at: str | None, texts: list[ContentText],
                    at: str) -> None:
    """The item's documents' text, in place of what was indexed before (the caller's
    transaction)."""
    fts = dialect(db) == "sqlite"       # on PostgreSQL a trigram index of content_text (schema.PG_SEARCH)
    if fts:
        db.execute("INSERT INTO content_fts(content_fts, rowid, text) "
                   "SELECT 'delete', id, text FROM content_text WHERE item = ?", (item,))
    db.execute("DELETE FROM content_text WHERE item = ?", (item,))
    for t in texts:
        row = db.execute("INSERT INTO content_text(item, locator, path, deleted, extractor, text) "
                         "VALUES (?,?,?,?,?,?) RETURNING id",
                         (item, t.locator, t.path, int(t.deleted), t.extractor,
                          t.text if fts else t.text.replace("\0", NUL_STANDIN))).fetchone()
        if fts:
            db.execute("INSERT INTO content_fts(rowid, text) VALUES (?, ?)", (row[0], t.text))
    db.execute("INSERT INTO content_index(item, triaged_at, documents, indexed_at) VALUES (?,?,?,?) "
               "ON CONFLICT(item) DO UPDATE SET triaged_at=excluded.triaged_at, documents=excluded.documents, "
               "indexed_at=excluded.indexed_at", (item, triaged_at, len(texts), at))


def content_texts(db: sqlite3.Connection, item: str, literals: list[str] | None) -> Iterator[ContentText]:
    """The item's documents' text; with ``literals`` (each of 3 characters or more), only the
    documents holding one of them in any case (the trigram index: a superset of the hits).
    On PostgreSQL the trigram index ``content_text_trgm`` answers ILIKE, whose case folding is
    ASCII's (the text compares as "C") where SQLite's trigram tokenizer folds every script: a
    literal with other letters than ASCII's is looked for in every document of the item (the
    matcher decides)."""
    cols = "c.id, c.item, c.locator, c.path, c.deleted, c.extractor, c.text"
    if literals and any("\0" in lit for lit in literals):
        literals = None         # FTS5 reads a phrase only up to a NUL, PostgreSQL takes none: every document
    sql, args = f"SELECT {cols} FROM content_text c WHERE c.item = ?", (item,)    # type: tuple[str, tuple]
    if literals and dialect(db) == "sqlite":
        query = " OR ".join('"' + lit.replace('"', '""') + '"' for lit in literals)
        sql, args = (f"SELECT {cols} FROM content_fts JOIN content_text c ON c.id = content_fts.rowid "
                     "WHERE content_fts MATCH ? AND c.item = ?", (query, item))
    elif literals and all(lit.isascii() for lit in literals):
        holds = " OR ".join("c.text ILIKE ? ESCAPE '!'" for _ in literals)
        sql += f" AND ({holds})"
        args += tuple("%" + like_literal(lit) + "%" for lit in literals)
    for r in _by_key(db, sql, args, "c.id", PAGE_DOCUMENTS):
        yield ContentText(r[1], r[2], r[3], bool(r[4]), r[5], r[6])


# -- hits kept as records (``forensic search --save``) ----------------------------------------

@dataclass(frozen=True, slots=True)
class SavedHit:
    """A hit stored as a ``search/hit`` record: what the custody log's ``artifact.recorded``
    leaf states of it (the hashes read back from the rows as stored)."""
    artifact_id: int
    item: str
    locator: str | None           # of the file the hit is in (None: unallocated space, no file)
    file_sha256: str | None
    record_sha256: str
    row_sha256: str
    times_sha256: str


HIT_KEY = ("term", "list", "where", "item", "locator", "image_offset", "file_offset", "record_id", "field",
           "context")


def hit_key(fields: dict) -> str:
    """What identifies a hit: the term and list that matched, where, in which item and
    locator, at which offsets (a text hit: its record, field and context)."""
    return json.dumps([fields.get(k) for k in HIT_KEY], ensure_ascii=False, default=str)


def saved_hits(db: sqlite3.Connection, items: list[str]) -> dict[str, int]:
    """The items' saved hits: :func:`hit_key` -> artifact id."""
    clause, args = _in(items)
    out: dict[str, int] = {}
    for aid, fields in db.execute(f"SELECT id, fields FROM artifacts WHERE record_type = '{HIT_TYPE}' "
                                  f"AND item {clause} ORDER BY id", args):
        try:
            data = json.loads(fields)
        except ValueError:
            continue
        if isinstance(data, dict):          # a damaged row (not an object) is no hit to match
            out.setdefault(hit_key(data), aid)
    return out


@dataclass(frozen=True, slots=True)
class HitTime:
    """One time of a saved hit: the message's, record's or file's it is in, as stored."""
    label: str
    utc: str | None
    local: str | None
    tz_known: bool
    tz_source: str | None


def hit_times(db: sqlite3.Connection, artifact_ids: list[int]) -> dict[int, list[HitTime]]:
    """The times of saved hits (a hit in unallocated space has none)."""
    out: dict[int, list[HitTime]] = {}
    for at in range(0, len(artifact_ids), 500):
        chunk = artifact_ids[at:at + 500]
        for aid, label, utc, local, known, source in db.execute(
                f"SELECT artifact_id, label, utc, local, tz_known, tz_source FROM timestamps "
                f"WHERE artifact_id IN ({', '.join('?' * len(chunk))}) ORDER BY rowid", chunk):
            out.setdefault(aid, []).append(HitTime(label, utc, local, bool(known), source))
    return out


def save_hits(db: sqlite3.Connection, hits: list[tuple[str, str | None, int | None, str]],
              extractor: str) -> list[SavedHit]:
    """Store each hit (item, locator of its file or None, artifact id of the record it is in
    or None, fields as JSON) as a ``search/hit`` record of its item, tied to the file it is
    in, with that time: the message's (or record's) times when the hit is in one, else the
    file's modification time (the caller's transaction)."""
    from forensic.store import artifacts
    from forensic.store.records import record_sha256
    out: list[SavedHit] = []
    for item, locator, source_record, fields_json in hits:
        file_id, file_sha256 = None, None
        if locator is not None:
            row = db.execute("SELECT id, sha256 FROM files WHERE item = ? AND locator = ?", (item, locator)).fetchone()
            if row is not None:
                file_id, file_sha256 = row[0], row[1]
        aid = int(db.execute("INSERT INTO artifacts(item, file_id, record_type, extractor, source_ref, fields, "
                             "corrupted, warnings) VALUES (?,?,?,?,?,?,0,'[]') RETURNING id",
                             (item, file_id, HIT_TYPE, extractor,
                              None if source_record is None else f"artifact:{source_record}",
                              fields_json)).fetchone()[0])
        if source_record is not None:
            db.execute("INSERT INTO timestamps(artifact_id, file_id, label, utc, local, tz_known, tz_source, raw) "
                       "SELECT ?, ?, label, utc, local, tz_known, tz_source, raw FROM timestamps "
                       "WHERE artifact_id = ? ORDER BY rowid", (aid, file_id, source_record))
        elif file_id is not None:
            db.execute("INSERT INTO timestamps(artifact_id, file_id, label, utc, local, tz_known, tz_source, raw) "
                       "SELECT ?, id, 'file_modified', "
                       "CASE WHEN times_tz_known != 0 THEN modified_at END, "
                       "CASE WHEN times_tz_known != 0 THEN NULL ELSE modified_at END, times_tz_known, "
                       "CASE WHEN times_tz_known != 0 THEN COALESCE(times_tz_source, 'utc') ELSE 'unknown' END, "
                       "modified_at FROM files WHERE id = ? AND modified_at IS NOT NULL", (aid, file_id))
        rows = artifacts.record_row_hashes(db, aid, aid)
        times = artifacts.times_hashes(db, aid, aid)
        out.append(SavedHit(aid, item, locator if file_id is not None else None, file_sha256,
                            record_sha256(fields_json), rows[aid], times.get(aid, artifacts.NO_TIMES)))
    return out
