"""What a triage writes: each batch of walked entries with their records, timestamps and
warnings, in one transaction (the caller's), and the item's totals at the end."""
from __future__ import annotations

import operator
import sqlite3
from dataclasses import dataclass, field
from itertools import repeat
from typing import Iterable, Iterator, NamedTuple

from forensic.store import artifacts


class StoredRecord(NamedTuple):
    """A record as a triage stores it (made where the extractor ran)."""
    extractor: str             # NAME@version
    record_type: str
    source_ref: str | None
    fields_json: str
    corrupted: int
    warnings_json: str
    record_sha256: str
    timestamps: tuple          # (label, utc, local, tz_known, tz_source, raw) each


@dataclass(slots=True)
class StoredBatch:
    """Records of one extractor and type as a triage stores them, column by column (a
    :class:`~forensic.extractors.records.RecordBatch` made into rows): position ``i`` of each
    list is one record, as a :class:`StoredRecord` would hold it."""
    extractor: str
    record_type: str
    source_refs: list = field(default_factory=list)
    fields_json: list = field(default_factory=list)
    corrupted: list = field(default_factory=list)
    warnings_json: list = field(default_factory=list)
    record_sha256: list = field(default_factory=list)
    timestamps: list = field(default_factory=list)

    def add(self, source_ref: str | None, fields_json: str, corrupted: int, warnings_json: str,
            record_sha256: str, timestamps: tuple) -> None:
        self.source_refs.append(source_ref)
        self.fields_json.append(fields_json)
        self.corrupted.append(corrupted)
        self.warnings_json.append(warnings_json)
        self.record_sha256.append(record_sha256)
        self.timestamps.append(timestamps)

    def __iter__(self) -> Iterator[StoredRecord]:
        """Each record as a :class:`StoredRecord`."""
        for row in zip(self.source_refs, self.fields_json, self.corrupted, self.warnings_json, self.record_sha256,
                       self.timestamps, strict=True):
            yield StoredRecord(self.extractor, self.record_type, *row)


class Entry(NamedTuple):
    """One walked entry: its ``files`` row (column -> value), its records, its warnings."""
    row: dict
    records: list              # StoredRecord, StoredBatch
    warnings: list             # (stage, message)


_ARTIFACT = ("INSERT INTO artifacts(id, item, file_id, record_type, extractor, source_ref, fields, "
             "corrupted, warnings) VALUES (?,?,?,?,?,?,?,?,?)")
_TIMESTAMP = ("INSERT INTO timestamps(artifact_id, file_id, label, utc, local, tz_known, tz_source, "
              "raw) VALUES (?,?,?,?,?,?,?,?)")
_WARNING = "INSERT INTO warnings(item, locator, stage, message, at) VALUES (?,?,?,?,?)"
DUPLICATE = "a second entry with the same location was met; only the first is listed"


def stored_locators(db: sqlite3.Connection, item: str) -> dict[str, str | None]:
    """locator -> MIME type of every entry of ``item`` already stored (an interrupted run's)."""
    return dict(db.execute("SELECT locator, mime FROM files WHERE item = ?", (item,)))


def any_stored(db: sqlite3.Connection, item: str) -> bool:
    return bool(db.execute("SELECT EXISTS(SELECT 1 FROM files WHERE item = ?)", (item,)).fetchone()[0])


def count_files(db: sqlite3.Connection, item: str | None = None) -> int:
    if item is None:
        return int(db.execute("SELECT COUNT(*) FROM files").fetchone()[0])
    return int(db.execute("SELECT COUNT(*) FROM files WHERE item = ?", (item,)).fetchone()[0])


def store_entries(db: sqlite3.Connection, item: str, entries: list[Entry], now: str,
                  known: dict[str, str | None]) -> list[tuple]:
    """Store a batch. Returns what was stored, in order, for the custody log: ``("file", row,
    file_id, row_sha256)`` and ``("record", row, record_type, artifact_id, record_sha256,
    row_sha256, times_sha256)``, the hashes read back from the rows as stored.

    The batch goes in one statement per table, ids given here (as SQLite would: the next
    after the largest); when a location is met twice in it (kept once, with a warning:
    ``known`` are the locations stored before), row by row instead."""
    db.execute("SAVEPOINT batch")
    # released on success only: after an error the caller's transaction is rolled back (with the
    # savepoint), and on PostgreSQL a RELEASE then fails too ("current transaction is aborted"),
    # which hid the error itself
    stored = _at_once(db, item, entries, now)
    if stored is None:
        db.execute("ROLLBACK TO batch")
        stored = _one_by_one(db, item, entries, now, known)
    db.execute("RELEASE batch")
    file_ids = [s[2] for s in stored if s[0] == "file"]
    record_ids = [s[3] for s in stored if s[0] == "record"]
    rows = artifacts.file_row_hashes(db, min(file_ids), max(file_ids)) if file_ids else {}
    lo, hi = (min(record_ids), max(record_ids)) if record_ids else (0, -1)
    records = artifacts.record_row_hashes(db, lo, hi) if record_ids else {}
    times = artifacts.times_hashes(db, lo, hi) if record_ids else {}
    return [s + (rows[s[2]],) if s[0] == "file" else s + (records[s[3]], times.get(s[3], artifacts.NO_TIMES))
            for s in stored]


