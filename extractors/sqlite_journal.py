"""Evidence SQLite databases with their rollback journal or write-ahead log.

A database can be found with a companion beside it (same folder, same name + suffix):

* a hot ``-journal`` (rollback mode; the device stopped inside a transaction): the database
  file holds the transaction's new pages, the journal the pages they replaced;
* a ``-wal`` (WAL mode): committed transactions not yet copied back into the database file
  live only there, and frames written after its last commit belong to an unfinished one.

Each database is read from a private copy in a private temporary folder, with its companion
copied beside it under a fixed name, and opened read-write there, so that SQLite itself rolls
the journal back or replays the log's committed frames, as it would on the device. The
evidence is only ever read. Two states are kept where they differ:

* committed: what SQLite recovers; records come from this state;
* uncommitted: the database as found without its journal (rollback mode), or with the log's
  frames after its last commit applied too (WAL mode): the unfinished transaction's view.

A companion is checked here first, the way SQLite reads it (header, sizes, checksums); one
that cannot be used (truncated, wrong header, part of a multi-database transaction) is left
out with a warning and the database is read as found. SQLite never sees a journal that ends
as one naming a super-journal does (its last 8 bytes the journal magic), whatever the record's
length and checksum say: that name is a path chosen by the evidence (absolute, or relative to
the working directory), and SQLite deletes a super-journal it finds and believes finished. The
rule is SQLite's own test (pager.c readSuperJournal), not a copy of its checksum: a copy that
differs by one detail (SQLite sums the name as ``char``, signed on x86, unsigned on ARM; a NUL
ends the name it opens but not the bytes it sums) lets a name through.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import struct
import tempfile
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

from forensic.extractors.base import ExtractorInput, Sibling

JOURNAL = "-journal"
WAL = "-wal"
SUFFIXES = (JOURNAL, WAL)
MAX_BYTES = 4 << 30                      # database or companion copied, at most
JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")
WAL_MAGIC = (0x377F0682, 0x377F0683)     # checksums little-endian / big-endian
WAL_VERSION = 3007000
PENDING_BYTE = 0x40000000
_M = 0xFFFFFFFF


@dataclass(slots=True)
class JournalCheck:
    """What a rollback journal holds, read as SQLite reads a hot journal."""

    hot: bool = False                    # SQLite would roll it back
    problem: str | None = None           # why it cannot be used (then it is left out)
    page_size: int = 0
    db_pages: int = 0                    # the database's size before the transaction
    pages: dict[int, int] = field(default_factory=dict)     # page number -> where its original content is


@dataclass(slots=True)
class WalCheck:
    """What a write-ahead log holds: its committed frames (salts and running checksum as SQLite
    checks them) and the frames of this log after the last commit (see check_wal)."""

    problem: str | None = None
    page_size: int = 0
    frames: int = 0                      # valid frames, committed or not
    committed: int = 0                   # frames up to and including the last commit frame
    tail: list[tuple[int, int, int]] = field(default_factory=list)   # after it: (page, commit size, data offset)
    torn: int = 0                        # bytes after the last whole frame (a write cut short)

    @property
    def after_commit(self) -> int:
        return len(self.tail)


@dataclass(slots=True)
class DatabaseStates:
    """An opened evidence database: the connection records come from, the other state's
    connection where the two differ, and what was found about the companion."""

    committed: sqlite3.Connection
    uncommitted: sqlite3.Connection | None = None
    summary: str = ""                    # what the companion did, for the warning on differences
    warnings: list[str] = field(default_factory=list)
    raw: str = ""                        # private copy of the file whose bytes hold the committed state: as
                                         # found, or rolled back (the bytes the device left, less the journal's)
    wal: str | None = None               # private copy of its write-ahead log, when one was used
    wal_committed: int = 0               # the log's frames up to its last commit


# -- checks -------------------------------------------------------------------------------------------

def _power_of_two(n: int, low: int, high: int) -> bool:
    return low <= n <= high and n & (n - 1) == 0


def check_journal(fh: BinaryIO, size: int) -> JournalCheck:
    """Parse a rollback journal as SQLite plays a hot one back (pager.c: readJournalHdr,
    pager_playback_one_page, readSuperJournal). Not hot: empty, or its first byte zero (a
    transaction committed in TRUNCATE or PERSIST mode). A journal that SQLite would play
    back only in part (cut short inside a record, a record failing its checksum) or not at
    all (wrong header) gets a ``problem``."""
    out = JournalCheck()
    fh.seek(0)
    head = fh.read(28)
    if size == 0 or not head or head[0] == 0:
        return out
    if ends_with_super_journal(fh, size):           # before anything else: never shown to SQLite
        out.problem = ("it ends with a super-journal record (a transaction over several databases; SQLite, "
                       "rolling the journal back, may delete the file the record names): whether that "
                       "transaction committed is not told by this folder")
        return out
    if len(head) < 28 or head[:8] != JOURNAL_MAGIC:
        out.problem = "its header is not a rollback journal's"
        return out
    _, _, db_pages, sector, page = struct.unpack(">5I", head[8:28])
    if not _power_of_two(page, 512, 65536) or not _power_of_two(sector, 32, 65536):
        out.problem = f"its header gives impossible sizes (page {page}, sector {sector})"
        return out
    if db_pages * page > MAX_BYTES:
        out.problem = f"its header gives a database of {db_pages * page:,} bytes"
        return out
    out.hot, out.page_size, out.db_pages = True, page, db_pages
    pending = PENDING_BYTE // page + 1
    record = page + 8
    end = size
    offset = 0
    while offset + sector <= end:
        fh.seek(offset)
        hdr = fh.read(16)
        if hdr[:8] != JOURNAL_MAGIC:
            break                                    # past the last segment
        n, init = struct.unpack(">2I", hdr[8:16])
        if n == 0xFFFFFFFF:                          # written without syncs: as many as fit
            n = (end - offset - sector) // record
        pos = offset + sector
        for i in range(n):
            fh.seek(pos)
            rec = fh.read(record)
            if len(rec) < record:
                out.problem = (f"it is truncated: record {i + 1} of {n} of the segment at byte {offset:,} "
                               f"ends past its end ({size:,} bytes)")
                return out
            number = int.from_bytes(rec[:4], "big")
            data = rec[4:4 + page]
            if number == 0 or number == pending:
                out.problem = f"record {i + 1} of the segment at byte {offset:,} names page {number}"
                return out
            if (init + sum(data[page - 200:0:-200])) & _M != int.from_bytes(rec[4 + page:], "big"):
                out.problem = f"record {i + 1} (page {number}) of the segment at byte {offset:,} fails its checksum"
                return out
            if number <= db_pages:
                out.pages[number] = pos + 4
            pos += record
        offset = ((pos + sector - 1) // sector) * sector
    return out


def ends_with_super_journal(fh: BinaryIO, size: int) -> bool:
    """Whether SQLite could read a super-journal name from this journal: it looks at the last 16
    bytes (name length, checksum, journal magic) and nothing else tells it there is a record.
    Any journal whose last 8 bytes are the magic counts, even where SQLite would then drop the
    name (length out of range, checksum failing): a page record ends in its checksum, a segment
    in zero padding, so an honest journal of one database ends in the magic only by a 2**-64
    chance, and no reading of the length or checksum can then be wrong."""
    if size < 16:                                    # SQLite reads no record from fewer bytes
        return False
    fh.seek(size - 8)
    return fh.read(8) == JOURNAL_MAGIC


def _wal_sum(data: bytes, s0: int, s1: int, big: bool) -> tuple[int, int]:
    words = struct.unpack(f"{'>' if big else '<'}{len(data) // 4}I", data)
    for a, b in zip(words[0::2], words[1::2], strict=True):      # SQLite sums whole 8-byte pairs
        s0 = (s0 + a + s1) & _M
        s1 = (s1 + b + s0) & _M
    return s0, s1


def check_wal(fh: BinaryIO, size: int) -> WalCheck:
    """Parse a write-ahead log as SQLite recovers one (wal.c: walIndexRecover): frames are
    valid while their salts match the header's and their running checksum holds; the
    committed ones end at the last valid frame that carries a database size. The frames
    after that commit that still carry the header's salts (or none: SQLite writes a
    transaction's later frames without salt or checksum once it has overwritten one of its
    frames in place, and fixes them at commit) are a transaction that was never committed
    (left unfinished, or rolled back): ``after_commit``. Frames of an earlier log (other
    salts) end the walk."""
    out = WalCheck()
    if size == 0:
        return out
    fh.seek(0)
    head = fh.read(32)
    if len(head) < 32:
        out.problem = f"it is shorter ({size} bytes) than a log header"
        return out
    magic, version, page, _, salt1, salt2, c1, c2 = struct.unpack(">8I", head)
    if magic not in WAL_MAGIC:
        out.problem = "its header is not a write-ahead log's"
        return out
    big = bool(magic & 1)
    if _wal_sum(head[:24], 0, 0, big) != (c1, c2):
        out.problem = "its header fails its checksum"
        return out
    if version != WAL_VERSION or not _power_of_two(page, 512, 65536):
        out.problem = f"its header gives an unknown version ({version}) or page size ({page})"
        return out
    out.page_size = page
    s0, s1 = c1, c2
    chained = True
    pos = 32
    frame = 24 + page
    while True:
        fh.seek(pos)
        raw = fh.read(frame)
        if len(raw) < frame:
            out.torn = len(raw)
            break
        number, commit, f1, f2, k1, k2 = struct.unpack(">6I", raw[:24])
        if number == 0 or max(number, commit) * page > MAX_BYTES:
            break
        if chained:
            if (f1, f2) == (salt1, salt2):
                s0, s1 = _wal_sum(raw[:8] + raw[24:], s0, s1, big)
                chained = (s0, s1) == (k1, k2)
            else:
                chained = False
        if not chained and (f1, f2) != (salt1, salt2) and (f1, f2, k1, k2) != (0, 0, 0, 0):
            break                                    # an earlier log's frames: not this one's
        out.frames += 1
        out.tail.append((number, commit, pos + 24))
        if chained and commit:
            out.committed = out.frames
            out.tail.clear()
        pos += frame
    return out


# -- copies -----------------------------------------------------------------------------------------

def _copy_input(item: ExtractorInput, dest: str) -> None:
    with open(dest, "wb") as out:
        if item.data is not None:
            out.write(item.data)
            return
        with item.stream() as src:
            _pump(src, out)


def _pump(src: BinaryIO, out: BinaryIO) -> int:
    n = 0
    while chunk := src.read(1 << 20):
        n += len(chunk)
        if n > MAX_BYTES:
            raise OSError(f"over the {MAX_BYTES:,} byte limit for a copy")
        out.write(chunk)
    return n


def _same_bytes(a: str, b: str) -> bool:
    """Whether two files hold the same bytes; stops at the first difference. (filecmp.cmp
    would do, but it caches verdicts by size and mtime, and these copies are rewritten.)"""
    if os.path.getsize(a) != os.path.getsize(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def _immutable(path: str, torn: bool = False) -> sqlite3.Connection:
    """A read-only connection to a private copy. ``torn``: a state caught inside a transaction,
    whose schema may name pages the transaction never wrote: schema errors are then passed
    over (``writable_schema``; nothing is written) so that the tables that are whole are read."""
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    if torn:
        conn.execute("PRAGMA writable_schema=ON")
    return conn


def _mode(path: str) -> str:
    """'wal' or 'rollback', from the database header's read/write versions."""
    with open(path, "rb") as f:
        head = f.read(20)
    return "wal" if len(head) == 20 and (head[18] == 2 or head[19] == 2) else "rollback"


