"""Video metadata (QuickTime MOV, MP4, 3GP, GoPro): time, device, place, GPS track.

One ``media/video`` record per accepted file, always — also for a file whose name or type
says video but whose bytes are no QuickTime/MP4 we can read (``corrupted`` true, with a
warning). A small atom walker of our own reads the boxes (no library reads the Apple
``meta/keys/ilst`` metadata, the ``udta`` text atoms and the GoPro ``gpmd`` track together):

* ``mvhd``: CreateDate / ModifyDate (seconds since 1904-01-01), duration;
* ``trak``: handler, codec (``stsd``), width/height (``tkhd``), frame rate (``stts``/``mdhd``);
* ``moov/meta`` (``keys`` + ``ilst``): ``com.apple.quicktime.creationdate`` (with its zone),
  ``make``, ``model``, ``software``, ``location.ISO6709``; Android's ``com.android.*``;
* ``udta``: ``©xyz`` (ISO 6709 place), ``©mak``, ``©mod``, ``©swr``, ``©day``; GoPro ``FIRM``
  and the ``GPMF`` atom (camera serial ``CASN``, model ``MINF``);
* Novatek dashcams: the ``freeGPS`` blocks a ``moov/gps `` atom lists (the common binary
  layout; encrypted and text variants are counted in a warning, not read);
* the GoPro ``gpmd`` metadata track (GPMF KLV): ``GPS5`` points scaled by ``SCAL``, ``GPSU``
  (UTC time of a sample's first point), ``GPSF`` (fix), ``GPSP`` (precision); HERO11+ ``GPS9``
  points (``TYPE`` ``lllllllSS``: each with its own days-since-2000 time, DOP and fix).

Times (see :mod:`forensic.timestamps`): ``com.apple.quicktime.creationdate`` carries its own
offset (``offset_tag``) and is preferred. ``mvhd`` is UTC by the QuickTime specification, but
many cameras write their local clock there (exiftool's ``QuickTimeUTC`` caveat): it is taken
as UTC (``utc``) only where the file shows a writer known to follow the specification (Apple or
Android metadata keys); with a GPS time in the file (GPMF ``GPSU``) its offset is inferred from
it (``gps``: mvhd minus GPS time, rounded to 15 minutes, within ±14 h); else it is kept
naive with ``tz_source`` ``unknown``. Every date read is kept in ``dates`` with its source,
and ``taken_at_source`` (``{source, reason}``) says which one ``taken_at`` is and why, naming
the creation dates that disagree with it (by how many seconds).

Reading is bounded: atoms are walked with seeks (``mdat`` is never read whole), ``moov`` is
read only up to :data:`MAX_MOOV` bytes, at most :data:`MAX_ATOMS` atoms and :data:`MAX_DEPTH`
levels, at most :data:`MAX_GPMF_SAMPLES` GPMF samples of :data:`MAX_GPMF_SAMPLE` bytes each
(together no more bytes than the file holds) and :data:`MAX_GPMF_POINTS` points;
the stored track is every point up to :data:`MAX_TRACK_POINTS`, else evenly decimated to
that many (``track_points`` says how many were read, ``track_decimated`` whether it was cut).
"""
from __future__ import annotations

import math
import re
import struct
from datetime import datetime, timedelta, timezone
from typing import Any, BinaryIO, Iterable, Iterator

from forensic.extractors import xmp as xmp_mod
from forensic.extractors.base import Extractor, ExtractorInput
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from forensic.timestamps import Timestamp, iso_utc

RECORD_TYPE = "media/video"

MAX_MOOV = 64 * 1024 * 1024          # bytes of the movie box read into memory
MAX_ATOMS = 200_000                  # atoms walked per file
MAX_DEPTH = 12                       # nesting levels walked
MAX_SAMPLES = 2_000_000              # sample-table entries read per track
MAX_GPMF_SAMPLES = 50_000            # GPMF samples read per file
MAX_GPMF_SAMPLE = 1024 * 1024        # bytes of one GPMF sample read
MAX_GPMF_POINTS = 200_000            # GPS points read per file (a GoPro chapter: ~13,000)
MAX_TRACK_POINTS = 10_000            # track points stored (evenly decimated beyond)

_MIMES = {"video/quicktime", "video/mp4", "video/3gpp", "video/3gpp2", "video/x-m4v", "video/mp4v-es"}
_EXTENSIONS = {"mov", "qt", "mp4", "m4v", "3gp", "3g2", "lrv", "insv", "thm_mp4"}
_TOP_ATOMS = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot", b"uuid"}
# brands of still images and audio-only files (read by the photo extractor, or no video)
_NOT_VIDEO_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif",
                     b"avis", b"crx ", b"M4A ", b"M4B ", b"M4P "}
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"edts", b"dinf", b"meta", b"ilst"}
_EPOCH_1904 = datetime(1904, 1, 1, tzinfo=timezone.utc).replace(tzinfo=None)   # wall clock, zone not implied
_ISO6709 = re.compile(r"^\s*([+-]\d+(?:\.\d*)?)([+-]\d+(?:\.\d*)?)([+-]\d+(?:\.\d*)?)?(?:CRS[^/]*)?/?\s*$")
_APPLE_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")
_DAY_DATE = _APPLE_DATE
_GPSU = re.compile(r"^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2}(?:\.\d+)?)$")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")
# XMP dates a video may carry, as photo records name them (xmp:PREFIX:Name)
_XMP_DATES = ("xmp:CreateDate", "exif:DateTimeOriginal", "photoshop:DateCreated", "xmp:ModifyDate",
              "xmp:MetadataDate")