def _at_once(db: sqlite3.Connection, item: str, entries: list[Entry], now: str) -> list[tuple] | None:
    cols = list(entries[0].row)
    values = operator.itemgetter(*cols)
    file_id = db.execute("SELECT COALESCE(MAX(id), 0) FROM files").fetchone()[0]
    artifact_id = db.execute("SELECT COALESCE(MAX(id), 0) FROM artifacts").fetchone()[0]
    files: list[tuple] = []
    artifacts: list[tuple] = []
    stamps: list[tuple] = []
    warnings: list[tuple] = []
    stored: list[tuple] = []
    for e in entries:
        file_id += 1
        loc = e.row["locator"]
        files.append((file_id,) + values(e.row) + (len(e.warnings),))
        warnings.extend((item, loc, stage, message, now) for stage, message in e.warnings)
        for r in e.records:
            if isinstance(r, StoredBatch):         # column by column, one id each
                n = len(r.fields_json)
                ids = range(artifact_id + 1, artifact_id + n + 1)
                artifact_id += n
                artifacts.extend(zip(ids, repeat(item, n), repeat(file_id, n), repeat(r.record_type, n),
                                     repeat(r.extractor, n), r.source_refs, r.fields_json, r.corrupted,
                                     r.warnings_json, strict=True))
                stamps.extend((aid, file_id) + ts for aid, times in zip(ids, r.timestamps, strict=True) for ts in times)
                stored.extend(("record", e.row, r.record_type, aid, digest)
                              for aid, digest in zip(ids, r.record_sha256, strict=True))
                continue
            artifact_id += 1
            artifacts.append((artifact_id, item, file_id, r.record_type, r.extractor, r.source_ref, r.fields_json,
                              r.corrupted, r.warnings_json))
            stamps.extend((artifact_id, file_id) + ts for ts in r.timestamps)
            stored.append(("record", e.row, r.record_type, artifact_id, r.record_sha256))
        stored.append(("file", e.row, file_id))
    cur = db.executemany(f"INSERT INTO files(id, {', '.join(cols)}, warnings) "
                         f"VALUES ({', '.join('?' * (len(cols) + 2))}) ON CONFLICT DO NOTHING", files)
    if cur.rowcount != len(files):
        return None
    db.executemany(_ARTIFACT, artifacts)
    db.executemany(_TIMESTAMP, stamps)
    db.executemany(_WARNING, warnings)
    return stored


def _one_by_one(db: sqlite3.Connection, item: str, entries: list[Entry], now: str, known: dict) -> list[tuple]:
    """Row by row: a row refused as a duplicate location is reported, the rest kept."""
    cols = list(entries[0].row)
    values = operator.itemgetter(*cols)
    sql_file = (f"INSERT INTO files({', '.join(cols)}, warnings) VALUES ({', '.join('?' * (len(cols) + 1))}) "
                "ON CONFLICT DO NOTHING RETURNING id")
    stored: list[tuple] = []
    for e in entries:
        added = db.execute(sql_file, values(e.row) + (len(e.warnings),)).fetchone()
        if added is None:
            if e.row["locator"] not in known:   # never drop an entry silently
                db.execute(_WARNING, (item, e.row["locator"], "store", DUPLICATE, now))
            continue
        file_id = added[0]
        for stage, message in e.warnings:
            db.execute(_WARNING, (item, e.row["locator"], stage, message, now))
        for r in _one_each(e.records):
            aid = db.execute(_ARTIFACT + " RETURNING id",
                             (None, item, file_id, r.record_type, r.extractor, r.source_ref,
                              r.fields_json, r.corrupted, r.warnings_json)).fetchone()[0]
            for ts in r.timestamps:
                db.execute(_TIMESTAMP, (aid, file_id) + ts)
            stored.append(("record", e.row, r.record_type, aid, r.record_sha256))
        stored.append(("file", e.row, file_id))
    return stored


def _one_each(records: list) -> Iterator[StoredRecord]:
    """An entry's records one by one, its batches' records in their order."""
    for r in records:
        if isinstance(r, StoredBatch):
            yield from r
        else:
            yield r


def add_warnings(db: sqlite3.Connection, rows: Iterable[tuple]) -> None:
    """(item, locator, stage, message, at) each."""
    db.executemany(_WARNING, rows)


def totals(db: sqlite3.Connection, item: str) -> dict[str, int]:
    """files, deleted, bytes (of files and streams), warnings and artifacts of ``item``."""
    r = db.execute("SELECT COUNT(*), COALESCE(SUM(deleted),0), COALESCE(SUM(CASE WHEN kind IN ('file','stream') "
                   "THEN size END),0) FROM files WHERE item = ?", (item,)).fetchone()
    return {"files": r[0], "deleted": r[1], "bytes": r[2],
            "warnings": db.execute("SELECT COUNT(*) FROM warnings WHERE item = ?", (item,)).fetchone()[0],
            "artifacts": db.execute("SELECT COUNT(*) FROM artifacts WHERE item = ?", (item,)).fetchone()[0]}
