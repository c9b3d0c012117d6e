"""Photos and their geotags, and the positions shared in chat messages, out of the case
store: rows, GeoJSON, KML, CSV.

:func:`photo_rows` turns the ``photo/exif`` records (one per photo, with the file that holds
it, streamed by :func:`forensic.store.selection.photos`) into plain dicts; :func:`chat_row`
does the same for a chat message that carries a ``location`` (a WhatsApp/Telegram location
message, a maps link: :func:`forensic.store.places.chat_locations`), and :func:`geo_rows`
gives both, photos first, each row saying what it is (``kind`` "photo" or "chat_message") and
naming its record (``artifact_id``); a chat point names its message (``platform``,
``conversation``, ``sender``, ``sent_at``, ``message_id``, ``body``) and the chat database or
export it came from (``path``, ``locator``, ``sha256``). The writers take such rows and a
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
from typing import Any, Iterable, Iterator, TextIO

from forensic.store import places as store_places
from forensic.store import selection as store_selection
from forensic.store.places import ChatPlace, DevicePlace
from forensic.store.records import Photo

RECORD_TYPE = store_selection.PHOTO

# the fields of `forensic photos --json`, in order (a public contract: add, never rename)
PHOTO_FIELDS = (
    "item", "path", "locator", "sha256", "make", "model", "serial", "software", "taken_at",
    "taken_at_utc", "tz_known", "tz_source", "lat", "lon", "alt", "gps_at", "width", "height",
    "deleted", "corrupted", "warnings",
    # extras
    "device", "tz_offset_minutes", "gps_valid", "gps_raw", "has_exif", "exif_source", "mime",
    # how the file was had: 'carved' (from unallocated space), 'embedded' (inside another file), ...
    "recovery", "recovery_confidence",
)

# the columns of `forensic geo --format csv` (and the properties of each GeoJSON Feature)
GEO_FIELDS = (
    "item", "path", "locator", "sha256", "device", "make", "model", "serial", "taken_at",
    "taken_at_utc", "tz_known", "tz_source", "gps_at", "lat", "lon", "alt", "deleted", "corrupted",
    # what the point is: a photo's geotag, or a position shared in a chat message (then the
    # message: its app, conversation, sender, time, id and text, and where the position came from)
    "kind", "artifact_id", "platform", "conversation", "sender", "sent_at", "sent_at_utc", "message_id", "body",
    "location_name", "location_source",
    # a position the device recorded itself (kind "device_location": iOS routined, Google Maps):
    # its horizontal accuracy in metres, what the row is (fix, visit, saved place), the app
    "accuracy_m", "location_kind", "app",
)
PHOTO_KIND = "photo"
CHAT_KIND = "chat_message"
DEVICE_KIND = "device_location"    # a location/point record: a position the device recorded
VIDEO_KIND = "video"                 # a video's position (its first fix or its ISO 6709 place)
TRACK_KIND = "video_track"           # a video's GPS track (GeoJSON LineString, KML LineString)
# what a video row adds to a photo row (`forensic photos --videos --json`)
VIDEO_EXTRAS = ("kind", "duration_s", "codecs", "frame_rate", "taken_at_source", "dates", "track_points",
                "track_decimated")

_EVIDENCE_TEXT = {"path", "locator", "device", "make", "model", "serial", "software", "message", "conversation",
                  "sender", "message_id", "body", "location_name", "location_source", "location_kind", "app"}


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
    out["recovery"] = p.recovery
    out["recovery_confidence"] = p.recovery_confidence
    return out


def video_rows(db: sqlite3.Connection, item: str | None = None, geotagged: bool = False,
               track: bool = False) -> Iterator[dict[str, Any]]:
    """Every ``media/video`` record as a photo row (:func:`photo_row`) plus
    :data:`VIDEO_EXTRAS` and ``artifact_id``; ``track``: with its GPS ``track`` points too."""
    for p in store_selection.photos(db, item, geotagged, store_selection.VIDEO):
        row = photo_row(p)
        row["kind"] = VIDEO_KIND
        for key in VIDEO_EXTRAS[1:]:
            row[key] = p.fields.get(key)
        row["artifact_id"] = p.artifact_id
        if track:
            row["track"] = p.fields.get("track") or []
        yield row


def geo_rows(db: sqlite3.Connection, item: str | None = None) -> Iterator[dict[str, Any]]:
    """Every geotag of the case (or one item): the geotagged photos (as :func:`photo_rows`,
    with ``kind`` and ``artifact_id``), the geotagged videos (:func:`video_rows`, with their
    track), then the chat messages with a position (:func:`chat_row`), then the positions the
    device recorded (:func:`device_row`), each group in its stored order."""
    for p in store_selection.photos(db, item, True):
        yield dict(photo_row(p), kind=PHOTO_KIND, artifact_id=p.artifact_id)
    yield from video_rows(db, item, True, track=True)
    for place in store_places.chat_locations(db, item):
        yield chat_row(place)
    for dev in store_places.device_locations(db, item):
        yield device_row(dev)


def device_row(place: DevicePlace) -> dict[str, Any]:
    """A ``location/point`` record as a geo row: its time (UTC) as ``gps_at``, the app as
    ``platform`` and ``app``, its row as ``message_id`` (table:row), its name as ``location_name``."""
    f = place.fields
    src = f.get("source") if isinstance(f.get("source"), dict) else {}
    alt = f.get("altitude")
    acc = f.get("accuracy_m")
    return {"item": place.item, "path": place.path, "locator": place.locator, "sha256": place.sha256,
            "device": None, "make": None, "model": None, "serial": None, "taken_at": None, "taken_at_utc": None,
            "tz_known": f.get("at") is not None, "tz_source": "utc" if f.get("at") else "unknown",
            "gps_at": f.get("at"), "lat": place.latitude, "lon": place.longitude,
            "alt": alt if isinstance(alt, (int, float)) and not isinstance(alt, bool) else None,
            "deleted": place.deleted or f.get("recovered") == "deleted", "corrupted": place.corrupted,
            "gps_valid": True, "kind": DEVICE_KIND, "artifact_id": place.artifact_id,
            "platform": None if f.get("app") is None else str(f.get("app")), "conversation": None, "sender": None,
            "sent_at": None, "sent_at_utc": None,
            "message_id": f"{src.get('table')}:{src.get('row_id')}" if src.get("table") is not None else None,
            "body": None, "location_name": None if f.get("name") is None else str(f.get("name")),
            "location_source": None if src.get("path") is None else str(src.get("path")),
            "accuracy_m": acc if isinstance(acc, (int, float)) and not isinstance(acc, bool) else None,
            "location_kind": None if f.get("kind") is None else str(f.get("kind")),
            "app": None if f.get("app") is None else str(f.get("app"))}


def chat_row(place: ChatPlace) -> dict[str, Any]:
    """A chat message's position as a geo row (the columns of :data:`GEO_FIELDS`; a photo's
    own columns empty)."""
    f = place.fields
    return message_geo_row(place.item, place.artifact_id, f, place.latitude, place.longitude, place.path,
                           place.locator, place.sha256, place.deleted, place.corrupted)


def message_geo_row(item: str, artifact_id: int, fields: dict, lat: float, lon: float, path: str | None,
                    locator: str | None, sha256: str | None, deleted: bool, corrupted: bool) -> dict[str, Any]:
    conv = fields.get("conversation")
    if isinstance(conv, dict):
        conv = conv.get("title") or conv.get("id")
    loc = fields.get("location") if isinstance(fields.get("location"), dict) else {}
    source = fields.get("source") if isinstance(fields.get("source"), dict) else {}
    message_id = fields.get("key_id") or fields.get("message_id")
    if message_id is None and source.get("table") is not None:
        message_id = f"{source.get('table')}:{source.get('row_id')}"
    elif message_id is None and source.get("line") is not None:
        message_id = f"line {source.get('line')}"
    sender = fields.get("sender")
    name = fields.get("sender_name")
    return {"item": item, "path": path, "locator": locator, "sha256": sha256, "device": None, "make": None,
            "model": None, "serial": None, "taken_at": None, "taken_at_utc": None,
            "tz_known": bool(fields.get("tz_known")), "tz_source": fields.get("tz_source") or "unknown",
            "gps_at": None, "lat": lat, "lon": lon, "alt": None, "deleted": deleted, "corrupted": corrupted,
            "gps_valid": True, "kind": CHAT_KIND, "artifact_id": artifact_id, "platform": fields.get("platform"),
            "conversation": None if conv is None else str(conv),
            "sender": f"{sender} ({name})" if sender and name and name != sender else sender,
            "sent_at": fields.get("sent_at"), "sent_at_utc": fields.get("sent_at_utc"),
            "message_id": None if message_id is None else str(message_id), "body": fields.get("body"),
            "location_name": loc.get("name"), "location_source": loc.get("source")}


def device(make: Any, model: Any, serial: str | None = None) -> str | None:
    """'Canon EOS 5D Mark IV (serial 0123)': make and model without repeating the make (a
    value a record holds as another JSON type than text, as its text)."""
    make, model = ("" if make is None else str(make)).strip(), ("" if model is None else str(model)).strip()
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


def track_coordinates(row: dict[str, Any]) -> list[list[float]]:
    """A video's GPS track as [lon, lat(, alt)] positions (points without a position left out)."""
    coords = []
    for p in row.get("track") or ():
        lat, lon = p.get("latitude"), p.get("longitude")
        if isinstance(lat, (int, float)) and isinstance(lon, (int, float)) and (lat or lon):
            alt = p.get("altitude")
            coords.append([lon, lat] + ([alt] if isinstance(alt, (int, float)) else []))
    return coords


