"""The case store on a PostgreSQL server (psycopg 3), for a lab where several examiners and
machines work on one case.

A case on PostgreSQL is a folder as on SQLite (the custody log, its checkpoints, keys and
locks stay files there; the folder is on storage every examiner's machine shares) whose
``store.json`` names the server and the *schema* holding the case's tables: one schema per
case, so one database serves many cases and access is granted per case
(``docs/lab-setup.md``). No password is ever written there: libpq takes it from
``~/.pgpass``, ``PGPASSFILE`` or ``PGPASSWORD``.

:class:`Connection` gives the store's modules the part of :class:`sqlite3.Connection` they use,
so one module serves both backends. The store's SQL is written in the part of SQL the two
share (``INSERT .. ON CONFLICT``, ``RETURNING``, ``NULLS FIRST``); where they differ it asks
:func:`forensic.store.db.dialect`. What is translated here is the placeholders only: the
store writes ``?``, psycopg wants ``%s`` (and a literal ``%`` doubled). Rows come back as
:class:`Row`, which like :class:`sqlite3.Row` is read by position or by column name.

Writes take turns as on SQLite: a write transaction takes a transaction-level advisory lock
for the case's schema first (:func:`begin_write`), so a read-then-write of one command never
interleaves with another's, on any machine.
"""
from __future__ import annotations

import functools
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

from forensic.errors import CaseError

STORE_FILE = "store.json"         # CASE/store.json: where a case's store is, when not case.db
SCHEMES = ("postgresql", "postgres")


