"""A case: a folder holding ``case.db`` (SQLite, WAL) and the custody log.

Every write goes through a transaction, so an interrupted command leaves either the
old state or the new one, never half of it.

Several commands may work on one case at once (two triages of different items, a listing
during a triage). Their writes take turns:

* a write transaction is ``BEGIN IMMEDIATE`` (:func:`write_transaction`): it holds the
  store's write lock from its first read, so a read-then-write never interleaves with
  another process's; a command that waits for the lock more than :data:`NOTICE_AFTER`
  seconds says so on stderr and goes on waiting;
* lock order: the store's write lock first, then the custody log's ``flock``. A triage
  batch writes its custody leaves inside its transaction, and a custody checkpoint (which
  keeps a copy in the store) takes the store's lock before the log's, so no two commands
  ever hold one lock each while waiting for the other's;
* one triage of an evidence item at a time (:meth:`Case.item_lock`): a second one of the
  same item is refused, as it would store the item twice.

A full disk (ENOSPC, SQLite's "database or disk is full") is :class:`DiskFullError`: the
transaction is rolled back and the command can be run again once space is freed.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import socket
import sqlite3
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from forensic.errors import CaseError, DiskFullError
from forensic.timestamps import iso_utc, now_utc

DB_NAME = "case.db"
SCHEMA_VERSION = 1
LOCKS_DIR = "locks"               # CASE/locks/: one flock file per item being triaged
BUSY_TIMEOUT = 30.0               # seconds a single statement waits for another's write lock
NOTICE_AFTER = 2.0                # a write transaction waiting longer than this says so
WAIT_LIMIT = 600.0                # ... and gives up after this, with an error
WAIT_STEP = 0.25                  # the long wait in steps (signals are handled between them)
WAITING_MESSAGE = "waiting for another forensic command on this case\u2026"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    item TEXT PRIMARY KEY,
    source_path TEXT NOT NULL,
    format TEXT NOT NULL,
    description TEXT,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    md5 TEXT NOT NULL,
    acquisition_hashes TEXT NOT NULL DEFAULT '{}',
    acquisition_hash_verified INTEGER,
    details TEXT NOT NULL DEFAULT '{}',
    added_at TEXT NOT NULL,
    triaged_at TEXT,
    triage_summary TEXT
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    item TEXT NOT NULL REFERENCES items(item),
    locator TEXT NOT NULL,
    path TEXT NOT NULL,
    layers TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    size INTEGER,
    sha256 TEXT,
    md5 TEXT,
    sha1 TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    allocated INTEGER NOT NULL DEFAULT 1,
    mime TEXT,
    magic TEXT,
    extension_mismatch INTEGER NOT NULL DEFAULT 0,
    modified_at TEXT, accessed_at TEXT, changed_at TEXT, born_at TEXT,
    times_tz_known INTEGER NOT NULL DEFAULT 1,
    times_tz_source TEXT,
    inode TEXT,
    link_target TEXT,
    warnings INTEGER NOT NULL DEFAULT 0,
    UNIQUE(item, locator)
);
CREATE INDEX IF NOT EXISTS files_sha256 ON files(sha256);
CREATE INDEX IF NOT EXISTS files_mime ON files(item, mime);
CREATE TABLE IF NOT EXISTS warnings (
    id INTEGER PRIMARY KEY,
    item TEXT NOT NULL,
    locator TEXT,
    stage TEXT NOT NULL,
    message TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS artifacts (
    id INTEGER PRIMARY KEY,
    item TEXT NOT NULL,
    file_id INTEGER REFERENCES files(id),
    record_type TEXT NOT NULL,
    extractor TEXT NOT NULL,
    source_ref TEXT,
    fields TEXT NOT NULL,
    corrupted INTEGER NOT NULL DEFAULT 0,
    warnings TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS artifacts_type ON artifacts(record_type, item);
CREATE TABLE IF NOT EXISTS timestamps (
    artifact_id INTEGER REFERENCES artifacts(id),
    file_id INTEGER REFERENCES files(id),
    label TEXT NOT NULL,
    utc TEXT,
    local TEXT,
    tz_known INTEGER NOT NULL,
    tz_source TEXT NOT NULL,
    raw TEXT
);
CREATE INDEX IF NOT EXISTS timestamps_utc ON timestamps(utc);
CREATE TABLE IF NOT EXISTS triage_progress (
    item TEXT NOT NULL,
    unit TEXT NOT NULL,
    done_at TEXT NOT NULL,
    PRIMARY KEY(item, unit)
);
"""


