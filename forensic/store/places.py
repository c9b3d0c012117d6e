"""Places the case store holds besides photo geotags: the positions shared in chat messages
(a WhatsApp or Telegram location message, a maps link), which ``forensic geo``, the timeline
and a bundle's map show beside the photos, each with the message it came from.

A ``chat/message`` record holds its position as ``location`` = {``latitude``, ``longitude``,
``source``} (and ``name``, a place's name, where the app gave one). Records stored before that
shape (``{"lat", "lon"}``) are read too. A position that is not two numbers within range is
left out, and so is 0/0 (an app's "no fix").
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Self, TypeVar

from forensic.store.db import dialect, stream

_Place = TypeVar("_Place")

MESSAGE = "chat/message"


@dataclass(frozen=True, slots=True)
class _Placed:
    """A position a record holds, with the record and the file it came from."""
    artifact_id: int
    item: str
    extractor: str                    # NAME@version
    fields: dict                      # the record's fields
    corrupted: bool
    latitude: float
    longitude: float
    path: str | None
    locator: str | None
    sha256: str | None                # of the file (chat database or export, cache) it came from
    deleted: bool                     # that file was deleted

    @classmethod
    def _at(cls, r: sqlite3.Row, fields: dict, pos: tuple[float, float]) -> Self:
        return cls(r["id"], r["item"], r["extractor"], fields, bool(r["corrupted"]), pos[0], pos[1],
                   r["path"], r["locator"], r["sha256"], bool(r["deleted"]))


@dataclass(frozen=True, slots=True)
class ChatPlace(_Placed):
    """A position shared in a chat message, with the message's record and the file (the chat
    database or export) it came from."""

    @property
    def location(self) -> dict:
        loc = self.fields.get("location")
        return loc if isinstance(loc, dict) else {}

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> "ChatPlace | None":
        """The place of a row, or None when its ``location`` holds no valid position."""
        fields = json.loads(r["fields"])
        loc = fields.get("location") if isinstance(fields, dict) else None
        if not isinstance(loc, dict):
            return None
        pos = position(loc)
        if pos is None:
            return None
        return cls._at(r, fields, pos)


def valid(lat: Any, lon: Any) -> bool:
    """Two numbers (not booleans) within range, and not 0/0."""
    if isinstance(lat, bool) or isinstance(lon, bool) or not isinstance(lat, (int, float)) \
            or not isinstance(lon, (int, float)):
        return False
    return -90 <= lat <= 90 and -180 <= lon <= 180 and not (lat == 0 and lon == 0)


def position(loc: dict) -> tuple[float, float] | None:
    """(latitude, longitude) of a record's ``location`` (either shape), or None."""
    lat: Any = loc.get("latitude", loc.get("lat"))
    lon: Any = loc.get("longitude", loc.get("lon"))
    if not valid(lat, lon):
        return None
    return float(lat), float(lon)


def chat_locations(db: sqlite3.Connection, item: str | None = None) -> Iterator[ChatPlace]:
    """The chat messages that carry a valid position, of one item or all, streamed: by item,
    then the order stored (the file's id, the record's id)."""
    yield from _placed(db, MESSAGE, item, ChatPlace.from_row, may_be_located(db))


def may_be_located(db: sqlite3.Connection) -> str:
    """SQL: the fields of message ``a`` may hold a position (its ``location`` an object). On
    PostgreSQL, whose JSON types refuse some valid JSON a message may hold (a "\\u0000"), a
    cheap test of the text: the caller reads the fields (an object or no place)."""
    if dialect(db) == "postgresql":
        return "a.fields LIKE '%\"location\"%'"
    return "json_type(a.fields, '$.location') = 'object'"


DEVICE = "location/point"


@dataclass(frozen=True, slots=True)
class DevicePlace(_Placed):
    """A position a device or app recorded itself (``location/point``: an iOS routined fix or
    visit, a Google Maps saved place), with its record and the file it came from."""
    @classmethod
    def from_row(cls, r: sqlite3.Row) -> "DevicePlace | None":
        """The place of a row, or None when it holds no valid position."""
        fields = json.loads(r["fields"])
        if not isinstance(fields, dict):
            return None
        pos = position(fields)
        if pos is None:
            return None
        return cls._at(r, fields, pos)


def device_locations(db: sqlite3.Connection, item: str | None = None) -> Iterator[DevicePlace]:
    """The ``location/point`` records with a valid position, of one item or all, streamed: by
    item, then the order stored."""
    yield from _placed(db, DEVICE, item, DevicePlace.from_row)


def _placed(db: sqlite3.Connection, record_type: str, item: str | None,
            make: Callable[[sqlite3.Row], _Place | None], condition: str | None = None) -> Iterator[_Place]:
    """The records of ``record_type`` (of one item or all; meeting ``condition``) that ``make``
    turns into a place, with the file each came from, streamed: by item, then the order stored
    (the file's id, the record's id)."""
    where, args = ["a.record_type = ?"], [record_type]
    if condition is not None:
        where.append(condition)
    if item is not None:
        where.append("a.item = ?")
        args.append(item)
    sql = ("SELECT a.id, a.item, a.extractor, a.fields, a.corrupted, f.path, f.locator, f.sha256, f.deleted "
           "FROM artifacts a LEFT JOIN files f ON f.id = a.file_id WHERE " + " AND ".join(where)
           + " ORDER BY a.item, a.file_id NULLS FIRST, a.id")   # SQLite's order of NULL
    for place in stream(db, sql, args, make):
        if place is not None:
            yield place
