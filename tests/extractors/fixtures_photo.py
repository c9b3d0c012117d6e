"""Photo fixtures built by code: a small TIFF/EXIF writer, JPEG/PNG/WebP wrappers, and the
defective variants named for their defect (``exif_ifd_loop``, ``gps_zero_denominator``, ...).

Every builder returns bytes. The good photo (:func:`good_jpeg`) holds Make, Model, serials,
DateTimeOriginal + sub-seconds + OffsetTimeOriginal, a GPS IFD (position, altitude, time,
direction, speed) and a thumbnail IFD.
"""
from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass, field

ASCII, BYTE, SHORT, LONG, RATIONAL, UNDEFINED = 2, 1, 3, 4, 5, 7
_SIZES = {BYTE: 1, ASCII: 1, SHORT: 2, LONG: 4, RATIONAL: 8, UNDEFINED: 1}

Entry = tuple[int, int, object]     # (tag, type, value)


def ascii_(tag: int, text: str | bytes) -> Entry:
    return (tag, ASCII, text.encode("utf-8") + b"\x00" if isinstance(text, str) else text)


def short(tag: int, *values: int) -> Entry:
    return (tag, SHORT, list(values))


def long_(tag: int, *values: int) -> Entry:
    return (tag, LONG, list(values))


def byte(tag: int, *values: int) -> Entry:
    return (tag, BYTE, list(values))


def rational(tag: int, *pairs: tuple[int, int]) -> Entry:
    return (tag, RATIONAL, list(pairs))


@dataclass
class Layout:
    """Where things landed in the TIFF block (offsets from its start)."""

    ifd: dict[str, int] = field(default_factory=dict)          # 'IFD0', 'Exif', 'GPS', 'IFD1'
    next_ptr: dict[str, int] = field(default_factory=dict)     # offset of each chain IFD's next pointer
    entry: dict[tuple[str, int], int] = field(default_factory=dict)   # (ifd, tag) -> entry offset


def _pack_value(e: str, ftype: int, value) -> bytes:
    if ftype in (ASCII, UNDEFINED):
        return bytes(value)
    if ftype == BYTE:
        return bytes(value)
    if ftype == SHORT:
        return struct.pack(f"{e}{len(value)}H", *value)
    if ftype == LONG:
        return struct.pack(f"{e}{len(value)}I", *value)
    if ftype == RATIONAL:
        return b"".join(struct.pack(f"{e}II", n, d) for n, d in value)
    raise ValueError(ftype)


def build_tiff(ifd0: list[Entry], exif: list[Entry] | None = None, gps: list[Entry] | None = None,
               ifd1: list[Entry] | None = None, big_endian: bool = False,
               thumbnail: bytes = b"") -> tuple[bytes, Layout]:
    """A TIFF block: header, IFD0 (+ pointers to the Exif and GPS IFDs), IFD1, data area."""
    e = ">" if big_endian else "<"
    ifds: list[tuple[str, list[Entry]]] = [("IFD0", list(ifd0))]
    if exif is not None:
        ifds[0][1].append((0x8769, LONG, [0]))
        ifds.append(("Exif", list(exif)))
    if gps is not None:
        ifds[0][1].append((0x8825, LONG, [0]))
        ifds.append(("GPS", list(gps)))
    if ifd1 is not None:
        entries = list(ifd1)
        if thumbnail:
            entries += [(0x0201, LONG, [0]), (0x0202, LONG, [len(thumbnail)])]
        ifds.append(("IFD1", entries))
    layout = Layout()
    pos = 8
    for name, entries in ifds:
        entries.sort(key=lambda x: x[0])
        layout.ifd[name] = pos
        pos += 2 + 12 * len(entries) + 4
    data_start = pos
    # resolve pointers now that IFD offsets are known
    for name, entries in ifds:
        for i, (tag, ftype, _) in enumerate(entries):
            if tag == 0x8769 and name == "IFD0":
                entries[i] = (tag, ftype, [layout.ifd["Exif"]])
            elif tag == 0x8825 and name == "IFD0":
                entries[i] = (tag, ftype, [layout.ifd["GPS"]])
    data = bytearray()
    thumb_offset = None
    if thumbnail:
        thumb_offset = data_start
        data += thumbnail
    out = bytearray((b"MM\x00*" if big_endian else b"II*\x00") + struct.pack(e + "I", 8))
    for name, entries in ifds:
        out += struct.pack(e + "H", len(entries))
        for tag, ftype, value in entries:
            if tag == 0x0201 and thumb_offset is not None:
                value = [thumb_offset]
            raw = _pack_value(e, ftype, value)
            count = len(raw) // _SIZES[ftype]
            layout.entry[(name, tag)] = len(out)
            if len(raw) <= 4:
                out += struct.pack(e + "HHI", tag, ftype, count)[:8] + raw.ljust(4, b"\x00")
            else:
                out += struct.pack(e + "HHII", tag, ftype, count, data_start + len(data))
                data += raw
                if len(data) % 2:
                    data += b"\x00"
        layout.next_ptr[name] = len(out)
        nxt = layout.ifd["IFD1"] if name == "IFD0" and "IFD1" in layout.ifd else 0
        out += struct.pack(e + "I", nxt)
    assert len(out) == data_start
    return bytes(out + data), layout


