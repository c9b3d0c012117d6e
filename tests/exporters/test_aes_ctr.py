"""WinZip AES's AES-256-CTR (128-bit little-endian counter) made from OpenSSL's AES-ECB
(forensic.exporters.bagit.AesCtrLE): byte for byte pycryptodome's LE CTR -- which pyzipper and
every reader of the format follow -- whatever the split of the data into writes, from
any counter (page boundaries, the carry past 2**64, the wrap at 2**128), with streams
interleaved in one thread and run in several; and an encrypted ZIP reads back."""
from __future__ import annotations

import io
import itertools
import os
import shutil
import subprocess
import threading

import pytest
from Cryptodome.Cipher import AES
from Cryptodome.Util import Counter
from hypothesis import given, settings
from hypothesis import strategies as st

from forensic.exporters.bagit import AesCtrLE, member_info, open_zip

PAGE = 1 << 16          # counter blocks per page (AesCtrLE's layout: worth hitting its edges)
COUNTERS = [1, 0, 2, PAGE - 1, PAGE, 3 * PAGE - 5, (1 << 24) - 2, (1 << 64) - 1, (1 << 64) - 7,
            (1 << 64) - 2 * PAGE - 3, (1 << 64) + 1, (1 << 120) + 5, (1 << 128) - 3,
            (1 << 128) - PAGE - 1]


def reference(key: bytes, counter: int = 1):
    return AES.new(key, AES.MODE_CTR, counter=Counter.new(128, little_endian=True, initial_value=counter))


def splits(total: int, cuts: list[int]) -> list[int]:
    points = sorted({c % (total + 1) for c in cuts} | {0, total})
    return [b - a for a, b in itertools.pairwise(points)]


@settings(max_examples=150, deadline=None)
@given(key=st.binary(min_size=32, max_size=32),
       counter=st.one_of(st.sampled_from(COUNTERS), st.integers(0, (1 << 128) - 1)),
       total=st.integers(0, 70_000),
       cuts=st.lists(st.integers(0, 70_000), max_size=12),
       empties=st.booleans())
def test_any_split_matches_pycryptodome(key, counter, total, cuts, empties):
    data = os.urandom(total)
    ref, ours = reference(key, counter), AesCtrLE(key, counter)
    pos = 0
    for n in splits(total, cuts):
        piece = data[pos:pos + n]
        pos += n
        got = ours.encrypt(piece)
        assert type(got) is bytes
        assert got == ref.encrypt(piece)
        if empties:
            assert ours.encrypt(b"") == b""
    assert ours.encrypt(b"tail") == ref.encrypt(b"tail")     # the state after all of them


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(0, 300), min_size=1, max_size=60),
       counter=st.sampled_from(COUNTERS))
def test_many_small_writes(sizes, counter):
    """ZIP headers: tens of bytes each, served mostly from keystream made ahead."""
    key = os.urandom(32)
    ref, ours = reference(key, counter), AesCtrLE(key, counter)
    for n in sizes:
        piece = os.urandom(n)
        assert ours.encrypt(piece) == ref.encrypt(piece)


@pytest.mark.parametrize("counter", [1, (1 << 64) - 70_000, (1 << 128) - 100_000])
def test_large_writes_cross_pages_the_64_bit_carry_and_the_wrap(counter):
    """More than 1 MiB in one write (taken 1 MiB at a time), odd sizes, over page
    boundaries; from 2**64 - 70,000 blocks the high word must carry, from 2**128 - 100,000
    the counter wraps to 0 as pycryptodome's does."""
    key = os.urandom(32)
    ref, ours = reference(key, counter), AesCtrLE(key, counter)
    for n in (3, (3 << 20) + 5, 1 << 20, 17, (1 << 20) - 1, 2_000_001):
        piece = os.urandom(n)
        assert ours.encrypt(piece) == ref.encrypt(piece), n


