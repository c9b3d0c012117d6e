"""The streaming pass over raw bytes: a logical stream (a file's content, its slack, a
volume's unallocated runs one after the other) read in buffers that overlap by the longest
match (at most :data:`~forensic.search.terms.MAX_MATCH` bytes), so that a hit across two
buffers, two fragments or two sectors is found once, where it starts.

:class:`RunMap` maps an offset in the logical stream to the image: the stream is the
concatenation of runs ``(image offset | None, length)`` (None: bytes with no place in the
image, e.g. a sparse run or resident content), and tells whether a hit's bytes lie in more
than one non-contiguous run (``crosses_fragment``).
"""
from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from typing import Callable, Iterator

from forensic.search.terms import MAX_MATCH, Match, Matcher

BUFFER = 256 << 10          # bytes read at a time: searched while still in the CPU cache
SECTOR = 512
CONTEXT = 40                # bytes of context kept either side of a hit

Read = Callable[[int, int], bytes]


@dataclass(frozen=True, slots=True)
class StreamHit:
    """A match at ``offset`` in the logical stream, with the buffer's bytes around it."""
    match: Match
    offset: int
    before: bytes
    after: bytes

    @property
    def length(self) -> int:
        return self.match.end - self.match.start


@functools.lru_cache(maxsize=4)
def _zeros(n: int) -> bytes:
    return bytes(n)


def buffers(read: Read, size: int, buffer: int, ahead: int) -> Iterator[tuple[int, bytes]]:
    """The stream in buffers: ``(offset, bytes)``, each ``buffer`` bytes after the one before
    and ``ahead`` bytes longer (read again at the start of the next): a match that starts in
    one buffer ends in it when ``ahead`` is at least the longest match. Stops at a short read."""
    pos = 0
    while pos < size:
        want = min(buffer + ahead, size - pos)
        data = read(pos, want)
        yield pos, data
        if len(data) < want:
            return
        pos += buffer


def lookahead(matcher: Matcher) -> int:
    """How far each buffer :func:`scan` reads runs into the next: the longest match and the
    context after it."""
    return min(matcher.max_len, MAX_MATCH) + CONTEXT


def scan(read: Read, size: int, matcher: Matcher, buffer: int = BUFFER,
         short: Callable[[int], None] | None = None) -> Iterator[StreamHit]:
    """Every match in the stream of ``size`` bytes that ``read(offset, n)`` gives, each once.

    Each buffer (:func:`buffers`) runs ``overlap`` bytes (the longest match) and
    :data:`CONTEXT` bytes into the next, so that a match across two buffers (two fragments,
    two sectors) is found whole, once, in the buffer it starts in, with its context after.
    Buffers are small enough to be searched while the read left them in the CPU's cache.
    A buffer of zeros (wiped or never written space) is not searched when no term can
    match zeros (:attr:`Matcher.matches_zeros`). ``short``: told the bytes read when the stream
    ends before ``size`` (a read came back short: the evidence is shorter than its listing)."""
    ahead = lookahead(matcher)
    end = 0
    buffer = max(buffer, ahead)
    before = b""                # the bytes before this buffer: context, and what lookbehinds see
    for pos, data in buffers(read, size, buffer, ahead):
        if matcher.matches_zeros or data != _zeros(len(data)):
            # the bytes before the buffer are searched as context: a buffer's first byte is no
            # stream's or line's start for ``^`` or a lookbehind, its last no end for ``$``
            # unless the stream ends there, so hits do not depend on where buffers fall
            view = before + data
            more = pos + len(data) < size
            for m in matcher.find_bytes(view, len(before), more):
                at = m.start - len(before)
                if at >= buffer:
                    continue            # the next buffer's, found there
                yield StreamHit(m, pos + at, view[max(0, m.start - CONTEXT):m.start], view[m.end:m.end + CONTEXT])
        before = data[buffer - ahead:buffer]      # as far back as a match reaches ahead
        end = pos + len(data)
    if short is not None and end < size:
        short(end)


class RunMap:
    """Logical offsets of a run list -> image offsets."""

    def __init__(self, runs: list[tuple[int | None, int]]) -> None:
        self.runs = [(img, n) for img, n in runs if n > 0]
        self.starts: list[int] = []
        at = 0
        for _, n in self.runs:
            self.starts.append(at)
            at += n
        self.size = at

    def image_offset(self, offset: int) -> int | None:
        i = bisect.bisect_right(self.starts, offset) - 1
        if i < 0 or offset >= self.size:
            return None
        img = self.runs[i][0]
        return None if img is None else img + offset - self.starts[i]

    def run_index(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset) - 1

    def crosses_fragment(self, offset: int, length: int) -> bool:
        """Whether bytes [offset, offset + length) lie in runs not contiguous in the image."""
        i, j = self.run_index(offset), self.run_index(offset + length - 1)
        for k in range(i, j):
            a, n = self.runs[k]
            b = self.runs[k + 1][0]
            if a is None or b is None or a + n != b:
                return True
        return False

    def read_with(self, read_image: Read) -> Read:
        """A reader of the logical stream from a reader of the image (None runs: zeros)."""
        def read(offset: int, n: int) -> bytes:
            out = []
            i = max(self.run_index(offset), 0)
            while n > 0 and i < len(self.runs):
                img, length = self.runs[i]
                inner = offset - self.starts[i]
                take = min(n, length - inner)
                if take <= 0:
                    i += 1
                    continue
                chunk = bytes(take) if img is None else read_image(img + inner, take)
                out.append(chunk)
                if len(chunk) < take:
                    break
                offset += take
                n -= take
                i += 1
            return b"".join(out)
        return read


def crosses_sector(image_offset: int | None, length: int, sector: int = SECTOR) -> bool:
    """Whether a hit's bytes in the image span a sector boundary (contiguous hits only)."""
    if image_offset is None or length <= 0:
        return False
    return image_offset // sector != (image_offset + length - 1) // sector


def context_text(hit: StreamHit) -> str:
    """The hit with what surrounds it, decoded in the hit's encoding, control bytes as dots."""
    enc = hit.match.encoding
    before, after = hit.before, hit.after
    if enc == "utf-16le":
        before = before[len(before) % 2:]
        after = after[:len(after) - len(after) % 2]
    text = (before.decode(enc, "replace") + "[" + hit.match.text + "]" + after.decode(enc, "replace"))
    return "".join(c if c.isprintable() else "." for c in text)


def clip(runs: list[tuple[int | None, int]], start: int, end: int) -> list[tuple[int | None, int]]:
    """The part of a run list between logical offsets [start, end)."""
    out: list[tuple[int | None, int]] = []
    at = 0
    for img, n in runs:
        lo, hi = max(start, at), min(end, at + n)
        if lo < hi:
            out.append((None if img is None else img + lo - at, hi - lo))
        at += n
        if at >= end:
            break
    return out
