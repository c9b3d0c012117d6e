"""A unified timeline from the case store, in Timesketch's import format.

Sources of events:
  * file-system times of every entry (``files``): "File modified", "File accessed",
    "Metadata changed", "File created"; UTC where the file system stores UTC, local wall
    clock with no zone where it does not (FAT, exFAT, ZIP: ``times_tz_known`` false);
  * the times extractors recorded (``timestamps`` joined to ``artifacts``): a photo's
    "Photo taken", "Photo digitized", "Photo modified (EXIF)", "GPS fix"; a chat
    message's "Message sent", "Message edited" (a message that shares a position says so, with
    its latitude and longitude); any other record type as "<label> (<type>)".

Each event is a dict with Timesketch's fields — ``message``, ``datetime`` (ISO 8601 with
offset), ``timestamp_desc``, ``timestamp`` (int, microseconds since the Unix epoch) — plus
``item``, ``path``, ``sha256``, ``record_type``, ``tz_known``, ``tz_source``, ``local_datetime``,
``locator``, ``recovery``, ``db_state`` and ``recovered``.

Uncommitted records. A phone database found inside a transaction yields, besides its committed
messages, those only the unfinished transaction holds (``db_state`` "uncommitted"). Their
events never read as ordinary ones: ``timestamp_desc`` is "Message sent (uncommitted)", the
``message`` begins "Message sent (uncommitted: found only in a database's unfinished
transaction)", and ``db_state`` says "uncommitted" (it is "committed" for the other records of
such a database, null for everything else).

Recovered rows. A deleted row a phone database still held in its free space (the extractors'
``recovered`` "deleted") is not a live message either: ``timestamp_desc`` is "Message sent
(recovered deleted row)", the ``message`` begins "Message sent (recovered deleted row: found in a
database's free space)", and ``recovered`` says "deleted" (null for everything else).

Ordering rule. Events whose zone is known are ordered by their UTC instant. An event whose
zone is unknown has no instant: it is placed by its wall-clock time *read as if it were
UTC*, and it says so — ``tz_known`` false, ``tz_source`` "unknown", ``datetime`` without any
offset, ``timestamp`` null. Its true instant lies anywhere from 14 hours before to 12 hours
after that place (UTC offsets run from -12:00 to +14:00). At an equal key, known events come
first. A stored time that cannot be read at all (none should exist) is listed first, verbatim,
with ``timestamp`` null. ``--from``/``--to`` keep a known event when its instant is within the bounds, and an
unknown-zone event when it *could* be within them (its wall clock between ``from - 12 h`` and
``to + 14 h``): a time filter never silently drops an event that may belong.

Streaming: the store orders the times (:func:`forensic.store.timeline.rows`: one query,
whose sorter spills to temporary files; on PostgreSQL the timeline index, read a page at a
time in one snapshot, in the same order) and hands them over one at a time; each becomes an
event here, so memory stays flat over millions of files.
"""
from __future__ import annotations

import json
import re
import sqlite3
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any, Iterable, Iterator, TextIO

from forensic.errors import UsageError
from forensic.store import timeline as store_timeline
from forensic.store.places import valid
from forensic.store.records import TimelineRow
# the store's ordering rule and its time helpers, named here as ever (callers import them from here)
from forensic.store.timeline import (EARLIEST_OFFSET_H, EPOCH, FILE_TIMES, HOUR_US, LATEST_OFFSET_H,  # noqa: F401
                                     US, TimelineFilter, parse_stored, sort_key, to_us)

# the fields of a timeline event, in order; the first four are Timesketch's
FIELDS = ("message", "datetime", "timestamp_desc", "timestamp", "item", "path", "sha256", "record_type",
          "tz_known", "tz_source", "local_datetime", "locator", "recovery", "db_state", "recovered")