def _recover(path: str) -> tuple[int, int] | None:
    """Open the copy read-write so SQLite recovers it (rolls a hot journal back, replays a
    log), fold a log into the file and leave the copy in rollback mode. For a log: SQLite's
    (frames in the log, frames checkpointed)."""
    conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        frames = None
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
            _, log, done = conn.execute("PRAGMA wal_checkpoint(FULL)").fetchone()
            frames = (log, done)
            conn.execute("PRAGMA journal_mode=DELETE").fetchone()
        return frames
    finally:
        conn.close()


# -- opening ---------------------------------------------------------------------------------------

@contextmanager
def open_database(item: ExtractorInput) -> Iterator[DatabaseStates]:
    """The database of ``item`` opened from private copies, with its ``-journal`` or ``-wal``
    (``item.siblings``) applied as SQLite applies them; the copies are deleted afterwards.
    Connections are read-only (``immutable``) on files nobody else writes."""
    folder = tempfile.mkdtemp(prefix="forensic-db-")
    try:
        with ExitStack() as stack:
            raw = os.path.join(folder, "as-found.db")
            _copy_input(item, raw)
            states = _states(item, folder, raw)
            states.raw = states.raw or raw
            stack.callback(states.committed.close)
            if states.uncommitted is not None:
                stack.callback(states.uncommitted.close)
            yield states
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _states(item: ExtractorInput, folder: str, raw: str) -> DatabaseStates:
    siblings = item.siblings or {}
    mode = _mode(raw)
    wanted = WAL if mode == "wal" else JOURNAL
    notes = []
    for suffix, sib in sorted(siblings.items()):
        if suffix in SUFFIXES and suffix != wanted:
            notes.append(f"{sib.name}: not used: the database header says {item.name} is in {mode} mode")
    sib = siblings.get(wanted)
    if sib is None:
        return DatabaseStates(_immutable(raw), warnings=notes)
    kept = os.path.join(folder, "companion")          # read here; SQLite deletes its own copy
    try:
        with sib.open() as src, open(kept, "wb") as out:
            size = _pump(src, out)
    except OSError as exc:
        notes.append(f"{sib.name}: not used (unreadable: {exc}); {item.name} is read as found")
        return DatabaseStates(_immutable(raw), warnings=notes)
    with open(kept, "rb") as fh:
        check = check_journal(fh, size) if wanted == JOURNAL else check_wal(fh, size)
    if check.problem:
        notes.append(f"{sib.name}: not used: {check.problem}; {item.name} is read as found"
                     + (" (it may hold the unfinished transaction's changes)" if wanted == JOURNAL else ""))
        return DatabaseStates(_immutable(raw), warnings=notes)
    if (wanted == JOURNAL and not check.hot) or (wanted == WAL and not check.frames):
        return DatabaseStates(_immutable(raw), warnings=notes)     # nothing SQLite would apply
    copy = os.path.join(folder, "committed.db")
    shutil.copyfile(raw, copy)
    try:
        os.link(kept, copy + wanted)
    except OSError:
        shutil.copyfile(kept, copy + wanted)
    try:
        counts = _recover(copy)
    except sqlite3.DatabaseError as exc:
        notes.append(f"{sib.name}: not used: SQLite could not apply it ({exc}); {item.name} is read as found")
        return DatabaseStates(_immutable(raw), warnings=notes)
    if wanted == JOURNAL:
        return _rolled_back(item, sib, check, raw, copy, kept, notes)
    return _replayed(item, sib, check, counts, copy, kept, folder, notes)


