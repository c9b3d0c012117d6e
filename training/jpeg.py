"""A minimal baseline JPEG writer with an EXIF block, for the synthetic sample photos.

The pictures are blocky colour patterns (every 8x8 block one flat colour), so only the DC
coefficient of each block is coded and every block ends with EOB: a valid baseline JPEG
(SOF0, 4:4:4 YCbCr, the standard DC luminance Huffman table) that any decoder shows,
with no real imagery. The EXIF block is a big-endian TIFF structure written tag by tag
(IFD0, Exif IFD, GPS IFD), so the sample's answer key knows exactly what each photo says.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime

# -- Huffman tables ------------------------------------------------------------------------
# DC: the standard luminance table of ITU-T T.81 Annex K (categories 0..11).
_DC_BITS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)
_DC_VALS = tuple(range(12))
# AC: only the end-of-block symbol is ever coded (flat blocks), one 1-bit code.
_AC_BITS = (1,) + (0,) * 15
_AC_VALS = (0x00,)


def _codes(bits: tuple[int, ...], vals: tuple[int, ...]) -> dict[int, tuple[int, int]]:
    """Canonical Huffman codes: symbol -> (code, length)."""
    out, code, k = {}, 0, 0
    for length, n in enumerate(bits, start=1):
        for _ in range(n):
            out[vals[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return out


_DC_CODES = _codes(_DC_BITS, _DC_VALS)
_EOB = _codes(_AC_BITS, _AC_VALS)[0x00]
_DC_QUANT = 8        # F(0,0) = 8 * (mean - 128): quantised by 8 it is the mean - 128


class _BitWriter:
    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, code: int, length: int) -> None:
        for i in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((code >> i) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0x00)        # byte stuffing
                self.acc, self.n = 0, 0

    def flush(self) -> bytes:
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)   # pad with 1-bits
        return bytes(self.out)


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", 0xFF00 | marker, len(payload) + 2) + payload


def _ycbcr(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    r, g, b = rgb
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return tuple(max(0, min(255, round(v))) for v in (y, cb, cr))  # type: ignore[return-value]


def encode_blocks(blocks: list[list[tuple[int, int, int]]], app1: bytes | None = None) -> bytes:
    """A JPEG whose 8x8 blocks have the given RGB colours (rows of blocks, top to bottom)."""
    rows, cols = len(blocks), len(blocks[0])
    height, width = rows * 8, cols * 8
    out = bytearray(b"\xff\xd8")
    if app1 is not None:
        out += _segment(0xE1, app1)
    else:
        out += _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    out += _segment(0xDB, b"\x00" + bytes([_DC_QUANT] + [16] * 63))
    out += _segment(0xC0, struct.pack(">BHHB", 8, height, width, 3)
                    + b"".join(bytes([cid, 0x11, 0]) for cid in (1, 2, 3)))
    out += _segment(0xC4, b"\x00" + bytes(_DC_BITS) + bytes(_DC_VALS))
    out += _segment(0xC4, b"\x10" + bytes(_AC_BITS) + bytes(_AC_VALS))
    out += _segment(0xDA, bytes([3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0]))
    bw = _BitWriter()
    previous = [0, 0, 0]
    for row in blocks:
        for rgb in row:
            for c, value in enumerate(_ycbcr(rgb)):
                dc = value - 128
                diff = dc - previous[c]
                previous[c] = dc
                size = abs(diff).bit_length()
                bw.put(*_DC_CODES[size])
                if size:
                    bw.put(diff if diff > 0 else (diff - 1) & ((1 << size) - 1), size)
                bw.put(*_EOB)
    out += bw.flush()
    out += b"\xff\xd9"
    return bytes(out)


# -- EXIF --------------------------------------------------------------------------------------
ASCII, SHORT, LONG, RATIONAL, BYTE, UNDEFINED = 2, 3, 4, 5, 1, 7
_TYPE_SIZE = {BYTE: 1, ASCII: 1, SHORT: 2, LONG: 4, RATIONAL: 8, UNDEFINED: 1}


def _value(typ: int, value) -> tuple[int, bytes]:
    if typ == ASCII:
        data = value.encode("utf-8") + b"\x00"
        return len(data), data
    if typ in (BYTE, UNDEFINED):
        data = bytes(value)
        return len(data), data
    if typ == SHORT:
        vals = value if isinstance(value, (list, tuple)) else [value]
        return len(vals), b"".join(struct.pack(">H", v) for v in vals)
    if typ == LONG:
        vals = value if isinstance(value, (list, tuple)) else [value]
        return len(vals), b"".join(struct.pack(">I", v) for v in vals)
    if typ == RATIONAL:
        return len(value), b"".join(struct.pack(">II", n, d) for n, d in value)
    raise ValueError(typ)


def _ifd_size(entries: list[tuple[int, int, object]]) -> int:
    size = 2 + 12 * len(entries) + 4
    for tag, typ, value in entries:
        n = len(_value(typ, value)[1]) if typ != LONG or tag not in _POINTERS else 4
        if n > 4:
            size += n + (n & 1)
    return size


_POINTERS = {0x8769, 0x8825}


def _ifd(entries: list[tuple[int, int, object]], start: int, pointers: dict[int, int]) -> bytes:
    entries = sorted(entries, key=lambda e: e[0])
    head = struct.pack(">H", len(entries))
    data = b""
    data_start = start + 2 + 12 * len(entries) + 4
    for tag, typ, value in entries:
        if tag in pointers:
            value = pointers[tag]
        count, raw = _value(typ, value)
        if len(raw) <= 4:
            head += struct.pack(">HHI", tag, typ, count) + raw.ljust(4, b"\x00")
        else:
            head += struct.pack(">HHII", tag, typ, count, data_start + len(data))
            data += raw + (b"\x00" if len(raw) & 1 else b"")
    return head + struct.pack(">I", 0) + data


@dataclass(frozen=True, slots=True)
class ExifSpec:
    """What one photo's EXIF says (None: the tag is not written)."""

    make: str
    model: str
    software: str
    serial: str | None
    taken_local: datetime                 # DateTimeOriginal (+ SubSecTimeOriginal)
    offset: str | None                    # OffsetTimeOriginal, '+04:00'
    lat: tuple[str, tuple] | None = None  # ('N', ((deg,1),(min,1),(sec_x1000,1000)))
    lon: tuple[str, tuple] | None = None
    alt_dm: int | None = None             # altitude in decimetres above sea level
    gps_utc: datetime | None = None       # GPSDateStamp + GPSTimeStamp (whole seconds)
    width: int = 0
    height: int = 0


