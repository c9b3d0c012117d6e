"""What the review workspace (``forensic serve``, :mod:`forensic.serve`) reads of the case store:
counts per item, pages of photos and of a conversation's messages, one photo with its
timestamps, where else a file's content appears. Read-only, every query one page at a time:
a page is ``LIMIT`` rows after a key (keyset pagination on ``artifacts.id``, an index), or
``LIMIT``/``OFFSET`` on an index (a conversation's messages: ``chat_messages_conv``).
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Collection
from forensic.store import similar
from forensic.store.artifacts import like as like_operator
from forensic.store.db import dialect
from forensic.store.records import File, Message, Photo
from forensic.store.selection import GEOTAGGED
from forensic.store.timeline import NO_KEY, Box

PHOTO = "photo/exif"
MESSAGE = "chat/message"
_PHOTO_COLUMNS = ("SELECT a.id, a.item, a.file_id, a.extractor, a.fields, a.corrupted, a.warnings, f.path, "
                  "f.locator, f.sha256, f.deleted, f.mime, f.recovery, f.recovery_confidence FROM artifacts a "
                  "LEFT JOIN files f ON f.id = a.file_id")


@dataclass(frozen=True, slots=True)
class ItemCounts:
    """What one evidence item holds in the store."""
    item: str
    files: int
    photos: int
    messages: int
    warnings: int


def item_counts(db: sqlite3.Connection, item: str) -> ItemCounts:
    """The files, photos, messages (indexed) and warnings of ``item``."""
    def one(sql: str) -> int:
        return int(db.execute(sql, (item,)).fetchone()[0])
    return ItemCounts(item,
                      one("SELECT count(*) FROM files WHERE item = ?"),
                      one("SELECT count(*) FROM artifacts WHERE record_type = 'photo/exif' AND item = ?"),
                      one("SELECT count(*) FROM chat_messages WHERE item = ?"),
                      one("SELECT count(*) FROM warnings WHERE item = ?"))


def counted_generation(db: sqlite3.Connection) -> str:
    """What :func:`item_counts` counts, as it is now (each part O(log n)): the items with their
    triage times, the highest file, warning, indexed message and record ids (rows are added, or
    an item's removed and added again: its triage time changes)."""
    r = db.execute("SELECT (SELECT group_concat(at, '|') FROM "
                   "(SELECT item || '@' || coalesce(triaged_at, '') AS at FROM items ORDER BY item) ordered), "
                   "(SELECT coalesce(max(id), 0) FROM files), (SELECT coalesce(max(id), 0) FROM warnings), "
                   "(SELECT coalesce(max(seq), 0) FROM chat_messages), "
                   "(SELECT coalesce(max(id), 0) FROM artifacts)").fetchone()
    return ":".join(str(v) for v in r)


@dataclass(frozen=True, slots=True)
class GalleryFilter:
    """The gallery's filters: one item, a time range (UTC ISO 8601 text, compared as stored),
    geotagged photos only, photos whose file carries a tag."""
    item: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    geotagged: bool = False
    tag: str | None = None
    near_duplicates: bool = False      # only photos with a near-duplicate (the caller gives their files)


def photo_page(db: sqlite3.Connection, flt: GalleryFilter, after: tuple[str, int] | None = None,
               limit: int = 60, only_files: Collection[int] | None = None) -> list[Photo]:
    """Up to ``limit`` photos (``photo/exif`` records with their files) matching ``flt``, by
    item then record id, after the photo ``after`` (its item and record id: keyset pagination).
    Each item is read through the ``artifacts_type`` index (record type, item, id) from the
    key on: a page costs what it holds, not what comes before it. ``only_files``: only the
    photos of these files (the near-duplicates the caller found)."""
    import json
    files_json = json.dumps(sorted(only_files)) if only_files is not None else None
    items = [flt.item] if flt.item else [r[0] for r in db.execute("SELECT item FROM items ORDER BY item")]
    if after is not None:
        items = [i for i in items if i >= after[0]]
    out: list[Photo] = []
    for item in items:
        where, args = ["a.record_type = ?", "a.item = ?", "a.id > ?"], [PHOTO, item,
                                                                       after[1] if after and after[0] == item else 0]
        if flt.geotagged:
            where.append(GEOTAGGED)
        if flt.date_from:
            where.append("json_extract(a.fields, '$.taken_at_utc') >= ?")
            args.append(flt.date_from)
        if flt.date_to:
            where.append("json_extract(a.fields, '$.taken_at_utc') <= ?")
            args.append(flt.date_to)
        if flt.tag:
            where.append("EXISTS (SELECT 1 FROM tags t WHERE t.target_kind = 'file' AND t.item = a.item "
                         "AND t.target_ref = f.locator AND t.tag = ?)")
            args.append(flt.tag)
        if files_json is not None:
            where.append("a.file_id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))")
            args.append(files_json)
        args.append(limit - len(out))
        out += [Photo.from_row(r) for r in db.execute(
            f"{_PHOTO_COLUMNS} WHERE {' AND '.join(where)} ORDER BY a.id LIMIT ?", args)]
        if len(out) >= limit:
            break
    return out


def photo(db: sqlite3.Connection, artifact_id: int) -> Photo | None:
    """The ``photo/exif`` record ``artifact_id`` with its file; None when there is none."""
    r = db.execute(f"{_PHOTO_COLUMNS} WHERE a.id = ? AND a.record_type = ?", (artifact_id, PHOTO)).fetchone()
    return None if r is None else Photo.from_row(r)


def file_by_locator(db: sqlite3.Connection, item: str, locator: str) -> File | None:
    """The file of ``item`` at ``locator`` (the unique key ``item, locator``)."""
    r = db.execute("SELECT * FROM files WHERE item = ? AND locator = ?", (item, locator)).fetchone()
    return None if r is None else File.from_row(r)


def file(db: sqlite3.Connection, file_id: int) -> File | None:
    r = db.execute("SELECT * FROM files WHERE id = ?", (file_id,)).fetchone()
    return None if r is None else File.from_row(r)


@dataclass(frozen=True, slots=True)
class StoredTime:
    """One time of a record as the ``timestamps`` table holds it (raw value kept)."""
    label: str
    utc: str | None
    local: str | None
    tz_known: bool
    tz_source: str
    raw: str | None


def record_times(db: sqlite3.Connection, artifact_id: int) -> list[StoredTime]:
    return [StoredTime(r[0], r[1], r[2], bool(r[3]), r[4], r[5]) for r in db.execute(
        "SELECT label, utc, local, tz_known, tz_source, raw FROM timestamps WHERE artifact_id = ? ORDER BY rowid",
        (artifact_id,))]


def same_content(db: sqlite3.Connection, sha256: str, limit: int = 50) -> list[File]:
    """Files of any item with this SHA-256 (index ``files_sha256``), at most ``limit``."""
    return [File.from_row(r) for r in db.execute(
        "SELECT * FROM files WHERE sha256 = ? ORDER BY item, id LIMIT ?", (sha256, limit))]


def photo_ids_of_files(db: sqlite3.Connection, file_ids: list[int]) -> dict[int, int]:
    """file id -> the id of its ``photo/exif`` record (the first), for those that have one."""
    out: dict[int, int] = {}
    for start in range(0, len(file_ids), 500):
        chunk = file_ids[start:start + 500]
        for fid, aid in db.execute(
                # by the artifacts_file index ('+' keeps SQLite off the type index: every photo)
                f"SELECT file_id, min(id) FROM artifacts WHERE {similar.unindexed(db, 'record_type')} = ? "
                "AND file_id IN "
                f"({','.join('?' * len(chunk))}) GROUP BY file_id", [PHOTO, *chunk]):
            out[int(fid)] = int(aid)
    return out


def is_known_bad(db: sqlite3.Connection, sha256: str | None, file_id: int | None) -> bool:
    """Whether a known-bad hash set matched this file, or any file of the same content, or the
    file resembles a known-bad photo (resized, re-compressed): :func:`known_bad_category`."""
    return known_bad_category(db, sha256, file_id) is not None


def known_bad_category(db: sqlite3.Connection, sha256: str | None, file_id: int | None) -> str | None:
    """The category a known-bad set gives this file (or a file of the same content), "" when it
    gives none; a near-duplicate of a known-bad photo its label
    (:func:`forensic.store.similar.suspect_label`); None when neither."""
    rows = db.execute("SELECT category FROM hashset_hits WHERE file_id = ? AND kind = 'known-bad' "
                      "ORDER BY hashset", (file_id,)).fetchall() if file_id is not None else []
    if not rows and sha256 is not None:
        rows = db.execute("SELECT h.category FROM hashset_hits h JOIN files f ON f.id = h.file_id "
                          "WHERE h.kind = 'known-bad' AND f.sha256 = ? ORDER BY h.file_id, h.hashset",
                          (sha256,)).fetchall()
    if not rows:
        suspect = similar.suspected_known_bad(db, [file_id]).get(file_id) if file_id is not None else None
        return None if suspect is None else similar.suspect_label(suspect)
    return next((str(r[0]) for r in rows if r[0]), "")


def tags_of(db: sqlite3.Connection, kind: str, item: str, ref: str) -> list[tuple[str, str | None, bool]]:
    """(tag, note, sensitive) of one target."""
    return [(r[0], r[1], bool(r[2])) for r in db.execute(
        "SELECT tag, note, sensitive FROM tags WHERE target_kind = ? AND item = ? AND target_ref = ? ORDER BY id",
        (kind, item, ref))]


# -- conversations --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ConversationKey:
    item: str
    platform: str | None
    conversation: str | None


def _conversation(key: ConversationKey, alias: str = "") -> tuple[str, list]:
    """The condition "in conversation ``key``" on chat_messages (``alias``: its name and a dot),
    by its index (item, platform, conversation): ``IS NULL`` for a missing part, ``=``
    otherwise (PostgreSQL has no ``IS ?``, and no index lookup of ``IS NOT DISTINCT FROM``)."""
    where, args = [f"{alias}item = ?"], [key.item]
    for column, value in (("platform", key.platform), ("conversation", key.conversation)):
        if value is None:
            where.append(f"{alias}{column} IS NULL")
        else:
            where.append(f"{alias}{column} = ?")
            args.append(value)
    return " AND ".join(where), args


def message_key(db: sqlite3.Connection, artifact_id: int) -> tuple[ConversationKey, int] | None:
    """The conversation of message ``artifact_id`` and its place in it (0-based, in the
    conversation's order ``sort_key, id``); None when it is not an indexed message."""
    r = db.execute("SELECT item, platform, conversation, sort_key FROM chat_messages WHERE id = ?",
                   (artifact_id,)).fetchone()
    if r is None:
        return None
    key = ConversationKey(r[0], r[1], r[2])
    where, args = _conversation(key)
    before = db.execute(
        f"SELECT count(*) FROM chat_messages WHERE {where} AND (sort_key < ? OR (sort_key = ? AND id < ?))",
        (*args, r[3], r[3], artifact_id)).fetchone()[0]
    return key, int(before)


def conversation_page(db: sqlite3.Connection, key: ConversationKey, offset: int, limit: int) -> list[Message]:
    """``limit`` messages of one conversation from ``offset``, in its order (``sort_key, id``)."""
    where, args = _conversation(key, "m.")
    return [Message.from_row(r) for r in db.execute(
        "SELECT m.id, m.item, a.fields, a.corrupted, a.warnings, f.locator, m.sort_key FROM chat_messages m "
        "JOIN artifacts a ON a.id = m.id LEFT JOIN files f ON f.id = a.file_id "
        f"WHERE {where} ORDER BY m.sort_key, m.id LIMIT ? OFFSET ?", (*args, limit, offset))]


def conversation_size(db: sqlite3.Connection, key: ConversationKey) -> int:
    where, args = _conversation(key)
    return int(db.execute(f"SELECT count(*) FROM chat_messages WHERE {where}", args).fetchone()[0])


def files_by_sha256(db: sqlite3.Connection, hashes: list[str]) -> dict[str, int]:
    """SHA-256 -> the id of one file with that content (the first stored), for inline attachments."""
    out: dict[str, int] = {}
    for start in range(0, len(hashes), 500):
        chunk = hashes[start:start + 500]
        for sha, fid in db.execute(f"SELECT sha256, min(id) FROM files WHERE sha256 IN ({','.join('?' * len(chunk))}) "
                                   "GROUP BY sha256", chunk):
            out[str(sha)] = int(fid)
    return out


# -- near-duplicates ------------------------------------------------------------------------------

def records_generation(db: sqlite3.Connection) -> tuple[int, int]:
    """The highest record id and the highest hash-set check id (each O(log n)): records are
    only added (a re-triage replaces an item's records with new ids) and every hash-set check
    is added as a row, so a cache of what records say, and of which are known-bad, is current
    while this stays the same."""
    r = db.execute("SELECT (SELECT coalesce(max(id), 0) FROM artifacts), "
                   "(SELECT coalesce(max(id), 0) FROM hashset_checks)").fetchone()
    return int(r[0]), int(r[1])


@dataclass(frozen=True, slots=True)
class PerceptualHash:
    """A ``photo/phash`` record's pHash (16 hex digits, as stored) with its file."""
    file_id: int
    item: str
    locator: str
    phash: str | None


def perceptual_hashes(db: sqlite3.Connection) -> list[PerceptualHash]:
    """Every ``photo/phash`` record's pHash with its file, by file id."""
    return [PerceptualHash(r[0], r[1], r[2], ph if isinstance(ph := similar.sqlite_value(r[3]), str) else None)
            for r in db.execute(
        f"SELECT f.id, a.item, f.locator, {similar.json_value(db, 'a.fields', '$.phash')} FROM artifacts a "
        "JOIN files f ON f.id = a.file_id WHERE a.record_type = 'photo/phash' ORDER BY f.id, a.id")]


# -- thumbnails, attachments: maps a reader keeps while no record is added ---------------------------

THUMBNAIL = "photo/thumbnail"


def thumbnail_records(db: sqlite3.Connection) -> dict[int, int]:
    """file id -> the id of its first ``photo/thumbnail`` record (one read of the type's index;
    a thumbnail is then read by its record id: :func:`thumbnail`)."""
    out: dict[int, int] = {}
    for artifact_id, file_id in db.execute("SELECT id, file_id FROM artifacts WHERE record_type = ? "
                                           "AND file_id IS NOT NULL ORDER BY id", (THUMBNAIL,)):
        out.setdefault(int(file_id), int(artifact_id))
    return out


def thumbnail(db: sqlite3.Connection, artifact_id: int) -> str | None:
    """The base64 JPEG of the ``photo/thumbnail`` record ``artifact_id``."""
    r = db.execute(f"SELECT {similar.json_value(db, 'fields', '$.jpeg_base64')} FROM artifacts "
                   "WHERE id = ? AND record_type = ?",
                   (artifact_id, THUMBNAIL)).fetchone()
    jpeg = None if r is None else similar.sqlite_value(r[0])
    return jpeg if isinstance(jpeg, str) else None


def attachment_hashes(db: sqlite3.Connection) -> dict[str, list[int]]:
    """SHA-256 -> the chat messages (artifact ids, ascending) with an attachment of that content."""
    out: dict[str, list[int]] = {}
    for artifact_id, sha in db.execute(
            "SELECT a.id, json_extract(j.value, '$.sha256') FROM artifacts a, json_each(a.fields, '$.attachments') j "
            "WHERE a.record_type = ? AND json_array_length(a.fields, '$.attachments') > 0 ORDER BY a.id", (MESSAGE,)):
        if isinstance(sha, str):
            out.setdefault(sha, []).append(int(artifact_id))
    return out


def messages_by_id(db: sqlite3.Connection, ids: list[int]) -> list[Message]:
    """The indexed chat messages of these artifact ids, by id."""
    out: list[Message] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        out += [Message.from_row(r) for r in db.execute(
            "SELECT a.id, a.item, a.fields, a.corrupted, a.warnings, f.locator, m.sort_key FROM chat_messages m "
            "JOIN artifacts a ON a.id = m.id LEFT JOIN files f ON f.id = a.file_id "
            f"WHERE m.id IN ({','.join('?' * len(chunk))}) ORDER BY m.id", chunk)]
    return out


# -- the search box: file names and paths, photo metadata -----------------------------------------

def _trigrams(text: str) -> str | None:
    """``text`` as one FTS5 phrase for a trigram index (its substrings in any case), or None
    when it is shorter than a trigram (the index cannot find it: a scan does)."""
    return '"' + text.replace('"', '""') + '"' if len(text) >= 3 else None


def files_matching(db: sqlite3.Connection, text: str, limit: int = 100) -> list[File]:
    """Files whose name or path holds ``text`` (ASCII letters in either case), the first
    ``limit`` stored, by item and walk order. Found by the trigram index ``names_fts`` (every
    file holding its trigrams, in any case), each then checked with LIKE; a text of fewer than
    three characters by a scan that stops at the limit."""
    from forensic.store.db import like_literal
    if "\0" in text:
        return []           # no name holds a NUL (and FTS5 and LIKE would read the text only up to it)
    like = "%" + like_literal(text) + "%"
    phrase = _trigrams(text)
    if phrase is None or dialect(db) == "postgresql":
        # on PostgreSQL by the trigram indexes files_name_trgm, files_path_trgm, the first
        # ``limit`` by id as names_fts gives them
        op = like_operator(db)
        rows = db.execute(f"SELECT * FROM files WHERE name {op} ? ESCAPE '!' OR path {op} ? ESCAPE '!' "
                          f"ORDER BY {'item, id' if phrase is None else 'id'} LIMIT ?", (like, like, limit))
    else:
        rows = db.execute("SELECT f.* FROM names_fts n JOIN files f ON f.id = n.rowid WHERE names_fts MATCH ? "
                          "AND (f.name LIKE ? ESCAPE '!' OR f.path LIKE ? ESCAPE '!') ORDER BY n.rowid LIMIT ?",
                          (phrase, like, like, limit))
    return sorted((File.from_row(r) for r in rows), key=lambda f: (f.item, f.id))


def photos_matching(db: sqlite3.Connection, text: str, limit: int = 100) -> list[Photo]:
    """Photos one of whose metadata values (EXIF, XMP, GPS: the record's stored fields) holds
    ``text`` (ASCII letters in either case), by record id, at most ``limit``. Found by the
    trigram index ``photo_meta_fts`` of the records' values, each then checked value by value
    with LIKE; a text of fewer than three characters by a scan of the records."""
    from forensic.store.db import like_literal
    if "\0" in text:
        return []           # FTS5 and LIKE read a text only up to a NUL: it cannot be searched for
    like = "%" + like_literal(text) + "%"
    holds = ("EXISTS (SELECT 1 FROM json_tree(a.fields) j WHERE j.atom IS NOT NULL "
             "AND CAST(j.atom AS TEXT) LIKE ? ESCAPE '!')")
    phrase = _trigrams(text)
    if dialect(db) == "postgresql":
        # the values as SQLite's json_tree gives them (schema.PG_SEARCH: photo_meta_values), the
        # record found by the expression index artifacts_photo_meta_trgm of them all, then each
        # value checked; ILIKE as "C" folds ASCII only, as SQLite's LIKE
        rows = db.execute(
            f"{_PHOTO_COLUMNS} WHERE a.record_type = 'photo/exif' AND photo_meta_text(a.fields) ILIKE ? ESCAPE '!' "
            "AND EXISTS (SELECT 1 FROM unnest(photo_meta_values(a.fields)) v "
            "WHERE v COLLATE \"C\" ILIKE ? ESCAPE '!') ORDER BY a.id LIMIT ?", (like, like, limit))
    elif phrase is None:
        rows = db.execute(f"{_PHOTO_COLUMNS} WHERE a.record_type = ? AND {holds} ORDER BY a.id LIMIT ?",
                          (PHOTO, like, limit))
    else:
        rows = db.execute(
            _PHOTO_COLUMNS.replace("FROM artifacts a", "FROM photo_meta_fts m JOIN artifacts a ON a.id = m.rowid")
            + f" WHERE photo_meta_fts MATCH ? AND a.record_type = ? AND {holds} ORDER BY m.rowid LIMIT ?",
            (phrase, PHOTO, like, limit))
    return [Photo.from_row(r) for r in rows]


# -- the map: the places of map_places (made with the timeline index: forensic.store.timeline) --------

@dataclass(frozen=True, slots=True)
class PlaceFilter:
    """The map's filters: a time range (µs keys, inclusive: only places with a time when
    either is given), a part of the map, and the files not to show (known-bad photos)."""
    start: int | None = None
    end: int | None = None
    box: Box | None = None
    hidden: Collection[int] = ()

    def sql(self) -> tuple[str, list]:
        import json
        where: list[str] = ["1 = 1"]
        args: list = []
        if self.start is not None or self.end is not None:
            where.append("k IS NOT NULL")
        if self.start is not None:
            where.append("k >= ?")
            args.append(self.start)
        if self.end is not None:
            where.append("k <= ?")
            args.append(self.end)
        if self.box is not None:
            cond, box_args = self.box.sql()
            where.append(cond)
            args += box_args
        if self.hidden:
            where.append("(file_id IS NULL OR file_id NOT IN (SELECT CAST(value AS BIGINT) FROM json_each(?)))")
            args.append(json.dumps(sorted(self.hidden)))
        return " AND ".join(where), args


@dataclass(frozen=True, slots=True)
class PlaceCell:
    """The places of one kind in one cell of the map's grid: how many, where on average, and
    the label of the first (the one place's, when it is alone)."""
    kind: str
    count: int
    lat: float
    lon: float
    label: str


def place_cells(db: sqlite3.Connection, flt: PlaceFilter, grid: int = 80) -> list[PlaceCell]:
    """The places ``flt`` keeps, counted in a grid of ``grid`` x ``grid`` cells over their
    extent (by kind): what the map draws, whatever the number of places (one pass of SQLite's
    over them, no row of Python per place)."""
    where, args = flt.sql()
    r = db.execute(f"SELECT min(lat), max(lat), min(lon), max(lon) FROM map_places WHERE {where}", args).fetchone()
    if r[0] is None:
        return []
    dlat = (r[1] - r[0]) / grid or 1.0
    dlon = (r[3] - r[2]) / grid or 1.0
    # a cell: the whole part of the distance from the corner in cells (SQLite's CAST truncates,
    # PostgreSQL's rounds: trunc() first there)
    cell = "CAST(trunc({}) AS BIGINT)" if dialect(db) == "postgresql" else "CAST({} AS INTEGER)"
    return [PlaceCell(kind, int(n), float(lat), float(lon), label) for kind, n, lat, lon, label in db.execute(
        "SELECT kind, count(*), avg(lat), avg(lon), min(label) FROM map_places "
        f"WHERE {where} GROUP BY {cell.format('(lat - ?) / ?')}, {cell.format('(lon - ?) / ?')}, kind",
        [*args, r[0], dlat, r[2], dlon])]


@dataclass(frozen=True, slots=True)
class Place:
    artifact_id: int
    item: str
    kind: str
    lat: float
    lon: float
    at: str | None
    label: str
    k: int | None                 # the time's key (forensic.store.timeline.sort_key)


def places_page(db: sqlite3.Connection, flt: PlaceFilter, after: tuple[int, int] | None = None,
                limit: int = 200) -> list[Place]:
    """Up to ``limit`` places ``flt`` keeps, by time (those without one first) then record id,
    after the place ``after`` (its time key, -2**63 for none, and record id): a page of the list
    under the map, read by the ``map_places_time`` index."""
    where, args = flt.sql()
    if after is not None:
        where += " AND (coalesce(k, ?), artifact_id) > (?, ?)"
        args += [NO_KEY, *after]
    return [Place(*r) for r in db.execute(
        f"SELECT artifact_id, item, kind, lat, lon, at, label, k FROM map_places WHERE {where} "
        "ORDER BY k NULLS FIRST, artifact_id LIMIT ?", [*args, limit])]


def map_hidden(db: sqlite3.Connection) -> frozenset[int]:
    """The files of the map's photos that are never shown as a picture: a known-bad hash set
    matched them or a file of the same content, or they resemble a known-bad photo
    (:func:`forensic.store.similar.suspected_known_bad`)."""
    if not db.execute("SELECT EXISTS (SELECT 1 FROM hashset_hits WHERE kind = 'known-bad')").fetchone()[0]:
        return frozenset()
    bad = {int(r[0]) for r in db.execute(
        "SELECT p.file_id FROM map_places p JOIN files f ON f.id = p.file_id WHERE p.file_id IS NOT NULL AND "
        "(EXISTS (SELECT 1 FROM hashset_hits h WHERE h.file_id = f.id AND h.kind = 'known-bad') OR "
        "(f.sha256 IS NOT NULL AND EXISTS (SELECT 1 FROM hashset_hits h JOIN files g ON g.id = h.file_id "
        "WHERE h.kind = 'known-bad' AND g.sha256 = f.sha256)))")}
    placed = [int(r[0]) for r in db.execute("SELECT file_id FROM map_places WHERE file_id IS NOT NULL")]
    bad.update(similar.suspected_known_bad(db, placed))
    return frozenset(bad)