LABELS = {
    ("photo/exif", "taken"): "Photo taken",
    ("photo/exif", "digitized"): "Photo digitized",
    ("photo/exif", "modified"): "Photo modified (EXIF)",
    ("photo/exif", "gps"): "GPS fix",
    ("media/video", "taken"): "Video recorded",
    ("media/video", "modified"): "Video modified (QuickTime)",
    ("media/video", "gps"): "GPS fix (video)",
    ("chat/message", "sent"): "Message sent",
    ("chat/message", "edited"): "Message edited",
    # location/point (iOS routined, Google Maps): the labels its extractors give its times
    ("location/point", "fix"): "Device location fix",
    ("location/point", "visit_entry"): "Device visit began",
    ("location/point", "visit_exit"): "Device visit ended",
    ("location/point", "place_created"): "Device learned a place",
    ("location/point", "saved"): "Place saved (maps)",
}

# a record found only in a database's unfinished transaction (the extractors' db_state)
UNCOMMITTED = "uncommitted"
UNCOMMITTED_NOTE = "uncommitted: found only in a database's unfinished transaction"
# a deleted row recovered from a database's free space (the extractors' recovered)
RECOVERED = "deleted"
RECOVERED_DESC = "recovered deleted row"
RECOVERED_NOTE = "recovered deleted row: found in a database's free space"

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def describe(desc: str, db_state: str | None, recovered: Any = None) -> str:
    """An event's ``timestamp_desc``: ``Message sent``, ``Message sent (uncommitted)`` or
    ``Message sent (recovered deleted row)``."""
    if recovered == RECOVERED:
        return f"{desc} ({RECOVERED_DESC})"
    return f"{desc} ({UNCOMMITTED})" if db_state == UNCOMMITTED else desc


def message_text(desc: str, conversation: str | None, sender: str | None, body: str | None,
                 db_state: str | None = None, lat: Any = None, lon: Any = None, recovered: Any = None) -> str:
    """A chat message event's ``message``: ``Message sent in CHAT by SENDER: body``; an
    uncommitted one says so first (``Message sent (uncommitted: found only in ...) in ...``),
    a recovered deleted row too (``Message sent (recovered deleted row: found in ...) in ...``);
    one that shares a position says where (``... by SENDER, sharing location LAT, LON: body``)."""
    state = f" ({RECOVERED_NOTE})" if recovered == RECOVERED else \
        f" ({UNCOMMITTED_NOTE})" if db_state == UNCOMMITTED else ""
    conv = f" in {conversation}" if conversation else ""
    where = f", sharing location {lat}, {lon}" if _place(lat, lon) else ""
    return f"{desc}{state}{conv} by {sender or '(system)'}{where}: {body or ''}"


def _place(lat: Any, lon: Any) -> bool:
    """A position worth naming: two numbers (not booleans) within range, not 0/0."""
    return valid(lat, lon)


# -- time helpers -------------------------------------------------------------------------
def parse_bound(text: str, end: bool = False) -> int:
    """``--from``/``--to``: an ISO 8601 date or date-time; naive means UTC. A date alone as
    the end bound includes that whole day. Returns µs since the epoch (inclusive)."""
    text = text.strip()
    try:
        if _DATE_ONLY.match(text):
            day = datetime.combine(date.fromisoformat(text), datetime.min.time(), timezone.utc)
            return to_us(day + timedelta(days=1)) - 1 if end else to_us(day)
        return to_us(datetime.fromisoformat(text.replace(" ", "T", 1)))
    except (ValueError, OverflowError) as exc:
        raise UsageError(f"{text!r} is not an ISO 8601 date or date-time",
                         hint="e.g. 2021-06-01, 2021-06-01T14:30:00 (UTC) or 2021-06-01T14:30:00+02:00") from exc


def zone(name: str | None) -> tzinfo:
    if not name:
        return timezone.utc
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(f"unknown time zone {name!r}", hint="use an IANA name such as Europe/Madrid") from exc


def iso(dt: datetime) -> str:
    return dt.isoformat()