def exif_app1(spec: ExifSpec) -> bytes:
    stamp = spec.taken_local.strftime("%Y:%m:%d %H:%M:%S")
    subsec = f"{spec.taken_local.microsecond // 1000:03d}"
    ifd0 = [(0x010F, ASCII, spec.make), (0x0110, ASCII, spec.model), (0x0112, SHORT, 1),
            (0x011A, RATIONAL, [(72, 1)]), (0x011B, RATIONAL, [(72, 1)]), (0x0128, SHORT, 2),
            (0x0131, ASCII, spec.software), (0x0132, ASCII, stamp), (0x8769, LONG, 0)]
    exif = [(0x9000, UNDEFINED, b"0232"), (0x9003, ASCII, stamp), (0x9004, ASCII, stamp),
            (0x9291, ASCII, subsec), (0x9292, ASCII, subsec),
            (0xA002, LONG, spec.width), (0xA003, LONG, spec.height)]
    if spec.offset is not None:
        exif += [(0x9010, ASCII, spec.offset), (0x9011, ASCII, spec.offset), (0x9012, ASCII, spec.offset)]
    if spec.serial is not None:
        exif.append((0xA431, ASCII, spec.serial))
    gps: list = []
    if spec.lat is not None and spec.lon is not None:
        gps = [(0x0000, BYTE, [2, 3, 0, 0]), (0x0001, ASCII, spec.lat[0]), (0x0002, RATIONAL, spec.lat[1]),
               (0x0003, ASCII, spec.lon[0]), (0x0004, RATIONAL, spec.lon[1])]
        if spec.alt_dm is not None:
            gps += [(0x0005, BYTE, [0 if spec.alt_dm >= 0 else 1]), (0x0006, RATIONAL, [(abs(spec.alt_dm), 10)])]
        if spec.gps_utc is not None:
            t = spec.gps_utc
            gps += [(0x0007, RATIONAL, [(t.hour, 1), (t.minute, 1), (t.second, 1)]),
                    (0x001D, ASCII, t.strftime("%Y:%m:%d"))]
        ifd0.append((0x8825, LONG, 0))
    off0 = 8
    off_exif = off0 + _ifd_size(ifd0)
    off_gps = off_exif + _ifd_size(exif)
    pointers = {0x8769: off_exif, 0x8825: off_gps}
    tiff = b"MM\x00\x2a" + struct.pack(">I", off0) + _ifd(ifd0, off0, pointers) + _ifd(exif, off_exif, {})
    if gps:
        tiff += _ifd(gps, off_gps, {})
    return b"Exif\x00\x00" + tiff


