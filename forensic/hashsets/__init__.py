"""Hash sets: the examiner's library of known files (NSRL, Project VIC/CAID, the lab's own),
and checking a triaged item's files against it.

A set is imported once into the per-user library (``$FORENSIC_HASHSETS``, default
``$XDG_DATA_HOME/forensic/hashsets``, i.e. ``~/.local/share/forensic/hashsets``), outside any
case: a folder per set with ``set.json`` (name, kind, category, format, the source file's
SHA-256, record count, when) and, per digest algorithm, a sorted memory-mapped index
(:mod:`.index`), except where an NSRL RDS v3 database indexes that digest itself: then the
lookup is a search of its index, read-only, in place. A set is only ever read once imported.

Kinds: ``known-good`` (harmless, e.g. the NSRL: hidden from photos and the report by
default), ``known-bad`` (its content is never shown: no thumbnail anywhere, only hash and
metadata) and ``alert`` (named on the file, nothing hidden).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from forensic.errors import CaseError, ForensicError, UsageError
from forensic.hashsets import formats
from forensic.hashsets.index import DIGEST_SIZE, DigestIndex, IndexBuilder, build
from forensic.store import hashsets as store
from forensic.store import triage as store_triage
from forensic.store.hashsets import KINDS, HashsetCheck, HashsetHit
from forensic.timestamps import iso_utc, now_utc

ENV = "FORENSIC_HASHSETS"
META = "set.json"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
MAX_CATEGORIES = 0xFFFF


def library_dir() -> Path:
    """The examiner's hash set library: ``$FORENSIC_HASHSETS``, else the user's data folder."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "forensic" / "hashsets"


@dataclass
class HashSet:
    """One imported set, as ``set.json`` describes it."""
    name: str
    kind: str
    category: str | None
    format: str
    source: str                          # the file imported (its name; the path for an NSRL read in place)
    source_sha256: str
    records: int
    imported_at: str
    digests: dict[str, int]              # algorithm -> distinct digests indexed (NSRL in place: rows)
    in_place: list[str] = field(default_factory=list)   # algorithms looked up in the NSRL database
    categories: list[str | None] = field(default_factory=list)  # index category number -> text
    upper: bool = True                   # the NSRL database writes hex digests in upper case
    hex_case: dict[str, str] = field(default_factory=dict)  # in place: algorithm -> upper, lower or both
    skipped: int = 0                     # lines/members of the source that held no digest
    source_stat: list[int] | None = None  # an NSRL read in place: its size and mtime (ns) when imported

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "category": self.category, "format": self.format,
                "source": self.source, "source_sha256": self.source_sha256, "records": self.records,
                "imported_at": self.imported_at, "algorithms": sorted(self.digests), "skipped": self.skipped}


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise UsageError(f"{name!r} cannot name a hash set",
                         hint="letters, digits, '.', '_' and '-', up to 64, starting with a letter or digit")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def load(folder: Path) -> HashSet:
    try:
        data = json.loads((folder / META).read_text(encoding="utf-8"))
        return HashSet(**data)
    except (OSError, ValueError, TypeError) as exc:
        raise ForensicError(f"hash set {folder.name}: its {META} cannot be read ({exc})",
                            hint=f"import it again with `forensic hashset import ... --name {folder.name} "
                                 "--replace`") from None


def listing(library: Path | None = None) -> list[HashSet]:
    """The sets of the library, by name (a folder without a readable ``set.json`` is skipped)."""
    root = library or library_dir()
    if not root.is_dir():
        return []
    out = []
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and not folder.name.startswith(".") and (folder / META).is_file():
            try:
                out.append(load(folder))
            except ForensicError:
                continue
    return out