# -- the good photo's tags ------------------------------------------------------------------
def good_ifd0() -> list[Entry]:
    return [ascii_(0x010F, "Canon"), ascii_(0x0110, "Canon EOS 5D Mark IV"), short(0x0112, 6),
            ascii_(0x0131, "Firmware Version 1.0.4"), ascii_(0x0132, "2021:06:01 14:31:00")]


def good_exif(offset: str | None = "+02:00", taken: str = "2021:06:01 14:30:15") -> list[Entry]:
    entries = [ascii_(0x9003, taken), ascii_(0x9004, "2021:06:01 14:30:15"), ascii_(0x9291, "25"),
               ascii_(0xA431, "012345678901"), ascii_(0xA434, "EF24-70mm f/2.8L II USM"),
               ascii_(0xA435, "0000c1234a"), long_(0xA002, 640), long_(0xA003, 480)]
    if offset is not None:
        entries += [ascii_(0x9011, offset), ascii_(0x9012, offset)]
    return entries


def good_gps(lat=((48, 1), (51, 1), (2430, 100)), lat_ref="N", lon=((2, 1), (17, 1), (4020, 100)),
             lon_ref="E", time=((12, 1), (30, 1), (15, 1)), date="2021:06:01") -> list[Entry]:
    entries = [byte(0x0000, 2, 3, 0, 0), ascii_(0x0001, lat_ref), rational(0x0002, *lat),
               ascii_(0x0003, lon_ref), rational(0x0004, *lon), byte(0x0005, 1),
               rational(0x0006, (350, 100)), ascii_(0x0010, "T"), rational(0x0011, (18050, 100)),
               ascii_(0x000C, "K"), rational(0x000D, (125, 10))]
    if time is not None:
        entries.append(rational(0x0007, *time))
    if date is not None:
        entries.append(ascii_(0x001D, date))
    return entries


THUMBNAIL = b"\xff\xd8\xff\xdb\x00\x03\x00\xff\xd9"


def good_tiff_block(**kw) -> tuple[bytes, Layout]:
    return build_tiff(kw.pop("ifd0", good_ifd0()), kw.pop("exif", good_exif()),
                      kw.pop("gps", good_gps()), kw.pop("ifd1", [short(0x0103, 6)]),
                      thumbnail=kw.pop("thumbnail", THUMBNAIL), **kw)


# -- containers ---------------------------------------------------------------------------------
def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg(tiff: bytes | None, width: int = 640, height: int = 480, scan: bytes = b"\x12\x34" * 16,
         eoi: bool = True) -> bytes:
    """SOI, APP1 Exif, DQT, SOF0, DHT-less SOS header, a few scan bytes, EOI."""
    out = b"\xff\xd8"
    if tiff is not None:
        out += _segment(0xE1, b"Exif\x00\x00" + tiff)
    out += _segment(0xDB, b"\x00" + bytes(range(64)))
    out += _segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    out += _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + scan
    return out + (b"\xff\xd9" if eoi else b"")


