"""Photos and their geotags out of the case store: rows, GeoJSON, KML, CSV.

:func:`photo_rows` turns the ``photo/exif`` records (one per photo, with the file that holds
it, streamed by :func:`forensic.store.selection.photos`) into plain dicts. The writers take such rows and a
text stream and return how many they wrote; only *geotagged* rows (``gps_valid`` true, with
a latitude and a longitude) are written — a photo whose GPS block is present but invalid
(0/0, out of range, zero denominator) is never placed on a map.

* GeoJSON: an RFC 7946 FeatureCollection; each Feature is a Point with coordinates
  ``[lon, lat]`` (``[lon, lat, alt]`` when the altitude is known), WGS 84, no ``crs``.
* KML 2.2: one Placemark per photo, ``<TimeStamp><when>`` the time taken (with its offset)
  when its zone is known, else the GPS time; no ``<when>`` for a photo whose only time has
  no known zone (a zoneless time would be read as UTC by Google Earth). Every string from
  evidence is XML-escaped; characters XML 1.0 cannot carry are written as ``\\xNN``.
* CSV: a header, then one row per photo. Text from evidence that a spreadsheet would run
  as a formula (starting with ``= + - @`` or a tab/CR) is prefixed with ``'``.
"""
from __future__ import annotations

import csv
import json
import re
import sqlite3
from typing import Any, Callable, Iterable, Iterator, TextIO

from forensic.store import selection as store_selection
from forensic.store.records import Photo

RECORD_TYPE = store_selection.PHOTO

# the fields of `forensic photos --json`, in order (a public contract: add, never rename)
PHOTO_FIELDS = (
    "item", "path", "locator", "sha256", "make", "model", "serial", "software", "taken_at",
    "taken_at_utc", "tz_known", "tz_source", "lat", "lon", "alt", "gps_at", "width", "height",
    "deleted", "corrupted", "warnings",
    # extras
    "device", "tz_offset_minutes", "gps_valid", "gps_raw", "has_exif", "exif_source", "mime",
)

# the columns of `forensic geo --format csv` (and the properties of each GeoJSON Feature)
GEO_FIELDS = (
    "item", "path", "locator", "sha256", "device", "make", "model", "serial", "taken_at",
    "taken_at_utc", "tz_known", "tz_source", "gps_at", "lat", "lon", "alt", "deleted", "corrupted",
)

_EVIDENCE_TEXT = {"path", "locator", "device", "make", "model", "serial", "software", "message"}


# -- reading --------------------------------------------------------------------------------
def photo_rows(db: sqlite3.Connection, item: str | None = None,
               geotagged: bool = False) -> Iterator[dict[str, Any]]:
    """Every photo record (walk order within each item) as a dict of :data:`PHOTO_FIELDS`;
    ``geotagged``: only those with a valid GPS position."""
    for p in store_selection.photos(db, item, geotagged):
        yield photo_row(p)


def photo_row(p: Photo) -> dict[str, Any]:
    fields = p.fields
    out: dict[str, Any] = {
        "item": p.item, "path": p.path, "locator": p.locator, "sha256": p.sha256,
    }
    for key in ("make", "model", "serial", "software", "taken_at", "taken_at_utc", "tz_known", "tz_source",
                "lat", "lon", "alt", "gps_at", "width", "height"):
        out[key] = fields.get(key)
    out["deleted"] = p.deleted
    out["corrupted"] = p.corrupted
    out["warnings"] = p.warnings
    out["device"] = device(fields.get("make"), fields.get("model"), fields.get("serial"))
    out["tz_offset_minutes"] = fields.get("tz_offset_minutes")
    out["gps_valid"] = bool(fields.get("gps_valid"))
    out["gps_raw"] = fields.get("gps_raw")
    out["has_exif"] = bool(fields.get("has_exif"))
    out["exif_source"] = fields.get("exif_source")
    out["mime"] = p.mime
    return out


def device(make: str | None, model: str | None, serial: str | None = None) -> str | None:
    """'Canon EOS 5D Mark IV (serial 0123)': make and model without repeating the make."""
    make, model = (make or "").strip(), (model or "").strip()
    if make and model.lower().startswith(make.lower()):
        name = model
    else:
        name = " ".join(x for x in (make, model) if x)
    if serial:
        name = f"{name} (serial {serial})" if name else f"serial {serial}"
    return name or None


def is_geotagged(row: dict[str, Any]) -> bool:
    return bool(row.get("gps_valid")) and row.get("lat") is not None and row.get("lon") is not None


# -- GeoJSON (RFC 7946) ----------------------------------------------------------------------
def feature(row: dict[str, Any]) -> dict[str, Any]:
    coords = [row["lon"], row["lat"]]
    if row.get("alt") is not None:
        coords.append(row["alt"])
    return {"type": "Feature",
            "geometry": {"type": "Point", "coordinates": coords},
            "properties": {k: row.get(k) for k in GEO_FIELDS if k not in ("lat", "lon")}}


