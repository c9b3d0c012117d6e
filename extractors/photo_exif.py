"""Photo EXIF: camera, times with time-zone provenance, GPS position, from one photo.

One ``photo/exif`` record per accepted file, always — also for an image without EXIF
(``has_exif`` false, every other field null) and for a file whose name or type says photo
but whose bytes are no image we know (``corrupted`` true, with a warning) — so that a photo
listing shows every photo. Damaged EXIF gives the tags that could be read, a warning per
defect and ``corrupted=True``; the extractor never raises for bad input.

Reading is bounded: at most :data:`MAX_READ` bytes of the file, a wall-clock limit and a
cap on the I/O calls exifread may make (a hostile IFD can make it loop for a long time),
no pixel data decoded, no thumbnail extracted.

Time zones (see :mod:`forensic.timestamps`): for each EXIF time, in this order —
its own ``OffsetTime*`` tag (``offset_tag``); else the offset inferred from the photo's GPS
UTC time (``gps``: local minus GPS time, rounded to 15 minutes, within ±14 h); else the zone
of the photo's position when the optional ``timezonefinder`` package is installed
(``location``); else the zone the examiner stated for the item, ``options['assume_tz']``
(``assumed``); else ``unknown``: kept naive, ``*_utc`` null, never taken as UTC.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from forensic.extractors import ciff as ciff_lib
from forensic.extractors import exif_containers as containers
from forensic.extractors import xmp as xmplib
from forensic.extractors.base import Extractor, ExtractorInput
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from forensic.store.records import Link
from forensic.store.view import StoreView
from forensic.timestamps import Timestamp, iso_utc

MAX_READ = 64 * 1024 * 1024          # bytes of a file read for its EXIF
TIME_LIMIT = 2.0                     # seconds of EXIF parsing per file
MAX_IO_CALLS = 4_000_000             # read/seek calls exifread may make per file

RECORD_TYPE = "photo/exif"
SIDECAR_TYPE = "photo/xmp-sidecar"      # a .xmp sidecar's properties, merged into its photo at finalize
MAX_SIDECAR = 4 * 1024 * 1024

_MIMES = {
    "image/jpeg", "image/pjpeg", "image/jpg", "image/tiff", "image/tiff-fx", "image/heic",
    "image/heif", "image/heic-sequence", "image/heif-sequence", "image/avif", "image/png",
    "image/webp", "image/jxl", "image/x-adobe-dng", "image/dng", "image/vnd.adobe.photoshop",
}
_RAW_MIME_HINTS = ("raw", "dng", "cr2", "cr3", "crw", "nef", "nrw", "arw", "srf", "sr2", "orf", "rw2",
                   "raf", "pef", "srw", "mrw", "x3f", "iiq", "3fr", "erf", "kdc", "dcr", "mef", "mos")
_EXTENSIONS = {
    "jpg", "jpeg", "jpe", "jfif", "jps", "tif", "tiff", "heic", "heif", "hif", "avif", "png", "webp",
    "jxl", "dng", "cr2", "cr3", "nef", "nrw", "arw", "srf", "sr2", "orf", "rw2", "raf", "pef", "srw",
    "mrw", "x3f", "iiq", "3fr", "erf", "kdc", "dcr", "mef", "mos", "rwl", "gpr", "psd", "psb",
}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1",
                b"avif", b"avis", b"crx "}

_SOURCE_BY_KIND = {"jpeg": "jpeg-app1", "tiff": "tiff", "png": "png-exif", "webp": "webp-exif",
                   "isobmff": "heif-exif", "jxl": "jxl-exif"}

_EXIF_DATE = re.compile(r"^(\d{4})[:\-/.](\d{2})[:\-/.](\d{2})[ T](\d{2}):(\d{2}):(\d{2})$")
_GPS_DATE = re.compile(r"^(\d{4})[:\-/.](\d{2})[:\-/.](\d{2})$")
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")
_BLANK_DATE = re.compile(r"^[\s:\-/.]*$")
# control characters (tab, CR and LF allowed), DEL, and the specials block: garbage in a text tag
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufff0-\uffff]")

# the fields of a photo/exif record, in order (all present in every record)
FIELDS = (
    "has_exif", "exif_source", "make", "model", "serial", "serial_source", "lens_make", "lens_model",
    "lens_serial", "software", "taken_at", "taken_at_utc", "taken_at_raw", "tz_known", "tz_source",
    "tz_offset_minutes", "offset_time_original", "subsec", "digitized_at", "digitized_at_utc",
    "digitized_tz_source", "offset_time_digitized", "modified_at", "modified_at_utc",
    "modified_tz_source", "offset_time", "lat", "lon", "alt", "gps_valid", "gps_raw", "gps_at",
    "direction", "direction_ref", "speed", "speed_ref", "width", "height", "orientation",
    "has_thumbnail",
    # shared with media/video records (docs/formats.md): one lens name, every date with its
    # source, which one taken_at is and why, the GPS fix as one object, where XMP came from
    "lens", "taken_at_source", "dates", "gps", "xmp_source",
)
SIDECAR_FIELDS = ("stem", "make", "model", "serial", "lens", "software", "dates", "gps")


class ExifBudgetExceeded(Exception):
    """The per-file time or I/O bound was reached while parsing EXIF."""


_CLOCK_EVERY = 32                    # I/O calls between two looks at the clock


class _BoundedReader:
    """A read-only file over bytes that stops a parser running past its time or I/O bound.

    exifread makes a read or a seek for every value it decodes, so the count is kept with
    one addition per call; the clock is read on the first call and every
    :data:`_CLOCK_EVERY` calls after it, and the I/O bound is met exactly."""

    def __init__(self, buf: bytes, deadline: float, max_calls: int) -> None:
        self._buf = buf
        self._len = len(buf)
        self._pos = 0
        self._deadline = deadline
        self._max_calls = max_calls
        self._calls = 0
        self._check_at = 1               # the call number at which the bounds are checked next

    def _check(self) -> None:
        if self._calls > self._max_calls:
            raise ExifBudgetExceeded("I/O-call bound reached (looping or huge structure)")
        if time.monotonic() > self._deadline:
            raise ExifBudgetExceeded("time bound reached")
        self._check_at = min(self._calls + _CLOCK_EVERY, self._max_calls + 1)

    def read(self, size: int | None = -1) -> bytes:
        self._calls += 1
        if self._calls >= self._check_at:
            self._check()
        start = self._pos
        if size is None or size < 0:
            stop = self._len
        else:
            stop = start + size
            if stop > self._len:
                stop = self._len
        if start >= stop:
            return b""
        self._pos = stop
        return self._buf[start:stop]

    def seek(self, pos: int, whence: int = 0) -> int:
        self._calls += 1
        if self._calls >= self._check_at:
            self._check()
        if whence == 1:
            pos += self._pos
        elif whence == 2:
            pos += self._len
        if pos < 0:
            raise ValueError(f"negative seek position {pos}")
        self._pos = pos
        return pos

    def tell(self) -> int:
        return self._pos


class _LogCollector(logging.Handler):
    """Collects exifread's own warnings for the file being read in this thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._local = threading.local()

    def start(self) -> None:
        self._local.messages = []

    def stop(self) -> list[str]:
        messages = getattr(self._local, "messages", None) or []
        self._local.messages = None
        return messages

    def emit(self, record: logging.LogRecord) -> None:
        messages = getattr(self._local, "messages", None)
        if messages is None or len(messages) >= 20:
            return
        try:
            messages.append(record.getMessage())
        except Exception:  # a malformed log call must not break extraction
            messages.append(str(record.msg))