def import_set(path: Path, name: str, kind: str, category: str | None = None, *, replace: bool = False,
               library: Path | None = None) -> HashSet:
    """Import the set at ``path`` into the library as ``name``; the source is only read."""
    _check_name(name)
    if kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}", hint="one of: " + ", ".join(KINDS))
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    root = library or library_dir()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    final = root / name
    if final.exists() and not replace:
        raise UsageError(f"the library already has a hash set named {name}",
                         hint="give another --name, or --replace to import it again")
    fmt = formats.detect(path)
    work = Path(tempfile.mkdtemp(dir=root, prefix=f".{name}.importing-"))
    try:
        hs = HashSet(name=name, kind=kind, category=category, format=fmt, source=path.name,
                     source_sha256=_sha256_file(path), records=0, imported_at=iso_utc(now_utc()),
                     digests={}, categories=[category])
        if fmt == "nsrl":
            _import_nsrl(path, work, hs)
        else:
            _import_records(path, fmt, work, hs)
        if not hs.digests:
            raise UsageError(f"{path.name}: no digest found in it (read as {fmt})",
                             hint="check the file is the hash set meant")
        (work / META).write_text(json.dumps(asdict(hs), indent=1), encoding="utf-8")
        for written in work.iterdir():        # whatever the umask: only the examiner writes a set
            written.chmod(written.stat().st_mode & ~0o022)
        if final.exists():
            old = root / f".{name}.old-{os.getpid()}"
            final.rename(old)
            work.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            work.rename(final)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return hs


def _import_records(path: Path, fmt: str, work: Path, hs: HashSet) -> None:
    categories: dict[str | None, int] = {hs.category: 0}

    def number(text: str | None) -> int:
        if text is None or text == hs.category:
            return 0
        if text not in categories:
            if len(categories) >= MAX_CATEGORIES:
                raise UsageError(f"{path.name}: more than {MAX_CATEGORIES} categories")
            categories[text] = len(categories)
            hs.categories.append(text)
        return categories[text]

    notes = formats.ReadNotes()
    builders = {algorithm: IndexBuilder(work, algorithm) for algorithm in DIGEST_SIZE}
    try:
        records = formats.read_vics(path, notes) if fmt == "vics" else formats.read_text(path, fmt, notes)
        for algorithm, digest, category in records:       # one pass over the source
            builders[algorithm].add(digest, number(category))
        for algorithm, builder in builders.items():
            count = builder.finish()
            if count:
                hs.digests[algorithm] = count
    finally:
        for builder in builders.values():
            builder.close()
    hs.skipped = notes.skipped
    hs.records = max(hs.digests.values(), default=0)


def _pending_wal(path: Path) -> str | None:
    """Why an NSRL database cannot be read as it is: rows still in its ``-wal`` file, which a
    read-only, immutable open leaves out (None: nothing pending)."""
    wal = Path(str(path) + "-wal")
    if wal.is_file() and wal.stat().st_size > 0:
        return f"{path.name} has rows still in {wal.name}, which a read-only open would leave out"
    return None


def _import_nsrl(path: Path, work: Path, hs: HashSet) -> None:
    if (why := _pending_wal(path)) is not None:
        raise UsageError(why, hint=f"import a copy made whole: sqlite3 {path.name} \".backup copy.db\"")
    try:
        db = store.rds_open(str(path))
        try:
            tables = store.rds_columns(db)
            present = [a for a in store.RDS_ALGORITHMS if a in tables.get("FILE", set())]
            if not present:
                raise UsageError(f"{path.name}: an SQLite database without the NSRL RDS v3 FILE table "
                                 "(sha256, sha1, md5)", hint="import the RDS v3 'minimal' or 'modern' database")
            indexed = store.rds_indexed(db)
            hs.source = str(path.resolve())
            st = path.stat()
            hs.source_stat = [st.st_size, st.st_mtime_ns]
            hs.records = store.rds_count(db)
            for algorithm in present:
                sample = store.rds_sample(db, algorithm)
                if sample is None:
                    continue
                if algorithm in indexed:
                    hs.in_place.append(algorithm)
                    hs.upper = sample == sample.upper()
                    # a set merged from two tools writes both: one scan here, two searches a lookup
                    hs.hex_case[algorithm] = ("both" if store.rds_mixed_case(db, algorithm, hs.upper)
                                              else "upper" if hs.upper else "lower")
                    hs.digests[algorithm] = hs.records
                    continue
                digests = (formats.digest_of(d, algorithm) for d in store.rds_digests(db, algorithm))
                count = build(work, algorithm, ((g[1], 0) for g in digests if g is not None))
                if count:
                    hs.digests[algorithm] = count
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{path.name}: the NSRL database cannot be read ({exc})") from None


