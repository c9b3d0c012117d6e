"""The ``location/point`` record: one position a device or app recorded.

Fields: ``latitude``, ``longitude`` (WGS 84 degrees), ``accuracy_m`` (horizontal, metres) and
``altitude`` (metres) where known, ``at`` (ISO 8601 UTC) with ``at_raw`` (the source's value as
stored), ``source`` {``path``, ``table``, ``row_id``}, ``app``, ``kind`` (what the row is: a
fix, a visit, a saved place) and ``name`` where the app gave one. A row whose position is not
two numbers within range is reported and left out, never guessed.
"""
from __future__ import annotations

from typing import Any

from forensic.extractors.records import ArtifactRecord
from forensic.timestamps import Timestamp

RECORD_TYPE = "location/point"


def valid(lat: Any, lon: Any) -> bool:
    """Two numbers (not booleans) within range, and not 0/0 (a "no fix")."""
    if isinstance(lat, bool) or isinstance(lon, bool) or not isinstance(lat, (int, float)) \
            or not isinstance(lon, (int, float)):
        return False
    return -90 <= lat <= 90 and -180 <= lon <= 180 and not (lat == 0 and lon == 0)


def point_record(*, latitude: Any, longitude: Any, at: Timestamp | None, app: str, kind: str, source: dict,
                 source_ref: str, accuracy_m: Any = None, altitude: Any = None, name: str | None = None,
                 extra: dict | None = None, problems: list[str] | None = None,
                 more_times: tuple[Timestamp | None, ...] = ()) -> ArtifactRecord | None:
    """The record of one position, or None (with a problem noted) when it is not a valid one.
    ``more_times``: the record's other times (a visit's end), put on the timeline too."""
    if not valid(latitude, longitude):
        if problems is not None:
            problems.append(f"{source.get('table')}: row {source.get('row_id')} has no valid position "
                            f"({latitude!r}, {longitude!r}); left out")
        return None
    num = (int, float)
    fields: dict[str, Any] = {
        "latitude": float(latitude), "longitude": float(longitude),
        "accuracy_m": float(accuracy_m) if isinstance(accuracy_m, num) and accuracy_m >= 0 else None,
        "altitude": float(altitude) if isinstance(altitude, num) and not isinstance(altitude, bool) else None,
        "at": at.iso_utc() if at is not None else None, "at_raw": at.raw if at is not None else None,
        "source": source, "app": app, "kind": kind, "name": name,
    }
    for k, v in (extra or {}).items():
        fields.setdefault(k, v)
    # the record's times (``at`` first, then others such as a visit's end) feed the timeline
    times = tuple(t for t in (at, *more_times) if t is not None)
    return ArtifactRecord(RECORD_TYPE, fields, times, False, (), source_ref)
