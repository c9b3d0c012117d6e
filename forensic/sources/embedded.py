"""Objects inside a file: photos hidden in other files, walked as files of their own.

A file's bytes are looked through once, during its one read (:class:`SignatureScan` is fed
the pipeline's chunks): where a JPEG or PNG signature starts past offset 0 is noted.
Then :class:`EmbeddedSource` walks what lies inside the file, each object checked as the
carver checks one (a JPEG must parse to its EOI and decode; a PNG's chunks must pass their CRCs):

- data appended to or hidden in any file (``copy /b junk.bin + photo.jpg``): a photo at an
  offset > 0; in a file that is itself a JPEG only one right after its EOI (the EXIF
  thumbnail inside is part of the photo, not a hidden one); in a file over 32 MiB, only in
  its first and last 16 MiB (``EDGE``);
- OLE2 documents (Word ``.doc``, Excel ``.xls``, PowerPoint ``.ppt``), through olefile: the
  photos inside each stream (Word's ``Data``, PowerPoint's ``Pictures``), a packaged file
  (``\\x01Ole10Native``: its own name and bytes), and a stream that is a whole file (an
  embedded document's ``Package``);
- PDF image XObjects: a ``DCTDecode`` stream is a JPEG (also under ``FlateDecode``);
- OOXML and ODF documents are ZIPs, walked by the nested-archive pass: :func:`document_parts`
  marks their parts ``embedded`` (``word/media/image1.jpeg``).

Every object is an entry with ``recovery="embedded"`` and a layer of its own:
``report.doc › stream Data @ offset 0x624 (embedded)``. The same bytes found twice (a PDF's
JPEG by its object and by its signature) are one entry. Work is bounded: at most
``MAX_OBJECTS`` objects and ``MAX_CANDIDATES`` signature checks per file, each object at most
``limits.extractor_bytes``; a PDF is parsed only up to that size, an OLE2 file's streams only
up to it each.
"""
from __future__ import annotations

import hashlib
import io
import re
import struct
import tempfile
import zlib
from typing import BinaryIO, Callable, Iterator, cast

from forensic.entry import FileEntry
from forensic.limits import DEFAULT_LIMITS, Limits
from forensic.locator import safe_name
from forensic.sources.base import PositionalReader, Source
from forensic.sources.carve import EXTENSIONS, JPEG_SIG, PNG_SIG, find_all, Cursor, carve, jpeg_end, validate

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_OBJECTS = 256
MAX_CANDIDATES = 256
MAX_STREAMS = 10_000            # OLE2 streams looked into per file
# The signature search costs about as much CPU as SHA-256 and holds the interpreter lock: a
# file larger than twice this is searched in its first and last EDGE bytes only (data appended
# to a video, a photo hidden after a header); the middle of a large file is not searched.
EDGE = 16 << 20
_DOCUMENT_MEMBERS = ("[Content_Types].xml", "mimetype")


def is_pdf(head: bytes) -> bool:
    return b"%PDF-" in head[:1024]


def is_ole2(head: bytes) -> bool:
    return head[:8] == OLE2_MAGIC


class SignatureScan:
    """Fed a file's bytes in order, chunk by chunk: notes (kind, offset) where a JPEG or PNG
    may start past offset 0. A JPEG file's own inner JPEGs (its EXIF thumbnail) are not noted,
    only one right after an EOI (photos joined end to end). ZIP archives are not scanned:
    their members are walked as files."""

    KEEP = 12        # bytes kept from one chunk to the next: a signature cut in two is seen

    def __init__(self, head: bytes, size: int | None = None) -> None:
        self.found: list[tuple[str, int]] = []
        self.pos = 0
        self.tail = b""
        self.jpeg = head[:3] == b"\xff\xd8\xff"
        self.full = False
        # a large file is looked through at its two ends only (see EDGE)
        self.skip = (EDGE, size - EDGE) if size is not None and size > 2 * EDGE else None

    def feed(self, data: bytes) -> None:
        if self.full:
            return
        if self.skip is not None and self.pos >= self.skip[0] and self.pos + len(data) <= self.skip[1]:
            self.pos += len(data)
            self.tail = b""
            return
        buf = self.tail + data if self.tail else data
        base = self.pos - len(self.tail)
        fresh = len(self.tail)         # a match must end past this (else it was seen already)
        if self.jpeg:
            self._find(buf, base, fresh, b"\xff\xd9\xff\xd8\xff", "jpeg", 2)
        else:
            # JPEG and PNG (HEIC, seldom hidden inside other files, is left to the carver)
            self._find(buf, base, fresh, JPEG_SIG, "jpeg", 0)
            self._find(buf, base, fresh, PNG_SIG, "png", 0)
        self.pos += len(data)
        self.tail = buf[-self.KEEP:]
        if len(self.found) > MAX_CANDIDATES:
            self.full = True

    def _find(self, buf: bytes, base: int, fresh: int, sig: bytes, kind: str, shift: int) -> None:
        # a match must end past the bytes kept from the last chunk (else it was seen then);
        # bounded: a file of FF D8 FF repeated notes MAX_CANDIDATES + 1, then stops looking
        for at in find_all(buf, sig, max(0, fresh - len(sig) + 1), most=MAX_CANDIDATES + 1 - len(self.found)):
            if base + at + shift > 0:
                self.found.append((kind, base + at + shift))