_COLLECTOR = _LogCollector()
_EXIFREAD_LOG = logging.getLogger("exifread")
if _EXIFREAD_LOG.level == logging.NOTSET:
    _EXIFREAD_LOG.setLevel(logging.WARNING)
_EXIFREAD_LOG.propagate = False       # its warnings become our ExtractionWarnings, not stderr
_EXIFREAD_LOG.addHandler(_COLLECTOR)


class _Problems:
    """Warnings met in one file; each says whether it means the file is damaged."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.corrupted = False

    def add(self, message: str, corrupt: bool = True) -> None:
        if message not in self.messages:
            self.messages.append(message)
        self.corrupted = self.corrupted or corrupt


class PhotoExifExtractor(Extractor):
    NAME = "photo_exif"
    VERSION = "1"
    DESCRIPTION = ("Photo EXIF (JPEG, TIFF, HEIC/HEIF, AVIF, PNG, WebP, JPEG XL, TIFF-based RAW, CR3, "
                   "MRW, RAF, X3F): camera, serials, times with time-zone provenance, GPS")
    REQUIRES = ("exifread",)
    RECORD_TYPES = (RECORD_TYPE, SIDECAR_TYPE)
    OFFLOAD = True

    max_read: int = MAX_READ
    time_limit: float = TIME_LIMIT
    max_io_calls: int = MAX_IO_CALLS

    # -- selection ---------------------------------------------------------------------
    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        mime = (mime or "").split(";")[0].strip().lower()
        if mime in _MIMES:
            return True
        if mime.startswith("image/x-") and any(h in mime for h in _RAW_MIME_HINTS):
            return True
        name = path.replace("\\", "/").rsplit("/", 1)[-1]
        if "." in name and name.rsplit(".", 1)[-1].lower() in _EXTENSIONS | {"xmp"}:
            return True
        kind = containers.sniff(head[:16])
        if kind == "isobmff":
            return head[8:12] in _HEIF_BRANDS
        if kind == "jxl":                 # the bare codestream signature is too short to trust
            return head[:4] == b"\x00\x00\x00\x0c"
        return kind is not None

    # -- extraction --------------------------------------------------------------------
    def extract(self, item: ExtractorInput) -> Iterable[ArtifactRecord | ExtractionWarning]:
        problems = _Problems()
        if item.name.lower().endswith(".xmp"):
            yield from self._sidecar(item, problems)
            return
        try:
            record = self._extract(item, problems)
        except Exception as exc:  # a bug of ours: keep the photo listed, say what happened
            problems.add(f"photo_exif internal error: {type(exc).__name__}: {exc}", corrupt=False)
            record = ArtifactRecord(RECORD_TYPE, dict.fromkeys(FIELDS) | {"has_exif": False},
                                    corrupted=problems.corrupted, warnings=tuple(problems.messages))
        yield record
        for message in record.warnings:
            yield ExtractionWarning(self.NAME, message)

    def _sidecar(self, item: ExtractorInput, problems: _Problems) -> Iterable[ArtifactRecord | ExtractionWarning]:
        """A ``.xmp`` sidecar: its properties, merged into its photo at finalize."""
        try:
            if item.data is not None:
                data = bytes(item.data[:MAX_SIDECAR])
            else:
                with item.stream() as fh:
                    data = fh.read(MAX_SIDECAR)
            xmp = xmplib.parse(xmplib.find_packet(data) or data)
            for message in xmp.problems:
                problems.add(message)
            record = _sidecar_record(xmp, item.name[:-4], item.options or {}, problems)
        except Exception as exc:  # a bug of ours: say so, go on
            problems.add(f"photo_exif internal error on XMP sidecar: {type(exc).__name__}: {exc}", corrupt=False)
            record = ArtifactRecord(SIDECAR_TYPE, dict.fromkeys(SIDECAR_FIELDS), (), problems.corrupted,
                                    tuple(problems.messages))
        yield record
        for message in record.warnings:
            yield ExtractionWarning(self.NAME, message)

    def finalize(self, store: StoreView, item: str) -> Iterable[ExtractionWarning | Link]:
        return _sidecar_links(store, item, self.NAME)

    def _load(self, item: ExtractorInput) -> tuple[bytes, bool]:
        if item.data is not None:
            data = bytes(item.data[: self.max_read])
            return data, len(item.data) > self.max_read
        with item.stream() as fh:
            data = fh.read(self.max_read)
        return data, item.size > len(data)

    def _extract(self, item: ExtractorInput, problems: _Problems) -> ArtifactRecord:
        buf, capped = self._load(item)
        info = containers.inspect_container(buf)
        for message in info.problems:
            problems.add(message)
        if info.kind is None:
            problems.add(f"content is not a recognisable image (type {item.mime or 'unknown'}, "
                         f"first bytes {buf[:8].hex() or 'none'})")
        tags, source = self._read_tags(buf, info, problems)
        fields = dict.fromkeys(FIELDS)
        fields["has_exif"] = bool(tags)
        fields["exif_source"] = source if tags else None
        timestamps: list[Timestamp] = []
        resolver = None
        if tags:
            resolver = _fill_fields(tags, fields, timestamps, item.options or {}, problems)
        packet = xmplib.find_packet(buf, info.header_end)
        xmp = xmplib.parse(packet)
        for message in xmp.problems:
            problems.add(message)
        if resolver is None:
            resolver = _ZoneResolver(item.options or {}, problems, None, None, None, None)
        if info.kind == "isobmff":
            _movie_dates(buf, fields, timestamps, resolver)
        if info.kind in ("crw", "jpeg"):
            _ciff_fields(buf, info, fields, timestamps, resolver, problems)
        _merge_xmp(fields, timestamps, xmp, "xmp", resolver, problems)
        if packet is not None:
            fields["xmp_source"] = "embedded"
        if fields["width"] is None and info.width:
            fields["width"], fields["height"] = info.width, info.height
        if capped and problems.messages:
            # past the read cap every reader sees "the end of the data": what looks damaged
            # may only be unread, so say so and do not call the photo corrupted
            problems.messages.insert(0, f"only the first {len(buf)} of {item.size} bytes were read "
                                        "for EXIF; the problems below may come from that cap")
            problems.corrupted = False
        return ArtifactRecord(RECORD_TYPE, fields, tuple(timestamps), problems.corrupted,
                              tuple(problems.messages))

    def _read_tags(self, buf: bytes, info: containers.ContainerInfo,
                   problems: _Problems) -> tuple[dict[str, Any], str | None]:
        from exifread.core.exceptions import ExifError
        from exifread.core.find_exif import determine_type

        tags: dict[str, Any] = {}
        reader = _BoundedReader(buf, time.monotonic() + self.time_limit, self.max_io_calls)
        source: str | None = None
        _COLLECTOR.start()
        try:
            blocks: list[containers.ExifBlock] = []
            fake_exif = 0
            if info.kind in _SOURCE_BY_KIND:
                try:
                    offset, endian, fake_exif = determine_type(reader)
                    if containers.is_tiff_header(buf, offset):
                        blocks = [containers.ExifBlock(offset, _SOURCE_BY_KIND.get(info.kind, info.kind))]
                except ExifBudgetExceeded:
                    raise
                except (ExifError, EOFError):
                    pass                      # not found by exifread: try our own locators
                except Exception as exc:
                    problems.add(f"EXIF not located by exifread: {type(exc).__name__}: {exc}")
            if not blocks:
                fake_exif = 0
                blocks = containers.locate_exif(buf, info.kind, info)
            for block in blocks:
                source = source or block.source
                structural = containers.check_tiff(buf, block.offset,
                                                   "IFD0" if block.ifd_name == "Image" else block.ifd_name,
                                                   chain=block.ifd_name == "Image")
                for message in structural:
                    problems.add(f"EXIF structure: {message}")
                _dump_block(reader, buf, block, fake_exif, tags, problems)
        except ExifBudgetExceeded as exc:
            problems.add(f"EXIF reading stopped at the per-file bound: {exc}; tags read so far kept")
        finally:
            for message in _COLLECTOR.stop():
                problems.add(f"exifread: {message}")
        return tags, source


def _dump_block(reader: _BoundedReader, buf: bytes, block: containers.ExifBlock, fake_exif: int,
                tags: dict[str, Any], problems: _Problems) -> None:
    """Read the IFDs of one TIFF block into ``tags`` (exifread's names); keep what was read."""
    from exifread.core.exif_header import ExifHeader
    from exifread.tags.exif import GPS_TAGS

    endian = chr(buf[block.offset]) if block.offset < len(buf) else "I"
    # detailed=False: exifread skips the maker note, user comment and XMP blobs (which it
    # would read one byte per call). Its maker-note decoding is not used: for several makers
    # it reads a text header as an entry count and returns garbage (a wrong serial number
    # is worse than none); the serial is read by exif_containers.maker_note_serial.
    hdr = ExifHeader(reader, endian, block.offset, fake_exif, strict=False, debug=False,
                     detailed=False, truncate_tags=True)
    hdr.tags = tags
    where = block.ifd_name
    try:
        first = hdr.s2n(4, 4)
        if block.ifd_name == "EXIF":
            hdr.dump_ifd(ifd=first, ifd_name="EXIF")
            return
        if block.ifd_name == "GPS":
            hdr.dump_ifd(ifd=first, ifd_name="GPS", tag_dict=GPS_TAGS)
            return
        for n, ifd in enumerate(hdr.list_ifd()[: containers.MAX_IFDS]):
            where = "Image" if n == 0 else "Thumbnail" if n == 1 else f"IFD {n}"
            hdr.dump_ifd(ifd=ifd, ifd_name=where)
        exif_offset = tags.get("Image ExifOffset")
        if exif_offset is not None and exif_offset.values and isinstance(exif_offset.values[0], int):
            where = "EXIF"
            hdr.dump_ifd(ifd=exif_offset.values[0], ifd_name="EXIF")
            make = str(getattr(tags.get("Image Make"), "printable", ""))
            found = containers.maker_note_serial(buf, block.offset, exif_offset.values[0], make)
            if found is not None:
                tags["_maker_note_serial"] = found
            lens = containers.maker_note_lens(buf, block.offset, exif_offset.values[0], make)
            if lens and not _CONTROL.search(lens):
                tags["_maker_note_lens"] = lens
    except ExifBudgetExceeded:
        raise
    except Exception as exc:
        problems.add(f"EXIF reading failed in the {where} IFD: {type(exc).__name__}: {exc}; "
                     "tags read so far kept")


# -- tag values -------------------------------------------------------------------------
def _values(tags: dict[str, Any], *names: str) -> tuple[str, Any] | None:
    for name in names:
        tag = tags.get(name)
        if tag is not None:
            return name, tag.values
    return None


def _text(tags: dict[str, Any], problems: _Problems, *names: str) -> tuple[str | None, str | None]:
    """A string tag, stripped; (value, tag name). Undecodable or control bytes are flagged."""
    found = _values(tags, *names)
    if found is None:
        return None, None
    name, value = found
    if isinstance(value, list):
        if all(isinstance(v, int) and 0 <= v < 256 for v in value):
            value = bytes(value).split(b"\x00", 1)[0]
        elif len(value) == 1:
            value = str(value[0])
        else:
            return None, name
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            value = value.decode("utf-8", errors="backslashreplace")
            problems.add(f"{_label(name)} is not valid text: {value!r}")
    if not isinstance(value, str):
        value = str(value)
    value = value.strip(" \x00")
    if _CONTROL.search(value):
        problems.add(f"{_label(name)} holds control characters (garbage?): {value!r}")
    return (value or None), name


def _label(tag_name: str) -> str:
    return tag_name.split(" ", 1)[-1]


def _first_int(tags: dict[str, Any], *names: str) -> int | None:
    found = _values(tags, *names)
    if found is None:
        return None
    value = found[1]
    if isinstance(value, list) and value and isinstance(value[0], int):
        return value[0]
    return None


def _rationals(value: Any) -> list[tuple[int, int]] | None:
    """(numerator, denominator) pairs of a rational tag, keeping zero denominators."""
    if not isinstance(value, list) or not value:
        return None
    out = []
    for v in value:
        if hasattr(v, "numerator") and hasattr(v, "denominator"):
            out.append((int(v.numerator), int(v.denominator)))
        elif isinstance(v, int):
            out.append((v, 1))
        elif isinstance(v, tuple) and v and isinstance(v[0], float):
            return None
        else:
            return None
    return out


def _raw(pairs: list[tuple[int, int]] | None) -> str | None:
    return None if pairs is None else " ".join(f"{n}/{d}" for n, d in pairs)


def _number(tags: dict[str, Any], name: str, problems: _Problems) -> float | None:
    found = _values(tags, name)
    if found is None:
        return None
    value = found[1]
    if isinstance(value, list) and value and isinstance(value[0], tuple):   # float/double types
        return float(value[0][0])
    pairs = _rationals(value)
    if not pairs:
        problems.add(f"{_label(name)} has no readable value")
        return None
    num, den = pairs[0]
    if den == 0:
        problems.add(f"{_label(name)} has a zero denominator ({num}/0)")
        return None
    return num / den


# -- times ------------------------------------------------------------------------------
def _parse_local(raw: str | None, subsec: str | None, label: str,
                 problems: _Problems) -> datetime | None:
    if raw is None or _BLANK_DATE.match(raw):
        return None                      # absent, or blank as EXIF allows for "unknown"
    m = _EXIF_DATE.match(raw.strip())
    if not m:
        problems.add(f"{label} {raw!r} is not an EXIF date-time")
        return None
    if all(int(g) == 0 for g in m.groups()[:3]):
        problems.add(f"{label} is all zeros ({raw!r}): no date recorded")
        return None
    try:
        # EXIF keeps the camera's wall-clock time, with no zone: kept as that local time here,
        # its zone decided (and said from what) by _ZoneResolver, never assumed UTC
        local = datetime(*(int(g) for g in m.groups()))  # noqa: DTZ001 - a source's local time on purpose
    except ValueError:
        problems.add(f"{label} {raw!r} is not a valid date-time")
        return None
    if subsec:
        digits = subsec.strip()
        if digits.isdigit():
            local = local.replace(microsecond=int((digits + "000000")[:6]))
        elif digits:
            problems.add(f"sub-seconds of {label} {subsec!r} are not digits")
    return local


def _parse_offset(raw: str | None, label: str, problems: _Problems) -> int | None:
    if raw is None or not raw.strip(" :"):
        return None
    m = _OFFSET.match(raw.strip())
    if not m:
        problems.add(f"{label} {raw!r} is not a UTC offset (+HH:MM)")
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    if minutes > 14 * 60 or int(m.group(3)) >= 60:
        problems.add(f"{label} {raw!r} is out of range")
        return None
    return -minutes if m.group(1) == "-" else minutes


def _zone_offset(zone_name: str, local: datetime) -> int | None:
    from zoneinfo import ZoneInfo
    offset = local.replace(tzinfo=ZoneInfo(zone_name)).utcoffset()
    return None if offset is None else int(offset.total_seconds() // 60)


_TZ_FINDER: Any = None


def _location_zone(lat: float, lon: float) -> str | None:
    """IANA zone at a position, when the optional ``timezonefinder`` package is installed."""
    global _TZ_FINDER
    try:
        if _TZ_FINDER is None:
            from timezonefinder import TimezoneFinder
            _TZ_FINDER = TimezoneFinder()
        return _TZ_FINDER.timezone_at(lng=lon, lat=lat)
    except Exception:
        return None


def _gps_offset(local: datetime | None, gps_utc: datetime | None) -> int | None:
    if local is None or gps_utc is None:
        return None
    diff = (local - gps_utc.replace(tzinfo=None)).total_seconds() / 60
    if abs(diff) > 14 * 60 + 7.5:
        return None
    return int(round(diff / 15) * 15)


class _ZoneResolver:
    """Decides the zone of the photo's local times, and says from what."""

    def __init__(self, options: dict, problems: _Problems, gps_utc: datetime | None,
                 lat: float | None, lon: float | None, reference_local: datetime | None) -> None:
        self.gps_offset = _gps_offset(reference_local, gps_utc)
        self.location_zone = _location_zone(lat, lon) if lat is not None and lon is not None else None
        self.assumed_zone: str | None = None
        zone = options.get("assume_tz")
        if zone:
            try:
                from zoneinfo import ZoneInfo
                ZoneInfo(str(zone))                  # raises for a name that is not a time zone
                self.assumed_zone = str(zone)
            except Exception:
                problems.add(f"--assume-tz {zone!r} is not a known time zone: ignored", corrupt=False)

    def stamp(self, label: str, local: datetime, raw: str, tag_offset: int | None) -> Timestamp:
        if tag_offset is not None:
            return Timestamp.local_with_offset(label, local, tag_offset, "offset_tag", raw)
        if self.gps_offset is not None:
            return Timestamp.local_with_offset(label, local, self.gps_offset, "gps", raw)
        for zone, source in ((self.location_zone, "location"), (self.assumed_zone, "assumed")):
            if zone:
                try:
                    minutes = _zone_offset(zone, local)
                except Exception:
                    minutes = None
                if minutes is not None:
                    return Timestamp.local_with_offset(label, local, minutes, source, raw)
        return Timestamp.local_unknown(label, local, raw)


def _gps_time(tags: dict[str, Any], problems: _Problems) -> tuple[datetime | None, str | None]:
    date_raw, _ = _text(tags, problems, "GPS GPSDate")
    found = _values(tags, "GPS GPSTimeStamp")
    pairs = _rationals(found[1]) if found else None
    raw = " ".join(x for x in (date_raw, _raw(pairs)) if x) or None
    if date_raw is None or not pairs:
        return None, raw                  # a time without a date cannot be placed
    m = _GPS_DATE.match(date_raw)
    if not m or len(pairs) != 3 or any(d == 0 for _, d in pairs):
        problems.add(f"GPS date/time {raw!r} is not readable")
        return None, raw
    hours, minutes, seconds = (n / d for n, d in pairs)
    try:
        day = datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), tzinfo=timezone.utc)
        if not (0 <= hours < 24 and 0 <= minutes < 60 and 0 <= seconds < 61):
            raise ValueError("out of range")
    except ValueError:
        problems.add(f"GPS date/time {raw!r} is not a valid time")
        return None, raw
    return day + timedelta(hours=hours, minutes=minutes, seconds=seconds), raw