def track_feature(row: dict[str, Any]) -> dict[str, Any] | None:
    """A video's GPS track as a LineString Feature (``kind`` ``video_track``), or None when it
    has fewer than two positions."""
    coords = track_coordinates(row)
    if len(coords) < 2:
        return None
    props = {k: row.get(k) for k in GEO_FIELDS if k not in ("lat", "lon")}
    props["kind"] = TRACK_KIND
    props["track_points"] = row.get("track_points")
    props["track_decimated"] = row.get("track_decimated")
    return {"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords}, "properties": props}


def write_geojson(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    """A FeatureCollection, written feature by feature (memory does not grow with the count);
    a video with a GPS track gives a LineString Feature after its position's Point."""
    n = 0
    out.write('{"type": "FeatureCollection", "features": [')
    for row in rows:
        if not is_geotagged(row):
            continue
        out.write(("\n" if n == 0 else ",\n") + json.dumps(feature(row), ensure_ascii=False))
        n += 1
        line = track_feature(row) if row.get("track") else None
        if line is not None:
            out.write(",\n" + json.dumps(line, ensure_ascii=False))
    out.write("\n]}\n")
    return n


# -- KML 2.2 ------------------------------------------------------------------------------------
KML_NS = "http://www.opengis.net/kml/2.2"
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_XML_QUOTES = {'"': "&quot;", "'": "&apos;"}


def xml_text(value: Any) -> str:
    """Escape a value (hostile evidence text) for XML 1.0 character data or attributes:
    characters XML 1.0 cannot hold shown as ``\\xNN``, then ``xml.sax.saxutils.escape``."""
    # imported here, not with the module: xml.sax loads urllib.request (~80 ms of a start)
    from xml.sax.saxutils import escape
    return escape(_XML_ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value)), _XML_QUOTES)