def _rolled_back(item, sib: Sibling, check: JournalCheck, raw: str, copy: str, kept: str,
                 notes: list[str]) -> DatabaseStates:
    mismatch = _restored_wrongly(copy, kept, check)
    if mismatch:
        notes.append(f"{sib.name}: SQLite did not roll it back as the journal reads ({mismatch}); records come "
                     "from what SQLite made of it")
    states = DatabaseStates(_immutable(copy), warnings=notes, raw=copy,
                            summary=f"hot journal {sib.name} (a transaction left unfinished) rolled back")
    if not _same_bytes(copy, raw):
        states.uncommitted = _immutable(raw, torn=True)
    return states


def _restored_wrongly(copy: str, kept: str, check: JournalCheck) -> str | None:
    """Why the rolled-back copy is not the journal's pages over the database, if it is not."""
    journal = copy + JOURNAL
    if os.path.exists(journal) and os.path.getsize(journal):
        with open(journal, "rb") as f:
            if f.read(1) != b"\0":
                return "the journal is still hot"
    page = check.page_size
    if os.path.getsize(copy) != check.db_pages * page:
        return f"size {os.path.getsize(copy):,} bytes, not {check.db_pages * page:,}"
    with open(copy, "rb") as f, open(kept, "rb") as j:
        for number, offset in check.pages.items():
            f.seek((number - 1) * page)
            j.seek(offset)
            if f.read(page) != j.read(page):
                return f"page {number} differs"
    return None


