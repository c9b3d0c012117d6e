"""Canon CIFF (Camera Image File Format): the metadata heap of Canon CRW files and of the
JPEGs of early PowerShots (an APP0 segment ``II\\x1a\\0\\0\\0HEAPJPGM``), which hold no EXIF.

A heap is ``II``/``MM``, a u32 header length, ``HEAP`` + a subtype; its records' table sits
where the heap's last u32 points: a u16 count, then 10-byte entries (u16 tag, u32 size, u32
offset from the heap's start). Tag bits 14-15 say where the value is (0: in the heap; 0x4000:
in the entry's own 8 bytes), bits 11-13 its type (5 and 6: a sub-heap). Read here: make and
model (0x080a), the time taken (0x180e: seconds as the camera's clock, its zone code and
whether that code is valid), the body serial (0x180b) and the owner name (0x0810). Bounded:
at most :data:`MAX_DEPTH` nested heaps and :data:`MAX_RECORDS` entries; bad offsets end the
walk of that heap, never raise.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

MAX_DEPTH = 8
MAX_RECORDS = 2000


@dataclass
class Ciff:
    make: str | None = None
    model: str | None = None
    serial: int | None = None
    owner: str | None = None
    taken_seconds: int | None = None     # seconds from 1970 on the camera's clock (no zone)
    tz_offset_seconds: int | None = None  # only when the camera flagged its zone code valid


def find_heap(buf: bytes, end: int | None = None) -> int | None:
    """Where a CIFF heap starts: at 0 (a CRW), or inside a JPEG header (``HEAPJPGM``)."""
    if buf[:2] in (b"II", b"MM") and buf[6:10] == b"HEAP":
        return 0
    at = buf.find(b"HEAPJPGM", 0, len(buf) if end is None else end)
    if at >= 6 and buf[at - 6:at - 4] in (b"II", b"MM"):
        return at - 6
    return None


def parse(buf: bytes, start: int) -> tuple[Ciff, list[str]]:
    """The values of the heap at ``start``; problems as sentences."""
    out = Ciff()
    problems: list[str] = []
    try:
        e = "<" if buf[start:start + 2] == b"II" else ">"
        header = struct.unpack_from(e + "I", buf, start + 2)[0]
        heap_start = start + header
        # a CRW's heap runs to the end of the file; a JPEG's to the end of its APP0 segment
        heap_end = len(buf) if start == 0 else _jpeg_segment_end(buf, start)
        _walk(buf, e, heap_start, heap_end, out, problems, 0, [0])
    except struct.error:
        problems.append("CIFF heap cut short")
    return out, problems


def _jpeg_segment_end(buf: bytes, start: int) -> int:
    """The end of the APP0 segment holding the heap (its length precedes the 'II')."""
    seg_len = struct.unpack_from(">H", buf, start - 2)[0] if start >= 2 else 0
    return min(len(buf), start - 2 + seg_len) if seg_len else len(buf)


def _walk(buf: bytes, e: str, heap_start: int, heap_end: int, out: Ciff, problems: list[str],
          depth: int, seen: list[int]) -> None:
    if depth > MAX_DEPTH or heap_end - heap_start < 6 or heap_end > len(buf):
        return
    table = heap_start + struct.unpack_from(e + "I", buf, heap_end - 4)[0]
    if not heap_start <= table < heap_end - 2:
        problems.append(f"CIFF table offset {table - heap_start} is outside its heap")
        return
    count = struct.unpack_from(e + "H", buf, table)[0]
    for i in range(min(count, (heap_end - table - 2) // 10)):
        seen[0] += 1
        if seen[0] > MAX_RECORDS:
            problems.append(f"CIFF has more than {MAX_RECORDS} records: the rest not read")
            return
        entry = table + 2 + 10 * i
        tag, size, offset = struct.unpack_from(e + "HII", buf, entry)
        kind = (tag >> 11) & 7
        if tag & 0xC000 == 0x4000:             # the value is in the entry itself
            value_at, size = entry + 2, 8
        elif tag & 0xC000 == 0:
            value_at = heap_start + offset
            if value_at + size > heap_end:
                problems.append(f"CIFF record 0x{tag & 0x3FFF:04x} runs past its heap")
                continue
        else:
            continue
        ident = tag & 0x3FFF
        if kind in (5, 6):
            _walk(buf, e, value_at, value_at + size, out, problems, depth + 1, seen)
        elif ident == 0x080A:
            parts = bytes(buf[value_at:value_at + size]).split(b"\x00")
            out.make = _text(parts[0]) if parts else None
            out.model = _text(parts[1]) if len(parts) > 1 else None
        elif ident == 0x0810:
            out.owner = _text(bytes(buf[value_at:value_at + size]).split(b"\x00", 1)[0])
        elif ident == 0x180B and size >= 4:
            out.serial = struct.unpack_from(e + "I", buf, value_at)[0] or None
        elif ident == 0x180E and size >= 12:
            seconds, zone, info = struct.unpack_from(e + "IiI", buf, value_at)
            out.taken_seconds = seconds or None
            if info & 0x80000000 and abs(zone) <= 14 * 3600:
                out.tz_offset_seconds = zone


def _text(raw: bytes) -> str | None:
    return raw.decode("latin-1").strip() or None
