"""Small helpers the messaging-app database readers share (Viber, Messenger, Instagram,
Google Messages, Kik, Skype, Line, Snapchat, Telegram, Signal): time conversions that keep
the raw value, a checked location, a tolerant JSON column reader, readable party names, and
the "unknown schema version" check. No SQL here: the readers run their own queries through
:mod:`forensic.extractors.chat.sqlite_chat`.
"""
from __future__ import annotations

import json
import math
from typing import Any

from forensic.timestamps import Timestamp

# Seconds between 2001-01-01 (Apple's Core Data epoch) and 1970-01-01.
APPLE_EPOCH = 978307200


def unix_seconds(value: Any, label: str, problems: list[str]) -> Timestamp | None:
    """A Unix time in seconds (UTC); None for 0/NULL; a problem for anything else unreadable."""
    return _scaled(value, label, problems, 1, "seconds")


def unix_millis(value: Any, label: str, problems: list[str]) -> Timestamp | None:
    return _scaled(value, label, problems, 1000, "milliseconds")


def unix_micros(value: Any, label: str, problems: list[str]) -> Timestamp | None:
    return _scaled(value, label, problems, 1_000_000, "microseconds")


def apple_seconds(value: Any, label: str, problems: list[str]) -> Timestamp | None:
    """A Core Data time: seconds since 2001-01-01 UTC (float)."""
    if value is None or value == 0:
        return None
    try:
        return Timestamp.from_unix(label, float(value) + APPLE_EPOCH, raw=str(value))
    except (TypeError, ValueError, OverflowError, OSError):
        problems.append(f"{label} time {value!r} is not a Core Data time (seconds since 2001)")
        return None


def _scaled(value: Any, label: str, problems: list[str], per_second: int, unit: str) -> Timestamp | None:
    if value is None or value == 0 or value == "":
        return None
    try:
        return Timestamp.from_unix(label, int(value) / per_second, raw=str(value))
    except (TypeError, ValueError, OverflowError, OSError):
        problems.append(f"{label} time {value!r} is not a Unix time in {unit}")
        return None


def location(lat: Any, lon: Any, source: str) -> dict | None:
    """``{"latitude", "longitude", "source"}`` for a real position; None for missing,
    (0, 0) or out-of-range values (an app's "no position")."""
    try:
        la, lo = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(la) and math.isfinite(lo)) or (la == 0 and lo == 0):
        return None
    if not (-90 <= la <= 90 and -180 <= lo <= 180):
        return None
    return {"latitude": la, "longitude": lo, "source": source}


def json_value(text: Any, what: str, problems: list[str]) -> Any:
    """The JSON in a text/blob column, or None (with a problem when it is there but not JSON)."""
    if text is None or text == "" or text == b"":
        return None
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        problems.append(f"{what} is not readable JSON ({exc})")
        return None


def party(name: Any, ident: Any) -> str | None:
    """How a party is shown: ``Name (id)``, or whichever of the two is known."""
    name = str(name).strip() if name not in (None, "") else None
    ident = str(ident).strip() if ident not in (None, "") else None
    if name and ident and name != ident:
        return f"{name} ({ident})"
    return name or ident


def missing_columns(tables: dict[str, set[str]], table: str, needed: tuple[str, ...], app: str,
                    problems: list[str]) -> bool:
    """True when ``table`` lacks any of ``needed``: reported once as an unknown schema version
    of ``app`` naming the columns, so the examiner knows what was not read."""
    gone = [c for c in needed if c not in tables.get(table, set())]
    if gone:
        problems.append(f"{app}: table {table} lacks column(s) {', '.join(gone)} (unknown schema version); "
                        "those values are not read")
    return bool(gone)


def text_of(value: Any) -> str:
    """A text column as text (a blob decoded as UTF-8, replacing what is not)."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
