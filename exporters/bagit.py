"""BagIt 1.0 (RFC 8493) written deterministically, and a deterministic ZIP writer.

``bagit.make_bag`` works on a folder on disk and writes ``Bagging-Date`` and file orders of
its own; a bundle is streamed straight into a ZIP instead, so the tag files are written
here, per the RFC:

* ``bagit.txt``: ``BagIt-Version: 1.0`` and ``Tag-File-Character-Encoding: UTF-8``;
* ``manifest-sha256.txt`` / ``tagmanifest-sha256.txt``: ``<hex digest> <path>`` lines, paths
  relative to the bag, ``/``-separated, with ``%``, CR and LF percent-encoded (section 2.1.3),
  sorted by path;
* ``bag-info.txt``: ``Label: value`` lines (no value spans lines: line breaks in a value are
  replaced by spaces).

ZIP members get a fixed time (1980-01-01 00:00, the earliest a ZIP can hold: a placeholder,
not a file time), fixed permissions (0644 files) and a fixed "made by" system (Unix), so the
same input gives the same bytes. WinZip AES encryption (pyzipper, AE-2, 256-bit keys) draws a
random salt per member: encrypted bundles are reproducible in their decrypted members only.
"""
from __future__ import annotations

import functools
import hashlib
import re
import secrets
import threading
import zipfile
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO, Iterable

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
MANIFEST = "manifest-sha256.txt"
TAGMANIFEST = "tagmanifest-sha256.txt"
BAG_INFO = "bag-info.txt"
BAGIT = "bagit.txt"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_ATTR = (0o100644 << 16)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


# -- manifests --------------------------------------------------------------------------------
def encode_path(path: str) -> str:
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def decode_path(text: str) -> str:
    return text.replace("%0A", "\n").replace("%0a", "\n").replace("%0D", "\r").replace("%0d", "\r") \
        .replace("%25", "%")


def manifest_text(entries: Iterable[tuple[str, str]]) -> bytes:
    """``(path, sha256)`` pairs -> manifest bytes, sorted by path."""
    return "".join(f"{digest}  {encode_path(path)}\n" for path, digest in sorted(entries)).encode("utf-8")


class ManifestError(ValueError):
    pass


