"""Deleted rows of an SQLite database, read from its bytes: free pages, free space inside pages
and old page images in the write-ahead log (https://www.sqlite.org/fileformat2.html).

SQLite does not wipe what it deletes (unless ``secure_delete`` is on):

* a page no table needs any more goes to the freelist with its old cells in it
  (``in: "freelist"``);
* a row deleted from a page that stays in use leaves its cell in place, the cell's space
  becoming a *freeblock* whose 4-byte header (next freeblock, size) overwrites the cell's
  first 4 bytes: the payload length, the rowid and often the record's header length
  (``in: "freeblock"``); a cell left between the cell pointers and the cell content area
  (moved away when the page was rebuilt, or freed at the edge of that area) lies in the
  page's *unallocated* space (``in: "unallocated"``);
* in WAL mode a change writes the whole new page into the log: until a checkpoint the
  database file keeps the page as it was, and earlier frames of the log keep earlier
  versions; a log restarted after a checkpoint is written over from its start, and the
  frames of its earlier generation past the new ones keep older versions still
  (``in: "wal"``: a page image superseded, in the file or the log).

Cells are decoded leniently and checked strictly against a table's shape (its column count,
the affinity of each column, the INTEGER PRIMARY KEY stored as NULL, text valid in the
database's encoding, every byte inside the region the cell was found in), so that garbage
yields nothing rather than an invented row. Which table a cell belongs to: the b-tree that
holds the page in the database's current state, or, for a page no b-tree holds, the one
table whose shape the cell fits (none or several: the cell is not reported).

The rowid of a cell in a freeblock was overwritten: such rows carry ``rowid=None``. Cells
whose payload spills to overflow pages are not recovered (their overflow pages may be
reused); they are counted. This module reads bytes only; which of the rows found are copies
of live rows is the caller's question (:mod:`forensic.extractors.chat.sqlite_chat`).

Why not a library: sqlite-dissect (DC3; one release, 2024) parses the whole version history
into objects and raises on malformed input, too slow for a million rows and not lenient;
sqlite-carver is a GPL-3 script (this project is Apache-2.0). The published approaches
(sqlite-dissect, bring2lite, undark) informed the freeblock heuristics here.
"""
from __future__ import annotations

import dataclasses
import mmap
import os
import re
import struct
from dataclasses import dataclass, field
from typing import Iterator

TABLE_LEAF = 0x0D
TABLE_INTERIOR = 0x05
_BTREE_TYPES = (0x02, 0x05, 0x0A, 0x0D)
_NONZERO = re.compile(rb"[^\x00]")
_MAX_DEPTH = 40
_ENCODINGS = {1: "utf-8", 2: "utf-16-le", 3: "utf-16-be"}
_WAL_HEADER = 32
_FRAME_HEADER = 24
# Text with C0 controls but tab and newlines (NUL above all) is read as garbage: record
# bytes read out of step decode as such, messages rarely hold them.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Bytes looked through byte by byte (free space that is not zeros) per database, at most:
# about 2.6 s a MB, so a database of random pages cannot hold a triage for hours (red team).
SCAN_BUDGET = 64 << 20


@dataclass(frozen=True, slots=True)
class TableShape:
    """What a row of one table looks like on disk."""

    name: str
    root: int                           # root page of its b-tree in the current state
    columns: tuple[str, ...]
    affinities: tuple[str, ...]         # INTEGER, TEXT, BLOB, REAL or NUMERIC, per column
    rowid_alias: int | None = None      # index of the INTEGER PRIMARY KEY column (stored as NULL)


def affinity(declared: str | None) -> str:
    """SQLite's column affinity for a declared type (datatype3.html, 3.1)."""
    t = (declared or "").upper()
    if "INT" in t:
        return "INTEGER"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "TEXT"
    if not t or "BLOB" in t:
        return "BLOB"
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return "REAL"
    return "NUMERIC"