def _coordinate(tags: dict[str, Any], axis: str, limit: float, refs: tuple[str, str],
                problems: _Problems) -> tuple[float | None, str | None, bool]:
    """Signed decimal degrees, raw text, valid? — for 'Latitude' or 'Longitude'."""
    found = _values(tags, f"GPS GPS{axis}")
    if found is None:
        return None, None, False
    pairs = _rationals(found[1])
    ref, _ = _text(tags, problems, f"GPS GPS{axis}Ref")
    raw = f"{_raw(pairs) if pairs else repr(found[1])} {ref or '?'}"
    if not pairs or len(pairs) > 3:
        problems.add(f"GPS{axis} {raw!r} is not degrees/minutes/seconds")
        return None, raw, False
    if any(d == 0 for _, d in pairs):
        problems.add(f"GPS{axis} {raw!r} has a zero denominator")
        return None, raw, False
    value = sum(n / d / 60 ** i for i, (n, d) in enumerate(pairs))
    if ref not in refs:
        problems.add(f"GPS{axis}Ref {ref!r} is not {refs[0]} or {refs[1]}: hemisphere unknown")
        return value, raw, False
    if ref == refs[1]:
        value = -value
    if abs(value) > limit:
        problems.add(f"GPS{axis} {value} is out of range (±{limit:g})")
        return None, raw, False
    return value, raw, True


