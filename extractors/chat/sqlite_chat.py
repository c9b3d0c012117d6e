"""Base of the phone message database extractors (Android ``mmssms.db``, iOS ``sms.db``,
WhatsApp ``msgstore.db``).

The database arrives as bytes from the walk, with its ``-journal`` or ``-wal`` when one lies
beside it in the evidence; it is read from private copies where SQLite rolls the journal back
or replays the log (:mod:`forensic.extractors.sqlite_journal`), never from the evidence.
Records come from the committed state. Where the state as found (a hot journal's unfinished
transaction, or a log's frames after its last commit) differs, its records that are not in
the committed state are yielded too, flagged ``db_state: "uncommitted"`` (every record of that
database then carries ``db_state``), with one warning that counts them.

Deleted rows: a reader that declares its message tables (``MESSAGE_TABLES``) maps one row, the
values of ``_rowid`` and the columns it declared, in that order (a ``sqlite3.Row``, or a
``FoundRow`` for a recovered row: read by name, or unpacked), to a record (``row_record``,
with the side tables its ``context`` loaded once); the base hands it the live rows and then
the rows recovered from the database's free pages, free space inside pages and superseded
page images in its ``-wal`` (:mod:`forensic.extractors.sqlite_recover`, over the private
copies). A recovered row's record
carries ``recovered: "deleted"`` and ``source.page``, ``source.offset`` (bytes into
``source.file``: the database or its log), ``source.in`` (freelist, freeblock, unallocated,
wal); live records carry no ``recovered``. Never mixed silently: a recovered row equal to a
live row (same rowid and content; content alone where a freeblock overwrote the rowid) is
dropped, one with a live row's rowid but other content is kept and says so
(``recovered_note``: an earlier version, or a reused rowid); one found by scanning a page with
no b-tree header says so (``recovery_confidence: "low"``, :data:`HEADERLESS_NOTE`); and one warning per database
counts what was recovered.

Batches: for a caller that stores records a batch at a time (``ExtractorInput.batches``: the
triage), the live rows' records come as :class:`RecordBatch` objects, one per read of rows
(``row_batches``: made by ``row_record`` one by one, or, by a reader of databases that hold a
million messages (Android SMS, WhatsApp), each usual row written straight to the JSON text its
fields are stored as, byte for byte what ``row_record``'s record gives; a row it cannot write so
is made by ``row_record``). Recovered rows, and the records of a database with an uncommitted
state, come one by one.

Damage: each table is read in rowid batches; a batch that hits a damaged page is skipped past
and reported, the rest is read. A missing table is reported and the tables that are there
are read. "Not my format" (none of the tables this reader needs) yields nothing.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import posixpath
import sqlite3
from typing import Any, ClassVar, Iterable, Iterator

from forensic.extractors.base import Extractor, ExtractorInput
from forensic.extractors.chat.common import SQLITE_MAGIC, link_by_suffix, read_batches, read_rows, tables_of
from forensic.store.records import Link
from forensic.store.view import StoreView
from forensic.extractors.records import ArtifactRecord, ExtractionWarning, RecordBatch
from forensic.extractors.sqlite_journal import SUFFIXES, DatabaseStates, open_database
from forensic.extractors.sqlite_recover import RecoveredRow, TableShape, affinity, recover
from forensic.timestamps import Timestamp, ms_iso_utc

OWNER = "(device owner)"
# the JSON text of a message's fields sent_at to tz_source when it has no readable time, with
# the ", " after (as fields_json writes them: for a reader that writes its records' JSON itself)
NO_TIME_JSON = '"sent_at": null, "sent_at_utc": null, "tz_known": false, "tz_source": "unknown", '
# JSON texts a batch writer writes (fields_json's) for NULL, an empty text, and a flag the app
# stores as 0/1 or NULL; the types Unix milliseconds come in (or NULL)
NULL_JSON, EMPTY_JSON = "null", '""'
FLAG_JSON = {None: "null", 0: "false", 1: "true"}
MS_TYPES = (int, type(None))
# characters of leading-field texts a batch writer keeps (keep_head): a head per sender of a
# group holds the group's members twice, so 20 groups of 200 active members need about 48M
HEADS_BUDGET = 1 << 25
# said of a row recovered from a page with no b-tree header (RecoveredRow.headerless)
HEADERLESS_NOTE = ("found by scanning a page with no b-tree header (a freed overflow page, a freelist trunk or a "
                   "lost page): its bytes fit a row of this table, but they may be part of a longer text that "
                   "another row held, not a row of their own")
# what reading one row as a message may raise (a value of a type the app never writes): that row is
# reported, the rest are read
ROW_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError)


class SqliteChatExtractor(Extractor):
    FILE_NAMES: ClassVar[tuple[str, ...]] = ()       # usual names (lower case)
    MARKERS: ClassVar[tuple[bytes, ...]] = ()        # schema text that identifies the app in page 1
    REQUIRED: ClassVar[tuple[str, ...]] = ()         # any one of these tables makes it ours
    # table -> the columns ``row_record`` reads: rows of these tables become records, live
    # ones and those recovered from free space. A reader that leaves it empty overrides
    # ``read`` instead (and gets no recovered rows).
    MESSAGE_TABLES: ClassVar[dict[str, tuple[str, ...]]] = {}
    # the MESSAGE_TABLES whose live rows ``row_record``/``row_batches`` only unpack: read as
    # plain tuples, cheaper than sqlite3.Row (a recovered row is a FoundRow either way)
    TUPLE_TABLES: ClassVar[tuple[str, ...]] = ()
    RECORD_TYPES = ("chat/message",)
    SIBLINGS = SUFFIXES

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        if not head.startswith(SQLITE_MAGIC):
            return False
        name = posixpath.basename(path.replace("\\", "/")).lower()
        return name in self.FILE_NAMES or any(m in head for m in self.MARKERS)

    def extract(self, item: ExtractorInput) -> Iterator[ArtifactRecord | RecordBatch | ExtractionWarning]:
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
                ctx = None
                if db.uncommitted is None and self.MESSAGE_TABLES:
                    ctx = self.context(db.committed, tables, item, problems)
                    live = self._live_batches if item.batches else self._live
                    yield from live(db.committed, tables, item, problems, ctx)
                elif db.uncommitted is None:
                    yield from self.read(db.committed, tables, item, problems)
                else:
                    yield from self._both_states(db, tables, item, problems)
                if self.MESSAGE_TABLES:
                    if ctx is None:
                        ctx = self.context(db.committed, tables, item, problems)
                    yield from self._recovered(db, tables, item, problems, ctx)
        except sqlite3.DatabaseError as exc:
            problems.append(f"database unreadable: {exc}")
        except UnicodeDecodeError as exc:             # text outside read_rows (a schema, a comparison)
            problems.append(f"database text unreadable: {exc}")
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
        """Every record of one state of the database (readers without ``MESSAGE_TABLES``
        override this)."""
        yield from self._live(conn, tables, item, problems, self.context(conn, tables, item, problems))

    def context(self, conn: sqlite3.Connection, tables: dict[str, set[str]], item: ExtractorInput,
                problems: list[str]) -> Any:
        """What ``row_record`` needs besides the row (side tables: threads, handles, ...),
        read once per database state."""
        return None

    def row_record(self, table: str, row: sqlite3.Row | FoundRow, ctx: Any,
                   item: ExtractorInput) -> ArtifactRecord | None:
        """The record of one row of a ``MESSAGE_TABLES`` table: ``_rowid`` (None for a
        recovered row whose rowid was overwritten), then the columns declared for the table,
        in their order (NULL for those this version of the app lacks)."""
        raise NotImplementedError  # pragma: no cover

    def row_batches(self, table: str, got: list[sqlite3.Row], ctx: Any, item: ExtractorInput,
                    problems: list[str]) -> Iterator[RecordBatch]:
        """The records of one read's live rows of a ``MESSAGE_TABLES`` table, as batches (one
        per run of records of one type), for a caller that stores batches. Here each is made
        by ``row_record``; a reader of databases that hold a million messages overrides this
        to write each usual row's fields as their stored JSON text (``RecordBatch.fields``):
        the same records, byte for byte, as stored, as ``row_record``'s."""
        batch = None
        for rec in self._records(table, got, ctx, item, problems):
            if batch is None or batch.record_type != rec.record_type:
                if batch:
                    yield batch
                batch = RecordBatch(rec.record_type)
            batch.add(rec)
        if batch:
            yield batch

    def _records(self, table: str, got: list[sqlite3.Row], ctx: Any, item: ExtractorInput,
                 problems: list[str]) -> Iterator[ArtifactRecord]:
        """``row_record`` of each row; a row it cannot read is reported and the rest are read."""
        make = self.row_record
        for r in got:
            try:
                rec = make(table, r, ctx, item)
            except ROW_ERRORS as exc:          # a value of a type the app never writes
                problems.append(f"table {table}: row {r[0]} not readable as a message ({exc})")
                continue
            if rec is not None:
                yield rec

    def _live(self, conn: sqlite3.Connection, tables: dict[str, set[str]], item: ExtractorInput,
              problems: list[str], ctx: Any) -> Iterator[ArtifactRecord]:
        """The records of the live rows of ``MESSAGE_TABLES``, one by one."""
        for table, got in self._reads(conn, tables, problems):
            yield from self._records(table, got, ctx, item, problems)

    def _live_batches(self, conn: sqlite3.Connection, tables: dict[str, set[str]], item: ExtractorInput,
                      problems: list[str], ctx: Any) -> Iterator[RecordBatch]:
        """The records of the live rows of ``MESSAGE_TABLES``, a batch per read (``row_batches``)."""
        for table, got in self._reads(conn, tables, problems):
            yield from self.row_batches(table, got, ctx, item, problems)

    def _reads(self, conn: sqlite3.Connection, tables: dict[str, set[str]],
               problems: list[str]) -> Iterator[tuple[str, list[sqlite3.Row]]]:
        """(table, rows) of each read of the live rows of ``MESSAGE_TABLES``, in rowid order."""
        for table, wanted in self.MESSAGE_TABLES.items():
            if table in tables:
                for got in row_batches(conn, table, tables[table], wanted, problems, tuples=table in self.TUPLE_TABLES):
                    yield table, got

    def _recovered(self, db: DatabaseStates, tables: dict[str, set[str]], item: ExtractorInput,
                   problems: list[str], ctx: Any) -> Iterator[ArtifactRecord]:
        """Records of the deleted rows of ``MESSAGE_TABLES`` found in the database's bytes
        that are not copies of live rows, each marked; then one warning that counts them."""
        wanted = {t for t in self.MESSAGE_TABLES if t in tables}
        # every table's shape: a cell on a free page that another table's shape fits too is not ours to tell
        shapes, trouble = table_shapes(db.committed, [t for t in tables if not t.startswith("sqlite_")])
        problems.extend(trouble)
        if not any(s.name in wanted for s in shapes) or not db.raw:
            return
        found = recover(db.raw, shapes, db.wal, db.wal_committed, wanted)
        problems.extend(f"{item.name}: {p}" for p in found.problems)
        kept, copies = new_rows(db.committed, shapes, found.rows, problems)
        wal_name = f"{item.name}-wal"
        counts: dict[str, int] = {}
        low = 0
        for row, note in kept:
            shape = next(s for s in shapes if s.name == row.table)
            wanted = self.MESSAGE_TABLES[row.table]
            values = dict(zip(shape.columns, row.values, strict=True))
            mapped = FoundRow(("_rowid", *wanted), (row.rowid, *(values.get(c) for c in wanted)))
            try:
                rec = self.row_record(row.table, mapped, ctx, item)
            except ROW_ERRORS as exc:
                problems.append(f"table {row.table}: a recovered row at offset {row.offset} not readable as a "
                                f"message ({exc})")
                continue
            if rec is None:
                continue
            src = rec.fields.get("source")
            if isinstance(src, dict):
                src.update({"in": row.where, "page": row.page, "offset": row.offset,
                            "file": wal_name if row.file == "wal" else item.name})
            rec.fields["recovered"] = "deleted"
            if row.headerless:
                rec.fields["recovery_confidence"] = "low"
                note = "; ".join(filter(None, (note, HEADERLESS_NOTE)))
                low += 1
            if note:
                rec.fields["recovered_note"] = note
            counts[row.where] = counts.get(row.where, 0) + 1
            yield dataclasses.replace(
                rec, source_ref=f"{row.table}:{row.rowid if row.rowid is not None else '?'} (recovered: "
                                f"{row.where}, {'log' if row.file == 'wal' else 'file'} offset {row.offset})")
        total = sum(counts.values())
        if total or found.overflow:
            where = ", ".join(f"{n} from {w}" for w, n in sorted(counts.items()))
            problems.append(f"{item.name}: {total} deleted rows recovered from free space ({where or 'none'}), "
                            f"marked recovered 'deleted'"
                            + (f" ({low} from pages with no b-tree header: recovery_confidence 'low')" if low else "")
                            + f"; {copies} copies of live rows dropped"
                            + (f"; {found.overflow} deleted cells spilling to overflow pages not recovered"
                               if found.overflow else ""))

    def finalize(self, store: StoreView, item: str) -> Iterable[ExtractionWarning | Link]:
        return link_by_suffix(store, item, self.NAME)


