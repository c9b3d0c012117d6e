"""The bundle file writer: hashes and writes in a background thread, in order; a failed
write is not lost in the thread but raised to the export (which then deletes the partial)."""
from __future__ import annotations

import hashlib
import io
import os

import pytest

from forensic.exporters.bundle import _HashingWriter


def test_writes_in_order_and_hashes_what_it_wrote(tmp_path):
    path = tmp_path / "out.bin"
    pieces = [os.urandom(n) for n in (10, 3 << 20, 1, 70_000, (1 << 20) - 1, 5 << 20, 2)]
    with _HashingWriter(open(path, "wb")) as w:
        for i, piece in enumerate(pieces):
            w.write(bytearray(piece) if i % 2 else piece)   # a reusable buffer is copied
            if i == 3:
                w.sync_soon()
        assert w.tell() == sum(map(len, pieces))
    data = path.read_bytes()
    assert data == b"".join(pieces)
    assert w.digest == hashlib.sha256(data).hexdigest()


class _DiskFull(io.RawIOBase):
    def __init__(self, room: int) -> None:
        self.room = room

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        if len(b) > self.room:
            raise OSError(28, "No space left on device")
        self.room -= len(b)
        return len(b)

    def fileno(self) -> int:
        raise OSError("no descriptor")


def test_a_failed_write_is_raised_not_lost():
    w = _HashingWriter(_DiskFull(room=3 << 20))
    with pytest.raises(OSError, match="No space left"):
        for _ in range(64):                  # fails in the thread; seen by a later write
            w.write(os.urandom(1 << 20))
        w.close()
    assert w.digest is None                  # never reports a hash of a bundle not written
    w._pool.shutdown(wait=True)


def test_flushes_to_disk_while_it_writes(tmp_path, monkeypatch):
    flushed = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (flushed.append(os.fstat(fd).st_size), real(fd)))
    monkeypatch.setattr(_HashingWriter, "SYNC_EVERY", 2 << 20)
    path = tmp_path / "out.bin"
    with _HashingWriter(open(path, "wb")) as w:
        for _ in range(9):
            w.write(os.urandom(1 << 20))
        w._drain()
        w._syncing.result()
    assert flushed and all(size <= 9 << 20 for size in flushed) and flushed[0] >= 2 << 20
    assert w.digest == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_failed_flush_is_raised_not_lost(tmp_path, monkeypatch):
    def eio(fd):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(os, "fdatasync", eio)
    monkeypatch.setattr(_HashingWriter, "SYNC_EVERY", 1 << 20)
    w = _HashingWriter(open(tmp_path / "out.bin", "wb"))
    with pytest.raises(OSError, match="Input/output error"):
        for _ in range(4):
            w.write(os.urandom(1 << 20))
        w.close()
    assert w.digest is None
    w._pool.shutdown(wait=True)
    w._syncer.shutdown(wait=True)


def test_small_writes_kept_or_copied_come_out_in_order(tmp_path):
    import random
    rng = random.Random(1)
    path = tmp_path / "out.bin"
    expected = bytearray()
    reused = bytearray(300_000)
    with _HashingWriter(open(path, "wb")) as w:
        for _ in range(400):
            n = rng.choice((1, 30, 4000, 20_000, 70_000, 300_000, 1 << 20, 3 << 20))
            piece = os.urandom(n)
            expected += piece
            if n <= len(reused) and rng.random() < 0.5:      # a reusable buffer, changed after the write
                reused[:n] = piece
                w.write(memoryview(reused)[:n])
                reused[:n] = bytes(n)
            else:
                w.write(piece)
    data = path.read_bytes()
    assert data == bytes(expected)
    assert w.digest == hashlib.sha256(data).hexdigest()