def test_buffers_and_views_as_input():
    key = os.urandom(32)
    ref, ours = reference(key), AesCtrLE(key)
    data = os.urandom(5000)
    for piece in (bytearray(data[:700]), memoryview(data)[700:2000], memoryview(bytearray(data[2000:]))):
        assert ours.encrypt(piece) == ref.encrypt(bytes(piece))
    big = bytearray(os.urandom((1 << 20) + 999))
    assert ours.encrypt(memoryview(big)) == ref.encrypt(bytes(big))


def test_streams_interleaved_in_one_thread():
    """Two streams at different counters share the thread's scratch buffer and page: each
    write must leave nothing behind that the other would use."""
    k1, k2 = os.urandom(32), os.urandom(32)
    r1, r2 = reference(k1), reference(k2, (1 << 64) - 5)
    s1, s2 = AesCtrLE(k1), AesCtrLE(k2, (1 << 64) - 5)
    for n in (10, 1 << 20, 3, 700_000, 1 << 20, 100, (1 << 20) + 3, 5):
        a, b = os.urandom(n), os.urandom(n + 1)
        assert s1.encrypt(a) == r1.encrypt(a)
        assert s2.encrypt(b) == r2.encrypt(b)


def test_streams_in_threads():
    errors = []

    def run(counter: int) -> None:
        try:
            key = os.urandom(32)
            ref, ours = reference(key, counter), AesCtrLE(key, counter)
            for n in (1 << 20, 5, (1 << 20) + 11, 300, 2 << 20):
                piece = os.urandom(n)
                assert ours.encrypt(piece) == ref.encrypt(piece)
        except BaseException as exc:       # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in (1, 5 * PAGE + 3, (1 << 64) - 9, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_encrypted_zip_reads_back(tmp_path):
    """Members written in many pieces (small, odd, over 1 MiB: counters past the first
    page), stored and deflated, an empty one: pyzipper, and 7-Zip where installed, check
    each member's HMAC and its contents (AE-2: CRC 0, none computed)."""
    import pyzipper
    members = {
        "empty": [b""],
        "tiny": [b"x"],
        "pieces": [os.urandom(n) for n in (1, 15, 16, 17, 4000, 1 << 20, 3, (1 << 20) + 7, 0, 9)],
        "text": [b"line of text %d\n" % i for i in range(20_000)],
    }
    buf = io.BytesIO()
    with open_zip(buf, b"pw", members=len(members)) as zf:
        for name, pieces in members.items():
            zi = member_info(zf, name, None, compress=name == "text")
            with zf.open(zi, "w", force_zip64=True) as out:
                for piece in pieces:
                    out.write(piece)
    buf.seek(0)
    with pyzipper.AESZipFile(buf) as zf:
        zf.setpassword(b"pw")
        assert zf.namelist() == list(members)
        for name, pieces in members.items():
            info = zf.getinfo(name)
            assert info.flag_bits & 1 and info.wz_aes_version == 2 and info.wz_aes_strength == 3
            assert info.CRC == 0                            # AE-2: no CRC (it would leak)
            assert zf.read(name) == b"".join(pieces)
    seven = shutil.which("7zz") or shutil.which("7z")
    if seven:
        (tmp_path / "enc.zip").write_bytes(buf.getvalue())
        run = subprocess.run([seven, "x", "-y", "-ppw", f"-o{tmp_path / 'out'}", str(tmp_path / "enc.zip")],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
        for name, pieces in members.items():
            assert (tmp_path / "out" / name).read_bytes() == b"".join(pieces)


def test_member_keys_are_winzip_pbkdf2():
    """Salt and key material per member: PBKDF2-HMAC-SHA1, 1,000 rounds, 66 bytes (AES key,
    HMAC key, 2-byte password check), as hashlib derives them; a fresh salt each time."""
    import hashlib

    from forensic.exporters.bagit import _AesKeys
    keys = _AesKeys(b"correct horse", 3)
    try:
        got = [keys.take() for _ in range(5)]
    finally:
        keys.close()
    assert len({salt for salt, _ in got}) == 5
    for salt, material in got:
        assert len(salt) == 16
        assert material == hashlib.pbkdf2_hmac("sha1", b"correct horse", salt, 1000, 66)
