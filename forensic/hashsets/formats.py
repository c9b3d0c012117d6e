"""The hash set formats an examiner imports, read into ``(algorithm, digest, category)``.

* NSRL RDS v3: its SQLite database (``FILE`` table: ``sha256``, ``sha1``, ``md5``; ``PKG``
  names the packages). Read through :mod:`forensic.store.hashsets` (the SQL), never loaded:
  a digest column an index starts with is looked up in the database itself.
* Project VIC / CAID VICS JSON (1.x: ``value`` is a list of media; 2.0: of cases holding
  ``Media``): every object with an ``MD5``/``SHA1``/``SHA256`` member is a record, with the
  ``Category`` of itself or of the nearest object around it.
* hashdeep (``%%%% HASHDEEP-1.0`` and its column line), md5deep/sha1deep/sha256deep and
  md5sum/sha1sum/sha256sum lists (``digest  name`` or ``digest *name``; the algorithm told by
  the digest's length).
* CSV with a header naming a hash column (``md5``, ``sha1``/``sha-1``, ``sha256``/``sha-256``,
  or ``hash``/``digest`` told by length) and optionally a ``category`` column: the lab's own
  lists, and RDS 2.x ``NSRLFile.txt``.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from forensic.errors import UsageError

ALGORITHMS = ("sha256", "sha1", "md5")
BY_LENGTH = {32: "md5", 40: "sha1", 64: "sha256"}
_HEX = re.compile(r"[0-9a-fA-F]+\Z")
SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass
class ReadNotes:
    """What reading a set skipped, and why (a line, a member): told, never lost."""
    skipped: int = 0
    examples: list[str] = field(default_factory=list)

    def skip(self, why: str) -> None:
        self.skipped += 1
        if len(self.examples) < 5:
            self.examples.append(why)


def detect(path: Path) -> str:
    """``nsrl``, ``vics``, ``hashdeep``, ``hashlist`` or ``csv``, from the content."""
    with open(path, "rb") as fh:
        head = fh.read(64 * 1024)
    if head.startswith(SQLITE_MAGIC):
        return "nsrl"
    if head.startswith(b"PK\x03\x04"):
        raise UsageError(f"{path.name} is a ZIP archive, not a hash set",
                         hint="extract the set from it first (NIST ships the RDS v3 SQLite zipped)")
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if text.startswith(("{", "[")):
        return "vics"
    if text.startswith("%%%% HASHDEEP"):
        return "hashdeep"
    first = text.split("\n", 1)[0].strip()
    parts = first.split(None, 1)
    if parts and len(parts[0].lstrip("\\")) in BY_LENGTH and _HEX.match(parts[0].lstrip("\\")):
        return "hashlist"
    if parts and _hash_columns(next(csv.reader([first]), [])):
        return "csv"
    raise UsageError(f"{path.name}: not a hash set forensic reads",
                     hint="an NSRL RDS v3 SQLite, Project VIC/CAID VICS JSON, a hashdeep/md5deep/sha256sum list, "
                          "or CSV with a header naming a hash column (md5, sha1, sha256 or hash)")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _hash_columns(header: list[str]) -> dict[int, str | None]:
    """column number -> algorithm (None: told by the digest's length) of a CSV header."""
    out: dict[int, str | None] = {}
    for i, name in enumerate(header):
        n = _norm(name)
        if n in ALGORITHMS:
            out[i] = n
        elif n in ("hash", "digest", "hashvalue"):
            out[i] = None
    return out


def digest_of(text: str, algorithm: str | None) -> tuple[str, bytes] | None:
    """(algorithm, digest bytes) of a hex digest; None when it is not one."""
    value = text.strip().strip('"').lower()
    alg = BY_LENGTH.get(len(value))
    if alg is None or (algorithm is not None and alg != algorithm) or not _HEX.match(value):
        return None
    return alg, bytes.fromhex(value)


def read_text(path: Path, fmt: str, notes: ReadNotes) -> Iterator[tuple[str, bytes, str | None]]:
    """The records of a hashdeep, md5deep/sha256sum or CSV file."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        if fmt == "hashdeep":
            yield from _hashdeep(fh, notes)
        elif fmt == "hashlist":
            yield from _hashlist(fh, notes)
        else:
            yield from _csv(fh, notes)


def _hashdeep(fh: io.TextIOBase, notes: ReadNotes) -> Iterator[tuple[str, bytes, str | None]]:
    columns: list[str | None] = []
    for n, line in enumerate(fh, 1):
        line = line.rstrip("\r\n")
        if line.startswith("%%%% size,"):
            columns = [_norm(c) if _norm(c) in ALGORITHMS else None for c in line[5:].split(",")]
            continue
        if not line or line.startswith(("%%%%", "#")):
            continue
        if not columns:
            notes.skip(f"line {n}: a record before the %%%% column line")
            continue
        cells = line.split(",", len(columns) - 1)
        found = False
        for alg, cell in zip(columns, cells, strict=False):
            if alg is None:
                continue
            got = digest_of(cell, alg)
            if got is not None:
                found = True
                yield got[0], got[1], None
        if not found:
            notes.skip(f"line {n}: no digest")


def _hashlist(fh: io.TextIOBase, notes: ReadNotes) -> Iterator[tuple[str, bytes, str | None]]:
    for n, line in enumerate(fh, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        first = line.split(None, 1)[0].lstrip("\\")     # sha256sum escapes names with a leading \
        got = digest_of(first, None)
        if got is None:
            notes.skip(f"line {n}: no digest")
            continue
        yield got[0], got[1], None


def _csv_rows(reader: Any, notes: ReadNotes) -> Iterator[tuple[int, list[str]]]:
    """(line number, row) of ``reader``; a row csv cannot read (a field over its 128 KiB
    limit, say) is skipped and counted, and the reading goes on with the next."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            notes.skip(f"line {reader.line_num}: {exc}")
            continue
        yield reader.line_num, row


def _csv(fh: io.TextIOBase, notes: ReadNotes) -> Iterator[tuple[str, bytes, str | None]]:
    rows = _csv_rows(csv.reader(fh), notes)
    header = next(rows, (0, []))[1]
    hashes = _hash_columns(header)
    category = next((i for i, name in enumerate(header) if _norm(name) == "category"), None)
    for n, row in rows:
        found = False
        cat = row[category].strip() or None if category is not None and category < len(row) else None
        for i, alg in hashes.items():
            if i < len(row):
                got = digest_of(row[i], alg)
                if got is not None:
                    found = True
                    yield got[0], got[1], cat
        if not found and any(cell.strip() for cell in row):
            notes.skip(f"row {n}: no digest")


MAX_VICS_DEPTH = 64        # JSON objects and arrays one inside another: a VICS export nests a few


class _VicsObject:
    """A JSON object being read: its category (once its key is read), the records of its own
    digests and those of objects inside it with no category of their own (they take the
    nearest category around them, which may come after them in the text)."""
    __slots__ = ("category", "key", "records")

    def __init__(self) -> None:
        self.category: str | None = None
        self.key: str | None = None
        self.records: list[tuple[str, bytes]] = []


def read_vics(path: Path, notes: ReadNotes) -> Iterator[tuple[str, bytes, str | None]]:
    """The records of a Project VIC / CAID VICS JSON file, read as a stream (ijson): the
    records of a media object are given when it closes, with the category of the nearest
    object holding one (its own, a case's), never the whole export in memory."""
    import ijson
    try:
        with open(path, "rb") as fh:
            if fh.read(3) != b"\xef\xbb\xbf":        # a UTF-8 byte order mark, as Windows tools write
                fh.seek(0)
            yield from _vics_stream(ijson.basic_parse(fh), notes, path.name)
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path.name}: not valid JSON ({exc})", hint="a Project VIC / CAID VICS export") from None


