"""The times of the case store in timeline order: one query over the file system times of
every entry (``files``) and the times records hold (``timestamps`` joined to ``artifacts``).

Ordering rule (see :mod:`forensic.exporters.timeline`, which makes events of these rows):
a time whose zone is known is placed by its UTC instant; one whose zone is unknown by its
wall clock *read as if it were UTC* (:func:`sort_key`). At an equal key, known times come
first; then by item, path and label. A stored time that cannot be read at all has no key
and comes first. Bounds keep a known time when its instant is within them, and an
unknown-zone time when it *could* be (its wall clock between ``start - 12 h`` and
``end + 14 h``: UTC offsets run from -12:00 to +14:00).

Streaming: one SQL statement (a UNION ALL of the sources) ordered by SQLite, whose sorter
spills to temporary files; :func:`rows` reads its cursor one row at a time, so memory stays
flat over millions of files.

On PostgreSQL the keys are computed here, in Python (:func:`sort_key` is ``datetime``'s own
reading of ISO 8601, which no SQL function would match text for text), when the timeline index
is made; :func:`rows` then reads that index a page at a time (keyset pagination, in one
snapshot), so memory stays flat there too, and the order is the same as SQLite's. A record's
values are read from its JSON by Python there as well (PostgreSQL's JSON types refuse some
valid JSON a record may hold, such as ``\\u0000`` in a message).
"""
from __future__ import annotations

import functools
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from forensic.store.db import dialect
from forensic.store.records import TimelineRow

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
US = timedelta(microseconds=1)
HOUR_US = 3_600_000_000
EARLIEST_OFFSET_H = -12          # UTC-12:00 (Baker Island)
LATEST_OFFSET_H = 14             # UTC+14:00 (Line Islands)

# the file system times of an entry, and how an event describes each
FILE_TIMES = (("modified_at", "File modified"), ("accessed_at", "File accessed"),
              ("changed_at", "Metadata changed"), ("born_at", "File created"))


def parse_stored(value: str) -> datetime:
    """A time as stored in the case store: ISO 8601, 'Z'/offset (aware) or naive."""
    return datetime.fromisoformat(value)


