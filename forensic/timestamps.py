"""Timestamps with honest time-zone provenance.

A time from evidence is one of:
  * UTC by nature (GPS time, NTFS/ext times, Unix epochs): ``tz_source='utc'``;
  * local with an offset stored beside it (EXIF ``OffsetTimeOriginal``): ``'offset_tag'``;
  * local with an inferred offset, saying from what (``'gps'``, ``'location'``);
  * local with a zone the examiner stated for the item (``'assumed'``);
  * local with unknown zone (``'unknown'``): kept naive, ``utc`` is None, flagged.
The source's raw value is always kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

TZ_SOURCES = ("utc", "offset_tag", "gps", "location", "assumed", "unknown")


@dataclass(frozen=True, slots=True)
class Timestamp:
    label: str                       # what the time is: 'modified', 'taken', 'sent', ...
    utc: datetime | None             # aware, in UTC; None when the zone is unknown
    local: datetime | None           # wall-clock time as the source gave it (naive)
    tz_known: bool
    tz_source: str                   # one of TZ_SOURCES
    raw: str                         # the source's value, verbatim
    offset_minutes: int | None = None
    # ``iso_utc()``, made once by ``from_unix_ms`` (every stored record asks for it, and a phone
    # database holds a million); None: made on each call. Not an argument, so a copy made by
    # ``dataclasses.replace`` never carries the text of another time.
    utc_text: str | None = field(default=None, init=False, compare=False, repr=False)

    @classmethod
    def from_unix_ms(cls, label: str, ms: int, raw: str | None = None) -> "Timestamp":
        """Unix milliseconds (an int) -> the exact UTC time, to the millisecond."""
        ts = cls(label, ms_datetime(ms), None, True, "utc", raw if raw is not None else str(ms), 0)
        object.__setattr__(ts, "utc_text", ms_iso_utc(ms))      # frozen: set as dataclass's own __init__ does
        return ts

    @classmethod
    def from_unix(cls, label: str, seconds: float, raw: str | None = None) -> "Timestamp":
        utc = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds)
        return cls(label, utc, None, True, "utc", raw if raw is not None else repr(seconds), 0)

    @classmethod
    def local_unknown(cls, label: str, local: datetime, raw: str) -> "Timestamp":
        return cls(label, None, local.replace(tzinfo=None), False, "unknown", raw, None)

    @classmethod
    def local_with_offset(cls, label: str, local: datetime, offset_minutes: int,
                          tz_source: str, raw: str) -> "Timestamp":
        local = local.replace(tzinfo=None)
        utc = (local - timedelta(minutes=offset_minutes)).replace(tzinfo=timezone.utc)
        return cls(label, utc, local, True, tz_source, raw, offset_minutes)

    def iso(self) -> str:
        """ISO 8601: with its offset where known, naive (no zone) where not."""
        if self.utc is None:
            return self.local.isoformat() if self.local else ""
        if self.local is not None and self.offset_minutes is not None:
            tz = timezone(timedelta(minutes=self.offset_minutes))
            return self.local.replace(tzinfo=tz).isoformat()
        return iso_utc(self.utc)

    def iso_utc(self) -> str | None:
        if self.utc_text is not None:
            return self.utc_text
        return iso_utc(self.utc) if self.utc is not None else None

    def row(self) -> tuple[str, str | None, str | None, int, str, str]:
        """The time as the case store keeps it: (label, utc, local, tz_known, tz_source, raw),
        the times as text."""
        return (self.label, self.iso_utc(), self.local.isoformat() if self.local else None, int(self.tz_known),
                self.tz_source, self.raw)


def utc_row(label: str, utc_text: str, raw: str) -> tuple[str, str, None, int, str, str]:
    """``Timestamp.row()`` of a time known in UTC (``tz_source`` 'utc', no wall clock) from its
    ``iso_utc()`` text, without the Timestamp: for records made a batch at a time, where a
    million times would each make a Timestamp only to be stored."""
    return (label, utc_text, None, 1, "utc", raw)


def iso_utc(dt: datetime) -> str:
    """RFC 3339 UTC with a ``Z``; microseconds only when present."""
    if dt.tzinfo is timezone.utc:
        return _utc_iso(dt)
    s = dt.astimezone(timezone.utc).isoformat()
    return s.replace("+00:00", "Z")


def _utc_iso(dt: datetime) -> str:
    """``iso_utc`` of a datetime already in ``timezone.utc``: '+00:00' -> 'Z', no conversion."""
    return dt.isoformat()[:-6] + "Z"


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_FLOAT_EXACT = 1 << 41
_MS_PER_HOUR = 3_600_000


def ms_datetime(ms: int) -> datetime:
    """Unix milliseconds -> aware UTC datetime. Below 2**41 ms (until 2039) through a float,
    twice as fast: the division's error (under 0.25 us) cannot change the rounding to whole
    microseconds; beyond, exactly through integer arithmetic."""
    if -_FLOAT_EXACT < ms < _FLOAT_EXACT:
        return datetime.fromtimestamp(ms / 1000, timezone.utc)
    return _EPOCH + timedelta(milliseconds=ms)


def ms_iso_utc(ms: int) -> str:
    """Unix milliseconds -> ``iso_utc(ms_datetime(ms))``, the same text made without the
    datetime: the hour's 'YYYY-MM-DDTHH:' (kept in a dict: messages come in runs through the
    same hours, and a phone database asks a million times), then the minute and second within
    it and the milliseconds, each looked up in a table of their texts. Out of datetime's range
    it raises as ``ms_datetime`` does (OverflowError)."""
    hour, ms = divmod(ms, _MS_PER_HOUR)
    second, millis = divmod(ms, 1000)
    prefix = _HOURS.get(hour)
    if prefix is None:
        prefix = _hour_prefix(hour)
    return prefix + _MINUTE_SECOND[second] + _FRACTION[millis]


# 'MM:SS' of each second of an hour; the fraction of each millisecond of a second as
# datetime.isoformat writes it (microseconds, only when not zero), with the 'Z'
_MINUTE_SECOND = tuple(f"{m:02}:{s:02}" for m in range(60) for s in range(60))
_FRACTION = ("Z", *(f".{ms:03}000Z" for ms in range(1, 1000)))


# hour counted from the Unix epoch -> its 'YYYY-MM-DDTHH:' (up to _HOURS_KEPT, then begun again)
_HOURS: dict[int, str] = {}
_HOURS_KEPT = 1 << 16


def _hour_prefix(hour: int) -> str:
    """'YYYY-MM-DDTHH:' of an hour counted from the Unix epoch (formatted by isoformat), kept
    in ``_HOURS``."""
    prefix = (_EPOCH + timedelta(hours=hour)).isoformat()[:14]
    if len(_HOURS) >= _HOURS_KEPT:
        _HOURS.clear()
    _HOURS[hour] = prefix
    return prefix


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