def kml_value(value: Any) -> str:
    """:func:`xml_text`, with line breaks as character references (``&#10;``): an XML reader
    gets the same text, and no line of the file's text starts inside evidence text (a
    message's "\\nSHA-256: ..." would otherwise read as a line of the description). Item and
    locator values stay as :func:`xml_text` writes them: a bundle's checks find the file by
    them."""
    return xml_text(value).replace("\r", "&#13;").replace("\n", "&#10;")


def kml_when(row: dict[str, Any]) -> str | None:
    """The Placemark's time: taken (with its offset) when its zone is known, else the GPS time;
    for a chat message, the time it was sent when its zone is known."""
    if row.get("kind") == CHAT_KIND:
        return row.get("sent_at") if row.get("tz_known") else None
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
        if row.get("kind") == CHAT_KIND:
            title, lines = _chat_description(row)
        elif row.get("kind") == DEVICE_KIND:
            title, lines = _device_description(row)
        else:
            title = path.rsplit("/", 1)[-1] or path
            lines = [f"taken: {row.get('taken_at') or 'unknown'}"
                     + ("" if row.get("tz_known") or not row.get("taken_at") else " (local time, zone unknown)"),
                     f"time-zone source: {row.get('tz_source') or '-'}",
                     f"device: {row.get('device') or '-'}",
                     f"SHA-256: {row.get('sha256') or '-'}",
                     f"locator: {row.get('locator') or '-'}"]
        coords = f"{row['lon']!r},{row['lat']!r}" + (f",{row['alt']!r}" if row.get("alt") is not None else "")
        parts = [f"<Placemark>\n<name>{kml_value(title)}</name>\n"
                 f"<description>{chr(10).join(map(kml_value, lines))}</description>\n"]
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
            text = xml_text(value) if key in ("item", "locator") else kml_value(value)
            parts.append(f'<Data name="{key}"><value>{text}</value></Data>\n')
        parts.append("</ExtendedData>\n")
        parts.append(f"<Point>{'<altitudeMode>absolute</altitudeMode>' if row.get('alt') is not None else ''}"
                     f"<coordinates>{coords}</coordinates></Point>\n</Placemark>\n")
        coords_track = track_coordinates(row) if row.get("track") else []
        if len(coords_track) >= 2:
            text = " ".join(",".join(repr(v) for v in c) for c in coords_track)
            parts.append(f"<Placemark>\n<name>{kml_value(title)} (GPS track)</name>\n"
                         f"<description>{kml_value(f'GPS track of {len(coords_track)} points')}</description>\n"
                         f"<LineString><coordinates>{text}</coordinates></LineString>\n</Placemark>\n")
        out.write("".join(parts))
        n += 1
    out.write("</Document>\n</kml>\n")
    return n


