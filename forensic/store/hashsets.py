"""Hash sets in the case store: which files matched which set (``hashset_hits``) and which
sets each item was checked against (``hashset_checks``: name, kind, the set's source file
SHA-256, its record count, when). The sets themselves live outside the case, in the
examiner's library (:mod:`forensic.hashsets`).

Also the read-only queries of an NSRL RDS v3 SQLite (a hash set's own database, never the
case store): how it is laid out and indexed, and lookups through its own indexes.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Iterable, Iterator

from forensic.store.db import stream

KINDS = ("known-good", "known-bad", "alert")


@dataclass(frozen=True, slots=True)
class HashsetHit:
    """A file that matched a set: which set, its kind, the category the set gives it, and
    which digest matched."""
    file_id: int
    item: str
    hashset: str
    kind: str
    category: str | None
    algorithm: str


@dataclass(frozen=True, slots=True)
class HashsetCheck:
    """An item checked against a set: the set as it was then, and how many files matched."""
    item: str
    hashset: str
    kind: str
    source_sha256: str
    records: int
    imported_at: str
    checked_at: str
    files_checked: int
    hits: int


@dataclass(frozen=True, slots=True)
class Digests:
    """The digests of one stored file (those computed at triage; None where not)."""
    file_id: int
    sha256: str | None
    sha1: str | None
    md5: str | None


def digests(db: sqlite3.Connection, item: str) -> Iterator[Digests]:
    """Every file of ``item`` with a digest, in walk order, streamed."""
    yield from stream(db, "SELECT id, sha256, sha1, md5 FROM files WHERE item = ? AND "
                          "(sha256 IS NOT NULL OR sha1 IS NOT NULL OR md5 IS NOT NULL) ORDER BY id",
                      (item,), lambda r: Digests(r[0], r[1], r[2], r[3]))


def replace(db: sqlite3.Connection, item: str, hits: Iterable[HashsetHit], checks: Iterable[HashsetCheck]) -> None:
    """Store the result of checking ``item`` (the caller's transaction): its earlier hits of
    the sets checked are replaced (those of a set not checked now, one left out or that could
    not be opened, stay as its last check left them); each check is added to the item's
    history of checks."""
    checks = list(checks)
    db.executemany("DELETE FROM hashset_hits WHERE item = ? AND hashset = ?", ((item, c.hashset) for c in checks))
    db.executemany("INSERT INTO hashset_hits(file_id, item, hashset, kind, category, algorithm) "
                   "VALUES (?,?,?,?,?,?) ON CONFLICT(file_id, hashset) DO UPDATE SET item = excluded.item, "
                   "kind = excluded.kind, category = excluded.category, algorithm = excluded.algorithm",
                   ((h.file_id, h.item, h.hashset, h.kind, h.category, h.algorithm) for h in hits))
    db.executemany("INSERT INTO hashset_checks(item, hashset, kind, source_sha256, records, imported_at, "
                   "checked_at, files_checked, hits) VALUES (?,?,?,?,?,?,?,?,?)",
                   ((c.item, c.hashset, c.kind, c.source_sha256, c.records, c.imported_at, c.checked_at,
                     c.files_checked, c.hits) for c in checks))


def clear(db: sqlite3.Connection, item: str) -> None:
    """Forget ``item``'s hits (its files are about to be walked again)."""
    db.execute("DELETE FROM hashset_hits WHERE item = ?", (item,))


def hits(db: sqlite3.Connection, items: Iterable[str] | None = None) -> dict[int, list[HashsetHit]]:
    """file id -> the sets it matched (by set name), of ``items`` (None: all)."""
    out: dict[int, list[HashsetHit]] = {}
    if items is None:
        rows = db.execute("SELECT file_id, item, hashset, kind, category, algorithm FROM hashset_hits "
                          "ORDER BY file_id, hashset")
    else:
        wanted = list(items)
        rows = db.execute("SELECT file_id, item, hashset, kind, category, algorithm FROM hashset_hits "
                          f"WHERE item IN ({','.join('?' * len(wanted))}) ORDER BY file_id, hashset", wanted)
    for r in rows:
        out.setdefault(r[0], []).append(HashsetHit(*r))
    return out


def hits_by_sha256(db: sqlite3.Connection, items: Iterable[str] | None = None) -> dict[str, list[HashsetHit]]:
    """SHA-256 of a file's content -> the sets a file of that content matched (of ``items``;
    None: all), one hit per set."""
    out: dict[str, list[HashsetHit]] = {}
    wanted = None if items is None else list(items)
    sql = ("SELECT f.sha256, h.file_id, h.item, h.hashset, h.kind, h.category, h.algorithm FROM hashset_hits h "
           "JOIN files f ON f.id = h.file_id WHERE f.sha256 IS NOT NULL"
           + ("" if wanted is None else f" AND h.item IN ({','.join('?' * len(wanted))})") + " ORDER BY h.file_id")
    for r in db.execute(sql, wanted or ()):
        have = out.setdefault(r[0], [])
        if all(h.hashset != r[3] for h in have):
            have.append(HashsetHit(*r[1:]))
    return out


def known_bad_sha256(db: sqlite3.Connection) -> dict[str, str | None]:
    """SHA-256 -> category of every file content a known-bad set matched (in any item): the
    same picture under another name, or in another item, is never shown either."""
    out: dict[str, str | None] = {}
    for sha, category in db.execute("SELECT f.sha256, h.category FROM hashset_hits h JOIN files f "
                                    "ON f.id = h.file_id WHERE h.kind = 'known-bad' AND f.sha256 IS NOT NULL "
                                    "ORDER BY h.file_id, h.hashset"):
        if out.get(sha) is None:
            out[sha] = category
    return out


def checks(db: sqlite3.Connection, item: str | None = None) -> list[HashsetCheck]:
    """The checks recorded, oldest first (of one item, or all)."""
    sql = ("SELECT item, hashset, kind, source_sha256, records, imported_at, checked_at, files_checked, hits "
           "FROM hashset_checks" + (" WHERE item = ?" if item else "") + " ORDER BY id")
    return [HashsetCheck(*r) for r in db.execute(sql, (item,) if item else ())]


# -- an NSRL RDS v3 SQLite (read-only; a hash set's database, not the case store) ----------------

RDS_ALGORITHMS = ("sha256", "sha1", "md5")


def rds_open(path: str) -> sqlite3.Connection:
    """The RDS database at ``path``, read-only and immutable (never written, no journal)."""
    from pathlib import Path
    uri = Path(path).resolve().as_uri() + "?mode=ro&immutable=1"
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def rds_columns(db: sqlite3.Connection) -> dict[str, set[str]]:
    """table name (upper case) -> its column names (lower case)."""
    out: dict[str, set[str]] = {}
    # tables only: a view (an endless recursive one, say) is no set of records to read
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        out[str(name).upper()] = {str(r[1]).lower() for r in db.execute(f'PRAGMA table_info("{name}")')}
    return out


def rds_indexed(db: sqlite3.Connection) -> set[str]:
    """The digest columns of the ``FILE`` table an index (or a WITHOUT ROWID primary key)
    starts with: a lookup by them is a search of that index, not a scan."""
    found: set[str] = set()
    for idx in db.execute('PRAGMA index_list("FILE")').fetchall():
        cols = db.execute(f'PRAGMA index_info("{idx[1]}")').fetchall()
        first = min(cols, key=lambda c: c[0])[2] if cols else None
        if first and str(first).lower() in RDS_ALGORITHMS:
            found.add(str(first).lower())
    return found


def rds_sample(db: sqlite3.Connection, algorithm: str) -> str | None:
    """One stored digest of ``algorithm`` (to see how the database writes them)."""
    assert algorithm in RDS_ALGORITHMS
    row = db.execute(f"SELECT {algorithm} FROM FILE WHERE {algorithm} IS NOT NULL AND {algorithm} != '' "
                     "LIMIT 1").fetchone()
    return None if row is None else str(row[0])


def rds_count(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT COUNT(*) FROM FILE").fetchone()[0])


def rds_digests(db: sqlite3.Connection, algorithm: str) -> Iterator[str]:
    """Every digest of ``algorithm`` in ``FILE``, streamed (duplicates included)."""
    assert algorithm in RDS_ALGORITHMS
    cursor = db.execute(f"SELECT {algorithm} FROM FILE WHERE {algorithm} IS NOT NULL")
    try:
        for (value,) in cursor:
            yield str(value)
    finally:
        cursor.close()


def rds_mixed_case(db: sqlite3.Connection, algorithm: str, upper: bool) -> bool:
    """Whether some digest of ``algorithm`` in ``FILE`` is not written in the case of the
    others (upper, or lower): one scan of the table."""
    assert algorithm in RDS_ALGORITHMS
    fn = "upper" if upper else "lower"
    return db.execute(f"SELECT 1 FROM FILE WHERE {algorithm} != {fn}({algorithm}) LIMIT 1").fetchone() is not None


def rds_has(db: sqlite3.Connection, algorithm: str, digest: str, written: str = "upper") -> bool:
    """Whether ``FILE`` holds the hex ``digest`` as ``algorithm``, written ``upper``, ``lower``
    or ``both`` (a set merged from two tools): a search of its index (two for both)."""
    assert algorithm in RDS_ALGORITHMS
    if written == "both":
        return db.execute(f"SELECT 1 FROM FILE WHERE {algorithm} IN (?, ?) LIMIT 1",
                          (digest.upper(), digest.lower())).fetchone() is not None
    value = digest.upper() if written == "upper" else digest.lower()
    return db.execute(f"SELECT 1 FROM FILE WHERE {algorithm} = ? LIMIT 1", (value,)).fetchone() is not None
