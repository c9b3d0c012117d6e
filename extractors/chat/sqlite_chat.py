"""Base of the phone message database extractors (Android ``mmssms.db``, iOS ``sms.db``,
WhatsApp ``msgstore.db``).

The database arrives as bytes from the walk, with its ``-journal`` or ``-wal`` when one lies
beside it in the evidence; it is read from private copies where SQLite rolls the journal back
or replays the log (:mod:`forensic.extractors.sqlite_journal`), never from the evidence.
Records come from the committed state. Where the state as found (a hot journal's unfinished
transaction, or a log's frames after its last commit) differs, its records that are not in
the committed state are yielded too, flagged ``db_state: "uncommitted"`` (every record of that
database then carries ``db_state``), with one warning that counts them.

Damage: each table is read in rowid batches; a batch that hits a damaged page is skipped past
and reported, the rest is read. A missing table is reported and the tables that are there
are read. "Not my format" (none of the tables this reader needs) yields nothing.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import posixpath
import sqlite3
from typing import ClassVar, Iterable, Iterator

from forensic.extractors.base import Extractor, ExtractorInput
from forensic.extractors.chat.common import SQLITE_MAGIC, link_by_suffix, read_rows, tables_of
from forensic.store.records import Link
from forensic.store.view import StoreView
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from forensic.extractors.sqlite_journal import SUFFIXES, DatabaseStates, open_database
from forensic.timestamps import Timestamp

OWNER = "(device owner)"


class SqliteChatExtractor(Extractor):
    FILE_NAMES: ClassVar[tuple[str, ...]] = ()       # usual names (lower case)
    MARKERS: ClassVar[tuple[bytes, ...]] = ()        # schema text that identifies the app in page 1
    REQUIRED: ClassVar[tuple[str, ...]] = ()         # any one of these tables makes it ours
    RECORD_TYPES = ("chat/message",)
    SIBLINGS = SUFFIXES

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        if not head.startswith(SQLITE_MAGIC):
            return False
        name = posixpath.basename(path.replace("\\", "/")).lower()
        return name in self.FILE_NAMES or any(m in head for m in self.MARKERS)

    def extract(self, item: ExtractorInput) -> Iterator[ArtifactRecord | ExtractionWarning]:
        problems: list[str] = []
        try:
            with open_database(item) as db:
                for note in db.warnings:
                    yield ExtractionWarning(self.NAME, note)
                tables, problem = tables_of(db.committed)
                if problem:
                    yield ExtractionWarning(self.NAME, f"{item.path}: {problem}")
                    return
                if not any(t in tables for t in self.REQUIRED):
                    if posixpath.basename(item.path).lower() in self.FILE_NAMES:
                        yield ExtractionWarning(self.NAME, f"{item.path}: none of the tables "
                                                           f"{', '.join(self.REQUIRED)} is present; nothing read")
                    return
                if db.uncommitted is None:
                    yield from self.read(db.committed, tables, item, problems)
                else:
                    yield from self._both_states(db, tables, item, problems)
        except sqlite3.DatabaseError as exc:
            problems.append(f"database unreadable: {exc}")
        except OSError as exc:
            problems.append(f"temporary copy failed: {exc}")
        for p in dict.fromkeys(problems):        # a table read twice meets its damage twice
            yield ExtractionWarning(self.NAME, p)

    def _both_states(self, db: DatabaseStates, tables: dict[str, set[str]], item: ExtractorInput,
                     problems: list[str]) -> Iterator[ArtifactRecord]:
        """The committed state's records, then those of the uncommitted state that are not
        among them (same row, same content), flagged; and a warning that counts both sides."""
        committed: set[bytes] = set()
        for rec in self.read(db.committed, tables, item, problems):
            committed.add(_identity(rec))
            rec.fields["db_state"] = "committed"
            yield rec
        found: set[bytes] = set()
        only = 0
        theirs: list[str] = []
        other, problem = tables_of(db.uncommitted)
        if problem:
            theirs.append(problem)
        else:
            try:
                for rec in self.read(db.uncommitted, other, item, theirs):
                    key = _identity(rec)
                    found.add(key)
                    if key in committed:
                        continue
                    only += 1
                    rec.fields["db_state"] = "uncommitted"
                    yield dataclasses.replace(rec, source_ref=f"{rec.source_ref} (uncommitted)")
            except sqlite3.DatabaseError as exc:
                theirs.append(f"database unreadable: {exc}")
        problems.extend(f"uncommitted state of {item.name}: {p}" for p in theirs)
        problems.append(f"{item.name}: {db.summary}: {only} records found only in the uncommitted state are "
                        f"flagged db_state 'uncommitted'; {len(committed - found)} committed records are not in "
                        "that state")

    def read(self, conn: sqlite3.Connection, tables: dict[str, set[str]], item: ExtractorInput,
             problems: list[str]) -> Iterator[ArtifactRecord]:
        raise NotImplementedError  # pragma: no cover

    def finalize(self, store: StoreView, item: str) -> Iterable[ExtractionWarning | Link]:
        return link_by_suffix(store, item, self.NAME)


def _identity(rec: ArtifactRecord) -> bytes:
    """What makes two records the same: type, place in the database and every field."""
    text = json.dumps([rec.record_type, rec.source_ref, rec.fields], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).digest()


def rows(conn, table: str, columns: set[str], wanted: tuple[str, ...], problems: list[str],
         where: str = "") -> Iterator[sqlite3.Row]:
    """Rows of ``table`` with the ``wanted`` columns (NULL for those this version lacks), in
    rowid order, read in batches that survive damaged pages."""
    cols = ", ".join(f'"{c}"' if c in columns else f'NULL AS "{c}"' for c in wanted)
    extra = f" AND ({where})" if where else ""
    sql = f'SELECT ROWID AS _rowid, {cols} FROM "{table}" WHERE {{after}}{extra} ORDER BY ROWID LIMIT ?'
    yield from read_rows(conn, table, sql, problems)


def lookup(conn, table: str, columns: set[str], key: str, wanted: tuple[str, ...], problems: list[str]) -> dict:
    """``key`` -> row of a small side table (handles, addresses, jids); {} when missing."""
    out = {}
    if key not in columns and key != "ROWID":
        return out
    for r in rows(conn, table, columns, (key,) + wanted if key != "ROWID" else wanted, problems):
        out[r["_rowid"] if key == "ROWID" else r[key]] = r
    return out


def unix_ms(value, label: str = "sent", problems: list[str] | None = None) -> Timestamp | None:
    if value is None or value == 0:
        return None
    try:
        return Timestamp.from_unix(label, int(value) / 1000, raw=str(value))
    except (TypeError, ValueError, OverflowError):
        if problems is not None:
            problems.append(f"{label} time {value!r} is not a Unix time in milliseconds")
        return None


def source(item: ExtractorInput, table: str, row_id) -> dict:
    return {"path": item.path, "table": table, "row_id": row_id}