def dms(value: float, positive: str, negative: str) -> tuple[str, tuple, float]:
    """Degrees/minutes/seconds rationals (seconds to 1/1000) and the exact value they encode."""
    ref = positive if value >= 0 else negative
    a = abs(value)
    deg = int(a)
    minutes_f = (a - deg) * 60
    minutes = int(minutes_f)
    milli = round((minutes_f - minutes) * 60 * 1000)
    if milli >= 60000:
        milli -= 60000
        minutes += 1
    if minutes >= 60:
        minutes -= 60
        deg += 1
    exact = deg + minutes / 60 + milli / 1000 / 3600
    return ref, ((deg, 1), (minutes, 1), (milli, 1000)), (exact if ref == positive else -exact)


def photo(blocks: list[list[tuple[int, int, int]]], spec: ExifSpec | None) -> bytes:
    return encode_blocks(blocks, exif_app1(spec) if spec is not None else None)


def scene(seed: str, size: tuple[int, int] = (640, 480)) -> object:
    """A seeded picture with structure at every scale (a gradient sky, ground, boxes and discs),
    as a Pillow image: perceptual hashes need more than flat blocks to tell pictures apart."""
    import random

    from PIL import Image, ImageDraw

    rnd = random.Random(seed)
    w, h = size
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    horizon = rnd.randrange(h // 3, 2 * h // 3)
    top, bottom = [rnd.randrange(60, 200) for _ in range(3)], [rnd.randrange(20, 120) for _ in range(3)]
    for y in range(h):
        a = y / h
        colour = tuple(round(t * (1 - a) + b * a) for t, b in zip(top, bottom, strict=True))
        draw.line([(0, y), (w, y)], fill=colour if y < horizon else tuple(c // 2 for c in colour))
    for _ in range(rnd.randrange(6, 10)):
        x0, y0 = rnd.randrange(w - 60), rnd.randrange(h - 60)
        box = (x0, y0, x0 + rnd.randrange(40, w // 2), y0 + rnd.randrange(40, h // 2))
        fill = tuple(rnd.randrange(256) for _ in range(3))
        (draw.rectangle if rnd.random() < 0.6 else draw.ellipse)(box, fill=fill)
    return img


def camera_and_copy(seed: str, spec: ExifSpec) -> tuple[bytes, bytes]:
    """A camera original (640x480, quality 92, with ``spec``'s EXIF) and the copy a messenger
    makes of it: resized to 50% (Lanczos), re-compressed at quality 60, no EXIF. Pillow's
    encoder, given the same pixels and settings, writes the same bytes."""
    import io

    from PIL import Image

    img = scene(seed)
    original, copy = io.BytesIO(), io.BytesIO()
    img.save(original, "JPEG", quality=92, exif=exif_app1(spec))
    img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS).save(copy, "JPEG", quality=60)
    return original.getvalue(), copy.getvalue()


def resized_copy(data: bytes, scale: float = 0.5, quality: int = 60) -> bytes:
    """The copy a messenger makes of a picture: resized (Lanczos) and re-compressed, no EXIF.
    Another SHA-256, the same picture to a perceptual hash."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img.load()
        out = io.BytesIO()
        img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS).save(
            out, "JPEG", quality=quality)
    return out.getvalue()