@dataclass(frozen=True, slots=True)
class RecoveredRow:
    """One deleted (or superseded) row found in the bytes."""

    table: str
    rowid: int | None                   # None: overwritten (a freeblock's header took its place)
    values: tuple                       # one per column of the table; the rowid alias holds the rowid
    where: str                          # freelist | freeblock | unallocated | wal
    page: int                           # page number (1-based)
    offset: int                         # byte offset of the cell in ``file``
    file: str                           # "db" or "wal": the file the offset counts in
    # where the rowid was lost on a page its table still uses: the rowids of that page and its
    # neighbours in the b-tree, among which a live copy of the row would be (moved by an UPDATE
    # or a rebalance); None: anywhere
    near: tuple[int, int] | None = None
    # found by scanning a page with no b-tree header (a freed overflow page, a freelist trunk, a
    # lost page): nothing says its bytes were a row; they may be part of a freed row's long text
    headerless: bool = False


@dataclass(slots=True)
class Recovery:
    """What :func:`recover` found, and what it could not use."""

    rows: list[RecoveredRow] = field(default_factory=list)
    overflow: int = 0                   # cells whose payload spills to overflow pages: skipped
    problems: list[str] = field(default_factory=list)
    leaves: dict[str, list[int]] = field(default_factory=dict)   # table -> its live leaf pages, in key order


# -- the byte-level decoders ------------------------------------------------------------------------

def varint(buf: bytes | mmap.mmap, i: int, end: int) -> tuple[int, int] | None:
    """(value, next offset) of the SQLite varint at ``i``, or None if it runs past ``end``."""
    value = 0
    for k in range(9):
        if i + k >= end:
            return None
        b = buf[i + k]
        if k == 8:
            return ((value << 8) | b) & 0xFFFFFFFFFFFFFFFF, i + 9
        value = (value << 7) | (b & 0x7F)
        if b < 0x80:
            return value, i + k + 1
    return None  # pragma: no cover


def varint_len(value: int) -> int:
    n = 1
    while value >= 0x80 and n < 9:
        value >>= 7
        n += 1
    return n


def serial_size(t: int) -> int:
    if t < 12:
        return (0, 1, 2, 3, 4, 6, 8, 8, 0, 0, -1, -1)[t]
    return (t - 12) >> 1


def _allowed(t: int, aff: str, alias: bool) -> bool:
    """Could a column of this affinity hold a value of serial type ``t``? (SQLite converts
    numbers stored into TEXT columns to text, and text that looks like a number stored into
    numeric columns to numbers; what is left is rare enough to be taken as garbage.)"""
    if alias:
        return t == 0
    if t in (10, 11):
        return False
    if aff == "BLOB":
        return True
    if aff == "TEXT":
        return t == 0 or (t >= 13 and t & 1 == 1)       # a BLOB there is possible, but rarer than garbage
    return t < 10                        # INTEGER, REAL, NUMERIC


def _value(buf: bytes | mmap.mmap, t: int, p: int, n: int, encoding: str) -> object:
    if t == 0:
        return None
    if t <= 6:
        return int.from_bytes(buf[p:p + n], "big", signed=True)
    if t == 7:
        return struct.unpack(">d", buf[p:p + 8])[0]
    if t == 8:
        return 0
    if t == 9:
        return 1
    raw = bytes(buf[p:p + n])
    if t & 1:
        text = raw.decode(encoding)      # strict: text that does not decode is not a row
        if _CONTROL.search(text):
            raise UnicodeError("control characters")
        return text
    return raw


def decode_record(buf: bytes | mmap.mmap, types: list[int], body: int, end: int, shape: TableShape,
                  encoding: str) -> tuple[tuple, int] | None:
    """The values of a record whose serial ``types`` are known and whose body starts at
    ``body``; checked against ``shape``; None when it does not fit (or runs past ``end``)."""
    ncols = len(shape.columns)
    if not 0 < len(types) <= ncols:
        return None
    p = body
    values = []
    for col, t in enumerate(types):
        if not _allowed(t, shape.affinities[col], col == shape.rowid_alias):
            return None
        n = serial_size(t)
        if p + n > end:
            return None
        try:
            values.append(_value(buf, t, p, n, encoding))
        except (UnicodeError, struct.error):
            return None
        p += n
    nulls = sum(v is None for i, v in enumerate(values) if i != shape.rowid_alias)
    if nulls * 2 > len(values) - (shape.rowid_alias is not None):
        return None                      # mostly NULLs: zeroed bytes read as a record, more likely than a row
    values.extend([None] * (ncols - len(types)))      # columns added later (ALTER TABLE): default
    return tuple(values), p