def _vics_stream(events: Iterator[tuple[str, Any]], notes: ReadNotes,
                 name: str) -> Iterator[tuple[str, bytes, str | None]]:
    stack: list[_VicsObject | None] = []            # the open objects (None: an array)
    for event, value in events:
        top = stack[-1] if stack else None
        if event in ("start_map", "start_array"):
            if len(stack) >= MAX_VICS_DEPTH:
                raise UsageError(f"{name}: JSON nested deeper than a VICS export ever is",
                                 hint="a Project VIC / CAID VICS export")
            stack.append(_VicsObject() if event == "start_map" else None)
        elif event == "map_key" and top is not None:
            top.key = _norm(value)
        elif event in ("end_map", "end_array"):
            done = stack.pop()
            if done is None or not done.records:
                continue
            holder = next((o for o in reversed(stack) if o is not None), None)
            if done.category is not None or holder is None:
                for alg, digest in done.records:
                    yield alg, digest, done.category
            else:
                holder.records.extend(done.records)     # its category: the holder's, when it closes
        elif top is not None and top.key is not None:   # a value of an object's key
            if top.key == "category" and value not in (None, ""):
                top.category = str(value)
            elif top.key in ALGORITHMS and isinstance(value, str) and value:
                got = digest_of(value, top.key)
                if got is None:
                    notes.skip(f"{top.key.upper()} {value[:70]!r}: not a {top.key} digest")
                else:
                    top.records.append(got)
            top.key = None