def to_us(dt: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is read as UTC (callers flag it)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return (dt - EPOCH) // US


@functools.lru_cache(maxsize=1 << 16)      # times repeat: a file's four times, files saved together
def sort_key(value: str | None) -> int | None:
    """A time's place on the timeline, in µs (the SQL function ``tl_key``): its instant, or
    for a time without a zone its wall clock read as UTC; None when it cannot be read."""
    if value is None:
        return None
    try:
        return to_us(parse_stored(value))
    except (ValueError, OverflowError):
        return None


@dataclass(frozen=True, slots=True)
class TimelineFilter:
    item: str | None = None
    start_us: int | None = None      # inclusive
    end_us: int | None = None        # inclusive
    known_only: bool = False         # leave out times whose zone is unknown


# the columns of every row, in the order of TimelineRow's fields
COLUMNS = ("k", "tz_known", "label", "item", "path", "locator", "sha256", "deleted", "record_type",
           "utc", "local", "tz_source", "make", "model", "sender", "conversation", "body", "lat", "lon", "db_state",
           "recovery", "recovered")


def _file_select(column: str, desc: str, ref: bool = False, key: str = "tl_key({})", source: bool = False) -> str:
    """The times of one file system column as timeline rows; ``ref``: with the file's id first;
    ``key``: how the key is had (the SQLite function, or NULL where the index gives it);
    ``source``: with the column's number in :data:`FILE_TIMES` and the file's id (a tie-break)."""
    extra = f"{FILE_TIMES.index((column, desc))} AS source, f.id AS ref, " if source else ""
    return (
        f"SELECT {'f.id AS ref, ' if ref else ''}{extra}{key.format(column)} AS k, f.times_tz_known AS tz_known, "
        f"'{desc}' AS label, f.item, f.path, "
        f"f.locator, f.sha256, f.deleted, 'fs/' || f.kind AS record_type, "
        f"CASE WHEN f.times_tz_known <> 0 THEN {column} END AS utc, "
        f"CASE WHEN f.times_tz_known <> 0 THEN NULL ELSE {column} END AS local, "
        f"CASE WHEN f.times_tz_known <> 0 THEN COALESCE(f.times_tz_source, 'utc') ELSE 'unknown' END AS tz_source, "
        f"NULL AS make, NULL AS model, NULL AS sender, NULL AS conversation, NULL AS body, "
        f"NULL AS lat, NULL AS lon, NULL AS db_state, f.recovery AS recovery, NULL AS recovered "
        f"FROM files f WHERE {column} IS NOT NULL AND (:item IS NULL OR f.item = :item)")


_ARTIFACT_SELECT = (
    "SELECT /*ref*/tl_key(COALESCE(t.utc, t.local)) AS k, t.tz_known AS tz_known, t.label AS label, a.item, f.path, "
    "f.locator, f.sha256, f.deleted, a.record_type, t.utc, t.local, t.tz_source, "
    "CASE WHEN a.record_type IN ('photo/exif', 'media/video') THEN json_extract(a.fields, '$.make') END AS make, "
    "CASE WHEN a.record_type IN ('photo/exif', 'media/video') THEN json_extract(a.fields, '$.model') END AS model, "
    "CASE WHEN a.record_type = 'chat/message' THEN json_extract(a.fields, '$.sender') END AS sender, "
    "CASE WHEN a.record_type = 'chat/message' THEN COALESCE(json_extract(a.fields, '$.conversation.title'), "
    "json_extract(a.fields, '$.conversation.id'), CASE WHEN json_type(a.fields, '$.conversation') = 'text' "
    "THEN json_extract(a.fields, '$.conversation') END) END AS conversation, "
    "CASE WHEN a.record_type = 'chat/message' THEN json_extract(a.fields, '$.body') END AS body, "
    "CASE WHEN t.label = 'gps' THEN json_extract(a.fields, '$.lat') "
    "WHEN a.record_type = 'location/point' THEN json_extract(a.fields, '$.latitude') "
    "WHEN a.record_type = 'chat/message' "
    "THEN COALESCE(json_extract(a.fields, '$.location.latitude'), json_extract(a.fields, '$.location.lat')) "
    "END AS lat, "
    "CASE WHEN t.label = 'gps' THEN json_extract(a.fields, '$.lon') "
    "WHEN a.record_type = 'location/point' THEN json_extract(a.fields, '$.longitude') "
    "WHEN a.record_type = 'chat/message' "
    "THEN COALESCE(json_extract(a.fields, '$.location.longitude'), json_extract(a.fields, '$.location.lon')) "
    "END AS lon, "
    "json_extract(a.fields, '$.db_state') AS db_state, f.recovery AS recovery, "
    "json_extract(a.fields, '$.recovered') AS recovered "
    "FROM timestamps t JOIN artifacts a ON a.id = t.artifact_id "
    "LEFT JOIN files f ON f.id = COALESCE(a.file_id, t.file_id) "
    "WHERE (t.utc IS NOT NULL OR t.local IS NOT NULL) AND (:item IS NULL OR a.item = :item)")


def _sql(flt: TimelineFilter) -> tuple[str, dict[str, Any]]:
    union = " UNION ALL ".join([_file_select(c, d, source=True) for c, d in FILE_TIMES]
                               + [_ARTIFACT_SELECT.replace("/*ref*/", f"{RECORD_SOURCE} AS source, t.rowid AS ref, ")])
    where = ["1"]
    args: dict[str, Any] = {"item": flt.item}
    if flt.known_only:
        where.append("tz_known")
    if flt.start_us is not None:
        # known: the instant is not before the start; unknown: it could be (wall clock >= start - 12 h)
        where.append("k >= CASE WHEN tz_known THEN :start ELSE :start_wide END")
        args["start"] = flt.start_us
        args["start_wide"] = flt.start_us + EARLIEST_OFFSET_H * HOUR_US
    if flt.end_us is not None:
        where.append("k <= CASE WHEN tz_known THEN :end ELSE :end_wide END")
        args["end"] = flt.end_us
        args["end_wide"] = flt.end_us + LATEST_OFFSET_H * HOUR_US
    sql = (f"SELECT {', '.join(COLUMNS)} FROM ({union}) WHERE {' AND '.join(where)} "
           "ORDER BY k, tz_known DESC, item, COALESCE(path, ''), label, source, ref")   # the index's order
    return sql, args


def _typed(cursor: sqlite3.Cursor, row: tuple) -> TimelineRow:
    return TimelineRow.from_row(row)


def rows(db: sqlite3.Connection, flt: TimelineFilter = TimelineFilter()) -> Iterator[TimelineRow]:
    """Every time in the store that ``flt`` keeps, in timeline order, one at a time."""
    if dialect(db) == "postgresql":
        yield from _index_rows(db, flt)
        return
    db.create_function("tl_key", 1, sort_key, deterministic=True)
    sql, args = _sql(flt)
    cursor = db.cursor()
    cursor.row_factory = _typed          # typed straight from the row tuple (no sqlite3.Row between)
    yield from cursor.execute(sql, args)


# -- the timeline index: the same order kept in the store (``timeline_keys``), read a page at a time --
#
# One row per time: its key (``NO_KEY`` for a time that cannot be read, so it comes first),
# whether its zone is unknown, item, path ('' for none), label, then where it is: ``source``
# 0-3 is a file system time of ``files.id = ref`` (FILE_TIMES' order), 4 a record's time
# (``timestamps.rowid = ref``); and the place of its record, where the record holds one
# (``lat``, ``lon``: a selection on the map keeps the times of the places in it).
# Beside it ``map_places``: every place a record holds (a photo's geotag, a position shared
# in a chat), with its time's key, for the map.
#
# Both are made at the end of a triage (:func:`update_index`, in its transaction) and brought
# up to date on use (:func:`ensure_index`). ``meta.timeline_generation`` says what they were
# made from: the highest file id, time rowid and record id, and each item's triage time. Rows
# are only added, except when an item is triaged again or removed (its triage time changes):
# so an update makes again the rows of the items whose triage time changed, and adds those of
# the rows added since (ids above the ones it was made from). A page is a range of the
# ``timeline_keys_order`` index after the last key of the page before (keyset pagination).

NO_KEY = -(1 << 63)
RECORD_SOURCE = len(FILE_TIMES)
PageKey = tuple[int, int, str, str, str, int, int]
PHOTO, MESSAGE = "photo/exif", "chat/message"


def _generation(db: sqlite3.Connection) -> dict[str, Any]:
    """What the index is made from, as it is now (each part O(log n) but the items')."""
    r = db.execute("SELECT (SELECT coalesce(max(id), 0) FROM files), (SELECT coalesce(max(rowid), 0) FROM timestamps), "
                   "(SELECT coalesce(max(id), 0) FROM artifacts)").fetchone()
    items = {str(i): t or "" for i, t in db.execute("SELECT item, triaged_at FROM items ORDER BY item")}
    return {"files": int(r[0]), "times": int(r[1]), "records": int(r[2]), "items": items}


def _made_from(db: sqlite3.Connection) -> dict[str, Any] | None:
    """What the index was made from (None: never made, or by a version that kept another form)."""
    import json
    row = db.execute("SELECT value FROM meta WHERE key = 'timeline_generation'").fetchone()
    try:
        made = json.loads(row[0]) if row is not None else None
    except ValueError:
        return None
    if (not isinstance(made, dict) or not all(isinstance(made.get(k), int) for k in ("files", "times", "records"))
            or not isinstance(made.get("items"), dict)):
        return None
    return made


def current(db: sqlite3.Connection) -> bool:
    """Whether the timeline index and the map's places are those of the store as it is."""
    return _made_from(db) == _generation(db)


def ensure_index(db: sqlite3.Connection) -> bool:
    """Bring ``timeline_keys`` and ``map_places`` up to date with the store, unless they are.
    True when they were changed. One write transaction: a reader sees them before or after."""
    if current(db):
        return False
    db.execute("BEGIN IMMEDIATE")
    try:
        changed = update_index(db)          # as the store is under the write lock (a tab may have done it)
        db.execute("COMMIT")
    except BaseException as exc:
        db.execute("ROLLBACK")
        if _refused(exc):
            from forensic.errors import CaseError
            raise CaseError("the timeline index is not up to date with the case store, and this "
                            "PostgreSQL role may not write it",
                            hint="an examiner's role brings it up to date: any triage, or 'forensic "
                                 "timeline' run once as that role") from exc
        raise
    return changed


def _refused(exc: BaseException) -> bool:
    """``exc`` is PostgreSQL's refusal of a write to a role that may only read."""
    from forensic.store.postgres import is_error
    if not is_error(exc):
        return False
    import psycopg
    return isinstance(exc, psycopg.errors.InsufficientPrivilege)


def update_index(db: sqlite3.Connection) -> bool:
    """:func:`ensure_index`'s work, in the caller's write transaction (a triage's last one):
    made whole when it never was, else the rows of items triaged again (or removed) made
    again and the rows added since added. True when anything was to do."""
    import json
    now, made = _generation(db), _made_from(db)
    if made == now:
        return False
    if dialect(db) == "sqlite":
        db.create_function("tl_key", 1, sort_key, deterministic=True)
    if made is None:
        if dialect(db) == "postgresql":          # laid out with the store, made empty here
            db.execute("DELETE FROM timeline_keys")
            db.execute("DELETE FROM map_places")
        else:
            from forensic.store.schema import empty_timeline_index
            empty_timeline_index(db)
        _add_places(db, None, 0)
        _add_times(db, None, 0, 0)
    else:
        redo = sorted(i for i in set(now["items"]) | set(made["items"]) if now["items"].get(i) != made["items"].get(i))
        for item in redo:
            db.execute("DELETE FROM timeline_keys WHERE item = ?", (item,))
            db.execute("DELETE FROM map_places WHERE item = ?", (item,))
            if item in now["items"]:
                _add_places(db, item, 0)
                _add_times(db, item, 0, 0)
        _add_places(db, None, made["records"], skip=redo)
        _add_times(db, None, made["files"], made["times"], skip=redo)
    db.execute("INSERT INTO meta(key, value) VALUES ('timeline_generation', ?) "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (json.dumps(now, sort_keys=True),))
    return True


def _scope(column: str, item: str | None, skip: list[str]) -> tuple[str, list[Any]]:
    """SQL keeping the rows of ``item`` (all when None), none of the items ``skip``."""
    if item is not None:
        return f" AND {column} = ?", [item]
    if skip:
        return f" AND {column} NOT IN ({','.join('?' * len(skip))})", list(skip)
    return "", []


def _add_times(db: sqlite3.Connection, item: str | None, after_file: int, after_time: int,
               skip: list[str] = []) -> None:         # noqa: B006  (read only)
    """Index the file system times of the files with an id above ``after_file`` and the
    record times with a rowid above ``after_time`` (of ``item``, or all but ``skip``)."""
    if dialect(db) == "postgresql":
        _add_times_keyed_here(db, item, after_file, after_time, skip)
        return
    where, args = _scope("f.item", item, skip)
    for source, (column, desc) in enumerate(FILE_TIMES):
        db.execute(
            "INSERT INTO timeline_keys(k, tz_unknown, item, path, label, source, ref) "
            f"SELECT coalesce(tl_key({column}), ?), 1 - f.times_tz_known, f.item, coalesce(f.path, ''), ?, ?, f.id "
            f"FROM files f WHERE {column} IS NOT NULL AND f.id > ?{where}", [NO_KEY, desc, source, after_file, *args])
    where, args = _scope("a.item", item, skip)
    db.execute(
        "INSERT INTO timeline_keys(k, tz_unknown, item, path, label, source, ref, lat, lon) "
        "SELECT coalesce(tl_key(COALESCE(t.utc, t.local)), ?), 1 - t.tz_known, a.item, coalesce(f.path, ''), "
        "t.label, ?, t.rowid, p.lat, p.lon FROM timestamps t JOIN artifacts a ON a.id = t.artifact_id "
        "LEFT JOIN files f ON f.id = COALESCE(a.file_id, t.file_id) LEFT JOIN map_places p ON p.artifact_id = a.id "
        f"WHERE (t.utc IS NOT NULL OR t.local IS NOT NULL) AND t.rowid > ?{where}",
        [NO_KEY, RECORD_SOURCE, after_time, *args])


BATCH = 5000        # rows read (and index rows written) at a time where Python computes the keys


def _add_times_keyed_here(db: Any, item: str | None, after_file: int, after_time: int, skip: list[str]) -> None:
    """:func:`_add_times` with the keys computed here (:func:`sort_key`), for a store whose
    server has no ``tl_key``: the same rows, read and written a batch at a time by id."""
    where, args = _scope("f.item", item, skip)
    last = after_file
    while batch := db.execute(
            "SELECT f.id, f.item, f.path, f.times_tz_known, " + ", ".join(c for c, _ in FILE_TIMES)
            + f" FROM files f WHERE f.id > ?{where} ORDER BY f.id LIMIT ?", [last, *args, BATCH]).fetchall():
        keys = [(_key(value), 1 - tz_known, it, path or "", desc, source, ref, None, None)
                for ref, it, path, tz_known, *times in batch
                for source, ((_, desc), value) in enumerate(zip(FILE_TIMES, times, strict=True)) if value is not None]
        _insert_keys(db, keys)
        last = batch[-1][0]
    where, args = _scope("a.item", item, skip)
    last = after_time
    while batch := db.execute(
            "SELECT t.rowid, COALESCE(t.utc, t.local), t.tz_known, a.item, f.path, t.label, p.lat, p.lon "
            "FROM timestamps t JOIN artifacts a ON a.id = t.artifact_id "
            "LEFT JOIN files f ON f.id = COALESCE(a.file_id, t.file_id) LEFT JOIN map_places p ON p.artifact_id = a.id "
            f"WHERE (t.utc IS NOT NULL OR t.local IS NOT NULL) AND t.rowid > ?{where} ORDER BY t.rowid LIMIT ?",
            [last, *args, BATCH]).fetchall():
        _insert_keys(db, [(_key(value), 1 - tz_known, it, path or "", label, RECORD_SOURCE, ref, lat, lon)
                          for ref, value, tz_known, it, path, label, lat, lon in batch])
        last = batch[-1][0]


def _key(value: str) -> int:
    k = sort_key(value)
    return NO_KEY if k is None else k


def _insert_keys(db: Any, keys: list[tuple]) -> None:
    """Index rows (k, tz_unknown, item, path, label, source, ref, lat, lon) in one statement
    (PostgreSQL: a column of values each, unnested)."""
    if not keys:
        return
    columns = list(zip(*keys, strict=True))
    types = ("BIGINT", "BIGINT", "TEXT", "TEXT", "TEXT", "BIGINT", "BIGINT", "DOUBLE PRECISION", "DOUBLE PRECISION")
    db.execute("INSERT INTO timeline_keys(k, tz_unknown, item, path, label, source, ref, lat, lon) "
               f"SELECT * FROM unnest({', '.join(f'CAST(? AS {t}[])' for t in types)})",
               [_array_text(c) for c in columns])


def _array_text(values: tuple) -> str:
    """A column of values as the text of a PostgreSQL array (read by the server's cast: much
    less work than the driver's adapting of each element). A float as ``repr``: read back
    the same."""
    def one(v: Any) -> str:
        if v is None:
            return "NULL"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return repr(v) if isinstance(v, float) else str(int(v))
    return "{" + ",".join(map(one, values)) + "}"


def _by_id(db: sqlite3.Connection, sql: str, args: list) -> Iterator[tuple]:
    """The rows of ``sql`` (its first column ``a.id``, its first parameter the id they come
    after): SQLite's from one cursor, which steps through them in the order its plan gives;
    PostgreSQL's, whose cursor would hold the whole result, :data:`BATCH` at a time by id."""
    if dialect(db) == "sqlite":
        yield from db.execute(sql, args)
        return
    while batch := db.execute(f"{sql} ORDER BY a.id LIMIT ?", [*args, BATCH]).fetchall():
        yield from batch
        args = [batch[-1][0], *args[1:]]


def _add_places(db: sqlite3.Connection, item: str | None, after_record: int, skip: list[str] = []) -> None:  # noqa: B006
    """Keep in ``map_places`` the places of the records with an id above ``after_record`` (of
    ``item``, or all but ``skip``): each geotagged photo (``gps_valid``, a latitude and a
    longitude in range) with its time taken, and each chat message carrying a valid position
    (:func:`forensic.store.places.position`) with its time sent (the records read by :func:`_by_id`)."""
    import json

    from forensic.store.places import may_be_located, position
    where, args = _scope("a.item", item, skip)
    # on PostgreSQL, whose JSON types refuse some valid JSON (a "\u0000" in a message), a cheap
    # test of the text first, the fields read by Python below (as SQLite's would be)
    photo = "a.fields LIKE '%\"gps_valid\"%'" if dialect(db) == "postgresql" else \
        "json_extract(a.fields, '$.gps_valid') = 1"
    found = f"(a.record_type = '{PHOTO}' AND {photo}) OR (a.record_type = '{MESSAGE}' AND {may_be_located(db)})"
    rows: list[tuple] = []
    for aid, it, file_id, kind, fields_text, path, locator in _by_id(
            db, "SELECT a.id, a.item, a.file_id, a.record_type, a.fields, f.path, f.locator FROM artifacts a "
            f"LEFT JOIN files f ON f.id = a.file_id WHERE a.id > ?{where} AND ({found})", [after_record, *args]):
        try:
            fields = json.loads(fields_text)
        except ValueError:
            continue
        if not isinstance(fields, dict):
            continue
        if kind == PHOTO:
            lat, lon = fields.get("lat"), fields.get("lon")
            pos = None
            if fields.get("gps_valid") == 1 and isinstance(lat, (int, float)) and isinstance(lon, (int, float)) \
                    and not isinstance(lat, bool) and not isinstance(lon, bool) \
                    and -90 <= lat <= 90 and -180 <= lon <= 180:
                pos = (float(lat), float(lon))
            at, label, what = fields.get("taken_at_utc"), f"{it}: {path or locator or ''}", "photo"
        else:
            loc = fields.get("location")
            pos = position(loc) if isinstance(loc, dict) else None
            at, label, what = fields.get("sent_at_utc"), f"{it}: {fields.get('sender') or ''}", "chat_location"
        if pos is None:
            continue
        at = at if isinstance(at, str) else None
        rows.append((aid, it, what, file_id, pos[0], pos[1], sort_key(at) if at else None, at, label))
    db.executemany("INSERT INTO map_places(artifact_id, item, kind, file_id, lat, lon, k, at, label) "
                   "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(artifact_id) DO UPDATE SET item = excluded.item, "
                   "kind = excluded.kind, file_id = excluded.file_id, lat = excluded.lat, lon = excluded.lon, "
                   "k = excluded.k, at = excluded.at, label = excluded.label", rows)


@dataclass(frozen=True, slots=True)
class Box:
    """A part of the map: latitudes ``south``..``north``, longitudes ``west``..``east``
    (``west`` > ``east``: the box crosses the antimeridian)."""
    south: float
    west: float
    north: float
    east: float

    def sql(self, lat: str = "lat", lon: str = "lon") -> tuple[str, list[float]]:
        cond = f"{lat} BETWEEN ? AND ? AND " + (f"{lon} BETWEEN ? AND ?" if self.west <= self.east
                                                else f"({lon} >= ? OR {lon} <= ?)")
        return cond, [self.south, self.north, self.west, self.east]

    def text(self) -> str:
        """As the URL gives it: south,west,north,east."""
        return ",".join(f"{v:.6f}".rstrip("0").rstrip(".") for v in (self.south, self.west, self.north, self.east))

    @classmethod
    def parse(cls, text: str | None) -> "Box | None":
        """``south,west,north,east`` in degrees; None for none or anything else."""
        import math
        try:
            v = [float(x) for x in (text or "").split(",")]
        except ValueError:
            return None
        if len(v) != 4 or not all(math.isfinite(x) for x in v):
            return None
        s, w, n, e = v
        if not (-90 <= s <= n <= 90 and -180 <= w <= 180 and -180 <= e <= 180):
            return None
        return cls(s, w, n, e)


def page(db: sqlite3.Connection, flt: TimelineFilter = TimelineFilter(), after: PageKey | None = None,
         limit: int = 200, box: Box | None = None) -> tuple[list[TimelineRow], PageKey | None]:
    """Up to ``limit`` times ``flt`` keeps, in timeline order, after the time whose key is
    ``after``; with the key of the last one when there may be more (else None). ``box``: only
    the times of records whose place is in it (read by the ``timeline_keys_placed`` index).
    Reads the timeline index (brought up to date first: :func:`ensure_index`)."""
    ensure_index(db)
    return _page(db, flt, after, limit, box)


def _page(db: sqlite3.Connection, flt: TimelineFilter, after: PageKey | None, limit: int,
          box: Box | None = None) -> tuple[list[TimelineRow], PageKey | None]:
    """:func:`page` of the index as it is."""
    where: list[str] = []
    args: list[Any] = []
    order = "k, tz_unknown, item, path, label, source, ref"
    if dialect(db) == "postgresql":     # indexed by a prefix of the path (schema.PG_LONG_TEXT)
        from forensic.store.schema import PG_TIMELINE_PATH
        order = f"k, tz_unknown, item, {PG_TIMELINE_PATH}, path, label, source, ref"
        if after is not None:           # the index's range: implied by the whole key's
            where.append(f"(k, tz_unknown, item, {PG_TIMELINE_PATH}) >= (?, ?, ?, "
                         f"{PG_TIMELINE_PATH.replace('path', 'CAST(? AS TEXT)')})")
            args += list(after[:4])
    if box is not None:
        cond, box_args = box.sql()
        where.append(f"lat IS NOT NULL AND {cond}")
        args += box_args
    if after is not None:
        where.append("(k, tz_unknown, item, path, label, source, ref) > (?, ?, ?, ?, ?, ?, ?)")
        args += list(after)
    if flt.item is not None:
        where.append("item = ?")
        args.append(flt.item)
    if flt.known_only:
        where.append("tz_unknown = 0")
    if flt.start_us is not None:        # as rows(): unknown zones within the widest offsets
        where.append("k >= ? AND k >= CASE WHEN tz_unknown <> 0 THEN ? ELSE ? END")
        wide = flt.start_us + EARLIEST_OFFSET_H * HOUR_US
        args += [wide, wide, flt.start_us]
    if flt.end_us is not None:          # a time that cannot be read (NO_KEY) is within no bounds
        where.append("k <= ? AND k > ? AND k <= CASE WHEN tz_unknown <> 0 THEN ? ELSE ? END")
        wide = flt.end_us + LATEST_OFFSET_H * HOUR_US
        args += [wide, NO_KEY, wide, flt.end_us]
    keys: list[PageKey] = [tuple(r) for r in db.execute(
        "SELECT k, tz_unknown, item, path, label, source, ref FROM timeline_keys "
        f"WHERE {' AND '.join(where) or '1 = 1'} ORDER BY {order} LIMIT ?",
        [*args, limit + 1])]
    more = len(keys) > limit
    keys = keys[:limit]
    found = _rows_of(db, keys)
    out = [found[(k[5], k[6])] for k in keys if (k[5], k[6]) in found]
    return out, (keys[-1] if more and keys else None)


def _index_rows(db: Any, flt: TimelineFilter, size: int = 1000) -> Iterator[TimelineRow]:
    """:func:`rows` read from the timeline index (brought up to date first) a page at a time,
    in one snapshot of the store (a repeatable-read transaction) when none is open: the way
    rows are had on PostgreSQL, whose cursor would hold every row of one query at once."""
    ensure_index(db)
    began = not db.in_transaction
    if began:
        db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    try:
        after: PageKey | None = None
        while True:
            found, after = _page(db, flt, after, size)
            yield from found
            if after is None:
                return
    finally:
        if began and db.in_transaction:
            db.execute("COMMIT")


def _rows_of(db: sqlite3.Connection, keys: list[PageKey]) -> dict[tuple[int, int], TimelineRow]:
    """(source, ref) -> its timeline row, for the keys of one page. On PostgreSQL each row's
    key is the index's and a record's values are read from its fields here
    (:func:`record_values`), as SQLite's ``json_extract`` reads them."""
    pg = dialect(db) == "postgresql"
    if not pg:
        db.create_function("tl_key", 1, sort_key, deterministic=True)
    key_of = {(k[5], k[6]): (None if k[0] == NO_KEY else k[0]) for k in keys}
    out: dict[tuple[int, int], TimelineRow] = {}
    for source in range(RECORD_SOURCE + 1):
        refs = sorted({k[6] for k in keys if k[5] == source})
        if not refs:
            continue
        marks = ",".join("?" * len(refs))
        if source == RECORD_SOURCE and pg:
            out.update(_records_read_here(db, refs, marks, key_of))
            continue
        if source < RECORD_SOURCE:
            column, desc = FILE_TIMES[source]
            sql = f"{_file_select(column, desc, ref=True, key='NULL' if pg else 'tl_key({})')} AND f.id IN ({marks})"
        else:
            sql = f"{_ARTIFACT_SELECT.replace('/*ref*/', 't.rowid AS ref, ')} AND t.rowid IN ({marks})"
        for r in db.execute(sql.replace(":item", "NULL"), refs):
            out[(source, int(r[0]))] = TimelineRow.from_row((key_of[(source, int(r[0]))] if pg else r[1], *r[2:]))
    return out


# what _ARTIFACT_SELECT reads of a record's fields, read by Python from the fields (PostgreSQL)
_RECORD_SELECT = (
    "SELECT t.rowid AS ref, t.tz_known, t.label, a.item, f.path, f.locator, f.sha256, f.deleted, a.record_type, "
    "t.utc, t.local, t.tz_source, a.fields, f.recovery FROM timestamps t JOIN artifacts a ON a.id = t.artifact_id "
    "LEFT JOIN files f ON f.id = COALESCE(a.file_id, t.file_id) "
    "WHERE (t.utc IS NOT NULL OR t.local IS NOT NULL) AND t.rowid IN ({marks})")


def _records_read_here(db: Any, refs: list[int], marks: str,
                       key_of: dict[tuple[int, int], int | None]) -> dict[tuple[int, int], TimelineRow]:
    """:func:`_rows_of`'s record times ``refs`` (``marks``: a placeholder each) on PostgreSQL."""
    out: dict[tuple[int, int], TimelineRow] = {}
    for ref, tz_known, label, item, path, locator, sha256, deleted, record_type, utc, local, tz_source, \
            fields, recovery in db.execute(_RECORD_SELECT.format(marks=marks), refs):
        make, model, sender, conversation, body, lat, lon, db_state, recovered = \
            record_values(record_type, label, fields)
        out[(RECORD_SOURCE, int(ref))] = TimelineRow.from_row((
            key_of[(RECORD_SOURCE, int(ref))], tz_known, label, item, path, locator, sha256, deleted, record_type,
            utc, local, tz_source, make, model, sender, conversation, body, lat, lon, db_state, recovery, recovered))
    return out


_MEDIA = ("photo/exif", "media/video")


def record_values(record_type: str, label: str, fields_text: str) -> tuple[Any, ...]:
    """What :data:`_ARTIFACT_SELECT` reads of a record's fields (make, model, sender,
    conversation, body, lat, lon, db_state, recovered), read here as SQLite reads them."""
    import json
    try:
        fields = json.loads(fields_text)
    except (TypeError, ValueError, RecursionError):
        fields = None

    def get(*path: str) -> Any:
        return _sqlite_value(_at(fields, path))
    message = record_type == MESSAGE
    make = get("make") if record_type in _MEDIA else None
    model = get("model") if record_type in _MEDIA else None
    conversation = None
    if message:
        conversation = get("conversation", "title")
        if conversation is None:
            conversation = get("conversation", "id")
        if conversation is None and isinstance(_at(fields, ("conversation",)), str):
            conversation = get("conversation")
    if label == "gps":
        lat, lon = get("lat"), get("lon")
    elif record_type == "location/point":
        lat, lon = get("latitude"), get("longitude")
    elif message:
        lat = get("location", "latitude")
        lat = get("location", "lat") if lat is None else lat
        lon = get("location", "longitude")
        lon = get("location", "lon") if lon is None else lon
    else:
        lat = lon = None
    return (make, model, get("sender") if message else None, conversation, get("body") if message else None,
            lat, lon, get("db_state"), get("recovered"))


def _at(value: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` (object members) in a JSON value, None where there is none."""
    for name in path:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def _sqlite_value(value: Any) -> Any:
    """A JSON value as SQLite's ``json_extract`` gives it: true/false as 1/0, an object or an
    array as its JSON text."""
    import json
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def key_text(key: PageKey) -> str:
    """A page key as the text of a link (JSON)."""
    import json
    return json.dumps(list(key), separators=(",", ":"))


def parse_key(text: str | None) -> PageKey | None:
    """The page key of :func:`key_text`; None for none, or text that is not one."""
    import json
    if not text:
        return None
    try:
        v = json.loads(text)
    except (ValueError, RecursionError):           # RecursionError: "[[[[..." from a URL
        return None
    if (not isinstance(v, list) or len(v) != 7 or not all(isinstance(x, int) and not isinstance(x, bool)
                                                          and -2**63 <= x < 2**63     # SQLite's integers
                                                          for x in (v[0], v[1], v[5], v[6]))
            or not all(isinstance(x, str) for x in v[2:5])):
        return None
    return (v[0], v[1], v[2], v[3], v[4], v[5], v[6])
