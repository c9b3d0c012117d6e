"""The case store's connection: opening ``case.db`` (SQLite, WAL), write transactions,
waiting for another command's write lock, and telling a full disk from other errors.

Several commands may work on one case at once (two triages of different items, a listing
during a triage). Their writes take turns: a write transaction is ``BEGIN IMMEDIATE``
(:func:`write_transaction`), so a read-then-write never interleaves with another process's;
a command that waits for the lock more than :data:`NOTICE_AFTER` seconds says so on stderr
and goes on waiting, up to :data:`WAIT_LIMIT`.
"""
from __future__ import annotations

import errno
import os
import sqlite3
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence, TypeVar

from forensic.errors import CaseError, DiskFullError
from forensic.store import postgres

BUSY_TIMEOUT = 30.0               # seconds a single statement waits for another's write lock
NOTICE_AFTER = 2.0                # a write transaction waiting longer than this says so
WAIT_LIMIT = 600.0                # ... and gives up after this, with an error
WAIT_STEP = 0.25                  # the long wait in steps (signals are handled between them)
T = TypeVar("T")
WAITING_MESSAGE = "waiting for another forensic command on this case\u2026"


# -- writing: transactions, waiting, a full disk -------------------------------------------------
def _notice_stderr(message: str) -> None:
    try:
        print(message, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


# Where a command that waits for another says so (a caller may replace it).
notice: Callable[[str], None] = _notice_stderr

SQLITE_BUSY, SQLITE_IOERR, SQLITE_FULL = 5, 10, 13


def is_busy(exc: BaseException) -> bool:
    """``exc`` is SQLite's "database is locked": another connection holds the write lock (or
    PostgreSQL's lock or serialisation failure)."""
    if postgres.is_busy(exc):
        return True
    return isinstance(exc, sqlite3.OperationalError) and (
        (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF == SQLITE_BUSY
        or "database is locked" in str(exc))


def is_disk_full(exc: BaseException, root: Path | str | None = None) -> bool:
    """``exc`` comes from a full file system: ENOSPC/EDQUOT, SQLITE_FULL, or an SQLite I/O
    error while the file system holding ``root`` has (next to) no space left (SQLite reports
    a WAL index it cannot grow as an I/O error)."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if postgres.is_disk_full(exc):
        return True
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
    except Exception as exc:
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
            except Exception as failure:
                exc.add_note(f"rolling back failed too: {failure}")
        if not isinstance(exc, DiskFullError) and is_disk_full(exc, root):
            raise DiskFullError(root) from exc
        raise


def _begin_immediate(db: sqlite3.Connection) -> None:
    """Take the store's write lock; past :data:`NOTICE_AFTER` seconds of waiting for
    another command, say so (once) and go on waiting, up to :data:`WAIT_LIMIT`. The long
    wait is made of short ones, so that Ctrl-C and SIGTERM are handled meanwhile (SQLite's
    own wait does not return to Python until it gives up)."""
    if dialect(db) == "postgresql":
        db.execute("BEGIN IMMEDIATE")        # BEGIN and the case's write lock (postgres.Connection)
        return
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
                    raise kept_busy() from exc
            if deadline is None:
                notice(WAITING_MESSAGE)
                deadline = time.monotonic() + WAIT_LIMIT
                _set_busy_timeout(db, WAIT_STEP)
    finally:
        _set_busy_timeout(db, BUSY_TIMEOUT)


def kept_busy() -> CaseError:
    """The error of a write that waited :data:`WAIT_LIMIT` for another command's write lock."""
    return CaseError(f"another forensic command kept the case busy for more than {WAIT_LIMIT / 60:g} minutes",
                     hint="let it finish (or stop it), then run this command again")


def _set_busy_timeout(db: sqlite3.Connection, seconds: float) -> None:
    db.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")


def dialect(db: object) -> str:
    """Which SQL ``db`` speaks: ``"sqlite"`` or ``"postgresql"`` (see forensic.store.postgres)."""
    return getattr(db, "dialect", "sqlite")


def require_sqlite(db: object, what: str) -> None:
    """A CaseError when ``db`` is a PostgreSQL store, which does not have ``what`` yet."""
    if dialect(db) != "sqlite":
        raise CaseError(f"{what} is not available yet on a case whose store is on PostgreSQL",
                        hint="docs/lab-setup.md lists what a PostgreSQL store has so far")


def connect(path: "Path | str | postgres.Location") -> sqlite3.Connection:
    """A connection to the store at ``path``: rows as :class:`sqlite3.Row`, WAL, foreign keys
    on, autocommit outside :func:`write_transaction`. A :class:`~forensic.store.postgres.Location`
    connects to its PostgreSQL server instead (an object with the same interface)."""
    if isinstance(path, postgres.Location):
        return postgres.connect(path)  # type: ignore[return-value]
    db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


def commit(db: sqlite3.Connection) -> None:
    """End the write transaction ``db`` is in now, inside a :func:`write_transaction` block
    (which then has nothing left to commit): for a caller that must commit while it still
    holds another lock."""
    db.execute("COMMIT")


def stream(db: sqlite3.Connection, sql: str, args: Sequence[object], make: Callable[[sqlite3.Row], T]) -> Iterator[T]:
    """``make(row)`` of each row of ``sql``, from one cursor, closed when the generator ends
    or is closed (a listing of 100,000 files never builds a list)."""
    cursor = db.execute(sql, args)
    try:
        for row in cursor:
            yield make(row)
    finally:
        cursor.close()


def like_literal(text: str) -> str:
    """``text`` for a LIKE pattern with ``ESCAPE '!'``: its ``%`` and ``_`` mean themselves."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