def _fill_fields(tags: dict[str, Any], fields: dict[str, Any], timestamps: list[Timestamp],
                 options: dict, problems: _Problems) -> "_ZoneResolver":
    # IFD0 is their place; some writers put them in the Exif IFD
    fields["make"], _ = _text(tags, problems, "Image Make", "EXIF Make")
    fields["model"], _ = _text(tags, problems, "Image Model", "EXIF Model")
    fields["serial"], serial_tag = _text(tags, problems, "EXIF BodySerialNumber", "Image Tag 0xC62F",
                                         "EXIF SerialNumber")
    if fields["serial"]:
        fields["serial_source"] = {"Tag 0xC62F": "CameraSerialNumber"}.get(_label(serial_tag),
                                                                            _label(serial_tag))
    elif "_maker_note_serial" in tags:
        fields["serial"], fields["serial_source"] = tags["_maker_note_serial"]
    fields["lens_make"], _ = _text(tags, problems, "EXIF LensMake")
    fields["lens_model"], _ = _text(tags, problems, "EXIF LensModel")
    fields["lens_serial"], _ = _text(tags, problems, "EXIF LensSerialNumber")
    fields["_maker_note_lens"] = tags.get("_maker_note_lens")       # the lens after EXIF's and XMP's
    fields["software"], _ = _text(tags, problems, "Image Software", "EXIF Software")

    # GPS first: the zone of the local times may be inferred from it
    lat, lat_raw, lat_ok = _coordinate(tags, "Latitude", 90.0, ("N", "S"), problems)
    lon, lon_raw, lon_ok = _coordinate(tags, "Longitude", 180.0, ("E", "W"), problems)
    if lat is not None or lon is not None or lat_raw or lon_raw:
        valid = lat_ok and lon_ok
        if valid and lat == 0 and lon == 0:
            problems.add("GPS position is 0/0 (no fix recorded as zeros)")
            valid = False
        if valid:
            fields["lat"], fields["lon"] = lat, lon
        else:
            fields["gps_raw"] = {"lat": lat_raw, "lon": lon_raw}
        fields["gps_valid"] = valid
    else:
        fields["gps_valid"] = False
    alt = _number(tags, "GPS GPSAltitude", problems)
    if alt is not None and _first_int(tags, "GPS GPSAltitudeRef") == 1:
        alt = -alt
    fields["alt"] = alt
    gps_utc, gps_raw = _gps_time(tags, problems)
    if gps_utc is not None:
        fields["gps_at"] = iso_utc(gps_utc)
        timestamps.append(Timestamp("gps", gps_utc, None, True, "utc", gps_raw or "", 0))
    fields["direction"] = _number(tags, "GPS GPSImgDirection", problems)
    fields["direction_ref"], _ = _text(tags, problems, "GPS GPSImgDirectionRef")
    fields["speed"] = _number(tags, "GPS GPSSpeed", problems)
    fields["speed_ref"], _ = _text(tags, problems, "GPS GPSSpeedRef")

    # local times
    taken_raw, _ = _text(tags, problems, "EXIF DateTimeOriginal")
    fields["taken_at_raw"] = taken_raw
    fields["subsec"], _ = _text(tags, problems, "EXIF SubSecTimeOriginal")
    taken = _parse_local(taken_raw, fields["subsec"], "DateTimeOriginal", problems)
    resolver = _ZoneResolver(options, problems, gps_utc,
                             fields["lat"], fields["lon"], taken)
    times = (
        ("taken", taken, taken_raw, "OffsetTimeOriginal", "offset_time_original", None),
        ("digitized", None, None, "OffsetTimeDigitized", "offset_time_digitized",
         ("EXIF DateTimeDigitized", "EXIF SubSecTimeDigitized")),
        ("modified", None, None, "OffsetTime", "offset_time", ("Image DateTime", "EXIF SubSecTime")),
    )
    for label, local, raw, offset_tag, offset_field, sources in times:
        if sources is not None:
            raw, _ = _text(tags, problems, sources[0])
            subsec, _ = _text(tags, problems, sources[1])
            local = _parse_local(raw, subsec, _label(sources[0]), problems)
        offset_raw, _ = _text(tags, problems, f"EXIF {offset_tag}")
        fields[offset_field] = offset_raw
        if local is None:
            continue
        stamp = resolver.stamp(label, local, raw or "", _parse_offset(offset_raw, offset_tag, problems))
        timestamps.append(stamp)
        if label == "taken":
            fields["taken_at"] = stamp.iso()
            fields["taken_at_utc"] = stamp.iso_utc()
            fields["tz_known"] = stamp.tz_known
            fields["tz_source"] = stamp.tz_source
            fields["tz_offset_minutes"] = stamp.offset_minutes
        else:
            fields[f"{label}_at"] = stamp.iso()
            fields[f"{label}_at_utc"] = stamp.iso_utc()
            fields[f"{label}_tz_source"] = stamp.tz_source

    # image
    fields["width"] = _first_int(tags, "EXIF ExifImageWidth", "Image ImageWidth")
    fields["height"] = _first_int(tags, "EXIF ExifImageLength", "Image ImageLength")
    fields["orientation"] = _first_int(tags, "Image Orientation")
    thumb_offset = _first_int(tags, "Thumbnail JPEGInterchangeFormat")
    thumb_length = _first_int(tags, "Thumbnail JPEGInterchangeFormatLength")
    fields["has_thumbnail"] = bool(thumb_offset and thumb_length) or "Thumbnail StripOffsets" in tags
    return resolver


