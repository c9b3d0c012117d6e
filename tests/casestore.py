"""A case folder's store for the tests, whichever backend the run makes cases on (SQLite's
``case.db``, or a schema on the run's PostgreSQL server named in ``store.json``): opening it
to look or to tamper as an attacker who can write it would, and copying a case with its
store (a copied ``store.json`` alone would share the original's schema)."""
from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

from forensic.store import db as store_db, postgres, schema

DB_NAME = "case.db"
# the backend the run makes its cases on (tests/conftest.py)
BACKEND = os.environ.get("FORENSIC_TEST_BACKEND", "sqlite")
# a test of a store of an older schema version: SQLite's (a store on PostgreSQL is made at the
# current version), skipped in a PostgreSQL run (tests/conftest.py)
older_versions = pytest.mark.sqlite_only


def is_postgres(root: Path) -> bool:
    return (Path(root) / postgres.STORE_FILE).is_file() and not (Path(root) / DB_NAME).exists()


def connect(root: Path) -> Any:
    """A connection of its own to the store of the case in ``root`` (no migration)."""
    root = Path(root)
    return store_db.connect(postgres.Location.read(root) if is_postgres(root) else root / DB_NAME)


@contextmanager
def opened(root: Path) -> Iterator[Any]:
    """:func:`connect`, closed at the end of the block."""
    db = connect(root)
    try:
        yield db
    finally:
        db.close()


def count(root: Path, sql: str, args: tuple = ()) -> Any:
    """The one value ``sql`` gives in the store of ``root``."""
    with opened(root) as db:
        return db.execute(sql, args).fetchone()[0]


@contextmanager
def tampered(root: Path) -> Iterator[Any]:
    """The store of ``root`` opened by someone who changes it behind forensic's back: one
    transaction, committed at the end, with no foreign key checked (and on PostgreSQL no
    trigger run: the custody tables' append-only triggers are off, as a superuser can turn
    them off)."""
    db = connect(root)
    try:
        if store_db.dialect(db) == "postgresql":
            db.execute("BEGIN")
            db.execute("SET LOCAL session_replication_role = replica")
        else:
            db.execute("PRAGMA foreign_keys=OFF")
            db.execute("BEGIN")
        yield db
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    finally:
        db.close()


def each_backend(pg_server: Any) -> Iterator[str]:
    """``"sqlite"``, then ``"postgresql"``, with ``$FORENSIC_STORE`` set for each meanwhile (unset,
    then a new database on ``pg_server``), so a ``case init`` in the loop makes its case on that
    backend; the variable is as it was once the loop ends."""
    with pytest.MonkeyPatch.context() as env:
        for backend in ("sqlite", "postgresql"):
            if backend == "sqlite":
                env.delenv("FORENSIC_STORE", raising=False)
            else:
                env.setenv("FORENSIC_STORE", pg_server.new_database())
            yield backend


def copy_store(src: Path, dst: Path) -> None:
    """Copy the store of the case in ``src`` into the folder ``dst`` (made if need be):
    ``case.db`` as a file, or every table of its PostgreSQL schema into a new schema on the
    same database, named in ``dst/store.json``."""
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    if not is_postgres(src):
        with sqlite3.connect(src / DB_NAME) as a, sqlite3.connect(dst / DB_NAME) as b:
            a.backup(b)                   # what the WAL holds too
        a.close()
        b.close()
        return
    old = postgres.Location.read(src)
    new = postgres.Location(old.url, f"copy_{uuid.uuid4().hex[:20]}")
    db = postgres.connect(new)
    try:
        db.execute("BEGIN")
        db.execute(f'CREATE SCHEMA "{new.schema}"')
        for statement in schema.postgres_tables():
            db.execute(statement)
        # rows copied as they are: no trigger (append-only, keys) nor foreign key checked
        db.execute("SET LOCAL session_replication_role = replica")
        tables = [r[0] for r in db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
            "AND table_type = 'BASE TABLE' ORDER BY table_name", (old.schema,))]
        for table in tables:
            cols = ", ".join(f'"{r[0]}"' for r in db.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
                "ORDER BY ordinal_position", (old.schema, table)))
            db.execute(f'INSERT INTO "{new.schema}"."{table}" ({cols}) OVERRIDING SYSTEM VALUE '
                       f'SELECT {cols} FROM "{old.schema}"."{table}"')
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    finally:
        db.close()
    (dst / postgres.STORE_FILE).write_text(new.to_json(), encoding="utf-8")


def copy_case(src: Path, dst: Path) -> Path:
    """The whole case folder ``src`` copied to ``dst`` (which must not exist), its store too."""
    src, dst = Path(src), Path(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(DB_NAME, DB_NAME + "-*", postgres.STORE_FILE))
    copy_store(src, dst)
    return dst
