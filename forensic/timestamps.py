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

from dataclasses import dataclass
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
        return iso_utc(self.utc) if self.utc is not None else None


def iso_utc(dt: datetime) -> str:
    """RFC 3339 UTC with a ``Z``; microseconds only when present."""
    s = dt.astimezone(timezone.utc).isoformat()
    return s.replace("+00:00", "Z")


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