def _types(buf: bytes | mmap.mmap, i: int, stop: int, limit: int) -> list[int] | None:
    """Serial types from ``i`` up to exactly ``stop`` (at most ``limit`` of them)."""
    out = []
    while i < stop:
        if len(out) == limit:
            return None
        v = varint(buf, i, stop)
        if v is None:
            return None
        out.append(v[0])
        i = v[1]
    return out


def _types_n(buf: bytes | mmap.mmap, i: int, n: int, end: int) -> tuple[list[int], int] | None:
    """``n`` serial types from ``i``: (types, offset after them)."""
    out = []
    for _ in range(n):
        v = varint(buf, i, end)
        if v is None:
            return None
        out.append(v[0])
        i = v[1]
    return out, i


def intact_cell(buf: bytes | mmap.mmap, p: int, end: int, shape: TableShape, encoding: str,
                max_local: int) -> tuple[int, tuple, int] | None | bool:
    """A whole table-leaf cell at ``p`` (payload length, rowid, record) of ``shape``:
    (rowid, values, end offset); False for a cell that spills to overflow pages; None for none."""
    a = varint(buf, p, end)
    if a is None or a[0] < 2:
        return None
    payload, q = a
    b = varint(buf, q, end)
    if b is None:
        return None
    rowid, h = b
    hl = varint(buf, h, end)
    if hl is None or hl[0] < 2 or hl[0] > 9 * len(shape.columns) + 9 or hl[0] > payload or h + hl[0] > end:
        return None
    types = _types(buf, hl[1], h + hl[0], len(shape.columns))
    if types is None or len(types) < len(shape.columns) - 8:
        return None
    body = sum(serial_size(t) for t in types)
    if hl[0] + body != payload:
        return None
    if payload > max_local:              # spills to overflow pages: counted, if it looks like a row
        fits = all(_allowed(t, shape.affinities[i], i == shape.rowid_alias) for i, t in enumerate(types))
        return False if fits and len(types) == len(shape.columns) else None
    dec = decode_record(buf, types, h + hl[0], min(end, h + payload), shape, encoding)
    if dec is None:
        return None
    values, stop = dec
    if rowid >= 1 << 63:
        rowid -= 1 << 64
    return rowid, _with_rowid(values, shape, rowid), stop


def _with_rowid(values: tuple, shape: TableShape, rowid: int | None) -> tuple:
    if shape.rowid_alias is None or rowid is None:
        return values
    v = list(values)
    v[shape.rowid_alias] = rowid
    return tuple(v)


def freeblock_cell(buf: bytes | mmap.mmap, c: int, end: int, shape: TableShape,
                   encoding: str) -> tuple[tuple, int] | None:
    """A cell at ``c`` whose first 4 bytes a freeblock header overwrote: (values, end offset)
    or None. The cell was ``payload-length varint, rowid varint, record``; the record header
    starts ``g`` bytes in (g = both varints' lengths). Tried in turn: a header that survived
    whole (g >= 4: only the rowid is lost); its header-length byte lost (g = 3); that byte
    and the first serial type lost (g = 2), which only the INTEGER PRIMARY KEY column (always
    NULL) lets us rebuild. Each guess must account for every byte: the payload length it
    implies must take exactly the varint bytes it assumes."""
    ncols = len(shape.columns)
    for g in range(4, 13):                           # header intact
        h = c + g
        hl = varint(buf, h, end)
        if hl is None or hl[0] < 2 or h + hl[0] > end:
            continue
        types = _types(buf, hl[1], h + hl[0], ncols)
        if types is None or len(types) != ncols:
            continue
        payload = hl[0] + sum(serial_size(t) for t in types)
        if not 1 <= g - varint_len(payload) <= 9:
            continue
        dec = decode_record(buf, types, h + hl[0], end, shape, encoding)
        if dec is not None:
            return dec
    for g, lost in ((3, 0), (2, 1)):                 # header length (and the first type) overwritten
        if lost and shape.rowid_alias != 0:
            continue
        got = _types_n(buf, c + 4, ncols - lost, end)
        if got is None:
            continue
        types = [0] * lost + got[0]
        header = 1 + lost + (got[1] - (c + 4))
        if header >= 0x80:
            continue                                 # would need a 2-byte length: not this guess
        payload = header + sum(serial_size(t) for t in types)
        if not 1 <= g - varint_len(payload) <= 9:    # room left for the rowid varint
            continue
        dec = decode_record(buf, types, got[1], end, shape, encoding)
        if dec is not None:
            return dec
    return None


