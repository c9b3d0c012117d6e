"""Base of the phone message database extractors (Android ``mmssms.db``, iOS ``sms.db``,
WhatsApp ``msgstore.db``).

The database arrives as bytes from the walk; it is copied to a private temporary file and
opened ``mode=ro&immutable=1`` (:func:`forensic.extractors.chat.common.sqlite_readonly`), so SQLite
never writes a journal, WAL or SHM file and never touches the evidence. A ``-wal`` file beside
the database in the evidence is *not* applied (its frames are not read; the examiner guide
says so — a per-file warning is future work).

Damage: each table is read in rowid batches; a batch that hits a damaged page is skipped past
and reported, the rest is read. A missing table is reported and the tables that are there
are read. "Not my format" (none of the tables this reader needs) yields nothing.
"""
from __future__ import annotations

import posixpath
import sqlite3
from typing import ClassVar, Iterator

from forensic.extractors.base import Extractor, ExtractorInput
from forensic.extractors.chat.common import SQLITE_MAGIC, finish_chat, read_rows, sqlite_readonly, tables_of
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from forensic.timestamps import Timestamp

OWNER = "(device owner)"


class SqliteChatExtractor(Extractor):
    FILE_NAMES: ClassVar[tuple[str, ...]] = ()       # usual names (lower case)
    MARKERS: ClassVar[tuple[bytes, ...]] = ()        # schema text that identifies the app in page 1
    REQUIRED: ClassVar[tuple[str, ...]] = ()         # any one of these tables makes it ours
    RECORD_TYPES = ("chat/message",)

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        if not head.startswith(SQLITE_MAGIC):
            return False
        name = posixpath.basename(path.replace("\\", "/")).lower()
        return name in self.FILE_NAMES or any(m in head for m in self.MARKERS)

    def extract(self, item: ExtractorInput) -> Iterator[ArtifactRecord | ExtractionWarning]:
        problems: list[str] = []
        try:
            with sqlite_readonly(item) as conn:
                tables, problem = tables_of(conn)
                if problem:
                    yield ExtractionWarning(self.NAME, f"{item.path}: {problem}")
                    return
                if not any(t in tables for t in self.REQUIRED):
                    if posixpath.basename(item.path).lower() in self.FILE_NAMES:
                        yield ExtractionWarning(self.NAME, f"{item.path}: none of the tables "
                                                           f"{', '.join(self.REQUIRED)} is present; nothing read")
                    return
                yield from self.read(conn, tables, item, problems)
        except sqlite3.DatabaseError as exc:
            problems.append(f"database unreadable: {exc}")
        except OSError as exc:
            problems.append(f"temporary copy failed: {exc}")
        for p in problems:
            yield ExtractionWarning(self.NAME, p)

    def read(self, conn: sqlite3.Connection, tables: dict[str, set[str]], item: ExtractorInput,
             problems: list[str]) -> Iterator[ArtifactRecord]:
        raise NotImplementedError  # pragma: no cover

    def finalize(self, db, item: str):
        return finish_chat(db, item, self.NAME)


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