# -- XMP, the dates list, taken_at's choice ------------------------------------------------
_EXIF_DATE_SOURCES = {"taken": "exif:DateTimeOriginal", "digitized": "exif:DateTimeDigitized",
                      "modified": "exif:DateTime"}
# the dates that may stand for the time taken, in order of preference, and why
_TAKEN_CANDIDATES = (
    ("exif:DateTimeOriginal", "EXIF DateTimeOriginal, written by the camera at capture"),
    ("ciff:DateTimeOriginal", "no EXIF; Canon CIFF DateTimeOriginal (CRW / early PowerShot JPEG), written by "
                              "the camera at capture"),
    ("xmp:exif:DateTimeOriginal", "no EXIF DateTimeOriginal; XMP exif:DateTimeOriginal (the capture time, "
                                  "copied or written by software)"),
    ("xmp:photoshop:DateCreated", "no EXIF or XMP DateTimeOriginal; XMP photoshop:DateCreated (the capture time "
                                  "as the editing software records it)"),
    ("xmp:xmp:CreateDate", "no DateTimeOriginal; XMP xmp:CreateDate (when the resource was created: may be "
                           "a scan or an export)"),
)
_CAPTURE_SOURCES = ("exif:DateTimeOriginal", "ciff:DateTimeOriginal", "exif:DateTimeDigitized",
                    "xmp:exif:DateTimeOriginal", "xmp:photoshop:DateCreated", "xmp:xmp:CreateDate",
                    "xmp:exif:DateTimeDigitized")


