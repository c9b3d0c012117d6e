"""What ``forensic search`` reads from the case store: file names, chat messages and the
scalar fields of every other record, streamed row by row (the matching is done by
:mod:`forensic.search`, with the same compiled terms as the raw-byte pass)."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Iterator

MESSAGE_TYPE = "chat/message"
MESSAGE_FIELDS = ("body", "text", "caption")


@dataclass(frozen=True, slots=True)
class NameRow:
    file_id: int
    item: str
    locator: str
    name: str
    deleted: bool


@dataclass(frozen=True, slots=True)
class RecordText:
    """One text value of a record: ``field`` of artifact ``record_id`` (made from file
    ``locator``)."""
    record_id: int
    item: str
    record_type: str
    locator: str | None
    field: str
    value: str


def _in(items: list[str]) -> tuple[str, tuple]:
    return f"IN ({', '.join('?' * len(items))})", tuple(items)


def names(db: sqlite3.Connection, items: list[str]) -> Iterator[NameRow]:
    clause, args = _in(items)
    for r in db.execute(f"SELECT id, item, locator, name, deleted FROM files WHERE item {clause} ORDER BY id", args):
        yield NameRow(r[0], r[1], r[2], r[3], bool(r[4]))


def _strings(value: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")


def record_texts(db: sqlite3.Connection, items: list[str], messages: bool, metadata: bool) -> Iterator[RecordText]:
    """The text values of records: a chat message's body (``messages``), every string
    field of the other records, and a message's other fields (``metadata``)."""
    clause, args = _in(items)
    sql = (f"SELECT a.id, a.item, a.record_type, f.locator, a.fields FROM artifacts a "
           f"LEFT JOIN files f ON f.id = a.file_id WHERE a.item {clause} ORDER BY a.id")
    for rid, item, rtype, locator, fields in db.execute(sql, args):
        try:
            data = json.loads(fields)
        except ValueError:
            continue
        for field, value in _strings(data, ""):
            is_body = rtype == MESSAGE_TYPE and field in MESSAGE_FIELDS
            if (is_body and messages) or (not is_body and metadata):
                yield RecordText(rid, item, rtype, locator, field, value)