def keep_head(ctx: dict, key: Any, value: Any, size: int) -> Any:
    """``value``, the JSON text of a thread's or chat's leading fields that a batch writer
    writes once per ``key`` and uses for each message with that key, kept in ``ctx["heads"]``
    up to :data:`HEADS_BUDGET` characters (``size``: its own), then begun again: the keys are
    values read from the file, and a hostile one (a sender id of its own on each message in a
    group of thousands) would otherwise keep a long text per message."""
    chars = ctx.get("heads_chars", 0) + size
    if chars > HEADS_BUDGET:
        ctx["heads"].clear()
        chars = size
    ctx["heads_chars"] = chars
    ctx["heads"][key] = value
    return value


class FoundRow(tuple):
    """The values of a row found in a file's bytes (a recovered row), in the order of its
    column ``names``: read by name like a live ``sqlite3.Row``, or unpacked. The values are
    kept as found (a float NaN stays NaN: SQLite would make it NULL)."""

    names: tuple[str, ...]
    _where: dict[str, int]

    def __new__(cls, names: tuple[str, ...], values: Iterable[Any]) -> "FoundRow":
        row = super().__new__(cls, values)
        row.names = names
        row._where = _positions(names)
        return row

    def __getitem__(self, key):
        if isinstance(key, str):
            try:
                key = self._where[key]
            except KeyError:
                raise KeyError(key) from None
        return super().__getitem__(key)