def parse_manifest(data: bytes) -> dict[str, str]:
    """Manifest bytes -> {path: digest}; ``ManifestError`` for a malformed line or duplicate."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"not UTF-8: {exc}") from None
    out: dict[str, str] = {}
    # Lines end in LF (or CRLF); str.splitlines would also break at U+0085, U+2028 and the
    # like, which a file name may hold.
    for n, line in enumerate(text.split("\n"), 1):
        line = line[:-1] if line.endswith("\r") else line
        if not line.strip():
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or not _HEX64.match(parts[0].lower()):
            raise ManifestError(f"line {n} is not '<sha256> <path>'")
        path = decode_path(parts[1].lstrip("*").strip(" "))
        if path in out:
            raise ManifestError(f"line {n}: {path!r} is listed twice")
        out[path] = parts[0].lower()
    return out


def bag_info_text(fields: Iterable[tuple[str, str]]) -> bytes:
    lines = []
    for label, value in fields:
        value = " ".join(str(value).splitlines())
        lines.append(f"{label}: {value}\n")
    return "".join(lines).encode("utf-8")


def parse_bag_info(data: bytes) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    last = None
    for line in data.decode("utf-8", "replace").splitlines():
        if line[:1] in (" ", "\t") and last is not None:     # continuation (RFC 8493 2.2.2)
            out[last][-1] += " " + line.strip()
            continue
        if ":" not in line:
            continue
        label, value = line.split(":", 1)
        last = label.strip()
        out.setdefault(last, []).append(value.strip())
    return out


# -- deterministic ZIP ------------------------------------------------------------------------
def open_zip(fileobj: BinaryIO, password: bytes | None = None, members: int | None = None):
    """A ZIP writer: stdlib ``zipfile`` or, with a password, pyzipper's AES (AE-2, 256-bit).
    ``members``: how many encrypted members to expect, if known (keys derived ahead)."""
    if password is None:
        return zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1,
                               allowZip64=True)
    import pyzipper
    zf = _aes_zip_class()(fileobj, "w", compression=pyzipper.ZIP_DEFLATED, compresslevel=1,
                          allowZip64=True)
    zf.setpassword(password)
    zf.setencryption(pyzipper.WZ_AES, nbits=256)
    zf.keys = _AesKeys(password, min(_AES_KEYS_AHEAD, members or _AES_KEYS_AHEAD))
    return zf


# -- WinZip AES (AE-2, 256-bit) -----------------------------------------------------------------
# pyzipper writes the format (headers, the AES extra field, the data descriptor); the member
# encrypter is ours, through pyzipper's encrypter interface (BaseZipEncrypter), for speed:
# the per-member key derivation that AE-x fixes -- PBKDF2-HMAC-SHA1, 1,000 rounds, fresh
# random 16-byte salt -- costs about 1 ms, a real cost for thousands of members, so it is
# done ahead in background threads, by ``cryptography`` (its bundled OpenSSL takes half the
# time of hashlib's OpenSSL 3.0 here; both release the GIL). The HMAC-SHA1 over the
# ciphertext is hashlib's (OpenSSL; ``cryptography``'s is no faster). AES-256-CTR with the
# format's little-endian counter from 1 is :class:`AesCtrLE` (OpenSSL's AES, several times
# pycryptodome's LE CTR that pyzipper uses), and no CRC-32 is computed (AE-2 stores none).
# Tests read every bundle back with pyzipper itself (and 7-Zip where installed).
_AES_KEYS_AHEAD = 64


_CTR_PAGE = 1 << 16       # counter blocks per page: the counter's low 16 bits vary within one
_CTR_SLICE = 1 << 20      # data bytes encrypted per step (bounds the scratch buffer)
_CTR_AHEAD = 256          # keystream bytes made at least per step: small writes share a step
_CTR_XOR_C = 512          # data bytes from which strxor XORs (below, Python ints: cheaper)
_CTR_MASK = (1 << 128) - 1
_ctr_local = threading.local()     # per thread: a scratch keystream buffer and a page past 0


@functools.cache
def _ctr_page0() -> bytes:
    """Counter blocks 0 .. 65,535, 128-bit little-endian (1 MiB, made once)."""
    page = bytearray(16 * _CTR_PAGE)
    page[0::16] = bytes(range(256)) * 256
    page[1::16] = b"".join(bytes((i,)) * 256 for i in range(256))
    return bytes(page)


def _ctr_page(no: int) -> memoryview:
    """Counter blocks ``no * 65536`` .. ``no * 65536 + 65535``: page 0, or this thread's
    copy of it with bytes 2-15 of every block rewritten to ``no`` where they differ from
    the page it held (one strided write per page, mostly)."""
    if not no:
        return memoryview(_ctr_page0())
    local = _ctr_local
    page = getattr(local, "page", None)
    if page is None:
        page = local.page = bytearray(_ctr_page0())
        local.page_no = 0
    if local.page_no != no:
        new, old = no.to_bytes(14, "little"), local.page_no.to_bytes(14, "little")
        for i in range(14):
            if new[i] != old[i]:
                page[2 + i::16] = new[i:i + 1] * _CTR_PAGE
        local.page_no = no
    return memoryview(page)


def _ctr_scratch() -> bytearray:
    """This thread's keystream buffer (allocated once: a fresh 1 MiB per member or per
    write costs page faults as soon as the allocator hands out new pages)."""
    buf = getattr(_ctr_local, "buf", None)
    if buf is None:
        buf = _ctr_local.buf = bytearray(_CTR_SLICE + _CTR_AHEAD + 64)
    return buf


@functools.cache
def _ctr_libs():
    from Cryptodome.Util.strxor import strxor
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    return Cipher, algorithms.AES, modes.ECB, strxor


class AesCtrLE:
    """AES-CTR with a 128-bit little-endian counter (WinZip AES: from 1), byte for byte what
    pycryptodome's ``AES.new(key, AES.MODE_CTR, counter=Counter.new(128, little_endian=True,
    initial_value=counter))`` gives (wrapping at 2**128 as it does), several times faster.

    OpenSSL's CTR counts big-endian, so the counter blocks are made here, in bulk, and
    encrypted with OpenSSL's AES-ECB (``cryptography``, AES-NI), one call per run of blocks,
    then XORed with the data (pycryptodome's ``strxor``; Python ints for a few bytes).
    Counter ``c`` is block ``c % 65536`` of page ``c >> 16`` (see :func:`_ctr_page`: carries
    past 2**64 are the page number's). At least 256 bytes of keystream are made at a time
    and what a write leaves over serves the next, so small writes (ZIP headers, tiny
    members) mostly cost a slice and an XOR; data is taken 1 MiB at a time (memory bound).
    Not thread-safe (one stream, one writer); scratch memory is per thread."""

    __slots__ = ("_ecb", "_next", "_spare")

    def __init__(self, key: bytes, counter: int = 1) -> None:
        cipher, aes, ecb, _ = _ctr_libs()
        self._ecb = cipher(aes(key), ecb()).encryptor()
        self._next = counter & _CTR_MASK        # the counter of the next block to encrypt
        self._spare = b""                       # keystream made and not used yet

    def encrypt(self, data) -> bytes:
        n = len(data)
        if n <= _CTR_SLICE:
            return self._encrypt(data)
        view = memoryview(data).cast("B")
        return b"".join([self._encrypt(view[i:i + _CTR_SLICE]) for i in range(0, n, _CTR_SLICE)])

    def _encrypt(self, data) -> bytes:
        n = len(data)
        spare = self._spare
        if n <= len(spare):
            self._spare = spare[n:]
            return (int.from_bytes(data, "little") ^ int.from_bytes(spare[:n], "little")).to_bytes(n, "little")
        s = len(spare)
        blocks = max(n - s + 15, _CTR_AHEAD) >> 4
        end = s + 16 * blocks
        view = memoryview(_ctr_scratch())
        view[:s] = spare
        self._keystream(view[s:], blocks)
        self._spare = bytes(view[n:end])
        out = view[:n]
        if n < _CTR_XOR_C:
            return (int.from_bytes(data, "little") ^ int.from_bytes(out, "little")).to_bytes(n, "little")
        _ctr_libs()[3](data, out, output=out)           # strxor
        return bytes(out)

    def _keystream(self, out: memoryview, blocks: int) -> None:
        """The next ``blocks`` keystream blocks into ``out`` (with 15 bytes to spare after
        them, as ECB's ``update_into`` wants)."""
        c = self._next
        pos = 0
        while blocks:
            off = c & (_CTR_PAGE - 1)
            take = min(blocks, _CTR_PAGE - off)
            self._ecb.update_into(_ctr_page(c >> 16)[16 * off:16 * (off + take)], out[pos:])
            pos += 16 * take
            blocks -= take
            c = (c + take) & _CTR_MASK
        self._next = c


@functools.cache
def _kdf_libs():
    from cryptography.hazmat.primitives.hashes import SHA1
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
    return PBKDF2HMAC, SHA1


def member_key(password: bytes, salt: bytes) -> bytes:
    """A member's AE-x key material, 256-bit: AES key, HMAC key, 2-byte password check
    (PBKDF2-HMAC-SHA1, 1,000 rounds, 66 bytes)."""
    pbkdf2, sha1 = _kdf_libs()
    return pbkdf2(sha1(), 2 * 32 + 2, salt, 1000).derive(password)


class _AesKeys:
    """Salts and derived keys for the members to come, computed ahead (see above)."""

    def __init__(self, password: bytes, ahead: int) -> None:
        self._password = password
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="aes-keys")
        self._ahead = deque(self._pool.submit(self._derive) for _ in range(max(1, ahead)))

    def _derive(self) -> tuple[bytes, bytes]:
        salt = secrets.token_bytes(16)
        return salt, member_key(self._password, salt)

    def take(self) -> tuple[bytes, bytes]:
        future = self._ahead.popleft()
        self._ahead.append(self._pool.submit(self._derive))
        return future.result()

    def close(self) -> None:
        # waits for the derivations already running (a millisecond or so): no thread of the
        # export outlives it (the next export in this process can then fork, see bundle.py)
        self._pool.shutdown(wait=True, cancel_futures=True)


@functools.cache
def _aes_zip_class():
    import hmac

    import pyzipper
    from pyzipper.zipfile_aes import WZ_AES_V2, WZ_AES_VENDOR_ID, BaseZipEncrypter

    class AE2Encrypter(BaseZipEncrypter):
        def __init__(self, salt: bytes, key_material: bytes) -> None:
            self.salt = salt
            self.pwd_verify = key_material[64:66]
            self.aes = AesCtrLE(key_material[:32])
            self.mac = hmac.new(key_material[32:64], digestmod=hashlib.sha1)

        def update_zipinfo(self, zipinfo) -> None:
            zipinfo.wz_aes_vendor_id = WZ_AES_VENDOR_ID
            zipinfo.wz_aes_strength = 3                 # 256-bit
            zipinfo.wz_aes_version = WZ_AES_V2          # no CRC: it would leak small contents

        def finalize_zipinfo(self, zipinfo) -> None:
            pass

        def encryption_header(self) -> bytes:
            return self.salt + self.pwd_verify

        def encrypt(self, data: bytes) -> bytes:
            data = self.aes.encrypt(data)
            self.mac.update(data)
            return data

        def flush(self) -> bytes:
            return self.mac.digest()[:10]

    class AE2WriteFile(pyzipper.zipfile._ZipWriteFile):
        """pyzipper's member writer, less its CRC-32 of the plaintext for an AE-2 member:
        AE-2 stores 0 in its place (pyzipper writes 0 in the headers and data descriptor
        whatever it computed), so computing it (~0.3 ms a MiB here) would be work thrown
        away."""

        def write(self, data) -> int:
            if type(self._encrypter) is not AE2Encrypter:
                return super().write(data)
            if self.closed:
                raise ValueError("I/O operation on closed file.")
            nbytes = len(data)
            self._file_size += nbytes
            if self._compressor:
                data = self._compressor.compress(data)
            data = self._encrypter.encrypt(data)
            self._compress_size += len(data)
            self._fileobj.write(data)
            return nbytes

    class AesZipFile(pyzipper.AESZipFile):
        keys: _AesKeys
        zipwritefile_cls = AE2WriteFile

        def get_encrypter(self):
            return AE2Encrypter(*self.keys.take())

        def close(self) -> None:
            try:
                super().close()
            finally:
                keys = getattr(self, "keys", None)
                if keys is not None:
                    keys.close()

    return AesZipFile


COMPRESS_LEVEL = 1


def member_info(zf, name: str, size: int | None, compress: bool):
    cls = getattr(zf, "zipinfo_cls", zipfile.ZipInfo)
    zi = cls(name, ZIP_EPOCH)
    zi.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    if compress:       # fast deflate: generated JSON/CSV/HTML compress well even at level 1
        for attr in ("compress_level", "_compresslevel"):    # Python >= 3.13 / <= 3.12
            try:
                setattr(zi, attr, COMPRESS_LEVEL)
                break
            except AttributeError:
                continue
    zi.external_attr = FILE_ATTR
    zi.create_system = 3
    if size is not None:
        zi.file_size = size
    return zi


def write_member(zf, name: str, data: bytes, compress: bool = True) -> None:
    zi = member_info(zf, name, len(data), compress)
    with zf.open(zi, "w", force_zip64=len(data) > (1 << 31)) as out:
        out.write(data)
