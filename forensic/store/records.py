"""What the store hands out: typed rows, never ``sqlite3.Row`` or bare dicts.

Each class has ``from_row`` (the store's own use) and the fields its table holds, decoded:
JSON columns as Python values, 0/1 columns as ``bool``, non-UTF-8 source paths as ``Path``.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence


def _json(text: str | None, default: Any) -> Any:
    return json.loads(text) if text else default


# One encoder for every record's fields (json.dumps with options builds a new one per call). No
# check for cycles: a record's fields are made from values read, and a cyclic one fails anyway
# (RecursionError), as a record that cannot be stored.
_encode = json.JSONEncoder(ensure_ascii=False, default=str, allow_nan=False, check_circular=False).encode


def fields_json(value: Any) -> str:
    """A record's fields (or any value of them) as the store keeps them: JSON, not ASCII-only,
    with ``json``'s default separators, a value JSON has no type for as its ``str()``. A
    float NaN or infinity (a JSON export may hold one: Python's json reads ``NaN``) is written
    as the string "NaN", "Infinity" or "-Infinity": JSON has no spelling for it, and Python's
    ``NaN`` in a record made SQLite's and PostgreSQL's JSON functions fail on every query over
    the records (the triage too). A reader that writes a record's JSON text itself (a phone
    database's million messages) writes each value as this does."""
    try:
        return _encode(value)
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise
        return _encode(_finite(value))


# A str as fields_json writes it: the function json's encoder itself calls for one (TypeError
# for a value that is not a str)
json_string = json.encoder.encode_basestring


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def record_sha256(fields_json: str) -> str:
    """The hash the custody log keeps of a record: SHA-256 of its stored ``fields`` JSON."""
    return hashlib.sha256(fields_json.encode("utf-8")).hexdigest()


# The columns of a ``files`` row the custody log vouches for (``row_sha256``): all but its id
# and its count of warnings. The last ones (:data:`FILE_ROW_ADDED`, store version 3) count
# only when one of them holds a value: see :func:`file_row_sha256`.
FILE_ROW_ADDED = ("recovery", "recovery_confidence")
FILE_ROW_COLUMNS = ("item", "locator", "path", "layers", "name", "kind", "size", "sha256", "md5", "sha1",
                    "deleted", "allocated", "mime", "magic", "extension_mismatch", "modified_at", "accessed_at",
                    "changed_at", "born_at", "times_tz_known", "times_tz_source", "inode", "link_target",
                    *FILE_ROW_ADDED)
# The columns of an ``artifacts`` row the log vouches for besides its fields (``row_sha256``).
RECORD_ROW_COLUMNS = ("item", "record_type", "extractor", "source_ref", "corrupted", "warnings")
# The columns of a record's ``timestamps`` rows the log vouches for (``times_sha256``), in order.
TIMES_COLUMNS = ("label", "utc", "local", "tz_known", "tz_source", "raw")


def values_sha256(values: list) -> str:
    """SHA-256 of stored values as a JSON array (ASCII, \\u escapes: any text, even one a file
    system gave with undecodable bytes, has one form): a row's or rows' hash for the log."""
    return hashlib.sha256(json.dumps(values, separators=(",", ":")).encode("ascii")).hexdigest()


def file_row_sha256(values: Sequence) -> str:
    """``row_sha256`` of a ``files`` row: :func:`values_sha256` of its :data:`FILE_ROW_COLUMNS`
    values, in that order, without the columns added since the log first vouched for rows
    (:data:`FILE_ROW_ADDED`) when all of them are NULL. A row stored before they existed
    (migrated: NULL there) keeps the hash the log holds; a row with a value in one of them is
    vouched for with it, so a changed, added or removed value is a changed row."""
    values = list(values)
    base = len(FILE_ROW_COLUMNS) - len(FILE_ROW_ADDED)
    if all(v is None for v in values[base:]):
        values = values[:base]
    return values_sha256(values)


@dataclass(frozen=True, slots=True)
class Item:
    """An evidence item: the source as added, its hashes, and its triage state."""
    item: str
    source_path: str | bytes          # bytes when the path is not UTF-8 (see forensic.case.stored_path)
    format: str
    description: str | None
    size: int
    sha256: str
    md5: str
    acquisition_hashes: dict
    acquisition_hash_verified: bool | None
    details: dict
    added_at: str
    triaged_at: str | None
    triage_summary: dict | None

    @property
    def source(self) -> Path:
        value = self.source_path
        return Path(os.fsdecode(value) if isinstance(value, bytes) else value)

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> "Item":
        verified = r["acquisition_hash_verified"]
        return cls(r["item"], r["source_path"], r["format"], r["description"], r["size"], r["sha256"],
                   r["md5"], _json(r["acquisition_hashes"], {}), None if verified is None else bool(verified),
                   _json(r["details"], {}), r["added_at"], r["triaged_at"], _json(r["triage_summary"], None))


@dataclass(frozen=True, slots=True)
class File:
    """One walked entry of an item (a file, folder, stream, link...)."""
    id: int
    item: str
    locator: str
    path: str
    layers: list
    name: str
    kind: str
    size: int | None
    sha256: str | None
    md5: str | None
    sha1: str | None
    deleted: bool
    allocated: bool
    mime: str | None
    magic: str | None
    extension_mismatch: bool
    modified_at: str | None
    accessed_at: str | None
    changed_at: str | None
    born_at: str | None
    times_tz_known: bool
    times_tz_source: str | None
    inode: str | None
    link_target: str | None
    warnings: int
    recovery: str | None = None               # how its content was had (forensic.entry.RECOVERY)
    recovery_confidence: str | None = None    # "high" / "low" for content not allocated

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> "File":
        return cls(r["id"], r["item"], r["locator"], r["path"], _json(r["layers"], []), r["name"], r["kind"],
                   r["size"], r["sha256"], r["md5"], r["sha1"], bool(r["deleted"]), bool(r["allocated"]),
                   r["mime"], r["magic"], bool(r["extension_mismatch"]), r["modified_at"], r["accessed_at"],
                   r["changed_at"], r["born_at"], bool(r["times_tz_known"]), r["times_tz_source"], r["inode"],
                   r["link_target"], r["warnings"], r["recovery"], r["recovery_confidence"])


@dataclass(frozen=True, slots=True)
class Record:
    """A record an extractor made (an artifact): ``fields`` decoded, and the file it came
    from (``path``/``locator``/``file_sha256``, when the query joined it)."""
    id: int
    item: str
    file_id: int | None
    record_type: str
    extractor: str                    # NAME@version
    source_ref: str | None
    fields: dict
    corrupted: bool
    warnings: list
    fields_json: str                  # as stored: what record_sha256 covers
    path: str | None = None
    locator: str | None = None
    file_sha256: str | None = None

    @property
    def extractor_name(self) -> str:
        return self.extractor.split("@", 1)[0]

    @property
    def record_sha256(self) -> str:
        return record_sha256(self.fields_json)

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> "Record":
        keys = r.keys()
        return cls(r["id"], r["item"], r["file_id"], r["record_type"], r["extractor"], r["source_ref"],
                   json.loads(r["fields"]), bool(r["corrupted"]), _json(r["warnings"], []), r["fields"],
                   r["path"] if "path" in keys else None, r["locator"] if "locator" in keys else None,
                   r["file_sha256"] if "file_sha256" in keys else None)


@dataclass(frozen=True, slots=True)
class StoredWarning:
    """Something that could not be read, and why."""
    id: int
    item: str
    locator: str | None
    stage: str
    message: str
    at: str

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> "StoredWarning":
        return cls(r["id"], r["item"], r["locator"], r["stage"], r["message"], r["at"])


@dataclass(frozen=True, slots=True)
class Link:
    """A record's fields completed after it was stored and logged (an attachment found among
    the walked files, a contact's name): the new fields, and why. The pipeline stores it and
    the custody log records it as ``artifact.linked`` with the new record hash."""
    artifact_id: int
    fields: dict
    reason: str


# -- rows of the exporters and of the chat listings ---------------------------------------------

@dataclass(frozen=True, slots=True)
class Tag:
    """An examiner's tag on one target of ``item``: a file (``target_ref`` = its locator), a
    chat message (its artifact id) or a conversation (its id)."""
    id: int
    target_kind: str                  # file | message | conversation
    target_ref: str
    item: str
    tag: str
    note: str | None
    sensitive: bool
    at: str
    by: str | None

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> "Tag":
        return cls(r["id"], r["target_kind"], r["target_ref"], r["item"], r["tag"], r["note"], bool(r["sensitive"]),
                   r["at"], r["by"])


@dataclass(frozen=True, slots=True)
class Photo:
    """A ``photo/exif`` record with the file that holds it (the file's columns are None, and
    ``deleted`` False, for a record stored without a file)."""
    artifact_id: int
    item: str
    file_id: int | None
    extractor: str                    # NAME@version
    fields: dict
    corrupted: bool
    warnings: list
    path: str | None
    locator: str | None
    sha256: str | None                # of the file
    deleted: bool
    mime: str | None
    recovery: str | None = None             # of the file (forensic.entry.RECOVERY): 'carved', 'embedded', ...
    recovery_confidence: str | None = None

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> "Photo":
        return cls(r["id"], r["item"], r["file_id"], r["extractor"], _json(r["fields"], {}), bool(r["corrupted"]),
                   _json(r["warnings"], []), r["path"], r["locator"], r["sha256"], bool(r["deleted"]), r["mime"],
                   r["recovery"], r["recovery_confidence"])


@dataclass(frozen=True, slots=True)
class Message:
    """A chat message as a listing gives it (``forensic messages``): its record's fields and
    the file it came from, and ``sort_key``, its place in the listing's time order (see
    :mod:`forensic.store.chats`)."""
    id: int                           # the artifact id
    item: str
    fields: dict
    corrupted: bool
    warnings: list
    locator: str | None
    sort_key: int

    @classmethod
    def from_row(cls, r: sqlite3.Row | tuple) -> "Message":
        """``r``: id, item, fields, corrupted, warnings, locator, sort_key, in this order (read
        by position: a listing makes one per row, and a search's first page must come fast)."""
        return cls(r[0], r[1], json.loads(r[2]), bool(r[3]), json.loads(r[4]) if r[4] else [], r[5], r[6])


@dataclass(frozen=True, slots=True)
class Conversation:
    """A conversation of one item as the chat index groups it: its messages' count, the
    times (as the records give them) of its first and last, the participants its first
    message names, the files (path, locator; by file id) its messages come from, and how
    many of them only a phone database's unfinished transaction holds."""
    item: str
    platform: str | None
    conversation: str | None
    title: str | None
    messages: int
    first_at: str | None
    last_at: str | None
    participants: list
    sources: tuple                    # (path, locator) each
    uncommitted: int

    @classmethod
    def from_row(cls, r: sqlite3.Row, *, first_at: str | None, last_at: str | None, participants: list, sources: tuple,
                 uncommitted: int) -> "Conversation":
        """``r``: the group's row (item, platform, conversation, title, n); the rest read
        for it by :func:`forensic.store.chats.conversations`."""
        return cls(r["item"], r["platform"], r["conversation"], r["title"], r["n"], first_at, last_at, participants,
                   sources, uncommitted)


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """One time on the timeline, as :func:`forensic.store.timeline.rows` orders them: a file
    system time of a file (``record_type`` ``fs/<kind>``, ``label`` its description) or a
    time a record holds (``label`` as the extractor named it: ``taken``, ``sent`` ...), with
    what an event's text needs of the record. Values from a record's fields (make, model,
    sender, conversation, body, lat, lon, db_state) are as the record holds them."""
    key: int | None                   # µs since the epoch (see forensic.store.timeline.sort_key)
    tz_known: bool
    label: str
    item: str
    path: str | None
    locator: str | None
    sha256: str | None
    deleted: bool
    record_type: str
    utc: str | None
    local: str | None
    tz_source: str
    make: Any
    model: Any
    sender: Any
    conversation: Any
    body: Any
    lat: Any
    lon: Any
    db_state: Any
    recovery: str | None = None       # of the file: 'carved', 'embedded', ... (forensic.entry.RECOVERY)
    recovered: Any = None             # of the record: 'deleted', a row recovered from a database's free space

    @classmethod
    def from_row(cls, r: sqlite3.Row | tuple) -> "TimelineRow":
        """``r`` in the column order of :data:`forensic.store.timeline.COLUMNS`."""
        return cls(r[0], bool(r[1]), r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8], r[9], r[10], r[11], r[12],
                   r[13], r[14], r[15], r[16], r[17], r[18], r[19], r[20], r[21])