@dataclass
class Case:
    root: Path
    db: sqlite3.Connection

    # -- opening -----------------------------------------------------------------
    @classmethod
    def init(cls, root: Path, case_id: str, examiner: str, organisation: str | None = None) -> "Case":
        root = Path(root)
        if (root / DB_NAME).exists():
            raise CaseError(f"a case already exists in {root}",
                            hint="open it with --case, or choose another folder")
        root.mkdir(parents=True, exist_ok=True)
        db = _connect(root / DB_NAME)
        with db:
            db.executescript(_SCHEMA)
            meta = {
                "schema_version": str(SCHEMA_VERSION),
                "case_id": case_id,
                "examiner": examiner,
                "organisation": organisation or "",
                "created_at": iso_utc(now_utc()),
            }
            db.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", meta.items())
        return cls(root, db)

    def reconnected(self) -> "Case":
        """This case on a database connection of its own, opened as :meth:`open` opens it
        (a forked child process must not use its parent's connection)."""
        return Case(self.root, _connect(self.root / DB_NAME))

    @classmethod
    def open(cls, root: Path | str | None) -> "Case":
        root = Path(root if root is not None else os.environ.get("FORENSIC_CASE", "."))
        path = root / DB_NAME
        if not path.is_file():
            raise CaseError(f"no case in {root} (no {DB_NAME})",
                            hint="create one with 'forensic case init DIR', or pass --case DIR / set FORENSIC_CASE")
        try:
            db = _connect(path)
            db.executescript(_SCHEMA)  # idempotent: adds tables newer versions introduced
            _migrate(db)
            version = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            if is_disk_full(exc, root):     # e.g. no room for the WAL index (case.db-shm)
                raise DiskFullError(root) from exc
            raise CaseError(f"the case store {path} cannot be read: {exc}") from exc
        if version is None:
            raise CaseError(f"{path} is not a forensic case store (no schema version)")
        if int(version[0]) > SCHEMA_VERSION:
            raise CaseError(f"case store schema {version[0]} is newer than this tool understands",
                            hint="upgrade forensic")
        return cls(root, db)

    def close(self) -> None:
        self.db.close()

    # -- metadata ------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta"))

    @property
    def case_id(self) -> str:
        return self.meta()["case_id"]

    @property
    def examiner(self) -> str:
        return self.meta()["examiner"]

    def transaction(self):
        """One atomic unit of work (BEGIN IMMEDIATE .. COMMIT, rolled back on error; see
        :func:`write_transaction`)."""
        return write_transaction(self.db, self.root)

    @contextmanager
    def item_lock(self, item: str, purpose: str = "triage") -> Iterator[None]:
        """Hold ``item`` for this command alone (across processes) while it does
        ``purpose``; :class:`CaseError` at once when another command holds it. An ``flock``
        on a file in ``CASE/locks/``: the system releases it if the process dies."""
        folder = self.root / LOCKS_DIR
        digest = hashlib.sha256(item.encode("utf-8", "surrogatepass")).hexdigest()[:24]
        path = folder / f"{purpose}-{digest}.lock"
        try:
            folder.mkdir(exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if is_disk_full(exc, self.root):
                raise DiskFullError(self.root) from exc
            raise CaseError(f"cannot create the lock file {path}: {exc.strerror or exc}") from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                raise CaseError(
                    f"evidence item {item!r} is being {_GERUNDS.get(purpose, purpose)} by another "
                    "forensic command right now" + (f" ({holder})" if holder else ""),
                    hint="let that command finish (two at once would store the item twice); "
                         "then run this one again if anything is left to do") from None
            try:                           # who holds it, for the message above (best effort)
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"process {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
            except OSError:
                pass
            yield
        finally:
            os.close(fd)

    # -- items -----------------------------------------------------------------------
    def item(self, item: str) -> sqlite3.Row:
        row = self.db.execute("SELECT * FROM items WHERE item=?", (item,)).fetchone()
        if row is None:
            known = [r[0] for r in self.db.execute("SELECT item FROM items ORDER BY item")]
            raise CaseError(f"no evidence item {item!r} in this case",
                            hint=("items: " + ", ".join(known)) if known else "add one with 'forensic evidence add'")
        return row

    def items(self) -> list[sqlite3.Row]:
        return list(self.db.execute("SELECT * FROM items ORDER BY added_at, item"))


def stored_path(path: Path) -> str | bytes:
    """A path as the case store keeps it: text, or its bytes (a BLOB) when the name is not
    UTF-8, so the evidence can be opened again by its exact name."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return os.fsencode(text)


def item_source(row) -> Path:
    """The evidence source path of an ``items`` row (see :func:`stored_path`)."""
    value = row["source_path"]
    return Path(os.fsdecode(value) if isinstance(value, bytes) else value)


def _migrate(db: sqlite3.Connection) -> None:
    """Columns added after a table was first created (same schema version: additive only)."""
    cols = {r[1] for r in db.execute("PRAGMA table_info(files)")}
    if "times_tz_source" not in cols:
        db.execute("ALTER TABLE files ADD COLUMN times_tz_source TEXT")


# -- writing: transactions, waiting, a full disk -------------------------------------------------
def _notice_stderr(message: str) -> None:
    try:
        print(message, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


# Where a command that waits for another says so (a caller may replace it).
notice: Callable[[str], None] = _notice_stderr

_GERUNDS = {"triage": "triaged"}
SQLITE_BUSY, SQLITE_IOERR, SQLITE_FULL = 5, 10, 13


def is_busy(exc: BaseException) -> bool:
    """``exc`` is SQLite's "database is locked": another connection holds the write lock."""
    return isinstance(exc, sqlite3.OperationalError) and (
        (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF == SQLITE_BUSY
        or "database is locked" in str(exc))


def is_disk_full(exc: BaseException, root: Path | str | None = None) -> bool:
    """``exc`` comes from a full file system: ENOSPC/EDQUOT, SQLITE_FULL, or an SQLite I/O
    error while the file system holding ``root`` has (next to) no space left (SQLite reports
    a WAL index it cannot grow as an I/O error)."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if not isinstance(exc, sqlite3.Error):
        return False
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if code == SQLITE_FULL or "database or disk is full" in str(exc):
        return True
    if (code == SQLITE_IOERR or "disk I/O error" in str(exc)) and root is not None:
        try:
            st = os.statvfs(root)
        except OSError:
            return False
        return st.f_bavail * st.f_frsize < (1 << 20)
    return False


@contextmanager
def write_transaction(db: sqlite3.Connection, root: Path | str | None = None) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` .. ``COMMIT`` on ``db``; rolled back on any error (and when the
    error already ended it: SQLite rolls back by itself on a full disk, and a second
    ROLLBACK would hide the first error). An error from a full disk becomes
    :class:`DiskFullError`. ``root``: the case folder (for the messages). The block may
    COMMIT by itself (to commit while it still holds another lock)."""
    try:
        _begin_immediate(db)
    except sqlite3.Error as exc:
        if is_disk_full(exc, root):
            raise DiskFullError(root) from exc
        raise
    try:
        yield db
        if db.in_transaction:
            db.execute("COMMIT")
    except BaseException as exc:
        if db.in_transaction:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error as failure:
                exc.add_note(f"rolling back failed too: {failure}")
        if not isinstance(exc, DiskFullError) and is_disk_full(exc, root):
            raise DiskFullError(root) from exc
        raise


def _begin_immediate(db: sqlite3.Connection) -> None:
    """Take the store's write lock; past :data:`NOTICE_AFTER` seconds of waiting for
    another command, say so (once) and go on waiting, up to :data:`WAIT_LIMIT`. The long
    wait is made of short ones, so that Ctrl-C and SIGTERM are handled meanwhile (SQLite's
    own wait does not return to Python until it gives up)."""
    deadline = None
    try:
        _set_busy_timeout(db, NOTICE_AFTER)
        while True:
            try:
                db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
                if deadline is not None and time.monotonic() > deadline:
                    raise CaseError(f"another forensic command kept the case busy for more than "
                                    f"{WAIT_LIMIT / 60:g} minutes",
                                    hint="let it finish (or stop it), then run this command "
                                         "again") from exc
            if deadline is None:
                notice(WAITING_MESSAGE)
                deadline = time.monotonic() + WAIT_LIMIT
                _set_busy_timeout(db, WAIT_STEP)
    finally:
        _set_busy_timeout(db, BUSY_TIMEOUT)


def _set_busy_timeout(db: sqlite3.Connection, seconds: float) -> None:
    db.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


def loads(text: str | None, default=None):
    return json.loads(text) if text else default
