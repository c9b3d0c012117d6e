"""What the contacts and call-log extractors share: the two record shapes and the base class.

``contact/entry`` (one person as one app's address book holds it)::

    app, os, name, numbers, emails, user_ids, source {path, table, row_id}

plus ``number_details`` [{number, type, label, e164}] (``e164`` where the app itself stored a
normalised form: Android's ``data4``), ``organization``, ``deleted`` and the app's own fields.

``call/entry`` (one call of a call log)::

    app, os, direction, number, name, started_at, duration_s, source {path, table, row_id}

plus ``started_at_raw`` (the source's value, verbatim), ``outcome`` (answered, missed,
rejected, blocked, voicemail, not_answered, answered_elsewhere or null when the log does not
say), ``video``, ``country_iso`` (the device's country for the number, where the log keeps it)
and the app's own fields. ``direction`` is ``incoming``, ``outgoing`` or ``unknown``: a missed
call is an incoming call whose outcome is ``missed``.

Numbers are kept exactly as the database holds them; the case store resolves them to one
identity per person (:mod:`forensic.store.people`), with the number as found beside its
normalised form.

``app`` names the app whose data it is: ``contacts`` (the device's address book), ``phone``
(cellular calls), ``facetime``, ``whatsapp``, or a service's bundle id as the log gives it.
"""
from __future__ import annotations

import posixpath
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Iterable

from forensic.extractors.chat.common import SQLITE_MAGIC
from forensic.extractors.chat.sqlite_chat import SqliteChatExtractor
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from forensic.store.records import Link
from forensic.store.view import StoreView
from forensic.timestamps import Timestamp

CONTACT = "contact/entry"
CALL = "call/entry"
# The contract fields, in this order (``forensic contacts --json`` / ``forensic calls --json``
# print ``item`` first, then these, then the record's other fields).
CONTACT_FIELDS = ("app", "name", "numbers", "emails", "user_ids", "source")
CALL_FIELDS = ("app", "direction", "number", "name", "started_at", "duration_s", "source")
DIRECTIONS = ("incoming", "outgoing", "unknown")
CORE_DATA_EPOCH = datetime(2001, 1, 1, tzinfo=timezone.utc)


def text(value: Any) -> str | None:
    """A cell as text: bytes decoded as UTF-8 (iOS keeps some addresses as BLOBs), blanks None."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", "replace")
    value = str(value).strip()
    return value or None


def unique(values: Iterable[Any]) -> list[str]:
    """Non-empty texts, each once, in the order met."""
    return list(dict.fromkeys(v for v in (text(x) for x in values) if v))


def core_data_time(value: Any, label: str, problems: list[str]) -> Timestamp | None:
    """Core Data time (seconds since 2001-01-01 UTC, a REAL) -> UTC timestamp; 0/None -> None."""
    if value in (None, 0, 0.0, ""):
        return None
    try:
        seconds = float(value)
        return Timestamp(label, CORE_DATA_EPOCH + timedelta(seconds=seconds), None, True, "utc", str(value), 0)
    except (TypeError, ValueError, OverflowError):
        problems.append(f"{label} time {value!r} is not a Core Data time (seconds since 2001-01-01)")
        return None


def unix_ms_time(value: Any, label: str, problems: list[str]) -> Timestamp | None:
    """Unix milliseconds (UTC) -> timestamp; 0/None -> None."""
    if value in (None, 0, ""):
        return None
    try:
        return Timestamp.from_unix(label, int(value) / 1000, raw=str(value))
    except (TypeError, ValueError, OverflowError):
        problems.append(f"{label} time {value!r} is not a Unix time in milliseconds")
        return None


def seconds(value: Any, problems: list[str]) -> float | int | None:
    """A duration in seconds as stored (an int stays an int), or None with a problem noted."""
    if value is None or value == "":
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        problems.append(f"duration {value!r} is not a number of seconds")
        return None
    if f < 0:
        problems.append(f"duration {value!r} is negative")
    return int(f) if f.is_integer() else round(f, 3)


def contact_record(*, app: str, os: str, name: str | None, numbers: list[str], emails: list[str],
                   user_ids: list[str], source: dict, source_ref: str, extra: dict | None = None,
                   stamps: tuple[Timestamp, ...] = (), problems: Iterable[str] = ()) -> ArtifactRecord:
    fields: dict[str, Any] = {"app": app, "os": os, "name": name, "numbers": numbers, "emails": emails,
                              "user_ids": user_ids, "source": source}
    for k, v in (extra or {}).items():
        fields.setdefault(k, v)
    problems = tuple(problems)
    return ArtifactRecord(CONTACT, fields, stamps, corrupted=bool(problems), warnings=problems, source_ref=source_ref)


def call_record(*, app: str, os: str, direction: str, outcome: str | None, number: str | None, name: str | None,
                started: Timestamp | None, duration_s: float | int | None, source: dict, source_ref: str,
                extra: dict | None = None, problems: Iterable[str] = ()) -> ArtifactRecord:
    """A ``call/entry`` record; a call without a readable start time is kept, flagged corrupted."""
    fields: dict[str, Any] = {
        "app": app, "os": os, "direction": direction, "number": number, "name": name,
        "started_at": started.iso_utc() if started else None,
        "duration_s": duration_s, "source": source,
        "started_at_raw": started.raw if started else None, "outcome": outcome}
    for k, v in (extra or {}).items():
        fields.setdefault(k, v)
    problems = tuple(problems)
    return ArtifactRecord(CALL, fields, (started,) if started else (), corrupted=bool(problems) or started is None,
                          warnings=problems, source_ref=source_ref)


class PhoneDbExtractor(SqliteChatExtractor):
    """A phone's SQLite database of contacts or calls, read like the chat databases (private
    copies, journal or log replayed, damaged pages skipped and reported).

    ``FILE_NAMES``: names that are certainly this database (an unknown schema there is
    reported); ``OTHER_NAMES``: databases that may hold the tables (Android before 7 kept
    ``calls`` inside ``contacts2.db``): read when they do, silently passed over when not."""

    OTHER_NAMES: ClassVar[tuple[str, ...]] = ()

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        if not head.startswith(SQLITE_MAGIC):
            return False
        name = posixpath.basename(path.replace("\\", "/")).lower()
        return name in self.FILE_NAMES or name in self.OTHER_NAMES or any(m in head for m in self.MARKERS)

    def finalize(self, store: StoreView, item: str) -> Iterable[ExtractionWarning | Link]:
        return ()       # no attachments: nothing to link


def source(path: str, table: str, row_id: Any) -> dict:
    return {"path": path, "table": table, "row_id": row_id}
