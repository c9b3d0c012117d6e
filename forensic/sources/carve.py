"""Signature carving: JPEG, PNG and HEIC cut out of a byte range, kept only when valid.

A candidate is where a signature starts (JPEG ``FF D8 FF``, PNG's eight-byte signature, an
ISO-BMFF ``ftyp`` box of a HEIF brand). Its end is found by parsing the format, never guessed:
a JPEG's markers and entropy-coded data up to EOI, a PNG's chunks (each CRC checked) up to
IEND, a HEIC's top-level boxes (``ftyp``, ``meta``, ``mdat``) with every item extent its
``iloc`` gives inside them. A JPEG or PNG is then decoded (Pillow): random ``FF D8`` bytes, a
truncated photo or one whose tables are junk is not reported. (A photo cut short whose random
tail happens to hold an EOI marker parses and decodes with errors Pillow does not report: its
head is a real photo, and it is carved, as by other carvers; bench/bench_carve.py counts them.)
HEIC has no decoder here: its structure is the whole check, and its entry says so. Once an
object is carved, the scan goes on after its end (the EXIF thumbnail inside a JPEG is part of
that JPEG, not a photo of its own).

The range is given as ``read_at(offset, n)`` over a logical byte space: for unallocated space
that is the volume's unallocated runs end to end (as ``blkls`` prints them), so a deleted
file cut in two by a live file's clusters is still found; :class:`Extents` maps such a space
back to byte offsets in the image, and says when an object spans a gap (its content is then
an assumption: the entry carries a warning and low confidence). Live files' slack is carved
the same way, an object there never joined across two files. The space is read once, in
4 MiB chunks; signatures are searched with libc's ``memmem`` (off the interpreter lock) and
chunks of zeros are passed over.
"""
from __future__ import annotations

import bisect
import functools
import io
import re
import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator, cast

import pytsk3

from forensic.entry import FileEntry
from forensic.limits import DEFAULT_LIMITS, Limits
from forensic.locator import Locator
from forensic.sources.base import PositionalReader
from forensic.sources.ewf import BadChunk

ReadAt = Callable[[int, int], bytes]      # (offset, n) -> up to n bytes (fewer at the end)
# [(start, end)] media spans -> [(bad E01 chunk, first, one past last byte)] they overlap
Damage = Callable[[list[tuple[int, int]]], list[tuple[BadChunk, int, int]]]

SCAN_CHUNK = 4 << 20
PNG_SIG = b"\x89PNG\r\n\x1a\n"
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
_SIGNATURES = re.compile(rb"\xff\xd8\xff|\x89PNG\r\n\x1a\n|ftyp(?:" + b"|".join(HEIF_BRANDS) + rb")")
# In entropy-coded JPEG data a 0xFF byte is followed by 0x00 (stuffing) or a restart marker;
# anything else is the next marker.
_JPEG_NEXT_MARKER = re.compile(rb"\xff(?![\x00\xd0-\xd7\xff])")
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_SEGMENTS = _SOF | {0xC4, 0xCC, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF, 0xFE} | set(range(0xE0, 0xF0))
EXTENSIONS = {"jpeg": "jpg", "png": "png", "heic": "heic"}


@dataclass(frozen=True, slots=True)
class Carved:
    kind: str          # 'jpeg' | 'png' | 'heic'
    offset: int        # in the scanned byte space
    size: int
    decoded: bool      # a decoder read it whole (False: structure checked only, HEIC)
    note: str = ""     # what the check could not tell


class Cursor:
    """Reads through ``read_at`` in blocks, for the format parsers."""

    BLOCK = 256 << 10

    def __init__(self, read_at: ReadAt, base: int = 0, buf: bytes = b"") -> None:
        self.read_at = read_at
        self.base = base          # offset of buf in the byte space
        self.buf = buf

    def get(self, offset: int, n: int) -> bytes:
        """Up to n bytes at offset (fewer only at the end of the space)."""
        lo = offset - self.base
        if 0 <= lo and lo + n <= len(self.buf):
            return self.buf[lo:lo + n]
        self.base = offset
        self.buf = self.read_at(offset, max(n, self.BLOCK))
        return self.buf[:n]

    def window(self, offset: int) -> tuple[memoryview, int]:
        """The buffered bytes from offset on (at least some, unless at the end; a view, not a
        copy), and their offset."""
        lo = offset - self.base
        if not (0 <= lo and len(self.buf) - lo >= 64):
            self.base = offset
            self.buf = self.read_at(offset, self.BLOCK)
            lo = 0
        return memoryview(self.buf)[lo:], offset