def _device_description(row: dict[str, Any]) -> tuple[str, list[str]]:
    """A device position's Placemark name and description: what recorded it, when, how exact."""
    title = f"{row.get('location_kind') or 'location'} ({row.get('app') or '?'})" \
        + (f": {row['location_name']}" if row.get("location_name") else "")
    acc = row.get("accuracy_m")
    lines = [f"recorded: {row.get('gps_at') or 'unknown'}",
             f"accuracy: {acc} m" if acc is not None else "accuracy: unknown",
             f"row: {row.get('message_id') or '-'} (record {row.get('artifact_id')})",
             f"SHA-256: {row.get('sha256') or '-'}",
             f"locator: {row.get('locator') or '-'}"]
    return _one_line(title), [_one_line(x) for x in lines[:-2]] + lines[-2:]


def _chat_description(row: dict[str, Any]) -> tuple[str, list[str]]:
    """A chat position's Placemark name and description: the message it came from."""
    title = (f"{row.get('platform') or 'chat'} location"
             + (f": {row['location_name']}" if row.get("location_name") else "")
             + f" in {row.get('conversation') or '?'}")
    sent = row.get("sent_at")
    lines = [f"shared in a chat message by {row.get('sender') or '(unknown)'}",
             f"sent: {sent or 'unknown'}" + ("" if row.get("tz_known") or not sent else " (local time, zone unknown)"),
             f"conversation: {row.get('conversation') or '-'}",
             f"message: {row.get('message_id') or '-'} (record {row.get('artifact_id')})",
             f"text: {row.get('body') or '-'}",
             f"position from: {row.get('location_source') or '-'}",
             f"SHA-256: {row.get('sha256') or '-'}",
             f"locator: {row.get('locator') or '-'}"]
    # one line each: a message's text (evidence) never starts a line of its own, such as a
    # forged "SHA-256: ..." line that a reader of the description would take for the source's
    return _one_line(title), [_one_line(x) for x in lines[:-2]] + lines[-2:]


def _one_line(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", " \u23ce ")


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


def write_csv_rows(rows: Iterable[dict[str, Any]], out: TextIO, columns: tuple[str, ...]) -> int:
    """A header, then each row's :func:`csv_cell` of every column, by ``csv.writer`` (RFC 4180,
    CRLF)."""
    writer = csv.writer(out)
    writer.writerow(columns)
    n = 0
    for row in rows:
        writer.writerow([csv_cell(k, row.get(k)) for k in columns])
        n += 1
    return n


def write_csv(rows: Iterable[dict[str, Any]], out: TextIO, columns: tuple[str, ...] = GEO_FIELDS,
              geotagged_only: bool = True) -> int:
    if geotagged_only:
        rows = (row for row in rows if is_geotagged(row))
    return write_csv_rows(rows, out, columns)


# -- JSON Lines -----------------------------------------------------------------------------------
def write_jsonl(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    """One JSON object per geotag (the columns of :data:`GEO_FIELDS`), one per line."""
    n = 0
    for row in rows:
        if not is_geotagged(row):
            continue
        out.write(json.dumps({k: row.get(k) for k in GEO_FIELDS}, ensure_ascii=False) + "\n")
        n += 1
    return n


WRITERS = {"geojson": write_geojson, "kml": write_kml, "csv": write_csv, "jsonl": write_jsonl}
