"""A sorted, memory-mapped index of one digest algorithm's digests in a hash set, built once.

The index file holds fixed-width records, ``digest + category`` (a 2-byte big-endian number
into the set's list of categories; 0: the set's own), sorted by digest, no duplicates. A
fan-out table beside it (``.fan``: 65,537 little-endian 8-byte record numbers, like a git
pack index's) says where the records whose digest starts with each 2-byte prefix begin, so a
lookup reads a few hundred records through ``mmap`` (halved by binary search while more than
:data:`_SCAN`, then searched in one slice): a 40-million-entry set is never read into memory.

Building it never holds the set in memory either: the records are spread by their first
7 bits into 128 run files, each sorted on its own (digests are uniform, so each run is
1/128 of the set: 11 MB of a 40-million-entry SHA-256 set) and appended in order.
"""
from __future__ import annotations

import mmap
import os
import struct
import tempfile
from array import array
from pathlib import Path
from typing import BinaryIO, Iterable

DIGEST_SIZE = {"md5": 16, "sha1": 20, "sha256": 32}
CATEGORY_SIZE = 2
MAGIC = b"FHSIDX1\n"
_FAN = 1 << 16


def index_paths(folder: Path, algorithm: str) -> tuple[Path, Path]:
    return folder / f"{algorithm}.idx", folder / f"{algorithm}.fan"


RUNS = 128          # run files, by a digest's first 7 bits (3 algorithms at once: 384 open files)


class IndexBuilder:
    """Builds the index of one algorithm's digests in ``folder``: :meth:`add` each record
    (spread into run files, nothing kept in memory), then :meth:`finish`."""

    def __init__(self, folder: Path, algorithm: str) -> None:
        self.folder, self.algorithm = folder, algorithm
        self.size = DIGEST_SIZE[algorithm]
        self.width = self.size + CATEGORY_SIZE
        self._tmp = tempfile.TemporaryDirectory(dir=folder, prefix=f".{algorithm}-runs-")
        self._runs: list[BinaryIO] = [open(Path(self._tmp.name) / f"{b:02x}", "w+b", buffering=1 << 16)
                                      for b in range(RUNS)]
        self.added = 0

    def add(self, digest: bytes, category: int) -> None:
        if len(digest) != self.size:
            raise ValueError(f"a {self.algorithm} digest of {len(digest)} bytes")
        self._runs[digest[0] >> 1].write(digest + category.to_bytes(CATEGORY_SIZE, "big"))
        self.added += 1

    def finish(self) -> int:
        """Sort each run, write the index and its fan-out; returns how many distinct digests
        it holds (a digest met twice keeps its first category). Nothing is written when no
        digest was added (0)."""
        size, width = self.size, self.width
        idx_path, fan_path = index_paths(self.folder, self.algorithm)
        try:
            if not self.added:
                return 0
            fan = array("Q", bytes(8 * (_FAN + 1)))
            count = 0
            partial = idx_path.with_name(idx_path.name + ".partial")
            with open(partial, "wb") as out:
                out.write(MAGIC + struct.pack("<BQ", size, 0))
                for run in self._runs:
                    run.flush()
                    run.seek(0)
                    data = run.read()
                    run.close()
                    recs = sorted(data[i:i + width] for i in range(0, len(data), width))
                    del data
                    last = None
                    kept = []
                    for r in recs:
                        d = r[:size]
                        if d != last:
                            kept.append(r)
                            fan[int.from_bytes(d[:2], "big") + 1] += 1
                            last = d
                    out.write(b"".join(kept))
                    count += len(kept)
                out.seek(len(MAGIC))
                out.write(struct.pack("<BQ", size, count))
            for i in range(1, _FAN + 1):
                fan[i] += fan[i - 1]
            with open(fan_path, "wb") as fh:
                fh.write(fan.tobytes() if struct.pack("=H", 1) == struct.pack("<H", 1) else _little(fan))
            os.replace(partial, idx_path)
            return count
        finally:
            self.close()

    def close(self) -> None:
        for run in self._runs:
            if not run.closed:
                run.close()
        self._tmp.cleanup()


def build(folder: Path, algorithm: str, records: Iterable[tuple[bytes, int]]) -> int:
    """Write the index of ``records`` (digest, category number) into ``folder``; returns how
    many distinct digests it holds (see :class:`IndexBuilder`)."""
    builder = IndexBuilder(folder, algorithm)
    try:
        for digest, category in records:
            builder.add(digest, category)
    except BaseException:
        builder.close()
        raise
    return builder.finish()


def _little(fan: array) -> bytes:
    fan = array("Q", fan)
    fan.byteswap()
    return fan.tobytes()


_HEADER = len(MAGIC) + struct.calcsize("<BQ")
_SCAN = 256            # records searched in one slice rather than halved further (a few KB)


class DigestIndex:
    """An index opened read-only: :meth:`get` gives a digest's category number, or None."""

    def __init__(self, folder: Path, algorithm: str) -> None:
        idx_path, fan_path = index_paths(folder, algorithm)
        self.algorithm = algorithm
        self.size = DIGEST_SIZE[algorithm]
        self.width = self.size + CATEGORY_SIZE
        with open(idx_path, "rb") as fh:
            head = fh.read(_HEADER)
            if head[:len(MAGIC)] != MAGIC:
                raise ValueError(f"{idx_path} is not a hash set index")
            size, self.count = struct.unpack("<BQ", head[len(MAGIC):])
            if size != self.size:
                raise ValueError(f"{idx_path} holds {size}-byte digests, not {algorithm}")
            length = os.fstat(fh.fileno()).st_size
            if length != _HEADER + self.count * self.width:
                raise ValueError(f"{idx_path} is {length} bytes, not the {self.count} records its header says")
            self._mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if self.count else None
        fan = array("Q")
        with open(fan_path, "rb") as fh:
            fan.frombytes(fh.read())
        if struct.pack("=H", 1) != struct.pack("<H", 1):
            fan.byteswap()
        if len(fan) != _FAN + 1 or fan[-1] != self.count:
            raise ValueError(f"{fan_path} does not match {idx_path}")
        self._fan = fan

    def get(self, digest: bytes) -> int | None:
        mm = self._mm
        if mm is None or len(digest) != self.size:
            return None
        prefix = (digest[0] << 8) | digest[1]
        lo, hi = self._fan[prefix], self._fan[prefix + 1]
        width, size, base = self.width, self.size, _HEADER
        while hi - lo > _SCAN:                 # a large bucket: halve it down to a short run
            mid = (lo + hi) >> 1
            at = base + mid * width
            if mm[at:at + size] <= digest:
                lo = mid
            else:
                hi = mid
        # the short run, read in one slice and searched in C (a match must start a record)
        run = mm[base + lo * width:base + hi * width]
        pos = run.find(digest)
        while pos != -1:
            if pos % width == 0:
                return int.from_bytes(run[pos + size:pos + width], "big")
            pos = run.find(digest, pos + 1)
        return None

    def close(self) -> None:
        if self._mm is not None:
            self._mm.close()
            self._mm = None