def jpeg_end(cur: Cursor, start: int, limit: int) -> int | None:
    """One past the EOI of a JPEG starting at start, parsing its markers; None: not a JPEG
    (or larger than limit)."""
    if cur.get(start, 2) != b"\xff\xd8":
        return None
    pos = start + 2
    seen_sof = seen_sos = False
    while pos - start < limit:
        head = cur.get(pos, 4)
        if len(head) < 2 or head[0] != 0xFF:
            return None
        marker = head[1]
        if marker == 0xFF:                  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:
            return pos + 2 if seen_sos else None
        if marker in (0xD8, 0x00) or 0xD0 <= marker <= 0xD7 or (marker not in _SEGMENTS and marker != 0xDA):
            return None
        if len(head) < 4:
            return None
        length = struct.unpack(">H", head[2:4])[0]
        if length < 2:
            return None
        if marker in _SOF:
            sof = cur.get(pos + 4, 6)
            if len(sof) < 6 or length < 8 + 3 * sof[5] or sof[5] == 0:
                return None
            height, width = struct.unpack(">HH", sof[1:5])
            if width == 0 or sof[0] not in (8, 12, 16):
                return None
            del height                      # 0 is allowed (a DNL segment gives it)
            seen_sof = True
        pos += 2 + length
        if marker != 0xDA:
            continue
        if not seen_sof:
            return None
        seen_sos = True
        # entropy-coded data: up to the next marker that is no stuffing or restart
        while True:
            data, at = cur.window(pos)
            if not data:
                return None
            m = _JPEG_NEXT_MARKER.search(data)
            if m is not None and m.start() + 1 < len(data):
                pos = at + m.start()
                break
            if len(data) < 64:                 # the space ends inside the scan: truncated
                return None
            pos = at + len(data) - 1           # keep a trailing FF: look again with what follows
            if pos - start >= limit:
                return None
    return None


def png_end(cur: Cursor, start: int, limit: int) -> int | None:
    """One past the IEND chunk of a PNG starting at start, every chunk's CRC checked."""
    if cur.get(start, 8) != PNG_SIG:
        return None
    pos = start + 8
    first = True
    while pos - start < limit:
        head = cur.get(pos, 8)
        if len(head) < 8:
            return None
        length, ctype = struct.unpack(">I4s", head)
        if length > 0x7FFFFFFF or not ctype.isalpha() or pos + 12 + length - start > limit:
            return None
        if first and (ctype != b"IHDR" or length != 13):
            return None
        first = False
        crc = zlib.crc32(ctype)
        left, at = length, pos + 8
        while left:
            part = cur.get(at, min(left, Cursor.BLOCK))
            if not part:
                return None
            crc = zlib.crc32(part, crc)
            left -= len(part)
            at += len(part)
        stored = cur.get(at, 4)
        if len(stored) < 4 or struct.unpack(">I", stored)[0] != crc:
            return None
        pos = at + 4
        if ctype == b"IEND":
            return pos
    return None


_HEIF_TOP = {b"ftyp", b"meta", b"mdat", b"free", b"skip", b"uuid", b"moov", b"idat", b"wide", b"pdin", b"styp"}


def heic_end(cur: Cursor, start: int, limit: int) -> int | None:
    """One past the last top-level box of a HEIF file starting at start (its ``ftyp`` box):
    boxes are followed while each is a known top-level type with a size inside the limit;
    ``meta`` and ``mdat`` must both be met, and every extent the ``meta`` box's item
    locations (``iloc``) give in the file must lie inside what was carved."""
    head = cur.get(start, 12)
    if len(head) < 12 or head[4:8] != b"ftyp" or head[8:12] not in HEIF_BRANDS:
        return None
    size = struct.unpack(">I", head[:4])[0]
    if not 16 <= size <= 4096:
        return None
    pos, seen, meta = start, set(), None
    while pos - start < limit:
        box = cur.get(pos, 16)
        if len(box) < 8:
            break
        size, btype = struct.unpack(">I4s", box[:8])
        if btype not in _HEIF_TOP:
            break
        if size == 1 and len(box) == 16:
            size = struct.unpack(">Q", box[8:16])[0]
        if size < 8 or pos + size - start > limit:
            break                            # size 0 ("to the end") cannot be carved
        if btype == b"mdat" and len(cur.get(pos + size - 1, 1)) != 1:
            break                            # the data runs past the end of the space
        seen.add(btype)
        if btype == b"meta" and meta is None:
            meta = (pos, size)
        pos += size
    if not {b"ftyp", b"meta", b"mdat"} <= seen or meta is None or meta[1] > 1 << 20:
        return None
    extents = _iloc_extents(cur.get(meta[0], meta[1]))
    if not extents or any(offset + length > pos - start for offset, length in extents):
        return None
    return pos