def needed_algorithms(library: Path | None = None) -> dict[str, list[str]]:
    """algorithm -> the sets of the library that need it: those without SHA-256 digests (a
    VICS file often has only MD5 and SHA-1), by the one digest each is best matched with.
    Triage hashes these too, so no file goes unmatched for want of a digest."""
    out: dict[str, list[str]] = {}
    for hs in listing(library):
        if "sha256" in hs.digests:
            continue
        best = "sha1" if "sha1" in hs.digests else "md5" if "md5" in hs.digests else None
        if best:
            out.setdefault(best, []).append(hs.name)
    return out


# -- lookups --------------------------------------------------------------------------------------

def _check_private(folder: Path) -> None:
    """Refuse a set that someone else could have rewritten: the library, the set's folder or
    any of its files owned by a user other than the examiner or root (a lab's shared,
    read-only library), or writable by group or others (they could empty a known-bad set,
    or make a known-good one hide anything)."""
    for path in (folder.parent, folder, *sorted(folder.iterdir())):
        st = path.stat()                  # a library on another disk, through a symlink: its target
        if st.st_uid not in (os.geteuid(), 0) or st.st_mode & 0o022:
            raise ForensicError(f"hash set {folder.name}: {path} is owned by another user or other users can "
                                "write it", hint=f"chmod go-w {path} (and check its content), or import the set "
                                                 "again into a library only you can write")


class OpenSet:
    """A set opened read-only for lookups: :meth:`match` of a file's digests."""

    def __init__(self, folder: Path) -> None:
        _check_private(folder)
        self.meta = load(folder)
        self._indexes: dict[str, DigestIndex] = {}
        self._rds: sqlite3.Connection | None = None
        for algorithm in self.meta.digests:
            if algorithm in self.meta.in_place:
                continue
            self._indexes[algorithm] = DigestIndex(folder, algorithm)
        if self.meta.in_place:
            if not Path(self.meta.source).is_file():
                raise ForensicError(f"hash set {self.meta.name}: its NSRL database {self.meta.source} is no longer "
                                    "there", hint="reconnect it (same path), or import it again")
            if (why := _pending_wal(Path(self.meta.source))) is not None:
                raise ForensicError(f"hash set {self.meta.name}: {why}",
                                    hint="import a copy made whole (sqlite3 FILE \".backup copy.db\") --replace")
            st = Path(self.meta.source).stat()
            if self.meta.source_stat is not None and [st.st_size, st.st_mtime_ns] != self.meta.source_stat:
                raise ForensicError(f"hash set {self.meta.name}: its NSRL database {self.meta.source} has changed "
                                    "since it was imported (the case would record the SHA-256 of another file)",
                                    hint=f"import it again: `forensic hashset import ... --name {self.meta.name} "
                                         "--replace`")
            self._rds = store.rds_open(self.meta.source)

    def match(self, algorithm: str, hex_digest: str) -> tuple[bool, str | None]:
        """(found, category) of one digest."""
        index = self._indexes.get(algorithm)
        if index is not None:
            got = index.get(bytes.fromhex(hex_digest))
            if got is None:
                return False, None
            cats = self.meta.categories
            return True, cats[got] if got < len(cats) else self.meta.category
        if self._rds is not None and algorithm in self.meta.in_place:
            written = self.meta.hex_case.get(algorithm) or ("upper" if self.meta.upper else "lower")
            return store.rds_has(self._rds, algorithm, hex_digest, written), self.meta.category
        return False, None

    def close(self) -> None:
        for index in self._indexes.values():
            index.close()
        if self._rds is not None:
            self._rds.close()