def _png_chunk(ctype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + ctype + payload + struct.pack(">I", zlib.crc32(ctype + payload))


def png(tiff: bytes | None, width: int = 64, height: int = 48) -> bytes:
    out = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    if tiff is not None:
        out += _png_chunk(b"eXIf", tiff)
    out += _png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
    return out + _png_chunk(b"IEND", b"")


def webp(tiff: bytes, width: int = 64, height: int = 48) -> bytes:
    vp8x = bytes([0x08, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    exif = tiff + (b"\x00" if len(tiff) % 2 else b"")
    body += b"EXIF" + struct.pack("<I", len(tiff)) + exif
    return b"RIFF" + struct.pack("<I", len(body)) + body


# -- the photos ---------------------------------------------------------------------------------
def good_jpeg() -> bytes:
    return jpeg(good_tiff_block()[0])


def good_tiff_file(big_endian: bool = False) -> bytes:
    return good_tiff_block(big_endian=big_endian)[0]


def _patch(block: bytes, at: int, fmt: str, *values) -> bytes:
    out = bytearray(block)
    struct.pack_into(fmt, out, at, *values)
    return bytes(out)


def exif_truncated_ifd() -> bytes:
    """The file ends inside IFD0's entry table (after 3 of its entries)."""
    block, layout = good_tiff_block()
    whole = jpeg(block)
    cut = whole.index(b"Exif\x00\x00") + 6 + layout.ifd["IFD0"] + 2 + 12 * 3
    return whole[:cut]


def exif_ifd_loop() -> bytes:
    """IFD1's next-IFD pointer leads back to IFD0."""
    block, layout = good_tiff_block()
    return jpeg(_patch(block, layout.next_ptr["IFD1"], "<I", layout.ifd["IFD0"]))


def exif_self_pointing_ifd() -> bytes:
    """IFD1's next-IFD pointer points to IFD1 itself."""
    block, layout = good_tiff_block()
    return jpeg(_patch(block, layout.next_ptr["IFD1"], "<I", layout.ifd["IFD1"]))


def exif_subifd_points_to_parent() -> bytes:
    """The Exif IFD pointer of IFD0 points to IFD0."""
    block, layout = good_tiff_block()
    return jpeg(_patch(block, layout.entry[("IFD0", 0x8769)] + 8, "<I", layout.ifd["IFD0"]))


def exif_huge_tag_count() -> bytes:
    """Software (ASCII) claims 0x7FFFFFF0 characters; a maker note claims 0xFFFFFFF0 bytes."""
    block, layout = good_tiff_block(exif=good_exif() + [(0x927C, UNDEFINED, b"Nikon\x00\x02\x00" * 4)])
    block = _patch(block, layout.entry[("IFD0", 0x0131)] + 4, "<I", 0x7FFFFFF0)
    return jpeg(_patch(block, layout.entry[("Exif", 0x927C)] + 4, "<I", 0xFFFFFFF0))


def exif_huge_entry_count() -> bytes:
    """The GPS IFD declares 65535 entries."""
    block, layout = good_tiff_block()
    return jpeg(_patch(block, layout.ifd["GPS"], "<H", 0xFFFF))


def exif_offset_past_end() -> bytes:
    """Model's value offset points 2 GB past the end."""
    block, layout = good_tiff_block()
    return jpeg(_patch(block, layout.entry[("IFD0", 0x0110)] + 8, "<I", 0x7FFF0000))


def exif_unknown_field_type() -> bytes:
    """Orientation has field type 99."""
    block, layout = good_tiff_block()
    return jpeg(_patch(block, layout.entry[("IFD0", 0x0112)] + 2, "<H", 99))


def gps_zero_denominator() -> bytes:
    return jpeg(good_tiff_block(gps=good_gps(lat=((48, 0), (51, 1), (2430, 100))))[0])


def gps_out_of_range() -> bytes:
    return jpeg(good_tiff_block(gps=good_gps(lat=((123, 1), (0, 1), (0, 1))))[0])


def gps_null_island() -> bytes:
    zero = ((0, 1), (0, 1), (0, 1))
    return jpeg(good_tiff_block(gps=good_gps(lat=zero, lon=zero))[0])


def gps_altitude_zero_denominator() -> bytes:
    gps = [e for e in good_gps() if e[0] != 0x0006] + [rational(0x0006, (350, 0))]
    return jpeg(good_tiff_block(gps=gps)[0])


def date_all_zeros() -> bytes:
    return jpeg(good_tiff_block(exif=good_exif(taken="0000:00:00 00:00:00"))[0])


def date_garbage() -> bytes:
    return jpeg(good_tiff_block(exif=good_exif(taken="2021:13:45 99:99:99"))[0])


def garbage_strings() -> bytes:
    """Make is not UTF-8, Model holds control characters, Software is fine non-ASCII."""
    ifd0 = [ascii_(0x010F, b"\xff\xfeCa\x9fnon\x00"), ascii_(0x0110, "EOS\x07\x1b[31m 5D"),
            ascii_(0x0131, "Éditeur ünïcode"), short(0x0112, 1)]
    return jpeg(good_tiff_block(ifd0=ifd0)[0])


def random_bytes_named_jpg() -> bytes:
    return random.Random(20240531).randbytes(4096)


def png_huge_dimensions() -> bytes:
    """A 100000 x 100000 PNG header: 10 gigapixels declared, a few bytes of data."""
    return png(None, width=100_000, height=100_000)


def jpeg_huge_dimensions() -> bytes:
    return jpeg(good_tiff_block()[0], width=65535, height=65535)


def jpeg_truncated_scan() -> bytes:
    """A sound EXIF block, but the file stops inside the compressed image data."""
    return jpeg(good_tiff_block()[0], eoi=False)


ALL_DEFECTS = {
    "exif_truncated_ifd": exif_truncated_ifd,
    "exif_ifd_loop": exif_ifd_loop,
    "exif_self_pointing_ifd": exif_self_pointing_ifd,
    "exif_subifd_points_to_parent": exif_subifd_points_to_parent,
    "exif_huge_tag_count": exif_huge_tag_count,
    "exif_huge_entry_count": exif_huge_entry_count,
    "exif_offset_past_end": exif_offset_past_end,
    "exif_unknown_field_type": exif_unknown_field_type,
    "gps_zero_denominator": gps_zero_denominator,
    "gps_out_of_range": gps_out_of_range,
    "gps_null_island": gps_null_island,
    "gps_altitude_zero_denominator": gps_altitude_zero_denominator,
    "date_all_zeros": date_all_zeros,
    "date_garbage": date_garbage,
    "garbage_strings": garbage_strings,
    "random_bytes_named_jpg": random_bytes_named_jpg,
    "png_huge_dimensions": png_huge_dimensions,
    "jpeg_huge_dimensions": jpeg_huge_dimensions,
    "jpeg_truncated_scan": jpeg_truncated_scan,
}