# -- pages ---------------------------------------------------------------------------------------

@dataclass(slots=True)
class _Db:
    buf: bytes | mmap.mmap
    page_size: int
    usable: int
    pages: int
    encoding: str
    wal: bytes | mmap.mmap | None = None
    latest: dict[int, int] = field(default_factory=dict)     # page -> offset of its last committed frame
    scan_budget: int = SCAN_BUDGET

    def page(self, n: int) -> tuple[bytes | mmap.mmap, int] | None:
        """(buffer, offset) of page ``n`` in the current state: its last committed frame in the
        log, or the database file."""
        if n in self.latest and self.wal is not None:
            return self.wal, self.latest[n]
        if 1 <= n <= self.pages:
            return self.buf, (n - 1) * self.page_size
        return None


def _header_offset(n: int) -> int:
    return 100 if n == 1 else 0


def _btree_leaves(db: _Db, root: int, problems: list[str], table: str) -> list[int]:
    """The leaf pages of the table b-tree at ``root``, in key order (cycles and bad pages
    stop the walk of their branch)."""
    out: list[int] = []
    seen: set[int] = set()
    stack: list[tuple[int, int]] = [(root, 0)]
    while stack:
        n, depth = stack.pop()
        if n in seen or depth > _MAX_DEPTH:
            problems.append(f"table {table}: its b-tree loops back to page {n}")
            continue
        seen.add(n)
        at = db.page(n)
        if at is None:
            problems.append(f"table {table}: its b-tree names page {n}, past the end of the file")
            continue
        buf, base = at
        h = base + _header_offset(n)
        kind = buf[h]
        if kind == TABLE_LEAF:
            out.append(n)
        elif kind == TABLE_INTERIOR:
            count = int.from_bytes(buf[h + 3:h + 5], "big")
            children = []
            for i in range(count):
                ptr = int.from_bytes(buf[h + 12 + 2 * i:h + 14 + 2 * i], "big")
                if not 0 < ptr <= db.page_size - 4:
                    break
                children.append(int.from_bytes(buf[base + ptr:base + ptr + 4], "big"))
            children.append(int.from_bytes(buf[h + 8:h + 12], "big"))
            stack.extend((c, depth + 1) for c in reversed(children))
        else:
            problems.append(f"table {table}: page {n} of its b-tree is not a table b-tree page")
    return out