def scanner(head: bytes, size: int | None = None) -> SignatureScan | None:
    """A scan for this file's content (``size``: its size, if known), or None where it does
    not apply (ZIP: its members are walked; an empty file)."""
    if not head or head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return None
    return SignatureScan(head, size)


def wanted(head: bytes, hits: list[tuple[str, int]] | None) -> bool:
    """Whether this file has objects to look for inside it."""
    return bool(hits) or is_ole2(head) or is_pdf(head)


class _Slice(PositionalReader):
    """A read-only view of [offset, offset + size) of a file opened anew; seekable when that
    file is (an archive member is a stream: read from its start, in order)."""

    def __init__(self, opener: Callable[[], BinaryIO], offset: int, size: int) -> None:
        super().__init__(size)
        self.fh = opener()
        self.base = offset
        self.seekable_parent = bool(getattr(self.fh, "seekable", lambda: False)())
        if not self.seekable_parent:           # a stream (an archive member): skip to the start
            left = offset
            while left > 0:
                got = self.fh.read(min(left, 1 << 20))
                if not got:
                    raise OSError("content ends before the embedded object")
                left -= len(got)

    def seekable(self) -> bool:
        return self.seekable_parent

    def seek(self, offset: int, whence: int = 0) -> int:
        if not self.seekable_parent:
            raise OSError("not seekable")
        return super().seek(offset, whence)

    def read_at(self, offset: int, n: int) -> bytes:
        if self.seekable_parent:
            self.fh.seek(self.base + offset)
        return self.fh.read(n)

    def close(self) -> None:
        self.fh.close()
        super().close()


def _reader_of(data: bytes) -> Callable[[int, int], bytes]:
    return lambda offset, n: data[offset:offset + n]


def _bytes_opener(data: bytes) -> Callable[[], BinaryIO]:
    return lambda: cast(BinaryIO, io.BytesIO(data))


def _slice_opener(opener: Callable[[], BinaryIO], offset: int, size: int) -> Callable[[], BinaryIO]:
    return lambda: cast(BinaryIO, _Slice(opener, offset, size))