def open_sets(names: Iterable[str] | None = None, library: Path | None = None) -> tuple[list[OpenSet], list[str]]:
    """The library's sets (or those named), opened; and why any could not be."""
    root = library or library_dir()
    wanted = list(names) if names is not None else [s.name for s in listing(root)]
    opened, problems = [], []
    for name in wanted:
        if names is not None:
            _check_name(name)                  # a name given: never a path out of the library
        folder = root / name
        if not (folder / META).is_file():
            raise UsageError(f"no hash set named {name} in {root}", hint="see `forensic hashset list`")
        try:
            opened.append(OpenSet(folder))
        except (ForensicError, OSError, ValueError) as exc:
            problems.append(f"hash set {name} not checked: {exc}")
    return opened, problems


def _hits(sets: list[OpenSet], item: str, rows: Iterator[store.Digests],
          uncompared: dict[str, int]) -> tuple[list[HashsetHit], int, dict]:
    """The hits of ``rows``; ``uncompared`` counts, per set, the files it could not be
    compared with (no digest of an algorithm the set has)."""
    hits: list[HashsetHit] = []
    per_set: dict[str, int] = {s.meta.name: 0 for s in sets}
    checked = 0
    for row in rows:
        checked += 1
        for s in sets:
            compared = False
            for algorithm in ("sha256", "sha1", "md5"):
                value = getattr(row, algorithm)
                if value is None or algorithm not in s.meta.digests:
                    continue
                compared = True
                found, category = s.match(algorithm, value)
                if found:
                    hits.append(HashsetHit(row.file_id, item, s.meta.name, s.meta.kind, category, algorithm))
                    per_set[s.meta.name] += 1
                    break
            if not compared:
                uncompared[s.meta.name] = uncompared.get(s.meta.name, 0) + 1
    return hits, checked, per_set


def check_item(db: sqlite3.Connection, item: str, sets: list[OpenSet],
               uncompared: dict[str, int] | None = None) -> list[HashsetCheck]:
    """Check every file of ``item`` against ``sets`` and store the result (the caller's
    transaction): the item's earlier hits of these sets are replaced (a set not checked now
    keeps its marks), each set's check recorded.
    ``uncompared`` (given): set name -> files that had no digest the set has, added to."""
    hits, checked, per_set = _hits(sets, item, store.digests(db, item), uncompared if uncompared is not None else {})
    now = iso_utc(now_utc())
    done = [HashsetCheck(item, s.meta.name, s.meta.kind, s.meta.source_sha256, s.meta.records,
                         s.meta.imported_at, now, checked, per_set[s.meta.name]) for s in sets]
    store.replace(db, item, hits, done)
    return done


def mark_item(db: sqlite3.Connection, item: str, now: str) -> list[HashsetCheck]:
    """What a triage does at its end: check ``item`` against every set of the library (none:
    nothing done). A set that cannot be opened is a warning of the item, never a failed
    triage."""
    try:
        sets, problems = open_sets()
    except (ForensicError, OSError) as exc:
        sets, problems = [], [f"the hash set library cannot be read: {exc}"]
    try:
        done = check_item(db, item, sets) if sets else []
    except (ForensicError, OSError, ValueError, sqlite3.DatabaseError) as exc:
        if isinstance(exc, sqlite3.OperationalError) and "hashset_" in str(exc):
            raise CaseError(str(exc)) from None
        done, problems = [], problems + [f"hash sets not checked: {exc}"]
    finally:
        for s in sets:
            s.close()
    store_triage.add_warnings(db, [(item, None, "hashsets", p, now) for p in problems])
    return done