# -- where a case's store is ----------------------------------------------------------------------
@dataclass(frozen=True)
class Location:
    """A case's store on a server: ``url`` (libpq, no password) and ``schema``."""
    url: str
    schema: str

    def __post_init__(self) -> None:
        check_schema(self.schema)       # the name is written into SQL text (search_path, CREATE SCHEMA)

    def __str__(self) -> str:
        return f"{self.url} (schema {self.schema})"

    def to_json(self) -> str:
        return json.dumps({"backend": "postgresql", "url": self.url, "schema": self.schema},
                          indent=2) + "\n"

    @classmethod
    def read(cls, root: Path) -> "Location":
        path = root / STORE_FILE
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            if d.get("backend") != "postgresql":
                raise ValueError(f"unknown backend {d.get('backend')!r}")
            return cls(str(d["url"]), str(d["schema"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, CaseError) as exc:
            raise CaseError(f"{path} cannot be read: {exc}",
                            hint="it names the case's PostgreSQL store: "
                                 '{"backend": "postgresql", "url": "postgresql://…", "schema": "…"}') from exc


def is_url(store: str) -> bool:
    return urlsplit(store).scheme in SCHEMES


def without_password(url: str) -> str:
    """``url`` with any password taken out (libpq finds it in ~/.pgpass or PGPASSWORD)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = (f"{parts.username}@" if parts.username else "") + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def check_schema(name: str) -> str:
    if not _SCHEMA_NAME.fullmatch(name) or name.startswith("pg_") or name in ("public", "information_schema"):
        raise CaseError(f"{name!r} cannot be a case's schema name",
                        hint="lower-case letters, digits and _, at most 63, not starting with a digit or pg_")
    return name


def schema_for(case_id: str) -> str:
    """The default schema name of a case: ``case_`` and its id, lower case, other characters
    as ``_``."""
    slug = re.sub(r"[^a-z0-9_]", "_", case_id.lower()).strip("_") or "case"
    return check_schema(("case_" + slug)[:63])


# -- the connection ---------------------------------------------------------------------------------
class Row(tuple):
    """A result row read by position or by column name (as :class:`sqlite3.Row`)."""
    _names: dict[str, int]

    def __new__(cls, values: Sequence[Any], names: dict[str, int]) -> "Row":
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._names[key])
            except KeyError:
                raise IndexError(f"no such column: {key}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor: Any) -> Any:
    desc = cursor.description
    if desc is None:
        return tuple
    names: dict[str, int] = {}
    for i, col in enumerate(desc):
        names.setdefault(col.name, i)
    return lambda values: Row(values, names)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@functools.lru_cache(maxsize=2048)
def placeholders(sql: str) -> str:
    """``sql`` with its placeholders as psycopg's: ``?`` as ``%s``, ``:name`` as ``%(name)s``
    (a ``::`` cast stays), each literal ``%`` doubled; quoted strings, quoted names and
    comments are left as they are (a ``?`` in them is text)."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":
            j = sql.find(c, i + 1)
            while j != -1 and j + 1 < n and sql[j + 1] == c:       # '' and "" inside
                j = sql.find(c, j + 2)
            j = n if j == -1 else j + 1
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j == -1 else j
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j == -1 else j + 2
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif c == "?":
            out.append("%s")
            i += 1
        elif c == ":" and sql.startswith("::", i):
            out.append("::")
            i += 2
        elif c == ":" and (m := _NAME.match(sql, i + 1)) and not _NAME.match(sql[i - 1:i]):
            out.append(f"%({m.group()})s")
            i = m.end()
        elif c == "%":
            out.append("%%")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _params(args: Any) -> Any:
    # SQLite keeps True/False as 1/0 in its INTEGER columns; so does the PostgreSQL layout
    if args is None:
        return []
    if isinstance(args, Mapping):
        return {k: int(v) if isinstance(v, bool) else v for k, v in args.items()}
    return [int(a) if isinstance(a, bool) else a for a in args]


def _numeric_loader() -> type:
    """A loader of PostgreSQL's ``numeric`` (what SUM of BIGINT and AVG give) as SQLite gives
    those: a whole number as int, any other as float (never Decimal)."""
    from psycopg.adapt import Loader

    class NumericLoader(Loader):
        def load(self, data: Any) -> Any:
            text = bytes(data).decode("ascii")
            if text.lstrip("-").isdigit():
                return int(text)
            return float(text)
    return NumericLoader


class Connection:
    """A psycopg connection with the part of :class:`sqlite3.Connection`'s interface the
    store uses (``execute``, ``executemany``, ``in_transaction``, ``close``). Autocommit
    outside the transactions the store begins itself (``BEGIN`` .. ``COMMIT``)."""
    dialect = "postgresql"

    def __init__(self, location: Location) -> None:
        import psycopg
        self.location = location
        try:
            # store.json names who made the case; each examiner connects as themselves when
            # PGUSER says so (a URL's user would otherwise win over libpq's PGUSER)
            self._conn = psycopg.connect(location.url, autocommit=True, row_factory=_row_factory,
                                         application_name="forensic", user=os.environ.get("PGUSER") or None)
        except psycopg.Error as exc:
            raise CaseError(f"cannot connect to the case store {location.url}: {str(exc).strip()}",
                            hint="check the server, the URL in store.json, and that your password "
                                 "is in ~/.pgpass or PGPASSWORD") from exc
        self._conn.adapters.register_loader("numeric", _numeric_loader())
        self._conn.execute(f'SET search_path TO "{location.schema}", public')

    def execute(self, sql: str, args: Sequence[Any] | Mapping[str, Any] | None = ()) -> Any:
        try:
            if sql == "BEGIN IMMEDIATE":
                self._begin_write()
                return self._conn.cursor()
            cur = self._conn.cursor()
            cur.execute(placeholders(sql), _params(args))
            return cur
        except Exception as exc:
            self._check_connection(exc)
            raise

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        try:
            cur = self._conn.cursor()
            cur.executemany(placeholders(sql), [_params(r) for r in rows])
            return cur
        except Exception as exc:
            self._check_connection(exc)
            raise

    def _check_connection(self, exc: BaseException) -> None:
        """A CaseError instead of ``exc`` when the connection itself is gone (the server
        restarted or stopped, the network dropped, the session was ended): nothing a command
        can go on with, and no bug. The server rolled back what was not committed."""
        import psycopg
        # a plain OperationalError is libpq's own (no SQLSTATE): the connection failing, as a
        # batch sent in pipeline mode meets it before the connection is marked broken
        gone = (psycopg.errors.AdminShutdown, psycopg.errors.CrashShutdown, psycopg.errors.CannotConnectNow)
        if self._conn.broken or self._conn.closed or type(exc) is psycopg.OperationalError \
                or isinstance(exc, gone):
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CaseError(f"the connection to the case store {self.location.url} was lost: {first}",
                            hint="what was committed is kept; once the server is back, run the "
                                 "command again (a triage resumes where it stopped)") from exc

    def _begin_write(self) -> None:
        """SQLite's ``BEGIN IMMEDIATE``: BEGIN, then the case's write lock (an advisory lock
        named after its schema, released when the transaction ends), waiting for another
        command as :func:`forensic.store.db.write_transaction` waits on SQLite: in short
        steps, saying so past NOTICE_AFTER, giving up past WAIT_LIMIT."""
        from forensic.store import db as store_db
        started = time.monotonic()
        noticed = False
        while True:
            self._conn.execute("BEGIN")
            try:
                row = self._conn.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))",
                                         (self.location.schema,)).fetchone()
                got = bool(row and row[0])
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            if got:
                return
            self._conn.execute("ROLLBACK")
            waited = time.monotonic() - started
            if waited > store_db.WAIT_LIMIT:
                raise store_db.kept_busy()
            if waited > store_db.NOTICE_AFTER and not noticed:
                store_db.notice(store_db.WAITING_MESSAGE)
                noticed = True
            time.sleep(0.05 if waited < store_db.NOTICE_AFTER else store_db.WAIT_STEP)

    def require_schema(self) -> None:
        """A CaseError unless the case's schema is where this session's names lead: PostgreSQL
        skips a schema on the search path that does not exist or that the role may not use
        (no ``USAGE``), and would look for the store's tables in ``public`` instead."""
        schema = self.location.schema
        row = self.execute("SELECT current_schema(), current_user, "
                           "EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = ?)", (schema,)).fetchone()
        if row[0] == schema:
            return
        if not row[2]:
            raise CaseError(f"the case's schema {schema!r} does not exist on {self.location.url}",
                            hint="store.json names it: check that it names this case's schema and server")
        raise CaseError(f"the role {row[1]!r} may not use the case's schema {schema!r} on {self.location.url}",
                        hint="the lab's administrator grants it (docs/lab-setup.md, grants.sql), or "
                             "set PGUSER to your own examiner role")

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus
        return self._conn.info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(location: Location) -> Connection:
    return Connection(location)


def is_error(exc: BaseException) -> bool:
    """``exc`` is psycopg's (told without importing psycopg: most commands never need it)."""
    return type(exc).__module__.startswith("psycopg")


def is_busy(exc: BaseException) -> bool:
    if not is_error(exc):
        return False
    import psycopg
    return isinstance(exc, (psycopg.errors.LockNotAvailable, psycopg.errors.SerializationFailure,
                            psycopg.errors.DeadlockDetected))


def is_disk_full(exc: BaseException) -> bool:
    if not is_error(exc):
        return False
    import psycopg
    return isinstance(exc, psycopg.errors.DiskFull)