# the fields of a media/video record, in order (all present in every record); the names
# shared with photo/exif mean the same (a photo listing reads both)
FIELDS = (
    "container", "brand", "make", "model", "serial", "software", "taken_at", "taken_at_utc",
    "taken_at_raw", "tz_known", "tz_source", "tz_offset_minutes", "taken_at_source",
    "dates", "lat", "lon", "alt", "gps_valid", "gps_raw", "gps_at", "direction", "speed", "speed_ref", "gps",
    "duration_s", "codecs", "width", "height", "frame_rate", "track", "track_points", "track_decimated",
    "has_exif", "exif_source",
)


class _Problems:
    """Warnings met in one file; each says whether it means the file is damaged."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.corrupted = False

    def add(self, message: str, corrupt: bool = True) -> None:
        if message not in self.messages and len(self.messages) < 50:
            self.messages.append(message)
        self.corrupted = self.corrupted or corrupt


class _Track:
    """What one ``trak`` says."""

    def __init__(self) -> None:
        self.handler: str | None = None
        self.codec: str | None = None
        self.width: float | None = None
        self.height: float | None = None
        self.timescale: int | None = None
        self.duration: int | None = None
        self.sample_count = 0
        self.stts: list[tuple[int, int]] = []
        self.sizes: list[int] = []
        self.chunks: list[int] = []
        self.stsc: list[tuple[int, int]] = []


class _Movie:
    """What the walk collected."""

    def __init__(self) -> None:
        self.brand: str | None = None
        self.mvhd: dict[str, int] = {}
        self.tracks: list[_Track] = []
        self.keys: dict[str, Any] = {}          # Apple/Android metadata keys -> value
        self.udta: dict[str, str] = {}          # ©xyz, ©mak, ... and GoPro FIRM/CASN/MINF
        self.gpmf_model: str | None = None      # DVNM of the gpmd track
        self.xmp: bytes | None = None           # udta XMP_ atom or the top-level XMP uuid box
        self.novatek: list[tuple[int, int]] = []  # (offset, size) of the freeGPS blocks a 'gps ' atom lists
        self.atoms = 0


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        value = _CONTROL.sub("", value).strip()
        return value or None
    return value


class VideoMetaExtractor(Extractor):
    NAME = "video_meta"
    VERSION = "1"
    DESCRIPTION = ("Video metadata (QuickTime MOV, MP4, 3GP; iPhone/Android keys, GoPro GPMF): "
                   "time with zone provenance, device, place, GPS track, duration, codecs")
    REQUIRES = ()
    RECORD_TYPES = (RECORD_TYPE,)

    max_moov: int = MAX_MOOV

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        mime = (mime or "").split(";")[0].strip().lower()
        if head[4:8] == b"ftyp":
            return head[8:12] not in _NOT_VIDEO_BRANDS
        if mime in _MIMES:
            return True
        name = path.replace("\\", "/").rsplit("/", 1)[-1]
        return "." in name and name.rsplit(".", 1)[-1].lower() in _EXTENSIONS

    def extract(self, item: ExtractorInput) -> Iterable[ArtifactRecord | ExtractionWarning]:
        problems = _Problems()
        fields: dict[str, Any] = dict.fromkeys(FIELDS) | {"has_exif": False, "gps_valid": False,
                                                          "dates": [], "codecs": [], "track": [],
                                                          "track_points": 0, "track_decimated": False}
        timestamps: list[Timestamp] = []
        try:
            with item.stream() as fh:
                movie = _read_movie(fh, item.size, self.max_moov, problems)
                points = _gpmf_points(fh, item.size, movie, problems)
                if movie.novatek and not points:
                    points = _novatek_points(fh, item.size, movie, problems)
            _fill(movie, points, fields, timestamps, problems)
        except Exception as exc:  # hostile input must never stop the triage
            problems.add(f"video metadata unreadable: {type(exc).__name__}: {exc}")
        for message in problems.messages:
            yield ExtractionWarning(self.NAME, message)
        yield ArtifactRecord(RECORD_TYPE, fields, tuple(timestamps), problems.corrupted,
                             tuple(problems.messages))


# -- atoms ------------------------------------------------------------------------------------

def _atoms(buf: bytes, start: int, end: int, movie: _Movie, problems: _Problems,
           where: str) -> Iterator[tuple[bytes, int, int]]:
    """The atoms in ``buf[start:end]``: (type, payload start, payload end). An atom whose size
    runs past its parent is cut at the parent's end (a warning); a size below its header stops
    the walk of this parent (a warning)."""
    pos = end if start < 0 else start
    while pos + 8 <= end:
        movie.atoms += 1
        if movie.atoms > MAX_ATOMS:
            problems.add(f"more than {MAX_ATOMS:,} atoms: the rest is not read")
            return
        size, kind = struct.unpack_from(">I4s", buf, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                problems.add(f"atom {_fourcc(kind)} in {where} at {pos}: truncated 64-bit size")
                return
            size = struct.unpack_from(">Q", buf, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header:
            problems.add(f"atom {_fourcc(kind)} in {where} at {pos}: size {size} below its header")
            return
        if pos + size > end:
            problems.add(f"atom {_fourcc(kind)} in {where} at {pos}: size {size} runs past the end "
                         f"of its parent ({end - pos} bytes left); read as far as it goes")
            size = end - pos
        yield kind, pos + header, pos + size
        pos += size
    if 0 < end - pos < 8 and buf[pos:end].strip(b"\0"):
        problems.add(f"{end - pos} stray bytes at the end of {where}", corrupt=False)


def _fourcc(kind: bytes) -> str:
    return kind.decode("latin-1").encode("unicode_escape").decode("ascii")


def _read_movie(fh: BinaryIO, size: int, max_moov: int, problems: _Problems) -> _Movie:
    """Walk the top-level atoms with seeks; read the ``moov`` box (bounded) and parse it."""
    movie = _Movie()
    pos, top = 0, 0
    seen_moov = False
    while pos + 8 <= size and top < 10_000:
        top += 1
        fh.seek(pos)
        head = fh.read(16)
        if len(head) < 8:
            break
        atom_size, kind = struct.unpack_from(">I4s", head)
        header = 8
        if atom_size == 1 and len(head) == 16:
            atom_size, header = struct.unpack_from(">Q", head, 8)[0], 16
        elif atom_size == 0:
            atom_size = size - pos
        if pos == 0 and kind not in _TOP_ATOMS:
            problems.add("not a QuickTime/MP4 file (no ftyp, moov or mdat atom at its start)")
            return movie
        if atom_size < header:
            problems.add(f"top-level atom {_fourcc(kind)} at {pos}: size {atom_size} below its header")
            break
        if pos + atom_size > size:
            problems.add(f"top-level atom {_fourcc(kind)} at {pos}: size {atom_size} runs past the end of "
                         f"the file ({size - pos} bytes left): the file is truncated")
            atom_size = size - pos
        if kind == b"ftyp":
            movie.brand = _clean(head[header:header + 4].decode("latin-1")) if len(head) >= header + 4 else None
        elif kind == b"uuid" and movie.xmp is None and 24 < atom_size - header <= xmp_mod.MAX_PACKET + 16:
            fh.seek(pos + header)
            box = fh.read(atom_size - header)
            if box[:16] == _XMP_UUID:
                movie.xmp = box[16:]
        elif kind == b"moov" and not seen_moov:
            seen_moov = True
            length = atom_size - header
            if length > max_moov:
                problems.add(f"moov atom of {length:,} bytes exceeds the {max_moov:,}-byte bound: "
                             f"only its first {max_moov:,} bytes are read")
                length = max_moov
            fh.seek(pos + header)
            buf = fh.read(length)
            _parse(buf, 0, len(buf), movie, problems, 1, "moov")
        pos += atom_size
    if not seen_moov and not problems.messages:
        problems.add("no moov atom: the file holds no movie metadata (truncated or not finished recording)")
    return movie


def _parse(buf: bytes, start: int, end: int, movie: _Movie, problems: _Problems, depth: int,
           where: str, track: _Track | None = None) -> None:
    if depth > MAX_DEPTH:
        problems.add(f"atoms nested deeper than {MAX_DEPTH} levels in {where}: not read")
        return
    for kind, a, b in _atoms(buf, start, end, movie, problems, where):
        try:
            _atom(buf, kind, a, b, movie, problems, depth, where, track)
        except (struct.error, IndexError, ValueError) as exc:
            problems.add(f"atom {_fourcc(kind)} in {where}: unreadable ({exc})")


def _atom(buf: bytes, kind: bytes, a: int, b: int, movie: _Movie, problems: _Problems, depth: int,
          where: str, track: _Track | None) -> None:
    name = f"{where}/{_fourcc(kind)}"
    if kind == b"trak":
        t = _Track()
        movie.tracks.append(t)
        _parse(buf, a, b, movie, problems, depth + 1, name, t)
    elif kind == b"meta":
        # ISO 'meta' is a full box (4 bytes of version and flags); QuickTime's is not
        if b - a >= 12 and buf[a:a + 4] == b"\0\0\0\0" and buf[a + 8:a + 12] in (b"hdlr", b"keys", b"ilst"):
            a += 4
        _meta(buf, a, b, movie, problems, depth + 1, name)
    elif kind in _CONTAINERS:
        _parse(buf, a, b, movie, problems, depth + 1, name, track)
    elif kind == b"mvhd":
        version = buf[a]
        if version == 1:
            c, m, ts, dur = struct.unpack_from(">QQIQ", buf, a + 4)
        else:
            c, m, ts, dur = struct.unpack_from(">IIII", buf, a + 4)
        movie.mvhd = {"create": c, "modify": m, "timescale": ts, "duration": dur}
    elif kind == b"gps " and where == "moov" and b - a >= 8:
        # Novatek dashcams: version, count, then (offset, size) of each freeGPS block
        count = min(struct.unpack_from(">I", buf, a + 4)[0], (b - a - 8) // 8, MAX_GPMF_SAMPLES)
        movie.novatek = [struct.unpack_from(">II", buf, a + 8 + 8 * i) for i in range(count)]
    elif track is not None:
        _track_atom(buf, kind, a, b, track)
    elif where.endswith("udta"):
        _udta(buf, kind, a, b, movie, problems)


def _track_atom(buf: bytes, kind: bytes, a: int, b: int, t: _Track) -> None:
    if kind == b"tkhd" and b - a >= 8:
        w, h = struct.unpack_from(">II", buf, b - 8)
        t.width, t.height = w / 65536, h / 65536
    elif kind == b"mdhd":
        if buf[a] == 1:
            t.timescale, t.duration = struct.unpack_from(">IQ", buf, a + 20)
        else:
            t.timescale, t.duration = struct.unpack_from(">II", buf, a + 12)
    elif kind == b"hdlr" and t.handler is None and buf[a + 4:a + 8] != b"dhlr":
        t.handler = _clean(buf[a + 8:a + 12].decode("latin-1"))     # mdia's (minf's is the data handler)
    elif kind == b"stsd":
        if struct.unpack_from(">I", buf, a + 4)[0] and b - a >= 16:
            t.codec = _clean(buf[a + 12:a + 16].decode("latin-1"))
    elif kind == b"stts":
        n = min(struct.unpack_from(">I", buf, a + 4)[0], (b - a - 8) // 8, MAX_SAMPLES)
        t.stts = [struct.unpack_from(">II", buf, a + 8 + 8 * i) for i in range(n)]
        t.sample_count = sum(c for c, _ in t.stts)
    elif kind == b"stsz":
        fixed, n = struct.unpack_from(">II", buf, a + 4)
        n = min(n, MAX_SAMPLES)
        if fixed:
            t.sizes = [fixed] * min(n, MAX_GPMF_SAMPLES)
        else:
            n = min(n, (b - a - 12) // 4)
            t.sizes = list(struct.unpack_from(f">{n}I", buf, a + 12))
    elif kind in (b"stco", b"co64"):
        width = 4 if kind == b"stco" else 8
        n = min(struct.unpack_from(">I", buf, a + 4)[0], (b - a - 8) // width, MAX_SAMPLES)
        t.chunks = list(struct.unpack_from(f">{n}{'I' if width == 4 else 'Q'}", buf, a + 8))
    elif kind == b"stsc":
        n = min(struct.unpack_from(">I", buf, a + 4)[0], (b - a - 8) // 12, MAX_SAMPLES)
        t.stsc = [struct.unpack_from(">II", buf, a + 8 + 12 * i) for i in range(n)]


def _text_atom(payload: bytes) -> str | None:
    """A QuickTime international text atom (2-byte length, 2-byte language, text), or a plain
    string (GoPro FIRM)."""
    if len(payload) >= 4:
        n = struct.unpack_from(">H", payload)[0]
        if 0 < n <= len(payload) - 4:
            return _clean(payload[4:4 + n].decode("utf-8", "replace"))
    return _clean(payload.split(b"\0", 1)[0].decode("utf-8", "replace"))


def _udta(buf: bytes, kind: bytes, a: int, b: int, movie: _Movie, problems: _Problems) -> None:
    payload = buf[a:b]
    if kind in (b"\xa9xyz", b"\xa9mak", b"\xa9mod", b"\xa9swr", b"\xa9day", b"FIRM"):
        value = _text_atom(payload)
        if value:
            movie.udta.setdefault(kind.decode("latin-1"), value)
    elif kind == b"XMP_" and movie.xmp is None:
        movie.xmp = payload
    elif kind == b"TAGS" and payload.startswith(b"PENTAX "):
        # Pentax cameras: a TAGS atom whose first 24 bytes are the make (as exiftool reads it)
        make = _clean(payload[:24].split(b"\0", 1)[0].decode("latin-1"))
        if make:
            movie.udta.setdefault("TAGS:Make", make)
    elif kind == b"GPMF":
        for key, _type, _size, _repeat, data in _klv(payload, 0, len(payload), problems, 0):
            if key in (b"CASN", b"MINF", b"FIRM"):
                value = _clean(data.split(b"\0", 1)[0].decode("latin-1"))
                if value:
                    movie.udta.setdefault("GPMF:" + key.decode("latin-1"), value)


def _meta(buf: bytes, a: int, b: int, movie: _Movie, problems: _Problems, depth: int, where: str) -> None:
    """A ``meta`` box: Apple ``keys`` + ``ilst`` (items numbered by key), or iTunes-style
    ``ilst`` (items named by their atom type)."""
    keys: list[str] = []
    ilst: tuple[int, int] | None = None
    for kind, s, e in _atoms(buf, a, b, movie, problems, where):
        if kind == b"keys" and e - s >= 8:
            count = struct.unpack_from(">I", buf, s + 4)[0]
            pos = s + 8
            for _ in range(min(count, 10_000)):
                if pos + 8 > e:
                    problems.add(f"{where}/keys: {count} keys announced, fewer present")
                    break
                size = struct.unpack_from(">I", buf, pos)[0]
                if size < 8 or pos + size > e:
                    problems.add(f"{where}/keys: key entry of size {size} out of bounds")
                    break
                keys.append(buf[pos + 8:pos + size].decode("utf-8", "replace"))
                pos += size
        elif kind == b"ilst":
            ilst = (s, e)
    if ilst is None or depth > MAX_DEPTH:
        return
    for kind, s, e in _atoms(buf, ilst[0], ilst[1], movie, problems, where + "/ilst"):
        index = struct.unpack(">I", kind)[0]
        if keys and 1 <= index <= len(keys):
            name = keys[index - 1]
        elif not keys:
            name = kind.decode("latin-1")
        else:
            problems.add(f"{where}/ilst: item {index} has no key", corrupt=False)
            continue
        for dkind, ds, de in _atoms(buf, s, e, movie, problems, where + "/ilst/item"):
            if dkind == b"data" and de - ds >= 8:
                value = _data_value(struct.unpack_from(">I", buf, ds)[0] & 0xFFFFFF, buf[ds + 8:de])
                if value is not None:
                    movie.keys.setdefault(name, value)
                break


def _data_value(type_code: int, raw: bytes) -> Any:
    """The value of a ``data`` atom by its well-known type."""
    if type_code in (1, 2):            # UTF-8, UTF-16
        return _clean(raw.decode("utf-8" if type_code == 1 else "utf-16-be", "replace"))
    if type_code == 23 and len(raw) == 4:
        return struct.unpack(">f", raw)[0]
    if type_code == 24 and len(raw) == 8:
        return struct.unpack(">d", raw)[0]
    if type_code in (21, 22) and len(raw) in (1, 2, 4, 8):
        return int.from_bytes(raw, "big", signed=type_code == 21)
    return None


# -- GPMF ------------------------------------------------------------------------------------

_GPMF_NUM = {"b": ("b", 1), "B": ("B", 1), "s": ("h", 2), "S": ("H", 2), "l": ("i", 4), "L": ("I", 4),
             "f": ("f", 4), "d": ("d", 8), "j": ("q", 8), "J": ("Q", 8)}


def _klv(buf: bytes, start: int, end: int, problems: _Problems,
         depth: int) -> Iterator[tuple[bytes, str, int, int, bytes]]:
    """GPMF key-length-value items, nested ones (type 0) flattened in order:
    (key, type, struct size, repeat, data)."""
    pos = start
    while pos + 8 <= end:
        key, type_byte, size, repeat = struct.unpack_from(">4scBH", buf, pos)
        if key == b"\0\0\0\0":
            return
        length = size * repeat
        stop = pos + 8 + length
        if stop > end:
            problems.add(f"GPMF item {_fourcc(key)}: {length} bytes run past its sample; read as far as it goes")
            stop = end
        if type_byte == b"\0":
            if depth < 8:
                yield key, "", size, repeat, b""
                yield from _klv(buf, pos + 8, stop, problems, depth + 1)
        else:
            yield key, type_byte.decode("latin-1"), size, repeat, buf[pos + 8:stop]
        pos += 8 + ((length + 3) & ~3)


def _numbers(type_code: str, size: int, data: bytes) -> list[float]:
    spec = _GPMF_NUM.get(type_code)
    if spec is None or size <= 0:
        return []
    fmt, width = spec
    n = len(data) // width
    return list(struct.unpack(f">{n}{fmt}", data[:n * width]))


def _gpsu(data: bytes) -> datetime | None:
    m = _GPSU.match(data.split(b"\0", 1)[0].decode("latin-1").strip())
    if not m:
        return None
    try:
        seconds = float(m.group(6))
        return datetime(2000 + int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)),
                        int(m.group(5)), tzinfo=timezone.utc) + timedelta(seconds=seconds)
    except ValueError:
        return None


def _samples(t: _Track) -> Iterator[tuple[int, int, float | None]]:
    """(offset, size, start time in seconds) of a track's samples, from its sample table."""
    if not t.chunks or not t.sizes or not t.stsc:
        return
    durations: list[int] = []
    for count, delta in t.stts:
        durations.extend([delta] * min(count, MAX_GPMF_SAMPLES - len(durations)))
        if len(durations) >= MAX_GPMF_SAMPLES:
            break
    index, clock = 0, 0
    runs = sorted(t.stsc)            # (first chunk, samples per chunk), walked once alongside the chunks
    run, per_chunk = 0, 0
    for ci, offset in enumerate(t.chunks):
        chunk_no = ci + 1
        while run < len(runs) and runs[run][0] <= chunk_no:
            per_chunk = runs[run][1]
            run += 1
        for _ in range(per_chunk):
            if index >= len(t.sizes) or index >= MAX_GPMF_SAMPLES:
                return
            start = clock / t.timescale if t.timescale else None
            yield offset, t.sizes[index], start
            if index < len(durations):
                clock += durations[index]
            offset += t.sizes[index]
            index += 1