# -- the events --------------------------------------------------------------------------------
def events(db: sqlite3.Connection, flt: TimelineFilter = TimelineFilter(),
           tz: tzinfo | None = None) -> Iterator[dict[str, Any]]:
    """Timeline events in order (see the module doc for the rule), one at a time."""
    render = tz or timezone.utc
    for r in store_timeline.rows(db, flt):
        yield _event(r, render)


def _event(r: TimelineRow, render: tzinfo) -> dict[str, Any]:
    record_type = r.record_type
    is_fs = record_type.startswith("fs/")
    label = r.label if is_fs else LABELS.get((record_type, r.label), f"{r.label} ({record_type})")
    desc = describe(label, r.db_state, r.recovered)
    tz_known = r.tz_known
    if r.key is None:                      # not a time we can read (never dropped: listed first)
        value = r.utc if r.utc is not None else r.local
        tz_known, when, stamp, local_iso = False, str(value), None, str(value)
    elif tz_known and r.utc is not None:
        utc = parse_stored(r.utc)
        utc = utc.replace(tzinfo=timezone.utc) if utc.tzinfo is None else utc.astimezone(timezone.utc)
        utc_iso = iso(utc)
        when = utc_iso if render is timezone.utc else iso(utc.astimezone(render))
        stamp = (utc - EPOCH) // US
        if r.local is not None:          # the wall clock the device showed, with its offset
            local = parse_stored(r.local).replace(tzinfo=None)
            offset = local - utc.replace(tzinfo=None)
            local_iso = iso(local.replace(tzinfo=timezone(offset)))
        else:
            local_iso = utc_iso
    else:
        tz_known = False
        value = r.local if r.local is not None else r.utc
        when = iso(parse_stored(value).replace(tzinfo=None))
        stamp = None
        local_iso = when
    return {
        "message": _message(label, r, is_fs),
        "datetime": when,
        "timestamp_desc": desc,
        "timestamp": stamp,
        "item": r.item,
        "path": r.path,
        "sha256": r.sha256,
        "record_type": record_type,
        "tz_known": tz_known,
        "tz_source": r.tz_source if tz_known else "unknown",
        "local_datetime": local_iso,
        "locator": r.locator,
        "recovery": r.recovery,
        "db_state": r.db_state,
        "recovered": r.recovered,
    }


def _message(desc: str, r: TimelineRow, is_fs: bool) -> str:
    path = r.path or "?"
    # a file cut out of unallocated space or found inside another file says so in every event
    deleted = (" (deleted)" if r.deleted and r.recovery != "carved" else "") \
        + (f" ({r.recovery})" if r.recovery in ("carved", "embedded") else "")
    if is_fs:
        return f"{desc}: {path}{deleted}"
    if r.record_type != "chat/message":
        if r.recovered == RECOVERED:
            desc = f"{desc} ({RECOVERED_NOTE})"
        elif r.db_state == UNCOMMITTED:
            desc = f"{desc} ({UNCOMMITTED_NOTE})"
    if r.record_type == "location/point":
        where = f" at {r.lat}, {r.lon}" if r.lat is not None and r.lon is not None else ""
        return f"{desc}{where}: {path}{deleted}"
    if r.record_type in ("photo/exif", "media/video"):
        from forensic.exporters.geo import device
        dev = device(r.make, r.model)
        where = f" at {r.lat}, {r.lon}" if r.lat is not None and r.lon is not None else ""
        return f"{desc}{where}: {path}{deleted}" + (f" [{dev}]" if dev else "")
    if r.record_type == "chat/message":
        return message_text(desc, r.conversation, r.sender, r.body, r.db_state, r.lat, r.lon, r.recovered)
    return f"{desc}: {path}{deleted}"


# -- writers ----------------------------------------------------------------------------------
def write_jsonl(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    encode = json.JSONEncoder(ensure_ascii=False).encode
    write = out.write
    n = 0
    for row in rows:
        write(encode(row) + "\n")
        n += 1
    return n


def write_csv(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    from forensic.exporters.geo import write_csv_rows
    return write_csv_rows(rows, out, FIELDS)


WRITERS = {"jsonl": write_jsonl, "csv": write_csv}