_EPOCH_1970 = datetime(1970, 1, 1)  # noqa: DTZ001 - CIFF counts the camera's clock from it, no zone


def _ciff_fields(buf: bytes, info: containers.ContainerInfo, fields: dict[str, Any], timestamps: list[Timestamp],
                 resolver: "_ZoneResolver", problems: _Problems) -> None:
    """Canon CIFF (a CRW, an early PowerShot's JPEG): camera, serial, time taken."""
    start = ciff_lib.find_heap(buf, info.header_end if info.kind == "jpeg" else None)
    if start is None:
        return
    found, messages = ciff_lib.parse(buf, start)
    for message in messages:
        problems.add(message)
    for name in ("make", "model"):
        if fields.get(name) is None:
            fields[name] = getattr(found, name)
    if fields.get("serial") is None and found.serial is not None:
        fields["serial"], fields["serial_source"] = str(found.serial), "ciff:SerialNumber"
    if found.taken_seconds is None:
        return
    try:
        local = _EPOCH_1970 + timedelta(seconds=found.taken_seconds)
    except OverflowError:
        return
    raw = str(found.taken_seconds)
    if found.tz_offset_seconds is not None:
        stamp = Timestamp.local_with_offset("taken", local, found.tz_offset_seconds // 60, "offset_tag", raw)
    else:
        stamp = resolver.stamp("taken", local, raw, None)
    dates = fields.get("dates") or [
        _date_entry(_EXIF_DATE_SOURCES[t.label], t) for t in timestamps if t.label in _EXIF_DATE_SOURCES]
    dates.append(_date_entry("ciff:DateTimeOriginal", stamp))
    fields["dates"] = dates
    fields["_stamps"] = {"ciff:DateTimeOriginal": stamp}


_EPOCH_1904 = datetime(1904, 1, 1)  # noqa: DTZ001 - QuickTime's epoch; the zone is decided per file


def _movie_dates(buf: bytes, fields: dict[str, Any], timestamps: list[Timestamp],
                 resolver: "_ZoneResolver") -> None:
    """A CR3's (ISO BMFF) movie header times, listed as ``quicktime:CreateDate`` /
    ``quicktime:ModifyDate``. QuickTime means UTC, but cameras write their local clock there,
    so the zone is decided as for EXIF's times (unknown unless known otherwise)."""
    times = containers.movie_times(buf)
    if not times:
        return
    dates = fields.setdefault("dates", None) or [
        _date_entry(_EXIF_DATE_SOURCES[t.label], t) for t in timestamps if t.label in _EXIF_DATE_SOURCES]
    for name, seconds in zip(("quicktime:CreateDate", "quicktime:ModifyDate"), times, strict=True):
        if seconds:
            try:
                local = _EPOCH_1904 + timedelta(seconds=seconds)
            except (OverflowError, ValueError):      # a hostile 64-bit time: past year 9999
                continue
            dates.append(_date_entry(name, resolver.stamp("movie", local, str(seconds), None)))
    fields["dates"] = dates


def _date_entry(source: str, stamp: Timestamp) -> dict[str, Any]:
    return {"source": source, "value": stamp.iso(), "utc": stamp.iso_utc(), "tz_source": stamp.tz_source,
            "raw": stamp.raw}


def _merge_xmp(fields: dict[str, Any], timestamps: list[Timestamp], xmp: xmplib.Xmp, origin: str,
               resolver: _ZoneResolver, problems: _Problems) -> None:
    """Complete ``fields`` with an XMP packet's values (``origin``: ``xmp`` embedded,
    ``xmp-sidecar``) where EXIF has none, list every date, and decide ``taken_at``."""
    dates: list[dict[str, Any]] = list(fields.get("dates") or [])
    if not dates:
        dates = [_date_entry(_EXIF_DATE_SOURCES[t.label], t) for t in timestamps if t.label in _EXIF_DATE_SOURCES]
    stamps: dict[str, Timestamp] = {_EXIF_DATE_SOURCES[t.label]: t for t in timestamps
                                    if t.label in _EXIF_DATE_SOURCES}
    stamps.update(fields.pop("_stamps", None) or {})          # CIFF's, kept by _ciff_fields
    for name, value, label in (("make", "tiff:Make", None), ("model", "tiff:Model", None),
                               ("software", "xmp:CreatorTool", "tiff:Software")):
        if fields.get(name) is None:
            fields[name], _ = xmp.get(value, label) if label else xmp.get(value)
    if fields.get("serial") is None:
        serial, prop = xmp.get("exifEX:BodySerialNumber", "aux:SerialNumber")
        if serial:
            fields["serial"], fields["serial_source"] = serial, f"{origin}:{prop}"
    if fields.get("lens_model") is None and fields.get("lens") is None:
        fields["lens"], _ = xmp.get("exifEX:LensModel", "aux:Lens")
    for prop in xmplib.DATE_PROPERTIES:
        raw, _ = xmp.get(prop)
        if raw is None or prop == "exif:GPSTimeStamp":
            continue
        parsed = xmplib.parse_date(raw)
        source = f"{origin}:{prop}"
        if parsed is None:
            problems.add(f"XMP {prop} {raw!r} is not a date", corrupt=False)
            continue
        if parsed.local is None:             # a date without a time: listed, never a time taken
            value = raw.strip()[:10].replace(":", "-")
            dates.append({"source": source, "value": value, "utc": None, "tz_source": "unknown", "raw": raw})
            continue
        if parsed.offset_minutes is not None:
            stamp = Timestamp.local_with_offset("taken", parsed.local, parsed.offset_minutes, "offset_tag", raw)
        else:
            stamp = resolver.stamp("taken", parsed.local, raw, None)
        stamps[source] = stamp
        dates.append(_date_entry(source, stamp))
    fields["dates"] = dates or None
    _gps_from_xmp(fields, xmp, origin, problems)
    _choose_taken(fields, timestamps, stamps)
    _derived(fields)


def _gps_from_xmp(fields: dict[str, Any], xmp: xmplib.Xmp, origin: str, problems: _Problems) -> None:
    if fields.get("lat") is not None or fields.get("gps_raw"):
        return                               # EXIF's own position (valid or not) stands
    lat_raw, _ = xmp.get("exif:GPSLatitude")
    lon_raw, _ = xmp.get("exif:GPSLongitude")
    if lat_raw is None or lon_raw is None:
        return
    lat, lon = xmplib.parse_coordinate(lat_raw), xmplib.parse_coordinate(lon_raw)
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180 or (lat == 0 and lon == 0):
        problems.add(f"XMP GPS position {lat_raw!r} {lon_raw!r} is not valid")
        fields["gps_raw"], fields["gps_valid"] = {"lat": lat_raw, "lon": lon_raw}, False
        return
    fields["lat"], fields["lon"], fields["gps_valid"] = lat, lon, True
    fields["_gps_source"] = origin
    alt_raw, _ = xmp.get("exif:GPSAltitude")
    alt = xmplib.parse_rational(alt_raw) if alt_raw else None
    if alt is not None and xmp.get("exif:GPSAltitudeRef")[0] == "1":
        alt = -alt
    fields["alt"] = alt if fields.get("alt") is None else fields["alt"]
    for name, prop in (("direction", "exif:GPSImgDirection"), ("speed", "exif:GPSSpeed")):
        raw, _ = xmp.get(prop)
        if fields.get(name) is None and raw:
            fields[name] = xmplib.parse_rational(raw)
    time_raw, _ = xmp.get("exif:GPSTimeStamp")
    parsed = xmplib.parse_date(time_raw) if time_raw else None
    if fields.get("gps_at") is None and parsed is not None and parsed.local is not None \
            and parsed.offset_minutes is not None:
        stamp = Timestamp.local_with_offset("gps", parsed.local, parsed.offset_minutes, "utc", time_raw or "")
        fields["gps_at"] = stamp.iso_utc()


def _choose_taken(fields: dict[str, Any], timestamps: list[Timestamp], stamps: dict[str, Timestamp]) -> None:
    chosen = next(((src, why) for src, why in _TAKEN_CANDIDATES if src in stamps), None)
    if chosen is None:
        fields["taken_at_source"] = None
        return
    source, why = chosen
    stamp = stamps[source]
    if source != "exif:DateTimeOriginal":
        fields["taken_at"], fields["taken_at_utc"] = stamp.iso(), stamp.iso_utc()
        fields["taken_at_raw"] = stamp.raw
        fields["tz_known"], fields["tz_source"] = stamp.tz_known, stamp.tz_source
        fields["tz_offset_minutes"] = stamp.offset_minutes
        if not any(t.label == "taken" for t in timestamps):
            timestamps.append(stamp)
    differ = []
    for other in _CAPTURE_SOURCES:
        o = stamps.get(other)
        if other == source or o is None:
            continue
        if o.utc is not None and stamp.utc is not None:
            delta = (o.utc - stamp.utc).total_seconds()
        elif o.local is not None and stamp.local is not None:
            delta = (o.local - stamp.local).total_seconds()
        else:
            continue
        if abs(delta) >= 1:
            differ.append(f"{other} by {delta:+.0f} s")
    reason = why + ("; disagrees: " + ", ".join(differ) if differ else "")
    fields["taken_at_source"] = {"source": source, "reason": reason}


def _derived(fields: dict[str, Any]) -> None:
    """The shared fields made of the others: one lens name, the GPS object."""
    maker_lens = fields.pop("_maker_note_lens", None)
    if fields.get("lens_model"):
        fields["lens"] = fields["lens_model"]
    elif fields.get("lens") is None and maker_lens:
        fields["lens"] = maker_lens
    source = fields.pop("_gps_source", None) or ("exif" if fields.get("lat") is not None else None)
    if fields.get("lat") is not None and fields.get("lon") is not None:
        fields["gps"] = {"latitude": fields["lat"], "longitude": fields["lon"], "altitude": fields.get("alt"),
                         "direction": fields.get("direction"), "speed": fields.get("speed"),
                         "gps_time": fields.get("gps_at"), "source": (fields.get("gps") or {}).get("source", source)}
    else:
        fields["gps"] = None


def _sidecar_record(xmp: xmplib.Xmp, stem: str, options: dict, problems: _Problems) -> ArtifactRecord:
    """A sidecar's properties, in the photo record's shape, for the finalize merge."""
    fields: dict[str, Any] = dict.fromkeys(FIELDS)
    resolver = _ZoneResolver(options, problems, None, None, None, None)
    _merge_xmp(fields, [], xmp, "xmp-sidecar", resolver, problems)
    out = {name: fields.get(name) for name in SIDECAR_FIELDS}
    out["stem"] = stem
    out["serial_source"] = fields.get("serial_source")
    if out["gps"]:
        out["gps"]["source"] = "xmp-sidecar"
    return ArtifactRecord(SIDECAR_TYPE, out, (), problems.corrupted, tuple(problems.messages))


def _stem(name: str) -> str:
    """A file name without its last extension, folded: ``IMG_1.CR2`` and ``IMG_1.xmp`` (Adobe)
    and ``IMG_1.CR2.xmp`` (darktable) meet on ``img_1``."""
    base = name.rsplit(".", 1)[0] if "." in name else name
    return base.lower()


def _folder(locator: str | None) -> str:
    return (locator or "").rsplit("/", 1)[0]


def _sidecar_links(store: StoreView, item: str, extractor: str) -> list[ExtractionWarning | Link]:
    """Merge each sidecar into the photos of the same stem in the same folder."""
    sidecars: dict[tuple[str, str], Any] = {}
    for rec in store.records(item, SIDECAR_TYPE, extractor):
        name = (rec.path or "").rsplit("/", 1)[-1]
        # Adobe's IMG_1.xmp is keyed img_1, darktable's IMG_1.CR2.xmp img_1.cr2
        sidecars[(_folder(rec.locator), name[:-4].lower())] = rec
    if not sidecars:
        return []
    out: list[ExtractionWarning | Link] = []
    for rec in store.records(item, RECORD_TYPE, extractor):
        name = (rec.path or "").rsplit("/", 1)[-1]
        side = sidecars.get((_folder(rec.locator), name.lower())) or sidecars.get((_folder(rec.locator), _stem(name)))
        if side is None:
            continue
        new = _merge_sidecar(dict(rec.fields), side.fields)
        if new != rec.fields:                # a Link's fields replace the record's: all of them
            out.append(Link(rec.id, new, f"XMP sidecar {side.locator}"))
    return out


def _merge_sidecar(fields: dict[str, Any], side: dict[str, Any]) -> dict[str, Any]:
    for name in ("make", "model", "serial", "software"):
        if fields.get(name) is None and side.get(name) is not None:
            fields[name] = side[name]
            if name == "serial":
                fields["serial_source"] = side.get("serial_source")
    if fields.get("lens") is None:
        fields["lens"] = side.get("lens")
    if fields.get("gps") is None and side.get("gps"):
        g = side["gps"]
        fields.update(gps=g, lat=g["latitude"], lon=g["longitude"], alt=g["altitude"], gps_valid=True)
    fields["xmp_source"] = "embedded+sidecar" if fields.get("xmp_source") == "embedded" else "sidecar"
    dates = list(fields.get("dates") or []) + list(side.get("dates") or [])
    fields["dates"] = dates or None
    if fields.get("taken_at") is None:
        pick = next((d for src in ("exif:DateTimeOriginal", "photoshop:DateCreated", "xmp:CreateDate")
                     for d in dates if d["source"] == f"xmp-sidecar:{src}" and d["value"] and "T" in d["value"]), None)
        if pick is not None:
            fields["taken_at"], fields["taken_at_utc"], fields["taken_at_raw"] = pick["value"], pick["utc"], pick["raw"]
            fields["tz_known"], fields["tz_source"] = pick["utc"] is not None, pick["tz_source"]
            fields["taken_at_source"] = {"source": pick["source"],
                                         "reason": "no date in the photo itself; its XMP sidecar's"}
    elif fields.get("taken_at_source"):
        chosen = fields["taken_at_source"]
        differ = [f"{d['source']} ({d['value']})" for d in side.get("dates") or []
                  if d["source"].split(":", 1)[1] in ("exif:DateTimeOriginal", "photoshop:DateCreated",
                                                      "xmp:CreateDate")
                  and d["value"] and d["value"][:19] != (fields["taken_at"] or "")[:19]]
        if differ:
            fields["taken_at_source"] = {"source": chosen["source"],
                                         "reason": chosen["reason"] + "; sidecar disagrees: " + ", ".join(differ)}
    return fields