def _freelist(db: _Db, problems: list[str]) -> set[int]:
    """Pages on the freelist of the current state (trunk and leaf pages)."""
    at = db.page(1)
    if at is None:
        return set()
    buf, base = at
    trunk = int.from_bytes(buf[base + 32:base + 36], "big")
    out: set[int] = set()
    while trunk:
        if trunk in out or trunk > max(db.pages, max(db.latest, default=0)):
            problems.append(f"the freelist names page {trunk} twice or past the end of the file; read up to it")
            break
        out.add(trunk)
        at = db.page(trunk)
        if at is None:
            break
        buf, base = at
        count = min(int.from_bytes(buf[base + 4:base + 8], "big"), db.usable // 4 - 2)
        for i in range(count):
            out.add(int.from_bytes(buf[base + 8 + 4 * i:base + 12 + 4 * i], "big"))
        trunk = int.from_bytes(buf[base:base + 4], "big")
    return out


class _Scanner:
    """Cells of the given table shapes in page images."""

    def __init__(self, db: _Db, shapes: list[TableShape], out: Recovery, wanted: set[str]) -> None:
        self.db = db
        self.shapes = shapes
        self.out = out
        self.wanted = wanted
        self.max_local = db.usable - 35
        self.min_cell = 4 + 1 + min((len(s.columns) for s in shapes), default=1)
        self.budget = db.scan_budget

    def _fits(self, shape: TableShape | None, fn, *args) -> tuple[TableShape, object] | None:
        """The result of ``fn`` for the one shape that fits (``shape`` when the page's b-tree
        tells), or None where none or several do."""
        hit = None
        for s in ([shape] if shape is not None else self.shapes):
            r = fn(*args[:3], s, *args[3:])          # the decoders take (buf, start, end, shape, ...)
            if r is False:
                self.out.overflow += 1
                continue
            if r is not None:
                if hit is not None:
                    return None                      # two tables could own it: say nothing
                hit = (s, r)
        return hit

    def live_leaf(self, buf, base: int, n: int, shape: TableShape, file: str) -> None:
        """Freeblocks and the unallocated gap of a leaf page the table still uses."""
        h = base + _header_offset(n)
        count = int.from_bytes(buf[h + 3:h + 5], "big")
        content = int.from_bytes(buf[h + 5:h + 7], "big") or 65536
        gap_start = h - base + 8 + 2 * count
        self._freeblocks(buf, base, n, int.from_bytes(buf[h + 1:h + 3], "big"), shape, file, "freeblock")
        if content - gap_start >= self.min_cell and content <= self.db.usable:
            self._scan(buf, base, n, base + gap_start, base + content, shape, file, "unallocated")

    def _freeblocks(self, buf, base: int, n: int, first: int, shape: TableShape | None, file: str,
                    where: str) -> None:
        seen: set[int] = set()
        fb = first
        while fb and fb not in seen and 4 <= fb <= self.db.usable - 4:
            seen.add(fb)
            nxt = int.from_bytes(buf[base + fb:base + fb + 2], "big")
            size = int.from_bytes(buf[base + fb + 2:base + fb + 4], "big")
            end = min(base + fb + size, base + self.db.usable)
            c = base + fb
            while end - c >= self.min_cell:
                hit = self._fits(shape, freeblock_cell, buf, c, end, self.db.encoding)
                if hit is None:
                    self._scan(buf, base, n, c + 4, end, shape, file, where)   # whole cells further on
                    break
                s, (values, stop) = hit
                self._add(s, None, values, where, n, c, file)
                c = stop
            fb = nxt

    def _scan(self, buf, base: int, n: int, start: int, end: int, shape: TableShape | None, file: str,
              where: str, headerless: bool = False) -> None:
        """Whole cells anywhere in [start, end), byte by byte (``headerless``: of a page with no
        b-tree header, see ``RecoveredRow.headerless``)."""
        if not buf[start:end].strip(b"\0"):
            return                                   # never written (a new page's zeros): most gaps
        if self.budget < end - start:
            if self.budget >= 0:
                self.out.problems.append(f"deleted rows: more than {self.db.scan_budget:,} bytes of free space to "
                                         "look through byte by byte; the rest not looked through")
                self.budget = -1
            return
        self.budget -= end - start
        p = start
        while end - p >= self.min_cell:
            if not (buf[p] or buf[p + 1] or buf[p + 2] or buf[p + 3]):
                # four zero bytes: no cell starts here (its payload size is never 0), nor a
                # freeblock's head (its size is never 0); the next that can is a head whose
                # last byte is the next byte that is not zero (a page's unwritten space)
                nonzero = _NONZERO.search(buf, p + 4, end)
                if nonzero is None:
                    break
                p = nonzero.start() - 3
                continue
            hit = self._fits(shape, intact_cell, buf, p, end, self.db.encoding, self.max_local)
            if hit is not None:
                s, (rowid, values, stop) = hit
                self._add(s, rowid, values, where, n, p, file, headerless)
                p = stop
                continue
            if self._freeblock_head(buf, p):
                lost = self._fits(shape, freeblock_cell, buf, p, end, self.db.encoding)
                if lost is not None:
                    s, (values, stop) = lost
                    self._add(s, None, values, where, n, p, file, headerless)
                    p = stop
                    continue
            p += 1

    def _freeblock_head(self, buf, p: int) -> bool:
        """Whether the 4 bytes at ``p`` can be a freeblock's header (next freeblock: none or
        an offset inside the page; size: at least a cell's, at most the page's): a cell freed
        before its free space moved (the page rebuilt, or the page itself freed)."""
        nxt = (buf[p] << 8) | buf[p + 1]
        size = (buf[p + 2] << 8) | buf[p + 3]
        return (nxt == 0 or 8 <= nxt < self.db.usable) and self.min_cell <= size <= self.db.usable

    def other_page(self, buf, base: int, n: int, file: str, where: str) -> None:
        """A page image no live b-tree holds (a free page, a superseded version): its cells
        as a table leaf page lays them out when its header still says so, else by scanning."""
        h = base + _header_offset(n)
        if buf[h] == TABLE_LEAF:
            count = int.from_bytes(buf[h + 3:h + 5], "big")
            if 8 + 2 * count <= self.db.usable:
                for i in range(count):
                    ptr = int.from_bytes(buf[h + 8 + 2 * i:h + 10 + 2 * i], "big")
                    if 0 < ptr <= self.db.usable - 4:
                        hit = self._fits(None, intact_cell, buf, base + ptr, base + self.db.usable,
                                         self.db.encoding, self.max_local)
                        if hit is not None:
                            s, (rowid, values, _) = hit
                            self._add(s, rowid, values, where, n, base + ptr, file)
                self._freeblocks(buf, base, n, int.from_bytes(buf[h + 1:h + 3], "big"), None, file, where)
                content = int.from_bytes(buf[h + 5:h + 7], "big") or 65536
                if content <= self.db.usable:
                    self._scan(buf, base, n, h + 8 + 2 * count, base + content, None, file, where)
                return
        if buf[h] in _BTREE_TYPES and buf[h] != TABLE_LEAF:
            return                                   # an index or interior page: no rows
        self._scan(buf, base, n, base + 8, base + self.db.usable, None, file, where,
                   headerless=buf[h] != TABLE_LEAF)

    def _add(self, shape: TableShape, rowid: int | None, values: tuple, where: str, n: int, offset: int,
             file: str, headerless: bool = False) -> None:
        if shape.name in self.wanted:        # the others' cells are only told apart
            self.out.rows.append(RecoveredRow(shape.name, rowid, values, where, n, offset, file,
                                              headerless=headerless))


# -- the whole file --------------------------------------------------------------------------------

def _wal_frames(wal: bytes | mmap.mmap, page_size: int, committed: int) -> Iterator[tuple[int, int]]:
    """(page number, data offset) of the first ``committed`` frames of a checked log."""
    frame = _FRAME_HEADER + page_size
    for i in range(committed):
        pos = _WAL_HEADER + i * frame
        if pos + frame > len(wal):
            return
        yield int.from_bytes(wal[pos:pos + 4], "big"), pos + _FRAME_HEADER


def _old_frames(wal: bytes | mmap.mmap, page_size: int, committed: int) -> list[tuple[int, int]]:
    """(page number, data offset) of the frames an earlier generation of the log left past
    this one's: a log restarted after a checkpoint is written over from its start, with new
    salts, and what lies beyond the new frames keeps older page images. Frames with this
    log's salts past its last commit (an unfinished transaction: the uncommitted state) are
    not among them. Their checksums chain from a header that no longer exists: the pages
    are taken as they are, each cell checked as everywhere else."""
    salts = bytes(wal[16:24])
    frame = _FRAME_HEADER + page_size
    out = []
    pos = _WAL_HEADER + committed * frame
    while pos + frame <= len(wal):
        n = int.from_bytes(wal[pos:pos + 4], "big")
        if 0 < n < 1 << 31 and bytes(wal[pos + 8:pos + 16]) != salts:
            out.append((n, pos + _FRAME_HEADER))
        pos += frame
    return out


def recover(db_path: str, shapes: list[TableShape], wal_path: str | None = None,
            wal_committed: int = 0, wanted: set[str] | None = None, scan_budget: int = SCAN_BUDGET) -> Recovery:
    """Rows of the ``wanted`` tables (default: all of ``shapes``) found outside the live
    b-trees of the database file at ``db_path`` and, in WAL mode, in the first
    ``wal_committed`` frames of its log (checked by
    :func:`forensic.extractors.sqlite_journal.check_wal`). ``shapes`` should hold every rowid
    table of the database: a cell on a free page that fits the shape of a table not wanted as
    well as a wanted one's is not reported. Never raises for bad bytes: what cannot be read is
    described in ``problems``. At most ``scan_budget`` bytes of free space that is not zeros
    are looked through byte by byte; past it, a problem says the rest was not."""
    out = Recovery()
    wanted = {s.name for s in shapes} if wanted is None else wanted
    size = os.path.getsize(db_path)
    if size < 512 or not shapes:
        return out
    with open(db_path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        page_size = int.from_bytes(buf[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        if page_size < 512 or page_size & (page_size - 1):
            out.problems.append(f"its header gives page size {page_size}: no deleted rows looked for")
            return out
        usable = page_size - buf[20]
        encoding = _ENCODINGS.get(int.from_bytes(buf[56:60], "big"), "utf-8")
        db = _Db(buf, page_size, usable, size // page_size, encoding, scan_budget=scan_budget)
        wal_file = None
        frames: list[tuple[int, int]] = []
        old: list[tuple[int, int]] = []
        try:
            if wal_path and wal_committed and os.path.getsize(wal_path) > _WAL_HEADER:
                wal_file = open(wal_path, "rb")
                db.wal = mmap.mmap(wal_file.fileno(), 0, access=mmap.ACCESS_READ)
                frames = list(_wal_frames(db.wal, page_size, wal_committed))
                for n, off in frames:
                    db.latest[n] = off
                old = _old_frames(db.wal, page_size, wal_committed)
            _scan_all(db, shapes, frames, out, wanted, old)
        except (IndexError, ValueError, OSError) as exc:          # a page cut short at the end of the file
            out.problems.append(f"deleted rows: reading stopped early ({exc})")
        finally:
            if db.wal is not None:
                db.wal.close()
            if wal_file is not None:
                wal_file.close()
    return out


def _scan_all(db: _Db, shapes: list[TableShape], frames: list[tuple[int, int]], out: Recovery,
              wanted: set[str], old: list[tuple[int, int]]) -> None:
    owner: dict[int, TableShape] = {}
    for s in shapes:
        leaves = _btree_leaves(db, s.root, out.problems, s.name)
        if s.name in wanted:
            out.leaves[s.name] = leaves
        for n in leaves:
            owner[n] = s
    free = _freelist(db, out.problems)
    last = db.pages if not db.latest else max(db.pages, max(db.latest))
    # the overflow pages of live rows hold live data (a message's long text, a thumbnail): not
    # lost pages, and bytes in them that parse as a cell are not a deleted row (a picture
    # sent to the phone could carry a made-up message; found by the red team). Following the
    # chains reads every live cell: done only when some page is in no b-tree and not free.
    in_use = _overflow_pages(db, owner, free) if _any_lost(db, last, owner, free) else set()
    scan = _Scanner(db, shapes, out, wanted)
    for n in range(1, last + 1):                   # the current state of every page
        at = db.page(n)
        if at is None:
            continue
        buf, base = at
        file = "wal" if buf is db.wal else "db"
        if n in owner:
            if owner[n].name in wanted:
                scan.live_leaf(buf, base, n, owner[n], file)
        elif n in free:
            scan.other_page(buf, base, n, file, "freelist")
        elif n in in_use:
            continue
        elif buf[base + _header_offset(n)] not in _BTREE_TYPES:
            scan.other_page(buf, base, n, file, "unallocated")   # in no b-tree, not free: lost
    _near_rows(db, out, owner)
    superseded = [(db.buf, (n - 1) * db.page_size, n, "db") for n in db.latest if n <= db.pages]
    superseded += [(db.wal, off, n, "wal") for n, off in frames if db.latest.get(n) != off]
    superseded += [(db.wal, off, n, "wal") for n, off in old]
    for buf, base, n, file in superseded:          # older versions of pages the log rewrote
        if n in in_use and _same_page(db, n, buf, base):
            # a live row's overflow page as the file or an earlier log still holds it: a log
            # checkpointed but not reset, or restarted over frames that copied it, holds every
            # such page twice; a cell in a picture there is no deleted row either (red team)
            continue
        scan.other_page(buf, base, n, file, "wal")


def _same_page(db: _Db, n: int, buf, base: int) -> bool:
    """Whether the page image at ``base`` of ``buf`` is, byte for byte, page ``n``'s current one."""
    at = db.page(n)
    return at is not None and at[0][at[1]:at[1] + db.usable] == buf[base:base + db.usable]


def _any_lost(db: _Db, last: int, owner: dict[int, TableShape], free: set[int]) -> bool:
    """Whether a page up to ``last`` is in no table b-tree ``owner`` lists, not free, and not
    a b-tree page (an overflow page, or a lost one)."""
    for n in range(1, last + 1):
        if n in owner or n in free:
            continue
        at = db.page(n)
        if at is not None and at[0][at[1] + _header_offset(n)] not in _BTREE_TYPES:
            return True
    return False


def _overflow_pages(db: _Db, owner: dict[int, TableShape], free: set[int]) -> set[int]:
    """The overflow pages of the cells on the live table leaves ``owner`` lists: each chain
    followed from the 4 bytes after a cell's local payload (fileformat2.html, 1.6), up to a
    page seen before, past the end, or free."""
    out: set[int] = set()
    usable = db.usable
    max_local = usable - 35
    min_local = (usable - 12) * 32 // 255 - 23
    last = max(db.pages, max(db.latest, default=0))
    for n in owner:
        at = db.page(n)
        if at is None:
            continue
        buf, base = at
        h = base + _header_offset(n)
        count = int.from_bytes(buf[h + 3:h + 5], "big")
        for i in range(min(count, usable // 2)):
            ptr = int.from_bytes(buf[h + 8 + 2 * i:h + 10 + 2 * i], "big")
            if not 0 < ptr <= usable - 4:
                continue
            b0 = buf[base + ptr]
            if b0 < 0x80 or (buf[base + ptr + 1] < 0x80 and ((b0 & 0x7F) << 7 | buf[base + ptr + 1]) <= max_local):
                continue                              # a payload size of 1 or 2 bytes that fits the page
            a = varint(buf, base + ptr, base + usable)
            if a is None or a[0] <= max_local:        # the payload fits the page: no overflow
                continue
            b = varint(buf, a[1], base + usable)      # the rowid, after which the payload starts
            if b is None:
                continue
            local = min_local + (a[0] - min_local) % (usable - 4)
            if local > max_local:
                local = min_local
            at_ptr = b[1] + local
            if at_ptr + 4 > base + usable:
                continue
            nxt = int.from_bytes(buf[at_ptr:at_ptr + 4], "big")
            while 0 < nxt <= last and nxt not in out and nxt not in free and nxt not in owner:
                out.add(nxt)
                page = db.page(nxt)
                if page is None:
                    break
                nxt = int.from_bytes(page[0][page[1]:page[1] + 4], "big")
    return out


def _leaf_keys(db: _Db, n: int) -> tuple[int, int] | None:
    """The first and last rowid on the live table leaf ``n`` (None if unreadable)."""
    at = db.page(n)
    if at is None:
        return None
    buf, base = at
    h = base + _header_offset(n)
    count = int.from_bytes(buf[h + 3:h + 5], "big")
    keys = []
    for i in (0, count - 1) if count else ():
        ptr = int.from_bytes(buf[h + 8 + 2 * i:h + 10 + 2 * i], "big")
        payload = varint(buf, base + ptr, base + db.usable)
        key = varint(buf, payload[1], base + db.usable) if payload else None
        if key is None:
            return None
        keys.append(key[0] - (1 << 64) if key[0] >= 1 << 63 else key[0])
    return (keys[0], keys[1]) if keys else None


def _near_rows(db: _Db, out: Recovery, owner: dict[int, TableShape]) -> None:
    """Give each row found without its rowid on a live leaf of its own table the rowid range
    of that leaf and its two neighbours (see ``RecoveredRow.near``)."""
    index = {(name, n): i for name, leaves in out.leaves.items() for i, n in enumerate(leaves)}
    ranges: dict[tuple[str, int], tuple[int, int] | None] = {}
    for k, row in enumerate(out.rows):
        if row.rowid is not None or row.where not in ("freeblock", "unallocated"):
            continue
        if owner.get(row.page) is None or owner[row.page].name != row.table:
            continue
        key = (row.table, row.page)
        if key not in ranges:
            leaves = out.leaves[row.table]
            i = index[key]
            low = _leaf_keys(db, leaves[i - 1]) if i > 0 else (-(1 << 63), 0)
            high = _leaf_keys(db, leaves[i + 1]) if i + 1 < len(leaves) else (0, (1 << 63) - 1)
            ranges[key] = (low[0], high[1]) if low and high else None
        out.rows[k] = dataclasses.replace(row, near=ranges[key])