@functools.lru_cache(maxsize=256)
def _positions(names: tuple[str, ...]) -> dict[str, int]:
    """name -> position in a row of ``names`` (the first, where a name repeats, as
    ``tuple.index`` finds it); one per reader's column list."""
    out: dict[str, int] = {}
    for i, name in enumerate(names):
        out.setdefault(name, i)
    return out


def _identity(rec: ArtifactRecord) -> bytes:
    """What makes two records the same: type, place in the database and every field."""
    text = json.dumps([rec.record_type, rec.source_ref, rec.fields], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).digest()


def table_shapes(conn: sqlite3.Connection, names: list[str]) -> tuple[list[TableShape], list[str]]:
    """The on-disk shape of each rowid table of ``names`` (for :func:`recover`)."""
    out, problems = [], []
    try:
        master = {r[0]: (r[1], r[2] or "") for r in conn.execute(
            "SELECT name, rootpage, sql FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        return [], [f"deleted rows not looked for: schema unreadable ({exc})"]
    for name in names:
        if name not in master or not isinstance(master[name][0], int) or master[name][0] < 1:
            continue                            # a virtual table (root page 0) has no b-tree of its own
        root, sql = master[name]
        if "WITHOUT ROWID" in " ".join(sql.upper().split()):
            continue
        try:
            info = list(conn.execute(f'PRAGMA table_info("{name}")'))
        except sqlite3.DatabaseError as exc:
            problems.append(f"table {name}: deleted rows not looked for ({exc})")
            continue
        pk = [r for r in info if r[5]]
        alias = info.index(pk[0]) if len(pk) == 1 and (pk[0][2] or "").upper() == "INTEGER" else None
        out.append(TableShape(name, root, tuple(r[1] for r in info), tuple(affinity(r[2]) for r in info), alias))
    return out, problems


def _live_content(conn: sqlite3.Connection, by_name: dict[str, TableShape], blind: list[RecoveredRow], content,
                  problems: list[str]) -> set[tuple]:
    """(table, content) of the live rows that rows found without their rowid are copies of.
    A row found on a page its table still uses is looked for among the rowids that page and
    its neighbours cover (``near``: one indexed query, the columns compared by SQLite); the
    table is read once, whole, for the rows found anywhere else."""
    out: set[tuple] = set()
    for name in {r.table for r in blind}:
        shape = by_name[name]
        cols = [_quoted(c) for i, c in enumerate(shape.columns) if i != shape.rowid_alias]
        same = " AND ".join(f"{c} IS ?" for c in cols)
        anywhere = {content(shape, r.values) for r in blind if r.table == name and r.near is None}
        try:
            for r in blind:
                if r.table == name and r.near is not None:
                    c = content(shape, r.values)
                    if conn.execute(f'SELECT 1 FROM "{name}" WHERE ROWID BETWEEN ? AND ? AND {same} LIMIT 1',
                                    (*r.near, *c)).fetchone():
                        out.add((name, c))
            if anywhere:
                for row in conn.execute(f'SELECT {", ".join(cols)} FROM "{name}"'):
                    if tuple(row) in anywhere:
                        out.add((name, tuple(row)))
        except sqlite3.DatabaseError as exc:
            problems.append(f"table {name}: live rows not compared with recovered ones ({exc})")
    return out


def _quoted(name: str) -> str:
    """An identifier from the evidence's schema, quoted for SQL (a quote in it doubled)."""
    return '"' + name.replace('"', '""') + '"'


def new_rows(conn: sqlite3.Connection, shapes: list[TableShape], found: list[RecoveredRow],
             problems: list[str]) -> tuple[list[tuple[RecoveredRow, str | None]], int]:
    """The recovered rows that are not copies of live rows nor of each other, each with a
    note when a live row has its rowid but other content; and how many copies were dropped.
    Linear: live rows are looked up by rowid, and where a rowid was overwritten, by content
    among the rows of the pages around (:func:`_live_content`)."""
    by_name = {s.name: s for s in shapes}

    def content(shape: TableShape, values: tuple) -> tuple:
        return tuple(v for i, v in enumerate(values) if i != shape.rowid_alias)

    live: dict[tuple[str, int], tuple] = {}
    for name in {r.table for r in found}:
        shape = by_name[name]
        cols = ", ".join(_quoted(c) for c in shape.columns)
        ids = sorted({r.rowid for r in found if r.table == name and r.rowid is not None})
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            try:
                for r in conn.execute(f'SELECT ROWID, {cols} FROM "{name}" WHERE ROWID IN '
                                      f'({",".join("?" * len(chunk))})', chunk):
                    live[(name, r[0])] = content(shape, tuple(r[1:]))
            except sqlite3.DatabaseError as exc:
                problems.append(f"table {name}: live rows not compared with recovered ones ({exc})")
    known = {(r.table, content(by_name[r.table], r.values)) for r in found if r.rowid is not None}
    blind = [r for r in found if r.rowid is None and (r.table, content(by_name[r.table], r.values)) not in known]
    live_content = _live_content(conn, by_name, blind, content, problems)
    out: list[tuple[RecoveredRow, str | None]] = []
    seen: set[tuple] = set()
    copies = 0
    for r in sorted(found, key=lambda r: r.rowid is None):     # rows with their rowid first
        c = content(by_name[r.table], r.values)
        key = (r.table, r.rowid, c)
        if key in seen or (r.rowid is None and ((r.table, c) in known or (r.table, c) in live_content)):
            copies += 1
            continue
        seen.add(key)
        now = live.get((r.table, r.rowid)) if r.rowid is not None else None
        if now is not None and now == c:
            copies += 1
            continue
        out.append((r, None if now is None else f"live row {r.rowid} has this rowid with other content: an "
                                                "earlier version of that row, or a row whose rowid was reused"))
    return out, copies


def rows(conn, table: str, columns: set[str], wanted: tuple[str, ...], problems: list[str],
         where: str = "") -> Iterator[sqlite3.Row]:
    """Rows of ``table`` with the ``wanted`` columns (NULL for those this version lacks), in
    rowid order, read in batches that survive damaged pages."""
    yield from read_rows(conn, table, _select(table, columns, wanted, where), problems)


# Rows of a message table per read, and so per RecordBatch: few enough that a batch's objects
# die young (each batch held past Python's first garbage-collector generation, 700 objects,
# is traversed again and again), enough that a read's query costs nothing beside its rows.
BATCH_ROWS = 256


def row_batches(conn, table: str, columns: set[str], wanted: tuple[str, ...], problems: list[str],
                where: str = "", tuples: bool = False) -> Iterator[list]:
    """The rows of :func:`rows`, ``BATCH_ROWS`` a list (:func:`read_batches`), as plain
    tuples with ``tuples``."""
    yield from read_batches(conn, table, _select(table, columns, wanted, where), problems, batch=BATCH_ROWS,
                            tuples=tuples)


def _select(table: str, columns: set[str], wanted: tuple[str, ...], where: str) -> str:
    cols = ", ".join(f'"{c}"' if c in columns else f'NULL AS "{c}"' for c in wanted)
    extra = f" AND ({where})" if where else ""
    return f'SELECT ROWID AS _rowid, {cols} FROM "{table}" WHERE {{after}}{extra} ORDER BY ROWID LIMIT ?'


def lookup(conn, table: str, columns: set[str], key: str, wanted: tuple[str, ...], problems: list[str]) -> dict:
    """``key`` -> row of a small side table (handles, addresses, jids); {} when missing."""
    out = {}
    if key not in columns and key != "ROWID":
        return out
    for r in rows(conn, table, columns, (key,) + wanted if key != "ROWID" else wanted, problems):
        out[r["_rowid"] if key == "ROWID" else r[key]] = r
    return out


def unix_ms(value, label: str = "sent", problems: list[str] | None = None) -> Timestamp | None:
    """Unix milliseconds -> UTC timestamp, exact to the millisecond; 0/None -> None."""
    if value is None or value == 0:
        return None
    try:
        return Timestamp.from_unix_ms(label, int(value), str(value))
    except (TypeError, ValueError, OverflowError):
        if problems is not None:
            problems.append(f"{label} time {value!r} is not a Unix time in milliseconds")
        return None


def ms_iso(value, label: str = "sent", problems: list[str] | None = None) -> str | None:
    """Unix milliseconds -> ISO 8601 UTC text (as ``unix_ms(...).iso_utc()``, without the
    Timestamp where only the text is kept); 0/None -> None."""
    if value is None or value == 0:
        return None
    try:
        return ms_iso_utc(int(value))
    except (TypeError, ValueError, OverflowError):
        if problems is not None:
            problems.append(f"{label} time {value!r} is not a Unix time in milliseconds")
        return None


def source(item: ExtractorInput, table: str, row_id) -> dict:
    return {"path": item.path, "table": table, "row_id": row_id}