def _iloc_extents(meta: bytes) -> list[tuple[int, int]] | None:
    """(offset from the file's start, length) of every item extent stored in the file, from
    the ``iloc`` box inside a ``meta`` box's bytes; None when there is none or it is malformed."""
    try:
        at = 12                                  # box header + FullBox version and flags
        while at + 8 <= len(meta):
            size, btype = struct.unpack_from(">I4s", meta, at)
            if size < 8:
                return None
            if btype == b"iloc":
                return _iloc(meta[at + 8:at + size])
            at += size
    except struct.error:
        return None
    return None


def _iloc(body: bytes) -> list[tuple[int, int]] | None:
    version = body[0]
    if version > 2:
        return None
    sizes = body[4:6]
    offset_size, length_size, base_size = sizes[0] >> 4, sizes[0] & 0xF, sizes[1] >> 4
    index_size = sizes[1] & 0xF if version in (1, 2) else 0
    if any(n not in (0, 4, 8) for n in (offset_size, length_size, base_size, index_size)):
        return None
    at = 6

    def read(n: int) -> int:
        nonlocal at
        if n == 0:
            return 0
        if at + n > len(body):
            raise struct.error("iloc ends early")
        value = int.from_bytes(body[at:at + n], "big")
        at += n
        return value
    count = read(2 if version < 2 else 4)
    out: list[tuple[int, int]] = []
    for _ in range(count):
        read(2 if version < 2 else 4)           # item ID
        method = read(2) & 0xF if version in (1, 2) else 0
        reference = read(2)
        base = read(base_size)
        for _ in range(read(2)):
            read(index_size)
            offset, length = read(offset_size), read(length_size)
            if method == 0 and reference == 0:  # in this file, from its start
                out.append((base + offset, length))
    return out


