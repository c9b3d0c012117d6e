"""A case: a folder holding ``case.db`` (SQLite, WAL) and the custody log.

Every write goes through a transaction, so an interrupted command leaves either the
old state or the new one, never half of it.

Several commands may work on one case at once (two triages of different items, a listing
during a triage). Their writes take turns:

* a write transaction is ``BEGIN IMMEDIATE`` (:func:`write_transaction`): it holds the
  store's write lock from its first read, so a read-then-write never interleaves with
  another process's; a command that waits for the lock more than a few
  seconds says so on stderr and goes on waiting (:mod:`forensic.store.db`);
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

import fcntl
import hashlib
import json
import os
import socket
import sqlite3
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from forensic.errors import CaseError, DiskFullError
from forensic.store import items as store_items, postgres, schema
from forensic.store.db import connect, is_disk_full, write_transaction  # noqa: F401  (re-exported)
from forensic.store.records import Item
from forensic.timestamps import iso_utc, now_utc

DB_NAME = "case.db"
SCHEMA_VERSION = schema.SCHEMA_VERSION
# The custody log's file (chain_of_custody.log.LOG_NAME: the core may not import the custody
# layer, so the name is repeated here; a test checks they agree)
CUSTODY_LOG = "custody.jsonl"
LOCKS_DIR = "locks"               # CASE/locks/: one flock file per item being triaged
_GERUNDS = {"triage": "triaged"}


@dataclass
class Case:
    root: Path
    db: sqlite3.Connection

    # -- opening -----------------------------------------------------------------
    @classmethod
    def init(cls, root: Path, case_id: str, examiner: str, organisation: str | None = None, *,
             store: str | None = None, store_schema: str | None = None) -> "Case":
        """A new case in the folder ``root``; its store is ``case.db`` there, or with
        ``store`` (a ``postgresql://`` URL; default ``$FORENSIC_STORE``) the schema
        ``store_schema`` (default: from the case id) on that server, named in
        ``root/store.json``."""
        root = Path(root)
        if store is None:
            store = os.environ.get("FORENSIC_STORE") or None
        if (root / DB_NAME).exists() or (root / postgres.STORE_FILE).exists():
            raise CaseError(f"a case already exists in {root}",
                            hint="open it with --case, or choose another folder")
        meta = {"case_id": case_id, "examiner": examiner, "organisation": organisation or "",
                "created_at": iso_utc(now_utc())}
        if store is None:
            root.mkdir(parents=True, exist_ok=True)
            db = connect(root / DB_NAME)
            schema.create(db, meta)
            return cls(root, db)
        if not postgres.is_url(store):
            raise CaseError(f"--store {store!r} is not a store this tool knows",
                            hint="a PostgreSQL URL: postgresql://USER@HOST/DATABASE")
        location = postgres.Location(postgres.without_password(store),
                                     store_schema or postgres.schema_for(case_id))
        db = connect(location)
        try:
            root.mkdir(parents=True, exist_ok=True)     # first: a folder not made leaves no schema behind
            schema.create(db, meta)
            tmp = root / (postgres.STORE_FILE + ".tmp")
            tmp.write_text(location.to_json(), encoding="utf-8")
            os.replace(tmp, root / postgres.STORE_FILE)
        except BaseException:
            db.close()
            raise
        return cls(root, db)

    @staticmethod
    def _location(root: Path) -> "Path | postgres.Location":
        """Where the store of the case in ``root`` is: ``case.db``, or the server and schema
        ``store.json`` names."""
        if (root / postgres.STORE_FILE).is_file():
            if (root / DB_NAME).exists():
                # a case's store is one or the other (case init makes one): a second one was put
                # there, and opening either could be working on someone's replacement
                raise CaseError(f"{root} holds both {DB_NAME} and {postgres.STORE_FILE}: a case's store "
                                "is one of them, the other was put there",
                                hint="move aside the one that is not this case's; 'forensic custody verify "
                                     "--deep' then checks the store against the custody log")
            return postgres.Location.read(root)
        return root / DB_NAME

    def reconnected(self) -> "Case":
        """This case on a database connection of its own, opened as :meth:`open` opens it
        (a forked child process must not use its parent's connection)."""
        return Case(self.root, connect(self._location(self.root)))

    @classmethod
    def open(cls, root: Path | str | None) -> "Case":
        root = Path(root if root is not None else os.environ.get("FORENSIC_CASE", "."))
        path = cls._location(root)
        if isinstance(path, Path) and not path.is_file():
            raise CaseError(f"no case in {root} (no {DB_NAME})",
                            hint="create one with 'forensic case init DIR', or pass --case DIR / set FORENSIC_CASE")
        if isinstance(path, postgres.Location):
            _check_location_is_the_logs(root, path)
        try:
            db = connect(path)
            if isinstance(path, postgres.Location):
                try:
                    db.require_schema()          # type: ignore[attr-defined]
                except CaseError:
                    db.close()
                    raise
            version = schema.version(db)
            if version is not None and version < SCHEMA_VERSION:
                with write_transaction(db, root):       # all steps or none
                    schema.migrate(db)
        except Exception as exc:
            if not (isinstance(exc, sqlite3.DatabaseError) or postgres.is_error(exc)):
                raise
            if is_disk_full(exc, root):     # e.g. no room for the WAL index (case.db-shm)
                raise DiskFullError(root) from exc
            raise CaseError(f"the case store {path} cannot be read: {exc}") from exc
        if version is None:
            raise CaseError(f"{path} is not a forensic case store (no schema version)")
        if version > SCHEMA_VERSION:
            raise CaseError(f"case store schema {version} is newer than this tool understands",
                            hint="upgrade forensic")
        if isinstance(path, postgres.Location):
            try:
                _check_store_is_the_logs(root, db, path)
            except BaseException:
                db.close()
                raise
        return cls(root, db)

    def close(self) -> None:
        self.db.close()

    def store_description(self) -> str:
        """Where the store is: the path of ``case.db``, or the server URL and schema."""
        location = getattr(self.db, "location", None)
        return str(self.root / DB_NAME if location is None else location)

    # -- metadata ------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        return store_items.meta(self.db)

    @property
    def case_id(self) -> str:
        return self.meta()["case_id"]

    @property
    def examiner(self) -> str:
        return self.meta()["examiner"]

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
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
    def item(self, item: str) -> Item:
        found = store_items.get(self.db, item)
        if found is None:
            known = store_items.ids(self.db)
            raise CaseError(f"no evidence item {item!r} in this case",
                            hint=("items: " + ", ".join(known)) if known else "add one with 'forensic evidence add'")
        return found

    def items(self) -> list[Item]:
        return store_items.all_items(self.db)


def _created_entry(root: Path) -> dict | None:
    """The ``case.created`` entry that opens the custody log of the case in ``root``, or None
    (no log, or not readable: ``custody verify`` says so)."""
    try:
        with open(root / CUSTODY_LOG, "rb") as f:
            first = json.loads(f.readline(1 << 20))
    except (OSError, ValueError):
        return None
    if not isinstance(first, dict) or first.get("action") != "case.created" \
            or not isinstance(first.get("details"), dict) or not isinstance(first.get("subject"), dict):
        return None
    return first


def _check_location_is_the_logs(root: Path, location: postgres.Location) -> None:
    """A CaseError, before connecting, when store.json names another server than the one the
    case was made on (``case.created`` records it): an edited store.json would otherwise send
    the examiner's password (PGPASSWORD) to that server, and the evidence's records with it.
    A case made before the log recorded its server is not checked."""
    entry = _created_entry(root)
    logged = entry["details"].get("store") if entry is not None else None
    if not isinstance(logged, dict) or logged.get("url") in (None, location.url):
        return
    raise CaseError(f"{root / postgres.STORE_FILE} names the server {location.url}, but the case was "
                    f"made on {logged['url']} (its custody log says so); nothing was sent there",
                    hint="store.json may have been edited: restore its url; a store that really "
                         "moved is not supported yet")


def _check_store_is_the_logs(root: Path, db: sqlite3.Connection, location: postgres.Location) -> None:
    """A CaseError when the store ``store.json`` names is another case's: its case id and
    creation time are not those of this folder's custody log (its first entry, ``case.created``).
    store.json is a file anyone who can write the shared folder can edit; without this, every
    command would read and write the other case's store (on the same server, under the same
    examiner's grants), and only ``custody verify`` would fail, afterwards. A folder without a
    readable log is left to ``custody verify``."""
    entry = _created_entry(root)
    if entry is None:
        return
    logged = (entry["subject"].get("case"), entry["details"].get("created_at"))
    meta = store_items.meta(db)
    held = (meta.get("case_id"), meta.get("created_at"))
    if any(a is not None and a != b for a, b in zip(logged, held, strict=True)):    # what the log holds
        raise CaseError(f"{root / postgres.STORE_FILE} names the store of another case: "
                        f"{location} holds case {held[0]!r} made "
                        f"{held[1]}, this folder's custody log case {logged[0]!r} made {logged[1]}",
                        hint="store.json may have been edited: restore it to name this case's "
                             "schema ('forensic custody verify' then checks the store)")


def stored_path(path: Path) -> str | bytes:
    """A path as the case store keeps it: text, or its bytes (a BLOB) when the name is not
    UTF-8, so the evidence can be opened again by its exact name."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return os.fsencode(text)


def item_source(item: Item) -> Path:
    """The evidence source path of an item (see :func:`stored_path`)."""
    return item.source
