"""Small, bounded readers for the containers that carry a photo's EXIF.

exifread finds EXIF in JPEG, TIFF (and TIFF-based RAW), HEIC/AVIF, PNG, WebP and JPEG XL.
This module adds what a forensic reader needs beside it, all from the bytes already in
memory and all with hard bounds on the work done:

* where the EXIF TIFF block starts in containers exifread does not know (Canon CR3,
  Minolta MRW, and an ``Exif\\0\\0`` block embedded in another container such as the
  JPEG preview of a Fuji RAF or a Sigma X3F) — :func:`locate_exif`;
* a structural check of a TIFF/EXIF block that names each defect (IFD loop, IFD pointing
  to itself, entry table or value past the end, unknown field type) — exifread silently
  reads zeros past the end, so without this a truncated block looks valid —
  :func:`check_tiff`;
* the container's own frame: declared pixel dimensions (never decoding pixels) and
  whether the file is cut short — :func:`inspect_container`.

Nothing here raises on bad input; problems come back as plain sentences.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

# TIFF field type -> size in bytes (TIFF 6.0 + EXIF; 13 = IFD)
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
# sub-IFD pointers that the EXIF reader follows
SUBIFD_TAGS = {0x8769: "Exif IFD", 0x8825: "GPS IFD", 0xA005: "Interop IFD"}
# TIFF magic numbers: 42 (TIFF), 0x55 (Panasonic RW2), 'RO'/'RS' (Olympus ORF)
TIFF_MAGICS = (42, 0x55, 0x4F52, 0x5352)

MAX_IFDS = 64            # IFDs followed by the structural check
MAX_PROBLEMS = 12        # sentences kept per check; the rest are counted
MAX_SEGMENTS = 4096      # JPEG segments / PNG chunks / ISO boxes walked
CANON_CR3_UUID = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")

EXIF_SIGNATURES = (b"Exif\x00\x00II*\x00", b"Exif\x00\x00MM\x00*")
DECOMPRESSION_BOMB_PIXELS = 1 << 30      # > ~1.07 gigapixels declared: refuse to trust


@dataclass(slots=True)
class ExifBlock:
    """A TIFF block holding EXIF: its absolute offset and where it was found."""

    offset: int
    source: str                      # 'cr3-cmt1', 'mrw-ttw', 'embedded-exif', 'jpeg-app1'
    ifd_name: str = "Image"          # how to name its first IFD (CR3 splits IFDs in boxes)


@dataclass(slots=True)
class ContainerInfo:
    kind: str | None                 # 'jpeg', 'tiff', 'png', 'webp', 'isobmff', ... or None
    width: int | None = None
    height: int | None = None
    exif_offsets: list[int] = field(default_factory=list)   # JPEG APP1 Exif TIFF starts
    header_end: int | None = None    # JPEG: where the scan starts (its metadata segments all precede it)
    problems: list[str] = field(default_factory=list)


def _u16(buf, pos: int, endian: str) -> int:
    return struct.unpack_from(endian + "H", buf, pos)[0]


def _u32(buf, pos: int, endian: str) -> int:
    return struct.unpack_from(endian + "I", buf, pos)[0]


# -- what kind of file is it ------------------------------------------------------------
def sniff(head: bytes) -> str | None:
    """The container kind from the first bytes, or None when it is no image we know."""
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"IIRO", b"IIRS", b"IIU\x00"):
        return "tiff"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        return "isobmff"
    if head[:12] == b"\x00\x00\x00\x0cJXL \r\n\x87\n" or head[:2] == b"\xff\x0a":
        return "jxl"
    if head[:15] == b"FUJIFILMCCD-RAW":
        return "raf"
    if head[:4] == b"\x00MRM":
        return "mrw"
    if head[:4] == b"FOVb":
        return "x3f"
    if head[:6] == b"II\x1a\x00\x00\x00" and head[6:14] == b"HEAPCCDR":
        return "crw"
    if head[:4] == b"8BPS" and head[4:6] in (b"\x00\x01", b"\x00\x02"):
        return "psd"
    return None


# -- container frames -------------------------------------------------------------------
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _walk_jpeg(buf, info: ContainerInfo) -> None:
    end = len(buf)
    pos = 2
    for _ in range(MAX_SEGMENTS):
        if pos + 2 > end:
            info.problems.append(f"JPEG ends at offset {end} before its image data: truncated")
            return
        if buf[pos] != 0xFF:
            info.problems.append(f"JPEG: expected a marker at offset {pos}, found byte 0x{buf[pos]:02X}")
            return
        marker = buf[pos + 1]
        if marker == 0xFF:                       # fill byte
            pos += 1
            continue
        if marker == 0xD9:                       # EOI with no scan: a header-only JPEG
            info.problems.append("JPEG has no image data (end-of-image before any scan)")
            return
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            pos += 2
            continue
        if pos + 4 > end:
            info.problems.append(f"JPEG segment 0xFF{marker:02X} at offset {pos} is cut off: truncated")
            return
        length = _u16(buf, pos + 2, ">")
        if length < 2:
            info.problems.append(f"JPEG segment 0xFF{marker:02X} at offset {pos} has invalid length {length}")
            return
        seg_end = pos + 2 + length
        if marker == 0xE1 and bytes(buf[pos + 4:pos + 10]) == b"Exif\x00\x00":
            info.exif_offsets.append(pos + 10)
        if seg_end > end:
            info.problems.append(f"JPEG segment 0xFF{marker:02X} at offset {pos} declares {length} bytes "
                                 f"but the file ends at {end}: truncated")
            return
        if marker in _SOF_MARKERS and length >= 7 and info.width is None:
            info.height = _u16(buf, pos + 5, ">")
            info.width = _u16(buf, pos + 7, ">")
        if marker == 0xDA:                       # start of scan: entropy-coded data follows
            info.header_end = pos
            if bytes(buf[-2:]) != b"\xff\xd9" and not _has_eoi(bytes(buf), seg_end):
                info.problems.append("JPEG has no end-of-image marker after its scan data: truncated")
            return
        pos = seg_end
    info.problems.append(f"JPEG has more than {MAX_SEGMENTS} segments before its image data")


def _has_eoi(data: bytes, start: int) -> bool:
    """Whether an end-of-image marker follows ``start``: looked for forwards over the next
    64 KiB (a small image's own EOI, before a trailer), then backwards from the end (a large
    image's EOI, before a short trailer)."""
    near = start + 65536
    return data.find(b"\xff\xd9", start, near) >= 0 or data.rfind(b"\xff\xd9", max(start, near - 1)) >= 0


def _walk_png(buf, info: ContainerInfo) -> None:
    end = len(buf)
    if end >= 24 and bytes(buf[12:16]) == b"IHDR":
        info.width, info.height = struct.unpack_from(">II", buf, 16)
    pos = 8
    for _ in range(MAX_SEGMENTS):
        if pos + 8 > end:
            info.problems.append(f"PNG ends at offset {end} without an IEND chunk: truncated")
            return
        length = _u32(buf, pos, ">")
        ctype = bytes(buf[pos + 4:pos + 8])
        if not all(65 <= c <= 90 or 97 <= c <= 122 for c in ctype):
            info.problems.append(f"PNG chunk at offset {pos} has an invalid type {ctype!r}")
            return
        if pos + 12 + length > end:
            info.problems.append(f"PNG chunk {ctype.decode('ascii')} at offset {pos} declares {length} bytes "
                                 f"but the file ends at {end}: truncated")
            return
        if ctype == b"IEND":
            return
        pos += 12 + length


def _walk_webp(buf, info: ContainerInfo) -> None:
    if len(buf) >= 30 and bytes(buf[12:16]) == b"VP8X":
        info.width = 1 + int.from_bytes(bytes(buf[24:27]), "little")
        info.height = 1 + int.from_bytes(bytes(buf[27:30]), "little")
    elif len(buf) >= 30 and bytes(buf[12:16]) == b"VP8 ":
        info.width = _u16(buf, 26, "<") & 0x3FFF
        info.height = _u16(buf, 28, "<") & 0x3FFF
    declared = _u32(buf, 4, "<") + 8 if len(buf) >= 8 else 0
    if declared > len(buf):
        info.problems.append(f"WebP declares {declared} bytes but the file has {len(buf)}: truncated")


def inspect_container(buf) -> ContainerInfo:
    """Kind, declared dimensions and frame defects of an image, without decoding pixels."""
    info = ContainerInfo(sniff(bytes(buf[:16])))
    try:
        if info.kind == "jpeg":
            _walk_jpeg(buf, info)
        elif info.kind == "png":
            _walk_png(buf, info)
        elif info.kind == "webp":
            _walk_webp(buf, info)
    except struct.error as exc:                       # a read past the end we did not foresee
        info.problems.append(f"{info.kind} frame cut short: {exc}")
    if info.width and info.height and info.width * info.height > DECOMPRESSION_BOMB_PIXELS:
        info.problems.append(f"declared dimensions {info.width}x{info.height} "
                             f"({info.width * info.height} pixels) are a decompression bomb; "
                             "pixel data was not decoded")
    return info


# -- finding EXIF where exifread does not look ------------------------------------------
def _iso_boxes(buf, start: int, end: int):
    """(type, payload start, box end) of the ISO-BMFF boxes in [start, end)."""
    pos = start
    for _ in range(MAX_SEGMENTS):
        if pos + 8 > end:
            return
        size = _u32(buf, pos, ">")
        btype = bytes(buf[pos + 4:pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = struct.unpack_from(">Q", buf, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield btype, pos + header, pos + size
        pos += size


def _cr3_blocks(buf) -> list[ExifBlock]:
    names = {b"CMT1": "Image", b"CMT2": "EXIF", b"CMT4": "GPS"}
    blocks: list[ExifBlock] = []
    for btype, start, stop in _iso_boxes(buf, 0, len(buf)):
        if btype != b"moov":
            continue
        for ctype, cstart, cstop in _iso_boxes(buf, start, stop):
            if ctype == b"uuid" and bytes(buf[cstart:cstart + 16]) == CANON_CR3_UUID:
                for gtype, gstart, _gstop in _iso_boxes(buf, cstart + 16, cstop):
                    if gtype in names:
                        blocks.append(ExifBlock(gstart, "cr3-" + gtype.decode().lower(), names[gtype]))
        break
    return blocks


def movie_times(buf) -> tuple[int, int] | None:
    """(creation, modification) of an ISO BMFF file's movie header (``moov/mvhd``), in
    seconds since 1904-01-01 as stored (a CR3's: Canon writes the camera's local time)."""
    for btype, start, stop in _iso_boxes(buf, 0, len(buf)):
        if btype != b"moov":
            continue
        for ctype, cstart, cstop in _iso_boxes(buf, start, stop):
            if ctype == b"mvhd" and cstop - cstart >= 20:
                if buf[cstart] == 1 and cstop - cstart >= 20:
                    return struct.unpack_from(">QQ", buf, cstart + 4)
                return struct.unpack_from(">II", buf, cstart + 4)
        return None
    return None


def _psd_blocks(buf) -> list[ExifBlock]:
    """Photoshop (PSD/PSB): the EXIF image resource (``8BIM``, id 0x0422) holds a TIFF block."""
    pos = 26                                     # file header
    pos += 4 + _u32(buf, pos, ">")               # colour mode data
    end = min(len(buf), pos + 4 + _u32(buf, pos, ">"))
    pos += 4
    for _ in range(MAX_SEGMENTS):
        if pos + 12 > end or bytes(buf[pos:pos + 4]) not in (b"8BIM", b"MeSa", b"AgHg", b"PHUT", b"DCSR"):
            return []
        rid = struct.unpack_from(">H", buf, pos + 4)[0]
        name_len = buf[pos + 6]
        at = pos + 6 + ((name_len + 2) & ~1)     # the Pascal name, padded to an even length
        size = _u32(buf, at, ">")
        if rid == 0x0422 and is_tiff_header(buf, at + 4):
            return [ExifBlock(at + 4, "psd-exif")]
        pos = at + 4 + size + (size & 1)
    return []


def _mrw_blocks(buf) -> list[ExifBlock]:
    if len(buf) < 8:
        return []
    data_start = min(_u32(buf, 4, ">") + 8, len(buf))
    pos = 8
    for _ in range(64):
        if pos + 8 > data_start:
            break
        name = bytes(buf[pos:pos + 4])
        length = _u32(buf, pos + 4, ">")
        if name == b"\x00TTW":
            return [ExifBlock(pos + 8, "mrw-ttw")]
        pos += 8 + length
    return []


def _embedded_blocks(buf) -> list[ExifBlock]:
    """The first ``Exif\\0\\0`` + TIFF header anywhere in the bytes (RAF, X3F previews)."""
    data = bytes(buf) if not isinstance(buf, bytes) else buf
    hits = [data.find(sig) for sig in EXIF_SIGNATURES]
    hits = [h for h in hits if h >= 0]
    return [ExifBlock(min(hits) + 6, "embedded-exif")] if hits else []


TIFF_HEADERS = (b"II*\x00", b"MM\x00*", b"IIRO", b"IIRS", b"IIU\x00")


def is_tiff_header(buf, offset: int) -> bool:
    return bytes(buf[offset:offset + 4]) in TIFF_HEADERS


def _webp_blocks(buf) -> list[ExifBlock]:
    """The RIFF ``EXIF`` chunk: a TIFF block, by the spec without an ``Exif\\0\\0`` prefix
    (some writers add one)."""
    end = min(len(buf), _u32(buf, 4, "<") + 8) if len(buf) >= 12 else 0
    pos = 12
    for _ in range(MAX_SEGMENTS):
        if pos + 8 > end:
            break
        ctype, size = bytes(buf[pos:pos + 4]), _u32(buf, pos + 4, "<")
        if ctype == b"EXIF":
            start = pos + 8
            if bytes(buf[start:start + 6]) == b"Exif\x00\x00":
                start += 6
            return [ExifBlock(start, "webp-exif")] if is_tiff_header(buf, start) else []
        pos += 8 + size + (size & 1)
    return []


def locate_exif(buf, kind: str | None, info: ContainerInfo) -> list[ExifBlock]:
    """EXIF blocks for a file exifread found none in. Empty when there is none."""
    try:
        if kind == "jpeg" and info.exif_offsets:
            return [ExifBlock(info.exif_offsets[0], "jpeg-app1")]
        if kind == "webp":
            return _webp_blocks(buf)
        if kind == "isobmff" and bytes(buf[8:12]) == b"crx ":
            return _cr3_blocks(buf)
        if kind == "isobmff":     # HEIF brands exifread does not try (heix, msf1, ...): its
            return _embedded_blocks(buf)    # Exif item holds 'Exif\0\0' + the TIFF block
        if kind == "mrw":
            return _mrw_blocks(buf)
        if kind in ("raf", "x3f"):
            return _embedded_blocks(buf)
        if kind == "psd":
            return _psd_blocks(buf)
    except struct.error:
        return []
    return []


# -- structural check of a TIFF block ----------------------------------------------------
def check_tiff(buf, base: int, first_ifd_name: str = "IFD0", chain: bool = True) -> list[str]:
    """Defects of the TIFF block at ``base``: one sentence each (empty when sound).

    Follows IFD0 -> IFD1 -> ... and the Exif, GPS and Interop sub-IFDs; checks every
    entry's type and that every value lies inside the data.
    """
    problems: list[str] = []
    end = len(buf)
    if base + 8 > end:
        return [f"TIFF header at offset {base} is cut off"]
    order = bytes(buf[base:base + 2])
    if order not in (b"II", b"MM"):
        return [f"TIFF header at offset {base} has an unknown byte order {order!r}"]
    e = "<" if order == b"II" else ">"
    magic = _u16(buf, base + 2, e)
    if magic not in TIFF_MAGICS:
        problems.append(f"TIFF header at offset {base} has magic {magic}, not 42")
    queue: list[tuple[int, str, bool]] = [(_u32(buf, base + 4, e), first_ifd_name, chain)]
    seen: dict[int, str] = {}
    chain_no = 0
    while queue and len(seen) < MAX_IFDS:
        off, name, in_chain = queue.pop(0)
        if off in seen:
            if seen[off] == name and not in_chain:      # one sub-IFD shared by two IFDs
                continue
            problems.append(f"{name} points back to offset {off}, already read as {seen[off]}: IFD loop")
            continue
        seen[off] = name
        at = base + off
        if at + 2 > end:
            problems.append(f"{name} offset {off} points past the end of the data ({end - base} bytes)")
            continue
        count = _u16(buf, at, e)
        fits = max(0, (end - at - 2) // 12)
        if count > fits:
            problems.append(f"{name} at offset {off} declares {count} entries but only {fits} fit "
                            "before the end of the data: truncated or bogus entry count")
        for i in range(min(count, fits)):
            entry = at + 2 + 12 * i
            tag, ftype, n = struct.unpack_from(e + "HHI", buf, entry)
            size = TYPE_SIZES.get(ftype)
            if size is None:
                problems.append(f"{name} tag 0x{tag:04X} has unknown field type {ftype}")
                continue
            length = size * n
            if length > 4:
                voff = _u32(buf, entry + 8, e)
                if base + voff + length > end:
                    problems.append(f"{name} tag 0x{tag:04X}: value of {length} bytes at offset {voff} "
                                    f"runs past the end of the data ({end - base} bytes)")
            if tag in SUBIFD_TAGS and ftype in (4, 13) and n >= 1:
                sub = _u32(buf, entry + 8, e)
                if sub == off:
                    problems.append(f"{SUBIFD_TAGS[tag]} pointer in {name} points to {name} itself")
                elif sub:
                    queue.append((sub, SUBIFD_TAGS[tag], False))
        if in_chain and count <= fits:
            ptr = at + 2 + 12 * count
            if ptr + 4 > end:
                problems.append(f"{name} next-IFD pointer at offset {ptr - base} is cut off: truncated")
            else:
                nxt = _u32(buf, ptr, e)
                if nxt == off:
                    problems.append(f"{name} next-IFD pointer points to {name} itself")
                elif nxt:
                    chain_no += 1
                    queue.append((nxt, f"IFD{chain_no}", True))
        if len(problems) > MAX_PROBLEMS:
            break
    if queue and len(seen) >= MAX_IFDS:
        problems.append(f"more than {MAX_IFDS} IFDs: stopped following them")
    if len(problems) > MAX_PROBLEMS:
        extra = len(problems) - MAX_PROBLEMS
        problems = problems[:MAX_PROBLEMS] + [f"... and {extra} more structural problems"]
    return problems


def find_entry(buf, base: int, ifd_offset: int, wanted: int, endian: str | None = None) -> tuple[int, int, int] | None:
    """(field type, count, value offset relative to ``base``) of one tag of an IFD, or None.
    The byte order is the TIFF header's at ``base``, unless ``endian`` (``<``/``>``) is given."""
    try:
        order = bytes(buf[base:base + 2])
        e = endian or ("<" if order == b"II" else ">")
        at = base + ifd_offset
        count = _u16(buf, at, e)
        for i in range(min(count, max(0, (len(buf) - at - 2) // 12))):
            entry = at + 2 + 12 * i
            tag, ftype, n = struct.unpack_from(e + "HHI", buf, entry)
            if tag == wanted:
                size = TYPE_SIZES.get(ftype, 1)
                value = _u32(buf, entry + 8, e) if size * n > 4 else entry + 8 - base
                return ftype, n, value
    except struct.error:
        return None
    return None


def _ascii_value(buf, base: int, entry: tuple[int, int, int]) -> str | None:
    ftype, count, offset = entry
    if ftype != 2 or count == 0 or count > 256:
        return None
    raw = bytes(buf[base + offset:base + offset + count]).split(b"\x00", 1)[0]
    return raw.decode("utf-8", errors="backslashreplace").strip() or None


def maker_note_serial(buf, base: int, exif_ifd: int, make: str) -> tuple[str, str] | None:
    """(body serial, where) from the maker note, for the layouts read reliably here:
    Canon (tag 0x000C, an IFD at the note's start, offsets from the TIFF header), Nikon
    type 3 (``Nikon\\0`` + version + its own TIFF header; tag 0x001D), Olympus / OM System
    (Equipment 0x0101), Sigma (0x0002), Motorola (0x5501). Others: None."""
    note = find_entry(buf, base, exif_ifd, 0x927C)
    if note is None or note[0] not in (1, 7):
        return None
    start = base + note[2]
    try:
        upper = make.upper()
        if upper.startswith("CANON"):
            entry = find_entry(buf, base, note[2], 0x000C)
            if entry is not None and entry[0] == 4 and entry[1] == 1:
                e = "<" if bytes(buf[base:base + 2]) == b"II" else ">"
                value = _u32(buf, base + entry[2], e)
                return (str(value), "MakerNote SerialNumber") if value else None
        elif "NIKON" in upper and bytes(buf[start:start + 6]) == b"Nikon\x00" \
                and buf[start + 6] == 2:
            inner = start + 10
            if bytes(buf[inner:inner + 2]) not in (b"II", b"MM"):
                return None
            e = "<" if bytes(buf[inner:inner + 2]) == b"II" else ">"
            ifd = _u32(buf, inner + 4, e)
            for tag in (0x001D, 0x00A0):         # SerialNumber; older bodies: 'NO= ...'
                entry = find_entry(buf, inner, ifd, tag)
                value = _ascii_value(buf, inner, entry) if entry else None
                if value:
                    return value, "MakerNote SerialNumber"
            return None
        elif upper.startswith("OLYMPUS") or upper.startswith("OM DIGITAL"):
            return _olympus_serial(buf, base, start)
        elif upper.startswith("MOTOROLA") and bytes(buf[start:start + 4]) == b"MOT\x00":
            # 'MOT\0' + 4 bytes, then an IFD in the TIFF's byte order, offsets from the note's start
            e = "<" if bytes(buf[base:base + 2]) == b"II" else ">"
            entry = find_entry(buf, start, 8, 0x5501, e)                # SerialNumber
            value = _ascii_value(buf, start, entry) if entry else None
            return (value, "MakerNote SerialNumber") if value else None
        elif upper.startswith("SIGMA"):
            head = bytes(buf[start:start + 8])
            if head in (b"SIGMA\x00\x00\x00", b"FOVEON\x00\x00"):
                entry = find_entry(buf, base, note[2] + 10, 0x0002)       # SerialNumber
                value = _ascii_value(buf, base, entry) if entry else None
                return (value, "MakerNote SerialNumber") if value else None
    except (struct.error, IndexError):
        return None
    return None


def maker_note_lens(buf, base: int, exif_ifd: int, make: str) -> str | None:
    """The lens as text from the maker note, where a maker writes it so: Canon (0x0095
    LensModel), Olympus / OM System (Equipment 0x0203 LensModel), Panasonic (0x0051
    LensType); Nikon (type 3 notes) its focal range and widest apertures, 0x0084
    (``18-70mm f/3.5-4.5``: exiftool's ``MakerNotes:Lens``), a description, not the name.

    Not read: the lens *names* that stand behind a lens-type number (Nikon's LensIDNumber and
    8-byte lens ID, Sony's and Pentax's LensType, Canon's LensType, an old Olympus's LensType).
    They are table look-ups: no library this project can take has the tables (exifread has
    none; exiv2 has them, under GPL-3.0-or-later) and exiftool's are not to be copied."""
    note = find_entry(buf, base, exif_ifd, 0x927C)
    if note is None or note[0] not in (1, 7):
        return None
    start = base + note[2]
    upper = make.upper()
    try:
        if "NIKON" in upper and bytes(buf[start:start + 6]) == b"Nikon\x00" and buf[start + 6] == 2:
            return _nikon_lens(buf, start + 10)
        if upper.startswith("CANON"):
            entry = find_entry(buf, base, note[2], 0x0095)
            return _ascii_value(buf, base, entry) if entry else None
        if upper.startswith("PANASONIC") and bytes(buf[start:start + 12]) == b"Panasonic\x00\x00\x00":
            entry = find_entry(buf, base, note[2] + 12, 0x0051)
            return _ascii_value(buf, base, entry) if entry else None
        if upper.startswith("OLYMPUS") or upper.startswith("OM DIGITAL"):
            found = _olympus_equipment(buf, base, start)
            if found is not None:
                origin, sub, e = found
                entry = find_entry(buf, origin, sub, 0x0203, e)
                return _ascii_value(buf, origin, entry) if entry else None
    except (struct.error, IndexError):
        return None
    return None


def _nikon_lens(buf, inner: int) -> str | None:
    """A Nikon type 3 note's 0x0084 Lens (min/max focal length, max aperture at each, in the
    note's own TIFF header at ``inner``) as ``18-70mm f/3.5-4.5`` / ``50mm f/1.8``."""
    if bytes(buf[inner:inner + 2]) not in (b"II", b"MM"):
        return None
    e = "<" if bytes(buf[inner:inner + 2]) == b"II" else ">"
    entry = find_entry(buf, inner, _u32(buf, inner + 4, e), 0x0084)
    if entry is None or entry[0] != 5 or entry[1] != 4:
        return None
    at = inner + entry[2]
    values = []
    for i in range(4):
        num, den = struct.unpack_from(e + "II", buf, at + 8 * i)
        if den == 0:
            return None
        values.append(num / den)
    short, long_, wide, tele = values
    if not short or not long_ or not wide or not tele:
        return None                      # zeros: a lens without a CPU (manual focus) reports none

    def num(x: float) -> str:
        return f"{x:.1f}".rstrip("0").rstrip(".")

    focal = num(short) if short == long_ else f"{num(short)}-{num(long_)}"
    aperture = num(wide) if wide == tele else f"{num(wide)}-{num(tele)}"
    return f"{focal}mm f/{aperture}"


def _olympus_layout(buf, base: int, start: int) -> tuple[int, int, str] | None:
    """(origin of its offsets, its IFD's offset, byte order) of an Olympus maker note:
    ``OLYMPUS\\0II`` and ``OM SYSTEM\\0`` notes (newer) count offsets from the note's start,
    in their own byte order; ``OLYMP\\0`` notes (older) from the TIFF header."""
    if bytes(buf[start:start + 8]) == b"OLYMPUS\x00":
        e = "<" if bytes(buf[start + 8:start + 10]) == b"II" else ">"
        origin, ifd = start, 12
    elif bytes(buf[start:start + 10]) == b"OM SYSTEM\x00":                # OM Digital's, 16-byte header
        e = "<" if bytes(buf[start + 12:start + 14]) == b"II" else ">"
        origin, ifd = start, 16
    elif bytes(buf[start:start + 6]) == b"OLYMP\x00":
        e = "<" if bytes(buf[base:base + 2]) == b"II" else ">"
        origin, ifd = base, start - base + 8
    else:
        return None
    return origin, ifd, e


def _olympus_equipment(buf, base: int, start: int) -> tuple[int, int, str] | None:
    """(origin of its offsets, Equipment IFD offset, byte order) of an Olympus maker note."""
    layout = _olympus_layout(buf, base, start)
    if layout is None:
        return None
    origin, ifd, e = layout
    equipment = find_entry(buf, origin, ifd, 0x2010, e)
    if equipment is None:
        return None
    if equipment[0] == 7:                                      # older: the sub-IFD's bytes in place
        return origin, equipment[2], e
    if equipment[0] in (4, 13) and equipment[1] == 1:          # newer: a pointer held in the entry
        return origin, _u32(buf, origin + equipment[2], e), e
    return None


def _olympus_serial(buf, base: int, start: int) -> tuple[str, str] | None:
    """Olympus: the Equipment IFD's SerialNumber (0x2010 → 0x0101), else the note's 0x0404
    (see :func:`_olympus_equipment` for the note's layouts)."""
    found = _olympus_equipment(buf, base, start)
    if found is not None:
        origin, sub, e = found
        entry = find_entry(buf, origin, sub, 0x0101, e)
        value = _ascii_value(buf, origin, entry) if entry else None
        if value:
            return value, "MakerNote SerialNumber"
    layout = _olympus_layout(buf, base, start)
    if layout is None:
        return None
    origin, ifd, e = layout
    entry = find_entry(buf, origin, ifd, 0x0404, e)
    value = _ascii_value(buf, origin, entry) if entry else None
    return (value, "MakerNote SerialNumber") if value else None
