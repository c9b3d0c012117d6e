"""The bundle file writer: hashes and writes in a background thread, in order; a failed
write is not lost in the thread but raised to the export (which then deletes the partial).
The ZIP writer on it: stock zipfile (reproducible bytes) or pyzipper's AESZipFile (WinZip
AES-256, AE-2) that 7-Zip opens with the password and refuses without it."""
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


# -- the ZIP writer (bagit.open_zip): stock zipfile, or pyzipper's AESZipFile as published ----------
class _Stream(io.RawIOBase):
    """A file that cannot seek, as the bundle file is: the writer streams (data descriptors)."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.buf += b
        return len(b)


MEMBERS = {"bag/data/a.txt": b"text " * 5000, "bag/data/empty": b"", "bag/data/photo.jpg": os.urandom(300_000),
           "bag/data/big.bin": os.urandom(3 << 20)}


def _zip(password: bytes | None) -> bytes:
    from forensic.exporters import bagit
    out = _Stream()
    with bagit.open_zip(out, password) as zf:
        for name, data in MEMBERS.items():
            if name.endswith("big.bin"):           # streamed, as evidence is
                with zf.open(bagit.member_info(zf, name, compress=False), "w") as dst:
                    for i in range(0, len(data), 1 << 20):
                        dst.write(data[i:i + (1 << 20)])
            else:
                bagit.write_member(zf, name, data, compress=name.endswith(".txt"))
    return bytes(out.buf)


def test_plain_zips_are_reproducible_and_read_by_any_zip_reader():
    import zipfile
    a, b = _zip(None), _zip(None)
    assert a == b                                    # fixed times, attributes, order
    with zipfile.ZipFile(io.BytesIO(a)) as zf:
        assert zf.testzip() is None
        assert {i.filename: zf.read(i) for i in zf.infolist()} == MEMBERS
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) and i.external_attr >> 16 == 0o100644
                   for i in zf.infolist())
        assert zf.getinfo("bag/data/a.txt").compress_type == zipfile.ZIP_DEFLATED
        assert zf.getinfo("bag/data/photo.jpg").compress_type == zipfile.ZIP_STORED


def test_encrypted_zips_are_winzip_aes_256_ae2_and_need_the_password(tmp_path):
    import zipfile

    import pyzipper
    data = _zip(b"correct horse")
    assert _zip(b"correct horse") != data            # a fresh random salt per member
    for secret in (b"text text", MEMBERS["bag/data/photo.jpg"][:64]):
        assert secret not in data
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        assert all(i.flag_bits & 1 and i.compress_type == 99 and i.CRC == 0 for i in infos)   # AE-2: no CRC
    with pyzipper.AESZipFile(io.BytesIO(data)) as zf:
        zf.setpassword(b"correct horse")
        assert all(i.wz_aes_version == 2 and i.wz_aes_strength == 3 for i in zf.infolist())
        assert {i.filename: zf.read(i) for i in zf.infolist()} == MEMBERS
        zf.setpassword(b"wrong")
        with pytest.raises(RuntimeError, match="Bad password"):
            zf.read("bag/data/a.txt")


def test_encrypted_zips_open_in_7zip(tmp_path):
    import shutil
    import subprocess
    seven = shutil.which("7zz") or shutil.which("7z")
    if seven is None:
        pytest.skip("7-Zip not installed")
    path = tmp_path / "enc.zip"
    path.write_bytes(_zip(b"correct horse"))
    ok = subprocess.run([seven, "t", "-pcorrect horse", str(path)], capture_output=True, text=True)
    assert ok.returncode == 0 and "Everything is Ok" in ok.stdout, ok.stdout + ok.stderr
    bad = subprocess.run([seven, "t", "-pwrong horse", str(path)], capture_output=True, text=True)
    assert bad.returncode != 0 and "Wrong password" in bad.stdout + bad.stderr
    run = subprocess.run([seven, "x", "-y", "-pcorrect horse", f"-o{tmp_path / 'x'}", str(path)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert {n: (tmp_path / "x" / n).read_bytes() for n in MEMBERS} == MEMBERS