def _gpmf_points(fh: BinaryIO, size: int, movie: _Movie, problems: _Problems) -> list[dict[str, Any]]:
    """The GPS points of the GoPro ``gpmd`` track(s), in order."""
    points: list[dict[str, Any]] = []
    for t in movie.tracks:
        if t.codec != "gpmd":
            continue
        samples = list(_samples(t))
        taken = 0           # bytes of samples read: never more than the file holds
        for n, (offset, length, _start) in enumerate(samples):
            if offset + length > size:
                problems.add(f"GPMF sample {n + 1} at {offset} runs past the end of the file")
                break
            if length > MAX_GPMF_SAMPLE:
                problems.add(f"GPMF sample {n + 1} of {length:,} bytes exceeds the bound: not read")
                continue
            # a forged sample table naming one sample many times would multiply its points
            # (a small file, millions of points): samples that overlap are refused
            taken += length
            if taken > size or len(points) > MAX_GPMF_POINTS:
                problems.add(f"GPMF samples from {n + 1} on not read: they overlap (more bytes than the file "
                             f"holds) or past {MAX_GPMF_POINTS:,} points")
                break
            fh.seek(offset)
            data = fh.read(length)
            next_start = samples[n + 1][2] if n + 1 < len(samples) else None
            span = (next_start - _start) if next_start is not None and _start is not None else None
            points.extend(_gpmf_sample(data, movie, problems, span))
    return points