def write_geojson(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    """A FeatureCollection, written feature by feature (memory does not grow with the count)."""
    n = 0
    out.write('{"type": "FeatureCollection", "features": [')
    for row in rows:
        if not is_geotagged(row):
            continue
        out.write(("\n" if n == 0 else ",\n") + json.dumps(feature(row), ensure_ascii=False))
        n += 1
    out.write("\n]}\n")
    return n


# -- KML 2.2 ------------------------------------------------------------------------------------
KML_NS = "http://www.opengis.net/kml/2.2"
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# what xml.sax.saxutils.escape(text, {'"': "&quot;", "'": "&apos;"}) does, without importing
# xml.sax (it loads urllib.request and http.client: ~80 ms of every export's start)
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"})


def xml_text(value: Any) -> str:
    """Escape a value (hostile evidence text) for XML 1.0 character data or attributes."""
    text = _XML_ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))
    return text.translate(_XML_ESCAPES)


def kml_when(row: dict[str, Any]) -> str | None:
    """The Placemark's time: taken (with its offset) when its zone is known, else the GPS time."""
    if row.get("taken_at") and row.get("tz_known"):
        return row["taken_at"]
    return row.get("gps_at")


def write_kml(rows: Iterable[dict[str, Any]], out: TextIO, name: str = "forensic photos") -> int:
    n = 0
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n'
              f'<kml xmlns="{KML_NS}">\n<Document>\n<name>{xml_text(name)}</name>\n')
    for row in rows:
        if not is_geotagged(row):
            continue
        path = row.get("path") or ""
        title = path.rsplit("/", 1)[-1] or path
        lines = [f"taken: {row.get('taken_at') or 'unknown'}"
                 + ("" if row.get("tz_known") or not row.get("taken_at") else " (local time, zone unknown)"),
                 f"time-zone source: {row.get('tz_source') or '-'}",
                 f"device: {row.get('device') or '-'}",
                 f"SHA-256: {row.get('sha256') or '-'}",
                 f"locator: {row.get('locator') or '-'}"]
        coords = f"{row['lon']!r},{row['lat']!r}" + (f",{row['alt']!r}" if row.get("alt") is not None else "")
        parts = [f"<Placemark>\n<name>{xml_text(title)}</name>\n"
                 f"<description>{xml_text(chr(10).join(lines))}</description>\n"]
        when = kml_when(row)
        if when:
            parts.append(f"<TimeStamp><when>{xml_text(when)}</when></TimeStamp>\n")
        parts.append("<ExtendedData>\n")
        for key in GEO_FIELDS:
            value = row.get(key)
            if value is None:
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
            parts.append(f'<Data name="{key}"><value>{xml_text(value)}</value></Data>\n')
        parts.append("</ExtendedData>\n")
        parts.append(f"<Point>{'<altitudeMode>absolute</altitudeMode>' if row.get('alt') is not None else ''}"
                     f"<coordinates>{coords}</coordinates></Point>\n</Placemark>\n")
        out.write("".join(parts))
        n += 1
    out.write("</Document>\n</kml>\n")
    return n


# -- CSV ------------------------------------------------------------------------------------
def csv_cell(key: str, value: Any) -> Any:
    """A CSV cell: booleans as true/false, null as empty, formula-like evidence text defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if key in _EVIDENCE_TEXT and isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


_FORMULA_START = frozenset("=+-@\t\r")


def csv_cells(columns: tuple[str, ...]) -> Callable[[dict[str, Any]], list]:
    """A row's cells in ``columns``: ``[csv_cell(k, row.get(k)) for k in columns]``, with the
    per-cell function call left out (a timeline has ~100,000 cells): every cell is looked
    at for null and booleans, only the evidence-text columns for formulas."""
    evidence = tuple(i for i, k in enumerate(columns) if k in _EVIDENCE_TEXT)

    def cells(row: dict[str, Any]) -> list:
        out = ["" if v is None else ("true" if v else "false") if v.__class__ is bool else v
               for v in map(row.get, columns)]
        for i in evidence:
            v = out[i]
            if isinstance(v, str) and v[:1] in _FORMULA_START:
                out[i] = "'" + v
        return out
    return cells


def write_csv_rows(rows: Iterable[dict[str, Any]], out: TextIO, columns: tuple[str, ...]) -> int:
    """A header, then each row's :func:`csv_cells`, as ``csv.writer(out)`` writes them (RFC 4180,
    CRLF). A line whose cells need no quoting (no quote, CR, LF or comma in them: nearly
    all) is joined here; the CSV writer's per-character scan costs ~7 µs a row."""
    writer = csv.writer(out)
    writer.writerow(columns)
    cells = csv_cells(columns)
    commas = len(columns) - 1
    lines: list[str] = []
    n = 0
    for row in rows:
        values = cells(row)
        line = ",".join(map(str, values))
        if commas and line.count(",") == commas and '"' not in line and "\r" not in line and "\n" not in line:
            lines.append(line + "\r\n")
        else:
            if lines:
                out.write("".join(lines))
                lines.clear()
            writer.writerow(values)
        n += 1
        if len(lines) >= 4096:
            out.write("".join(lines))
            lines.clear()
    out.write("".join(lines))
    return n


def write_csv(rows: Iterable[dict[str, Any]], out: TextIO, columns: tuple[str, ...] = GEO_FIELDS,
              geotagged_only: bool = True) -> int:
    if geotagged_only:
        rows = (row for row in rows if is_geotagged(row))
    return write_csv_rows(rows, out, columns)


WRITERS = {"geojson": write_geojson, "kml": write_kml, "csv": write_csv}