class EmbeddedSource(Source):
    """The objects inside one file (see the module's text), as a source to walk."""

    FORMAT = "embedded"

    def __init__(self, parent: FileEntry, head: bytes, hits: list[tuple[str, int]] | None,
                 limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__(parent.locator, limits)
        self.parent = parent
        self.head = head
        self.hits = hits or []
        self.seen: set[str] = set()       # sha256 of the objects yielded
        self.count = 0
        self.reader: BinaryIO | None = None

    # -- reading the parent --------------------------------------------------------------
    def _reader(self) -> BinaryIO:
        if self.reader is None:
            fh = self.parent.open()
            if not (hasattr(fh, "seekable") and fh.seekable()):
                spooled = tempfile.SpooledTemporaryFile(max_size=64 << 20, prefix="forensic-")
                with fh:
                    while chunk := fh.read(1 << 20):
                        spooled.write(chunk)
                fh = cast(BinaryIO, spooled)
            self.reader = fh
            self.owned.append(fh)
        return self.reader

    def _read_at(self, offset: int, n: int) -> bytes:
        fh = self._reader()
        fh.seek(offset)
        return fh.read(n)

    # -- the walk --------------------------------------------------------------------------
    def entries(self) -> Iterator[FileEntry]:
        try:
            if is_ole2(self.head):
                yield from self._ole2()
            elif is_pdf(self.head):
                yield from self._pdf()
            yield from self._signatures()
        except (OSError, RuntimeError, ValueError, struct.error, zlib.error) as exc:
            self.warnings.append(f"{self.parent.locator}: looking for embedded objects stopped: {exc}")

    def _entry(self, label: str, name: str, size: int, digest: str,
               opener: Callable[[], BinaryIO], note: str = "") -> Iterator[FileEntry]:
        """One object's entry, unless the same bytes were met already or the cap is reached."""
        if digest in self.seen:
            return
        if self.count >= MAX_OBJECTS:
            if self.count == MAX_OBJECTS:
                self.warnings.append(f"{self.parent.locator}: more than {MAX_OBJECTS} embedded objects; "
                                     "the rest not listed")
                self.count += 1
            return
        self.seen.add(digest)
        self.count += 1
        p = self.parent
        entry = FileEntry(p.locator.child("embedded", f"{label} (embedded)"), f"{p.path}/{name}", name, "file",
                          size, allocated=p.allocated, deleted=p.deleted, recovery="embedded",
                          recovery_confidence=p.recovery_confidence)
        if note:
            entry.warnings.append(note)
        entry.opener = opener
        yield entry

    def _signatures(self) -> Iterator[FileEntry]:
        """The photos at the offsets the read noted, each checked."""
        if not self.hits:
            return
        limit = self.limits.extractor_bytes
        cur = Cursor(self._read_at)
        resume = 0
        for checked, (kind, offset) in enumerate(sorted(self.hits, key=lambda h: h[1])):
            if checked >= MAX_CANDIDATES:
                self.warnings.append(f"{self.parent.locator}: more than {MAX_CANDIDATES} photo signatures "
                                     "inside; the rest not checked")
                break
            if offset < resume:
                continue
            found = validate(kind, cur, offset, limit)
            if found is None:
                continue
            resume = offset + found.size
            data = cur.get(offset, found.size)
            name = f"embedded-0x{offset:x}.{EXTENSIONS[kind]}"
            yield from self._entry(f"{kind.upper()} @ offset 0x{offset:x}", name, found.size,
                                   hashlib.sha256(data).hexdigest(),
                                   _slice_opener(self.parent.open, offset, found.size), found.note)

    def _in_memory(self, label: str, name: str, data: bytes, note: str = "") -> Iterator[FileEntry]:
        yield from self._entry(label, name, len(data), hashlib.sha256(data).hexdigest(), _bytes_opener(data), note)

    def _photos_in(self, data: bytes, label: str, stem: str) -> Iterator[FileEntry]:
        """The photos anywhere in data (a stream's bytes), each checked."""
        for found in carve(_reader_of(data), len(data), self.limits.extractor_bytes,
                           max_candidates=MAX_CANDIDATES):
            yield from self._in_memory(f"{label} @ offset 0x{found.offset:x}",
                                       f"{stem}-0x{found.offset:x}.{EXTENSIONS[found.kind]}",
                                       data[found.offset:found.offset + found.size], found.note)

    # -- OLE2 ------------------------------------------------------------------------------
    def _ole2(self) -> Iterator[FileEntry]:
        import olefile  # type: ignore[import-untyped]  # (no type information)
        limit = self.limits.extractor_bytes
        try:
            ole = olefile.OleFileIO(self._reader())
        except Exception as exc:            # olefile raises many kinds on damaged files
            self.warnings.append(f"{self.parent.locator}: OLE2 structure unreadable ({exc}); "
                                 "looked through as plain bytes")
            return
        # bytes read from streams, all told: streams may share sectors (a hostile file), so
        # their sizes can add up to far more than the file
        budget = 4 * max(self.parent.size or 0, limit)
        issues = getattr(ole, "parsing_issues", None) or []
        if issues:                             # defects olefile read past: said, not hidden
            self.warnings.append(f"{self.parent.locator}: OLE2 structure damaged ({len(issues)} defects, first: "
                                 f"{issues[0][1]}); its streams read as far as they go")
        try:
            try:
                listing = ole.listdir(streams=True, storages=False)
            except Exception as exc:           # olefile raises many kinds on damaged directories
                self.warnings.append(f"{self.parent.locator}: OLE2 directory unreadable ({exc})")
                return
            if len(listing) > MAX_STREAMS:
                self.warnings.append(f"{self.parent.locator}: {len(listing):,} OLE2 streams; the first "
                                     f"{MAX_STREAMS:,} looked into")
            for parts in listing[:MAX_STREAMS]:
                path = "/".join(parts)
                shown = safe_name(path)[0]
                try:
                    size = ole.get_size(parts)
                    if size > limit:
                        self.warnings.append(f"{self.parent.locator}: OLE2 stream {shown} ({size:,} bytes) "
                                             "is larger than the limit; not looked into")
                        continue
                    if size > budget:
                        self.warnings.append(f"{self.parent.locator}: OLE2 streams add up to more than "
                                             f"{4 * max(self.parent.size or 0, limit):,} bytes; the rest not read")
                        break
                    data = ole.openstream(parts).read(limit)
                    budget -= len(data)
                except Exception as exc:
                    self.warnings.append(f"{self.parent.locator}: OLE2 stream {shown} unreadable ({exc})")
                    continue
                stem = safe_name(parts[-1])[0].replace("\\x01", "").replace("/", "_") or "stream"
                if parts[-1] == "\x01Ole10Native":
                    packaged = _ole10native(data)
                    if packaged is not None:
                        name, content = packaged
                        fname = safe_name(name.replace("\\", "/").rsplit("/", 1)[-1])[0] or "packaged"
                        yield from self._in_memory(f"stream {shown}: packaged {fname}", fname, content)
                        continue
                if data[:8] == OLE2_MAGIC or data[:4] == b"PK\x03\x04" or is_pdf(data[:1024]):
                    # a whole file kept as a stream (an embedded document)
                    yield from self._in_memory(f"stream {shown}", f"{stem}.bin", data)
                    continue
                yield from self._photos_in(data, f"stream {shown}", stem)
        finally:
            ole.close()

    # -- PDF -------------------------------------------------------------------------------
    def _pdf(self) -> Iterator[FileEntry]:
        size = self.parent.size or 0
        limit = self.limits.extractor_bytes
        if size > limit:
            self.warnings.append(f"{self.parent.locator}: PDF larger than {limit:,} bytes: its objects not "
                                 "parsed (photos found by signature only)")
            return
        data = self._read_at(0, limit)
        if re.search(rb"/Encrypt\s", data):
            self.warnings.append(f"{self.parent.locator}: encrypted PDF: its images are not readable")
        seen: set[int] = set()
        # only image dictionaries are parsed: each '/Subtype /Image' found (C speed), its
        # object's header looked for just before it, its dictionary's end within DICT_MAX
        for checked, m in enumerate(_PDF_IMAGE.finditer(data)):
            if checked >= MAX_CANDIDATES:
                self.warnings.append(f"{self.parent.locator}: more than {MAX_CANDIDATES} image dictionaries in "
                                     "this PDF; the rest not read")
                break
            headers = list(_PDF_OBJ.finditer(data, max(0, m.start() - DICT_MAX), m.start()))
            if not headers:
                continue
            hdr = headers[-1]              # the last object header before the image's key
            number = int(hdr.group(1))
            dict_start = data.find(b"<<", hdr.end(), hdr.end() + 64)
            if dict_start < 0 or dict_start > m.start() or hdr.start() in seen:
                continue
            seen.add(hdr.start())
            dict_end = _dict_end(data, dict_start)
            if dict_end is None or dict_end < m.end():
                continue
            body = data[dict_start:dict_end]
            s = _PDF_STREAM.match(data, dict_end)
            if s is None:
                continue
            start = s.end()
            filters = _pdf_filters(body)
            label = f"PDF object {number} (image)"
            if filters == [b"DCTDecode"]:
                cur = Cursor(_reader_of(data))
                end = jpeg_end(cur, start, limit)
                if end is None:
                    self.warnings.append(f"{self.parent.locator}: PDF object {number}: DCTDecode image is no "
                                         "valid JPEG")
                    continue
                found = validate("jpeg", cur, start, limit)
                if found is None:
                    continue
                yield from self._entry(f"{label} @ offset 0x{start:x}", f"pdf-object-{number}.jpg", found.size,
                                       hashlib.sha256(data[start:end]).hexdigest(),
                                       _slice_opener(self.parent.open, start, found.size))
            elif filters == [b"FlateDecode", b"DCTDecode"]:
                stop = data.find(b"endstream", start)
                if stop < 0:
                    continue
                # a JPEG barely deflates: one inflating to more than INFLATE_RATIO times its stream
                # is no JPEG kept whole (a deflate bomb: 64 KB of zeros give 64 MB; red team)
                most = min(limit, INFLATE_RATIO * (stop - start) + (64 << 10))
                inflater = zlib.decompressobj()
                try:
                    inflated = inflater.decompress(data[start:stop], most)
                except zlib.error:
                    self.warnings.append(f"{self.parent.locator}: PDF object {number}: image stream does not "
                                         "inflate")
                    continue
                if len(inflated) >= most and not inflater.eof:
                    self.warnings.append(f"{self.parent.locator}: PDF object {number}: image stream inflates to "
                                         f"more than {most:,} bytes (a deflate bomb?); not read")
                    continue
                found = validate("jpeg", Cursor(_reader_of(inflated)), 0, limit)
                if found is not None:       # (an object number may recur in a PDF's updates: the offset tells)
                    yield from self._in_memory(f"{label} @ offset 0x{start:x}", f"pdf-object-{number}.jpg",
                                               inflated[:found.size])


_PDF_OBJ = re.compile(rb"(?<![0-9])(\d{1,10})\s+(\d{1,5})\s+obj\b")
_PDF_IMAGE = re.compile(rb"/Subtype\s*/Image\b")
_PDF_STREAM = re.compile(rb"\s*stream(?:\r\n|\n|\r)")
_PDF_FILTER = re.compile(rb"/Filter\s*(\[[^\]]*\]|/[A-Za-z0-9]+)")


DICT_MAX = 64 << 10               # an image dictionary longer than this is not read
INFLATE_RATIO = 16                # a Flate-wrapped JPEG is inflated to at most this times its stream
_PDF_TOKEN = re.compile(rb"<<|>>|\(")
_PDF_STRING = re.compile(rb"\\.|[()]", re.S)


def _dict_end(data: bytes, start: int) -> int | None:
    """One past the ``>>`` closing the dictionary that opens at start (nested ones counted,
    strings skipped), within DICT_MAX bytes; None if it does not close there."""
    depth, end = 0, min(len(data), start + DICT_MAX)
    at = start
    while True:
        t = _PDF_TOKEN.search(data, at, end)
        if t is None:
            return None
        tok = t.group()
        at = t.end()
        if tok == b"<<":
            depth += 1
        elif tok == b">>":
            depth -= 1
            if depth == 0:
                return at
        else:                          # a string: to its closing parenthesis, escapes honoured
            level = 1
            while level:
                c = _PDF_STRING.search(data, at, end)
                if c is None:
                    return None
                at = c.end()
                if c.group() == b"(":
                    level += 1
                elif c.group() == b")":
                    level -= 1


def _pdf_filters(body: bytes) -> list[bytes]:
    m = _PDF_FILTER.search(body)
    if m is None:
        return []
    return re.findall(rb"/([A-Za-z0-9]+)", m.group(1))


def _ole10native(data: bytes) -> tuple[str, bytes] | None:
    """(file name, content) of a packaged file (``\\x01Ole10Native``), or None if malformed."""
    try:
        pos = 4 + 2
        label_end = data.index(b"\x00", pos)
        label = data[pos:label_end]
        pos = data.index(b"\x00", label_end + 1) + 1        # the source path
        pos += 8
        pos = data.index(b"\x00", pos) + 1                  # the temporary path
        size = struct.unpack_from("<I", data, pos)[0]
        pos += 4
    except (ValueError, struct.error):
        return None
    if size > len(data) - pos:
        return None
    return label.decode("latin-1"), data[pos:pos + size]


class DocumentParts(Source):
    """An OOXML/ODF document's ZIP walk with every part marked ``embedded``: a photo in
    ``word/media/`` is inside a document, not a file of its own on the device."""

    def __init__(self, inner: Source) -> None:
        super().__init__(inner.locator, inner.limits)
        self.inner = inner
        self.FORMAT = inner.FORMAT
        self.warnings = inner.warnings
        self.encrypted = getattr(inner, "encrypted", False)

    def entries(self) -> Iterator[FileEntry]:
        for entry in self.inner.entries():
            entry.recovery = "embedded"
            yield entry

    def close(self) -> None:
        self.inner.close()
        super().close()


def document_parts(source: Source) -> Source:
    """source, or its walk with every part marked embedded when it is an office document
    (a ZIP holding ``[Content_Types].xml``: OOXML; or ``mimetype``: ODF)."""
    infos = getattr(source, "infos", None) or []
    names = {getattr(zi, "filename", "") for zi in infos}
    if any(n in names for n in _DOCUMENT_MEMBERS):
        return DocumentParts(source)
    return source