def _gpmf_sample(data: bytes, movie: _Movie, problems: _Problems, span: float | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    scal: list[float] = []
    gpsu: datetime | None = None
    fix: int | None = None
    dop: float | None = None
    struct_type = ""
    for key, type_code, size, _repeat, value in _klv(data, 0, len(data), problems, 0):
        if key == b"STRM":
            scal, gpsu, fix, dop, struct_type = [], None, None, None, ""
        elif key == b"TYPE" and type_code == "c":
            struct_type = value.split(b"\0", 1)[0].decode("latin-1")
        elif key == b"GPS9" and type_code == "?":
            out.extend(_gps9(value, size, struct_type, scal, problems))
        elif key == b"DVNM" and type_code == "c" and movie.gpmf_model is None:
            movie.gpmf_model = _clean(value.split(b"\0", 1)[0].decode("latin-1"))
        elif key == b"SCAL":
            scal = [float(x) for x in _numbers(type_code, size, value)]
        elif key == b"GPSU":
            gpsu = _gpsu(value)
        elif key == b"GPSF":
            nums = _numbers(type_code, size, value)
            fix = int(nums[0]) if nums else None
        elif key == b"GPSP":
            nums = _numbers(type_code, size, value)
            dop = nums[0] / 100 if nums else None
        elif key == b"GPS5" and type_code == "l" and size == 20:
            nums = _numbers(type_code, 4, value)
            if not scal or any(s == 0 for s in scal):
                problems.add("GPMF GPS5 without a usable SCAL: points not read")
                continue
            scales = scal if len(scal) >= 5 else [scal[0]] * 5
            count = len(nums) // 5
            for i in range(count):
                lat, lon, alt, speed2d, speed3d = (nums[5 * i + j] / scales[j] for j in range(5))
                when = None
                if gpsu is not None:
                    when = gpsu + timedelta(seconds=(span or 0) * i / count) if i else gpsu
                out.append({"time": iso_utc(when) if when else None, "latitude": lat, "longitude": lon,
                            "altitude": alt, "speed": speed2d, "speed_3d": speed3d, "fix": fix, "dop": dop})
    return out


_GPS9_TYPE = "lllllllSS"    # lat, lon, alt, 2D speed, 3D speed, days since 2000, seconds of the day, DOP, fix
_EPOCH_2000 = datetime(2000, 1, 1, tzinfo=timezone.utc)


def _gps9(value: bytes, size: int, struct_type: str, scal: list[float],
          problems: _Problems) -> list[dict[str, Any]]:
    """GoPro HERO11+ ``GPS9`` points (each with its own UTC time and fix), per GoPro's GPMF
    specification: TYPE ``lllllllSS`` scaled by a 9-value SCAL."""
    if struct_type != _GPS9_TYPE or size != 32 or len(scal) != 9 or any(s == 0 for s in scal):
        problems.add(f"GPMF GPS9 of an unknown layout (TYPE {struct_type!r}, {size} bytes): points not read")
        return []
    out = []
    for i in range(len(value) // 32):
        raw = struct.unpack_from(">7i2H", value, 32 * i)
        lat, lon, alt, speed2d, speed3d, days, secs, dop, fix = (raw[j] / scal[j] for j in range(9))
        try:
            when: str | None = iso_utc(_EPOCH_2000 + timedelta(days=days, seconds=secs))
        except OverflowError:
            when = None
        out.append({"time": when, "latitude": lat, "longitude": lon, "altitude": alt, "speed": speed2d,
                    "speed_3d": speed3d, "fix": int(fix), "dop": dop})
    return out


_NOVATEK_READ = 512                  # bytes of a freeGPS block read (the record sits in its first 176)
_KNOT = 1852 / 3600                  # m/s


def _novatek_points(fh: BinaryIO, size: int, movie: _Movie, problems: _Problems) -> list[dict[str, Any]]:
    """The GPS fixes of the Novatek ``freeGPS`` blocks a ``gps `` atom lists, in order."""
    points: list[dict[str, Any]] = []
    unknown = 0
    for n, (offset, length) in enumerate(movie.novatek):
        if offset + min(length, 92) > size:
            problems.add(f"Novatek GPS block {n + 1} at {offset} runs past the end of the file")
            break
        fh.seek(offset)
        block = fh.read(min(length, _NOVATEK_READ))
        if block[4:12] != b"freeGPS ":
            unknown += 1
            continue
        point = _freegps(block)
        if point is not None:
            points.append(point)
        elif len(block) >= 75 and block[72:73] in (b"V", b"\0"):
            continue                    # a block written without a fix
        else:
            unknown += 1
    if unknown:
        problems.add(f"{unknown} Novatek GPS block(s) of an unknown or encrypted layout: not read", corrupt=False)
    return points


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


def _freegps(block: bytes) -> dict[str, Any] | None:
    """One Novatek ``freeGPS`` record of the common binary layout (exiftool's Viofo A119S type):
    time as six little-endian uint32 at 48, status ``A``, hemispheres, then latitude, longitude
    (DDDMM.MMMM), speed (knots) and track as floats; doubles at 0x70/0x80/0xa0 where written."""
    if len(block) < 92:
        return None
    hour, minute, second, year, month, day = struct.unpack_from("<6I", block, 48)
    status, lat_ref, lon_ref = block[72:73], block[73:74], block[74:75]
    if status != b"A" or lat_ref not in (b"N", b"S") or lon_ref not in (b"E", b"W") or not block[76:80].strip(b"\0"):
        return None
    lat, lon, knots, _track = struct.unpack_from("<4f", block, 76)
    alt = None
    if len(block) >= 0xA8:
        lat2, lon2, alt2 = (struct.unpack_from("<d", block, o)[0] for o in (0x70, 0x80, 0xA0))
        if abs(lat2 - lat) < 0.001 and abs(lon2 - lon) < 0.001:
            lat, lon, alt = lat2, lon2, alt2
    year += 2000 if year < 2000 else 0
    try:
        when = datetime(year, month, day, hour, minute, tzinfo=timezone.utc) + timedelta(seconds=second)
    except (ValueError, OverflowError):
        return None

    def degrees(v: float) -> float:
        d = int(v / 100)
        return d + (v - d * 100) / 60

    return {"time": iso_utc(when), "latitude": degrees(lat) * (-1 if lat_ref == b"S" else 1),
            "longitude": degrees(lon) * (-1 if lon_ref == b"W" else 1), "altitude": alt,
            "speed": knots * _KNOT, "speed_3d": None, "fix": None, "dop": None}


# -- fields -----------------------------------------------------------------------------------

def _iso6709(text: str) -> tuple[float, float, float | None] | None:
    """``+37.3349-122.0090+010.000/`` -> (lat, lon, alt); degrees, or DDMM(SS) forms."""
    m = _ISO6709.match(text)
    if not m:
        return None

    def degrees(part: str, deg_digits: int) -> float:
        sign = -1.0 if part[0] == "-" else 1.0
        body = part[1:]
        whole = body.split(".", 1)[0]
        value = float(body)
        if len(whole) == deg_digits + 2:      # DDMM.mm
            d, rest = divmod(value, 100)
            value = d + rest / 60
        elif len(whole) == deg_digits + 4:    # DDMMSS.ss
            d, rest = divmod(value, 10000)
            mm, ss = divmod(rest, 100)
            value = d + mm / 60 + ss / 3600
        return sign * value

    lat, lon = degrees(m.group(1), 2), degrees(m.group(2), 3)
    alt = float(m.group(3)) if m.group(3) else None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon, alt


def _apple_date(raw: str, label: str) -> Timestamp | None:
    m = _APPLE_DATE.match(raw.strip())
    if not m:
        return None
    try:
        local = datetime(*(int(m.group(i)) for i in range(1, 7)), tzinfo=timezone.utc).replace(tzinfo=None)
    except ValueError:
        return None
    zone = m.group(7)
    if zone is None:
        return Timestamp.local_unknown(label, local, raw)
    if zone == "Z":
        return Timestamp.local_with_offset(label, local, 0, "offset_tag", raw)
    digits = zone[1:].replace(":", "")
    offset = (int(digits[:2]) * 60 + int(digits[2:])) * (-1 if zone[0] == "-" else 1)
    return Timestamp.local_with_offset(label, local, offset, "offset_tag", raw)


def _date_entry(source: str, stamp: Timestamp, note: str | None = None) -> dict[str, Any]:
    entry = {"source": source, "value": stamp.iso(), "utc": stamp.iso_utc(), "tz_source": stamp.tz_source,
             "raw": stamp.raw}
    if note:
        entry["note"] = note
    return entry


def _mvhd_local(seconds: int) -> datetime | None:
    if not seconds:
        return None
    try:
        return _EPOCH_1904 + timedelta(seconds=seconds)
    except OverflowError:
        return None


def _fill(movie: _Movie, points: list[dict[str, Any]], fields: dict[str, Any], timestamps: list[Timestamp],
          problems: _Problems) -> None:
    keys, udta = movie.keys, movie.udta
    fields["brand"] = movie.brand
    fields["container"] = "QuickTime" if movie.brand in (None, "qt") else "MP4"
    fields["exif_source"] = "quicktime"
    # a phone writing its own keys writes mvhd in UTC (album or artist keys an editor added say nothing)
    apple = any(k in keys for k in ("com.apple.quicktime.make", "com.apple.quicktime.creationdate",
                                    "com.apple.quicktime.software"))
    android = "com.android.version" in keys
    gopro = (any(p["fix"] is not None for p in points) or any(k.startswith("GPMF:") for k in udta)
             or any(t.codec == "gpmd" for t in movie.tracks))

    def text(*names: str) -> str | None:
        for n in names:
            value = keys.get(n, udta.get(n))
            if isinstance(value, str) and value:
                return value
        return None

    fields["make"] = text("com.apple.quicktime.make", "com.android.manufacturer", "\u00a9mak", "TAGS:Make") or (
        "GoPro" if gopro else None)
    fields["model"] = text("com.apple.quicktime.model", "com.android.model", "\u00a9mod", "GPMF:MINF") or (
        movie.gpmf_model if gopro else None)
    fields["serial"] = text("GPMF:CASN")
    fields["software"] = text("com.apple.quicktime.software", "com.android.version", "\u00a9swr", "FIRM",
                              "GPMF:FIRM")

    # -- media
    if movie.mvhd.get("timescale"):
        fields["duration_s"] = round(movie.mvhd["duration"] / movie.mvhd["timescale"], 6)
    fields["codecs"] = [t.codec for t in movie.tracks if t.codec]
    video = next((t for t in movie.tracks if t.handler == "vide"), None)
    if video is not None:
        if video.width:
            fields["width"], fields["height"] = round(video.width), round(video.height or 0)
        if video.timescale and video.duration and video.sample_count:
            fields["frame_rate"] = round(video.sample_count * video.timescale / video.duration, 3)

    # -- place
    gps: dict[str, Any] = {}
    for name, source in (("com.apple.quicktime.location.ISO6709", "quicktime:com.apple.quicktime.location.ISO6709"),
                         ("\u00a9xyz", "quicktime:\u00a9xyz")):
        raw = text(name)
        if raw is None:
            continue
        place = _iso6709(raw)
        if place is None:
            problems.add(f"{source}: not an ISO 6709 position: {raw[:60]!r}")
            continue
        gps = {"latitude": place[0], "longitude": place[1], "altitude": place[2], "direction": None,
               "speed": None, "gps_time": None, "source": source, "raw": raw}
        break
    bad = [p for p in points if not (-90 <= p["latitude"] <= 90 and -180 <= p["longitude"] <= 180)]
    if bad:
        problems.add(f"{len(bad)} GPMF point(s) out of range (latitude ±90, longitude ±180): left out")
        points = [p for p in points if -90 <= p["latitude"] <= 90 and -180 <= p["longitude"] <= 180]
    fixed = [p for p in points if (p["fix"] is None or p["fix"] >= 2) and (p["latitude"] or p["longitude"])]
    if gps and fixed:
        # two places in one file (a ©xyz tag is easy to rewrite): the one shown is said to
        # disagree with the GPS track when they are over a kilometre apart
        km = _km(gps["latitude"], gps["longitude"], fixed[0]["latitude"], fixed[0]["longitude"])
        if km > 1:
            problems.add(f"{gps['source']} place is {km:,.1f} km from the GPS track's first fix "
                         f"({fixed[0]['latitude']:.6f}, {fixed[0]['longitude']:.6f}): both kept", corrupt=False)
    if not gps and fixed:
        p = fixed[0]
        gps = {"latitude": p["latitude"], "longitude": p["longitude"], "altitude": p["altitude"],
               # km/h as photo records give it (speed_ref K); the track keeps GPMF's m/s
               "direction": None, "speed": round(p["speed"] * 3.6, 6), "gps_time": p["time"],
               "source": "novatek:freeGPS" if movie.novatek and p["fix"] is None else "gpmf:GPS5",
               "raw": None}
    if gps:
        fields["gps"] = gps
        fields["lat"], fields["lon"], fields["alt"] = gps["latitude"], gps["longitude"], gps["altitude"]
        fields["speed"] = gps["speed"]
        fields["speed_ref"] = "K" if gps["speed"] is not None else None
        fields["gps_valid"] = not (gps["latitude"] == 0 and gps["longitude"] == 0)
        fields["gps_raw"] = gps["raw"]
    if points:
        fields["track_points"] = len(points)
        track = [{k: p[k] for k in ("time", "latitude", "longitude", "altitude", "speed")} for p in points]
        if len(track) > MAX_TRACK_POINTS:
            step = len(track) / MAX_TRACK_POINTS
            track = [track[int(i * step)] for i in range(MAX_TRACK_POINTS - 1)] + [track[-1]]
            fields["track_decimated"] = True
        fields["track"] = track
    gps_utc: datetime | None = None
    first_time = next((p["time"] for p in fixed if p["time"]), None)
    if first_time:
        gps_utc = datetime.fromisoformat(first_time.replace("Z", "+00:00"))
        fields["gps_at"] = first_time
        gps = fields["gps"]
        if gps is not None and gps["gps_time"] is None and not gps["source"].startswith("quicktime"):
            gps["gps_time"] = first_time
        stamp = Timestamp("gps", gps_utc, None, True, "utc", first_time, 0)
        timestamps.append(stamp)
        fields["dates"].append(_date_entry("novatek:GPSDateTime" if movie.novatek and not gopro else
                                           "gpmf:GPSDateTime", stamp))

    # -- times
    taken: Timestamp | None = None
    reason = None
    source = None
    creation = text("com.apple.quicktime.creationdate")
    if creation:
        stamp = _apple_date(creation, "taken")
        if stamp is None:
            problems.add(f"com.apple.quicktime.creationdate unreadable: {creation[:40]!r}")
        else:
            fields["dates"].append(_date_entry("quicktime:CreationDate", stamp))
            taken, source = stamp, "quicktime:CreationDate"
            reason = ("the phone's own creation date, written with its time-zone offset"
                      if stamp.tz_known else "the phone's creation date (no offset written)")
    day = text("\u00a9day")
    if day:
        stamp = _apple_date(day, "taken")
        if stamp is not None:
            fields["dates"].append(_date_entry("quicktime:\u00a9day", stamp))
            if taken is None and stamp.tz_known:
                taken, source, reason = stamp, "quicktime:\u00a9day", "a creation date with its offset"
    _xmp_dates(movie, fields, problems)
    for label, key, name in (("taken", "create", "quicktime:CreateDate"), ("modified", "modify",
                                                                           "quicktime:ModifyDate")):
        local = _mvhd_local(movie.mvhd.get(key, 0))
        if local is None:
            continue
        raw = f"{movie.mvhd[key]} (seconds since 1904-01-01: {local:%Y:%m:%d %H:%M:%S})"
        note = None
        if apple or android:
            stamp = Timestamp.local_with_offset(label, local, 0, "utc", raw)
            note = "UTC by the QuickTime specification; this writer (phone metadata keys) follows it"
        elif gps_utc is not None and _gps_offset(local, gps_utc) is not None:
            offset = _gps_offset(local, gps_utc)
            assert offset is not None
            stamp = Timestamp.local_with_offset(label, local, offset, "gps", raw)
            note = f"written as local time; offset {offset:+d} min inferred from the GPS time in the file"
        else:
            stamp = Timestamp.local_unknown(label, local, raw)
            note = ("UTC by the QuickTime specification, but cameras often write local time here: "
                    "zone unknown, not guessed")
        fields["dates"].append(_date_entry(name, stamp, note))
        if label == "taken" and taken is None:
            taken, source, reason = stamp, name, note
        elif label == "modified":
            timestamps.append(stamp)
    if taken is not None:
        timestamps.insert(0, Timestamp("taken", taken.utc, taken.local, taken.tz_known, taken.tz_source,
                                       taken.raw, taken.offset_minutes))
        fields["taken_at"] = taken.iso()
        fields["taken_at_utc"] = taken.iso_utc()
        fields["taken_at_raw"] = taken.raw
        fields["tz_known"] = taken.tz_known
        fields["tz_source"] = taken.tz_source
        fields["tz_offset_minutes"] = taken.offset_minutes
        others = []
        for d in fields["dates"]:
            creation = d["source"].endswith(("CreateDate", "CreationDate", "DateTimeOriginal", "DateCreated",
                                             "\u00a9day"))
            if d["source"] == source or not creation or not d["utc"] or taken.utc is None:
                continue
            delta = (datetime.fromisoformat(d["utc"].replace("Z", "+00:00")) - taken.utc).total_seconds()
            if abs(delta) >= 1:
                others.append(f"{d['source']} by {delta:+.0f} s")
        if others:
            reason = f"{reason}; disagrees: {', '.join(others)}"
        fields["taken_at_source"] = {"source": source, "reason": reason}


def _xmp_dates(movie: _Movie, fields: dict[str, Any], problems: _Problems) -> None:
    """The dates of the file's XMP packet, kept in ``dates`` (``xmp:...`` sources): an editor's
    dates, listed beside the camera's, never the time taken."""
    if not movie.xmp:
        return
    packet = xmp_mod.parse(xmp_mod.find_packet(movie.xmp[:xmp_mod.MAX_PACKET]))
    for message in packet.problems:
        problems.add(message)
    for name in _XMP_DATES:
        raw, _ = packet.get(name)
        date = xmp_mod.parse_date(raw) if raw else None
        if raw is None:
            continue
        if date is None or date.local is None:
            fields["dates"].append({"source": f"xmp:{name}", "value": None, "utc": None, "tz_source": "unknown",
                                    "raw": raw})
            continue
        stamp = (Timestamp.local_unknown("xmp", date.local, raw) if date.offset_minutes is None else
                 Timestamp.local_with_offset("xmp", date.local, date.offset_minutes, "offset_tag", raw))
        fields["dates"].append(_date_entry(f"xmp:{name}", stamp))


def _gps_offset(local: datetime, gps_utc: datetime) -> int | None:
    """Local minus GPS time in minutes, rounded to 15, when within ±14 h (and the two differ
    by under 2 minutes from that multiple, else the clocks are simply unrelated)."""
    diff = (local - gps_utc.replace(tzinfo=None)).total_seconds() / 60
    rounded = int(round(diff / 15) * 15)
    if abs(rounded) > 14 * 60 or abs(diff - rounded) > 2:
        return None
    return rounded