def _replayed(item, sib: Sibling, check: WalCheck, counts: tuple[int, int] | None, copy: str, kept: str,
              folder: str, notes: list[str]) -> DatabaseStates:
    if check.torn:
        notes.append(f"{sib.name}: ends {check.torn:,} bytes into a frame (a write cut short, or the copy of the "
                     "log is truncated); the frames before it are used")
    if counts is None:
        notes.append(f"{sib.name}: SQLite did not open it as the database's log; records come from the "
                     "database alone")
    elif counts[0] != check.committed:
        notes.append(f"{sib.name}: SQLite replayed {counts[0]} frames where the log reads {check.committed} "
                     "committed ones; records come from what SQLite made of it")
    states = DatabaseStates(_immutable(copy), warnings=notes, wal=kept, wal_committed=check.committed,
                            summary=f"write-ahead log {sib.name}: {check.committed} committed frames replayed, "
                                    f"{check.after_commit} frames after its last commit (a transaction never "
                                    "committed: left unfinished or rolled back) ignored, as SQLite does")
    if check.tail:                               # the committed state with the other frames applied
        uncommitted = os.path.join(folder, "uncommitted.db")
        shutil.copyfile(copy, uncommitted)
        _apply_frames(uncommitted, kept, check)
        states.uncommitted = _immutable(uncommitted, torn=True)
    return states


def _apply_frames(path: str, wal: str, check: WalCheck) -> None:
    """Write the pages of the frames after the last commit into a copy of the committed
    state, in log order (a commit frame sets the size, as SQLite does), and mark the copy as
    a rollback-mode database of the size reached: SQLite then looks for no log beside it."""
    page = check.page_size
    with open(wal, "rb") as src, open(path, "r+b") as out:
        size = out.seek(0, os.SEEK_END) // page
        for number, commit, offset in check.tail:
            src.seek(offset)
            out.seek((number - 1) * page)
            out.write(src.read(page))
            size = commit or max(size, number)
        out.truncate(size * page)
        out.seek(18)
        out.write(b"\x01\x01")
        out.seek(28)
        out.write(size.to_bytes(4, "big"))