def decodes(kind: str, data: bytes) -> bool:
    """Whether Pillow decodes the image whole (JPEG at 1/8 scale: every block is still read)."""
    try:
        from PIL import Image
    except ImportError:              # pragma: no cover - a dependency; structure checks only then
        return True
    try:
        with Image.open(io.BytesIO(data)) as im:
            if kind == "jpeg":
                im.draft("RGB", (max(1, im.width // 8), max(1, im.height // 8)))
            elif im.width * im.height > 64_000_000:
                return True           # CRCs checked; decoding it would cost too much memory
            im.load()
        return True
    except Exception:                # Pillow raises many kinds on junk: each means "no"
        return False


def validate(kind: str, cur: Cursor, start: int, limit: int) -> Carved | None:
    """The object of this kind at start, checked; None if it is not one."""
    if kind == "jpeg":
        end = jpeg_end(cur, start, limit)
    elif kind == "png":
        end = png_end(cur, start, limit)
    else:
        end = heic_end(cur, start, limit)
    if end is None:
        return None
    size = end - start
    if kind == "heic":
        return Carved(kind, start, size, False, "HEIC: its boxes and item locations checked; not decoded (no HEIF "
                                                "decoder here), so its content is not proven an image")
    data = cur.get(start, size)
    if len(data) != size or not decodes(kind, data):
        return None
    return Carved(kind, start, size, True)


def broken_photo(mime: str | None, data: bytes) -> str | None:
    """Why a deleted file's recovered content is not the whole JPEG/PNG it starts as (None:
    it is whole, or no JPEG/PNG). A deleted FAT file is read from its first cluster on, its
    other clusters assumed to follow: when it was fragmented, the bytes read are partly
    another file's, and its photo no longer parses or decodes."""
    kind = {"image/jpeg": "jpeg", "image/png": "png"}.get((mime or "").split(";")[0].strip())
    if kind is None or not (data.startswith(b"\xff\xd8\xff") or data.startswith(PNG_SIG)):
        return None
    if validate(kind, Cursor(lambda o, n: data[o:o + n]), 0, len(data)) is not None:
        return None
    return (f"the recovered content starts as a {kind.upper()} but does not parse or decode to its end: its "
            "clusters were probably reused or (FAT) the file was fragmented, only its first cluster known and the "
            "rest assumed to follow: these bytes are likely not all its own")


def _kind(sig: bytes) -> str:
    return "jpeg" if sig[:2] == b"\xff\xd8" else "png" if sig[:4] == PNG_SIG[:4] else "heic"


JPEG_SIG = b"\xff\xd8\xff"


def _libc_memmem() -> Callable[..., int | None] | None:
    """libc's memmem through ctypes, or None where there is none. A foreign call releases the
    interpreter lock, so the reading threads search while the others hash; and memmem is
    3 to 10 times faster than re or bytes.find for these needles (bench/bench_carve.py)."""
    try:
        import ctypes
        import ctypes.util
        name = ctypes.util.find_library("c")
        if name is None:
            return None
        fn = ctypes.CDLL(name).memmem
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_void_p
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
    return cast(Callable[..., "int | None"], fn)


_MEMMEM = _libc_memmem()


def find_all(buf: bytes, needle: bytes, start: int = 0, end: int | None = None, most: int = 1 << 30) -> list[int]:
    """Offsets in buf where needle starts, in [start, end), at most ``most`` of them."""
    end = len(buf) if end is None else min(end, len(buf))
    out: list[int] = []
    if _MEMMEM is not None and type(buf) is bytes:
        import ctypes
        base = ctypes.cast(ctypes.c_char_p(buf), ctypes.c_void_p).value or 0
        limit = min(len(buf), end + len(needle) - 1)      # a match must start before end
        at = start
        while at < end and len(out) < most:
            hit = _MEMMEM(base + at, limit - at, needle, len(needle))
            if not hit:
                break
            at = hit - base
            out.append(at)
            at += 1
        return out
    at = buf.find(needle, start, end + len(needle) - 1)
    while 0 <= at and len(out) < most:
        out.append(at)
        at = buf.find(needle, at + 1, end + len(needle) - 1)
    return out


@functools.lru_cache(maxsize=4)
def _zeros(n: int) -> bytes:
    return bytes(n)


def _candidates(buf: bytes, pos: int, stop: int) -> list[tuple[str, int]]:
    """(kind, offset in the space) of every signature starting before stop in buf (which
    holds the space from pos on), in offset order."""
    out = [("jpeg", pos + at) for at in find_all(buf, JPEG_SIG, 0, stop)]
    out += [("png", pos + at) for at in find_all(buf, PNG_SIG, 0, stop)]
    for at in find_all(buf, b"ftyp", 4, stop + 4):
        if buf[at + 4:at + 8] in HEIF_BRANDS:
            out.append(("heic", pos + at - 4))
    out.sort(key=lambda c: c[1])
    return out


def carve(read_at: ReadAt, size: int, limit: int, chunk: int = SCAN_CHUNK, start_at: int = 0,
          progress: Callable[[int], None] | None = None, max_candidates: int | None = None) -> Iterator[Carved]:
    """Every valid JPEG/PNG/HEIC in [start_at, size) of the byte space, in offset order. The
    space is read once, chunk by chunk; a candidate's check reads past its chunk when the
    object does. At most ``limit`` bytes per object; ``max_candidates`` caps the checks."""
    pos = start_at
    resume = start_at           # the end of the last object carved: nothing inside it is looked at
    checked = 0
    while pos < size:
        want = min(chunk + 16, size - pos)
        buf = read_at(pos, want)
        if not buf:
            break
        stop = min(chunk, len(buf))
        if len(buf) < want:     # short read: the space ends early
            stop = len(buf)
        cur = Cursor(read_at, pos, buf)
        # never-written space (a new or trimmed disk) is zeros: compared at memcmp speed, not searched
        blank = buf == _zeros(len(buf))
        for kind, at in (() if blank else _candidates(buf, pos, stop)):
            if at < resume or at < start_at or at - pos >= stop:
                continue
            if max_candidates is not None and checked >= max_candidates:
                return
            checked += 1
            found = validate(kind, cur, at, limit)
            if found is not None:
                resume = at + found.size
                yield found
            cur = Cursor(read_at, pos, buf)
        if progress is not None:
            progress(stop)
        pos += stop
        pos = max(pos, resume) if resume > pos else pos


# -- a logical byte space made of extents of the image ----------------------------------
@dataclass(frozen=True, slots=True)
class Extent:
    start: int      # in the logical space
    offset: int     # in the image
    length: int


class Extents:
    """A logical byte space laid over extents of an image, in order, end to end."""

    def __init__(self, pieces: list[tuple[int, int]], read: ReadAt) -> None:
        self.read = read
        self.extents: list[Extent] = []
        at = 0
        for offset, length in pieces:
            if length <= 0:
                continue
            last = self.extents[-1] if self.extents else None
            if last is not None and last.offset + last.length == offset:   # adjacent: one extent
                self.extents[-1] = Extent(last.start, last.offset, last.length + length)
            else:
                self.extents.append(Extent(at, offset, length))
            at += length
        self.size = at
        self._starts = [e.start for e in self.extents]

    def map(self, start: int, n: int) -> list[tuple[int, int]]:
        """[(image offset, length)] of logical bytes [start, start + n)."""
        out: list[tuple[int, int]] = []
        i = bisect.bisect_right(self._starts, start) - 1
        while n > 0 and 0 <= i < len(self.extents):
            e = self.extents[i]
            lo = start - e.start
            take = min(n, e.length - lo)
            if take <= 0:
                break
            out.append((e.offset + lo, take))
            start += take
            n -= take
            i += 1
        return out

    def logical(self, offset: int) -> int | None:
        """Where the image's byte at offset lies in the logical space (None: outside it)."""
        for e in self.extents:
            if e.offset <= offset < e.offset + e.length:
                return e.start + offset - e.offset
        return None

    def read_at(self, start: int, n: int) -> bytes:
        pieces = [self.read(offset, length) for offset, length in self.map(start, n)]
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)


class ExtentReader(PositionalReader):
    """A seekable, read-only file object over extents of an image (a carved object)."""

    def __init__(self, read: ReadAt, extents: list[tuple[int, int]], damage: Damage | None = None) -> None:
        self.space = Extents(extents, read)
        super().__init__(self.space.size)
        self.extents = extents
        self.damage = damage

    def damage_warnings(self) -> list[str]:
        """One warning per bad E01 chunk span under this content (asked once it was read,
        as for a file: forensic.sources.tsk.TskReader)."""
        if self.damage is None:
            return []
        return [f"content in a bad E01 chunk: its bytes at media offsets {lo:,}-{hi - 1:,} lie in "
                f"{chunk.describe()}, which fail the E01's checksum; libewf read them as zeros, so "
                "this content and its hashes are not what was acquired"
                for chunk, lo, hi in self.damage([(offset, offset + length) for offset, length in self.extents])]

    def read_at(self, offset: int, n: int) -> bytes:
        return self.space.read_at(offset, n)


def extent_opener(read: ReadAt, extents: list[tuple[int, int]], damage: Damage | None = None
                  ) -> Callable[[], BinaryIO]:
    return lambda: cast(BinaryIO, ExtentReader(read, extents, damage))


def _label(what: str, offset: int) -> str:
    return f"{what} @ offset 0x{offset:x} (carved)"


def _at(space: Extents, labels: set[str], what: str, base: int, limit: int) -> Iterator[Carved]:
    """The objects at the offsets these locator labels name (each checked again, as the
    full scan checked it): a carved entry is found again without scanning the whole space."""
    found: list[Carved] = []
    for label in labels:
        m = re.fullmatch(re.escape(what) + r" @ offset 0x([0-9a-f]+) \(carved\)", label)
        start = space.logical(base + int(m.group(1), 16)) if m else None
        if start is None:
            continue
        cur = Cursor(space.read_at)
        head = cur.get(start, 12)
        kind = _kind(head) if _SIGNATURES.match(head) or head[4:8] == b"ftyp" else None
        one = validate(kind, cur, start, limit) if kind else None
        if one is not None:
            found.append(one)
    yield from sorted(found, key=lambda c: c.offset)


def carved_entries(read: ReadAt, runs: list[tuple[int, int]], base: int, parent: Locator,
                   limits: Limits = DEFAULT_LIMITS, what: str = "unallocated",
                   only: set[str] | None = None, whole: bool = False,
                   damage: Damage | None = None) -> Iterator[FileEntry]:
    """A walk entry for every photo carved from the runs ((offset from base, length); base:
    where the parent layer starts in the image), read as one space, end to end. Locator:
    ``parent › unallocated @ offset 0x1a2000 (carved)``, the offset from the parent's start.
    ``only``: just the entries of these locator labels (found again where they start);
    ``whole``: only objects inside one run (slack: each run is a different file's)."""
    space = Extents([(base + offset, length) for offset, length in runs], read)
    if only is None:
        objects = carve(space.read_at, space.size, limits.extractor_bytes)
    else:
        objects = _at(space, only, what, base, limits.extractor_bytes)
    carved = 0
    for found in objects:
        pieces = space.map(found.offset, found.size)
        if whole and len(pieces) > 1:
            continue
        first = pieces[0][0] - base
        # a space filled with copies of one tiny picture (a few hundred bytes each) would make
        # millions of entries: carving stops at the cap, said as a warning by the caller
        if only is None and carved >= limits.max_carved:
            raise RuntimeError(f"more than {limits.max_carved:,} photos carved from {what} space; the rest, "
                               f"from offset 0x{first:x}, not carved (is it filled with copies of small pictures?)")
        carved += 1
        name = f"carved-0x{first:x}.{EXTENSIONS[found.kind]}"
        entry = FileEntry(parent.child("carved", _label(what, first)), f"/$Carved/{name}",
                          name, "file", found.size, allocated=False, deleted=True, recovery="carved",
                          recovery_confidence="high")
        if len(pieces) > 1:
            entry.recovery_confidence = "low"
            entry.warnings.append(f"carved across {len(pieces)} separate runs of {what} space (allocated "
                                  "clusters lie between them): its bytes were joined in disk order, which is "
                                  "an assumption")
        if not found.decoded:
            entry.recovery_confidence = "low"
            entry.warnings.append(found.note)
        entry.opener = extent_opener(read, pieces, damage)
        yield entry


def carve_volume(img: pytsk3.Img_Info, fs: pytsk3.FS_Info, fstype: str, offset: int, parent: Locator,
                 limits: Limits, warnings: list[str], walk: Iterator[FileEntry],
                 only: set[tuple[str, str]] | None = None, damage: Damage | None = None,
                 free: Callable[[], list[tuple[int, int]] | None] | None = None) -> Iterator[FileEntry]:
    """The volume's walk, then the photos carved from its unallocated space (its allocation
    map read by forensic.sources.unallocated) and from its files' slack. The clusters of
    deleted files the walk recovered through their metadata are left out: those files are
    listed already. A file system whose map is not read gets a warning. ``only``: the carved
    entries to find again (forensic.resolve, for an export), as (parent locator, label)
    pairs; none: nothing is carved. ``damage``: an E01's bad chunks under a carved object
    are warned about, as under a file. ``free``: the volume's unallocated runs when the walk
    has read its map already (read here otherwise)."""
    from forensic.sources.unallocated import unallocated_runs
    recovered: list[str] = []
    live: list[tuple[str, int]] = []
    for entry in walk:
        if entry.kind == "file" and entry.inode and entry.opener is not None:
            if entry.deleted:
                recovered.append(entry.inode)
            elif entry.size:
                live.append((entry.inode, entry.size))
        yield entry
    labels = _labels(only, parent)
    if labels is not None and not labels:
        return
    if labels is None or any(label.startswith("unallocated @") for label in labels):
        runs = free() if free is not None else unallocated_runs(fs, fstype, img.read, offset)
        if runs is None:
            if fstype not in ("iso9660",):
                warnings.append(f"{parent}: unallocated space not carved: the allocation map of {fstype} "
                                "is not read (or could not be read)")
        else:
            try:
                runs = subtract(runs, content_runs(fs, recovered))
                # a live file's data where the map says free (a damaged or doctored map) would be
                # carved as a deleted photo beside the live one: left out, and said
                kept = subtract(runs, content_runs(fs, [inode for inode, _ in live]))
                overlap = sum(n for _, n in runs) - sum(n for _, n in kept)
                if overlap:
                    warnings.append(f"{parent}: the allocation map marks {overlap:,} bytes of live files' data as "
                                    "free (damaged, or altered); those bytes are not carved")
                runs = kept
                yield from carved_entries(img.read, runs, offset, parent, limits, only=labels, damage=damage)
            except (OSError, RuntimeError) as exc:
                warnings.append(f"{parent}: carving of unallocated space stopped: {exc}")
    if labels is None or any(label.startswith("slack @") for label in labels):
        try:
            # a photo in slack lies within one file's last cluster: never joined across files
            yield from carved_entries(img.read, slack_runs(fs, live), offset, parent, limits, "slack", labels,
                                      whole=True, damage=damage)
        except (OSError, RuntimeError) as exc:
            warnings.append(f"{parent}: carving of file slack stopped: {exc}")


_DATA_TYPES = {pytsk3.TSK_FS_ATTR_TYPE_DEFAULT, pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA, pytsk3.TSK_FS_ATTR_TYPE_HFS_DATA}
_NO_DATA = pytsk3.TSK_FS_ATTR_RUN_FLAG_SPARSE | pytsk3.TSK_FS_ATTR_RUN_FLAG_FILLER


SLACK_MAX = 64 << 10      # slack read per file at most (a cluster is at most this on FAT/NTFS)


def slack_runs(fs: pytsk3.FS_Info, files: list[tuple[str, int]]) -> list[tuple[int, int]]:
    """Sorted (byte offset in the volume, length) of these live files' slack: from the byte
    after each one's last to the end of the data run holding it (a FAT cluster is several of
    TSK's blocks, which are sectors there), at most SLACK_MAX. Resident, sparse and
    compressed content has none here."""
    bs = fs.info.block_size
    out: list[tuple[int, int]] = []
    for inode, size in files:
        last = (size - 1) // bs                     # the block holding the last byte, counted in the file
        used = size - last * bs
        try:
            for attr in fs.open_meta(inode=int(inode)):
                info = attr.info
                if info.type not in _DATA_TYPES or (info.name and info.name != b"$Data"):
                    continue
                if not info.flags & pytsk3.TSK_FS_ATTR_NONRES or info.flags & pytsk3.TSK_FS_ATTR_COMP:
                    break
                for run in attr:
                    if run.offset <= last < run.offset + run.len and not run.flags & _NO_DATA:
                        start = (run.addr + last - run.offset) * bs + used
                        length = min((run.addr + run.len) * bs - start, SLACK_MAX)
                        if length > 0:
                            out.append((start, length))
                        break
                break
        except (OSError, RuntimeError, ValueError):
            continue
    return sorted(out)


def content_runs(fs: pytsk3.FS_Info, inodes: list[str]) -> list[tuple[int, int]]:
    """Sorted (byte offset in the volume, length) of the data runs of these files."""
    bs = fs.info.block_size
    out: list[tuple[int, int]] = []
    for inode in dict.fromkeys(inodes):
        try:
            f = fs.open_meta(inode=int(inode))
            for attr in f:
                if not attr.info.flags & pytsk3.TSK_FS_ATTR_NONRES:
                    continue
                for run in attr:
                    if run.len and not run.flags & (pytsk3.TSK_FS_ATTR_RUN_FLAG_SPARSE
                                                    | pytsk3.TSK_FS_ATTR_RUN_FLAG_FILLER):
                        out.append((run.addr * bs, run.len * bs))
        except (OSError, RuntimeError, ValueError):
            continue
    return sorted(out)


def subtract(runs: list[tuple[int, int]], cut: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of sorted runs outside the sorted runs of cut."""
    out: list[tuple[int, int]] = []
    k = 0
    for start, length in runs:
        end = start + length
        while k < len(cut) and cut[k][0] + cut[k][1] <= start:
            k += 1
        j, at = k, start
        while j < len(cut) and cut[j][0] < end:
            if cut[j][0] > at:
                out.append((at, cut[j][0] - at))
            at = max(at, cut[j][0] + cut[j][1])
            j += 1
        if at < end:
            out.append((at, end - at))
    return out


def _labels(only: set[tuple[str, str]] | None, parent: Locator) -> set[str] | None:
    if only is None:
        return None
    where = str(parent)
    return {label for at, label in only if at == where}


def carve_disk(img: pytsk3.Img_Info, locator: Locator, limits: Limits, warnings: list[str],
               only: set[tuple[str, str]] | None = None, damage: Damage | None = None) -> Iterator[FileEntry]:
    """Photos carved from the disk's space outside every partition (``only``: as for
    :func:`carve_volume`)."""
    from forensic.sources.unallocated import unpartitioned
    labels = _labels(only, locator)
    if labels is not None and not labels:
        return
    try:
        yield from carved_entries(img.read, unpartitioned(img), 0, locator, limits, "unpartitioned", labels,
                                  damage=damage)
    except (OSError, RuntimeError) as exc:
        warnings.append(f"{locator}: carving of the space outside partitions stopped: {exc}")
