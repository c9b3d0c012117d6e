"""Android backups (``adb backup`` ``.ab`` files), with or without a password.

Layout: four header lines ``ANDROID BACKUP`` / version (1-5) / compressed (0|1) /
encryption (``none`` | ``AES-256``); when encrypted, five more lines: the user password
salt, the master key checksum salt, the PBKDF2 rounds, the user IV and the master key blob
(hex). Then the payload: (AES-256-CBC with the master key) of (zlib, when compressed) of a
TAR whose members are ``apps/<package>/<domain>/...``, mapped to device paths by
:func:`forensic.devicepath.android_backup_path`.

The password opens the master key blob: the user key is PBKDF2-HMAC-SHA1(password, user
salt, rounds, 32 bytes); the blob, AES-256-CBC-decrypted with it, holds the master IV, the
master key and a checksum of the key (PBKDF2 of the key's bytes as Java chars: a wrong
password fails that check). Decryption uses the ``cryptography`` library's primitives: the
one PyPI package for the format (``android-backup``, last released 2018) is unmaintained.

The payload is decrypted and inflated as a stream into a spooled copy of the TAR (memory up
to 64 MiB, then a temporary file; never the whole in memory), capped like any archive
(:class:`forensic.limits.Limits`: a zlib bomb stops at the budget, with a warning), and the
copy is walked as a TAR. Opening checks the header, the password and the first bytes of the
payload; the payload is inflated when the walk starts.
"""
from __future__ import annotations

import hashlib
import posixpath
import tempfile
import threading
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator, cast

from forensic.devicepath import android_backup_path
from forensic.entry import FileEntry
from forensic.errors import CorruptSourceError, PasswordError
from forensic.limits import DEFAULT_LIMITS, Limits
from forensic.locator import Locator, safe_name
from forensic.sources.archive import TarSource
from forensic.sources.base import PositionalReader, Source

MAGIC = b"ANDROID BACKUP\n"
_MAX_LINE = 4096        # a header line longer than this is no Android backup header


def looks_like_android_backup(head: bytes) -> bool:
    return head.startswith(MAGIC)


@dataclass(slots=True)
class Header:
    version: int
    compressed: bool
    encryption: str
    data_offset: int
    user_salt: bytes = b""
    ck_salt: bytes = b""
    rounds: int = 0
    user_iv: bytes = b""
    mk_blob: bytes = b""

    def to_json(self) -> dict:
        out: dict = {"version": self.version, "compressed": self.compressed, "encryption": self.encryption}
        if self.encryption != "none":
            out["pbkdf2_rounds"] = self.rounds
        return out


def read_header(fh: BinaryIO, label: str) -> Header:
    """The header of the backup at the start of ``fh``; CorruptSourceError if it is damaged."""
    fh.seek(0)
    offset = 0

    def line() -> str:
        nonlocal offset
        raw = fh.readline(_MAX_LINE)
        if not raw.endswith(b"\n"):
            raise CorruptSourceError(f"{label}: Android backup header truncated or damaged",
                                     hint="the file may be truncated; a backup starts with four text lines")
        offset += len(raw)
        return raw[:-1].decode("ascii", "replace").strip()

    if fh.readline(len(MAGIC)) != MAGIC:
        raise CorruptSourceError(f"{label}: not an Android backup (no 'ANDROID BACKUP' header)")
    offset = len(MAGIC)
    version_text, compressed_text, encryption = line(), line(), line()
    if not version_text.isdigit() or not 1 <= int(version_text) <= 5:
        raise CorruptSourceError(f"{label}: Android backup version {version_text[:20]!r} is not one this tool reads "
                                 "(1 to 5)")
    if compressed_text not in ("0", "1"):
        raise CorruptSourceError(f"{label}: Android backup header damaged (compression flag "
                                 f"{compressed_text[:20]!r})")
    header = Header(int(version_text), compressed_text == "1", encryption, offset)
    if encryption == "none":
        header.data_offset = offset
        return header
    if encryption != "AES-256":
        raise CorruptSourceError(f"{label}: Android backup encryption {encryption[:40]!r} is unknown",
                                 hint="known: none, AES-256")
    try:
        header.user_salt, header.ck_salt = bytes.fromhex(line()), bytes.fromhex(line())
        rounds = line()
        header.rounds = int(rounds)
        header.user_iv, header.mk_blob = bytes.fromhex(line()), bytes.fromhex(line())
    except ValueError as exc:
        raise CorruptSourceError(f"{label}: Android backup encryption header damaged ({exc})") from exc
    if not 1 <= header.rounds <= 10_000_000 or len(header.user_iv) != 16:
        raise CorruptSourceError(f"{label}: Android backup encryption header damaged (rounds {header.rounds}, "
                                 f"IV of {len(header.user_iv)} bytes)")
    header.data_offset = offset
    return header


def _java_chars(key: bytes, utf8: bool) -> bytes:
    """The master key's bytes as Java turned them into a char[] for PBKDF2: each signed byte
    cast to a char (0x80-0xFF become U+FF80-U+FFFF), then UTF-8 encoded (version 2 on) or
    cut to its low 8 bits (version 1)."""
    if not utf8:
        return key
    return "".join(chr(b) if b < 0x80 else chr(0xFF00 | b) for b in key).encode("utf-8")


def master_key(header: Header, password: bytes | None, label: str) -> tuple[bytes, bytes]:
    """The master key and IV of an encrypted backup; PasswordError without the right password."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    if password is None:
        raise PasswordError(f"{label}: the Android backup is encrypted and no password was given",
                            hint="pass --password-file FILE (the password on its first line)")
    user_key = hashlib.pbkdf2_hmac("sha1", password, header.user_salt, header.rounds, 32)
    wrong = PasswordError(f"{label}: wrong password for the encrypted Android backup",
                          hint="check the file given with --password-file")
    try:
        dec = Cipher(algorithms.AES(user_key), modes.CBC(header.user_iv)).decryptor()
        unpad = padding.PKCS7(128).unpadder()
        blob = unpad.update(dec.update(header.mk_blob) + dec.finalize()) + unpad.finalize()
    except ValueError as exc:
        raise wrong from exc
    parts, pos = [], 0
    for _ in range(3):
        if pos >= len(blob):
            raise wrong
        n = blob[pos]
        parts.append(blob[pos + 1:pos + 1 + n])
        pos += 1 + n
    iv, key, checksum = parts
    if len(key) != 32 or len(iv) != 16:
        raise wrong
    computed = hashlib.pbkdf2_hmac("sha1", _java_chars(key, header.version >= 2), header.ck_salt, header.rounds,
                                   len(checksum) or 32)
    if computed != checksum:
        # version 2+ backups made by some tools use the 8-bit form: accept either
        if hashlib.pbkdf2_hmac("sha1", key, header.ck_salt, header.rounds, len(checksum) or 32) != checksum:
            raise wrong
    return key, iv


class _Payload:
    """The backup's TAR bytes as a stream: decrypted (when encrypted) and inflated (when
    compressed) chunk by chunk, each inflation bounded so that a bomb cannot fill memory."""

    def __init__(self, fh: BinaryIO, header: Header, key: tuple[bytes, bytes] | None, chunk: int) -> None:
        self.fh = fh
        self.chunk = chunk
        self.header = header
        fh.seek(header.data_offset)
        self.decryptor = self.unpadder = None
        if key is not None:
            from cryptography.hazmat.primitives import padding
            from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
            self.decryptor = Cipher(algorithms.AES(key[0]), modes.CBC(key[1])).decryptor()
            self.unpadder = padding.PKCS7(128).unpadder()
        self.inflater = zlib.decompressobj() if header.compressed else None
        self.pending = b""        # compressed bytes not yet inflated (a bounded inflation's tail)
        self.raw_done = False
        self.problem: str | None = None      # damage met (the bytes before it are kept)

    def _raw(self) -> bytes:
        """The next chunk of the payload as stored, decrypted; b'' at its end."""
        if self.raw_done:
            return b""
        data = self.fh.read(self.chunk)
        if self.decryptor is None or self.unpadder is None:
            if not data:
                self.raw_done = True
            return data
        if data:
            return self.unpadder.update(self.decryptor.update(data))
        self.raw_done = True
        try:
            return self.unpadder.update(self.decryptor.finalize()) + self.unpadder.finalize()
        except ValueError:
            self.problem = "the encrypted payload is truncated or damaged (its last block does not decrypt)"
            return b""

    def read(self) -> bytes:
        """The next piece of the TAR; b'' at its end (or at damage: see ``problem``)."""
        if self.problem is not None:
            return b""
        if self.inflater is None:
            return self._raw()
        while True:
            if not self.pending:
                if self.inflater.eof:
                    return b""
                self.pending = self._raw()
                if not self.pending:
                    if not self.inflater.eof:
                        self.problem = "the compressed payload ends early (truncated backup)"
                    return b""
            try:
                out = self.inflater.decompress(self.pending, self.chunk)
            except zlib.error as exc:
                self.problem = f"the compressed payload is damaged ({exc})"
                return b""
            self.pending = self.inflater.unconsumed_tail
            if out:
                return out


class _Span(PositionalReader):
    """One member's bytes in the spooled TAR, read by position under the spool's lock."""

    WHAT = "backup member read"

    def __init__(self, spool: BinaryIO, lock: threading.Lock, offset: int, size: int) -> None:
        super().__init__(size)
        self.spool, self.lock, self.offset = spool, lock, offset

    def read_at(self, offset: int, n: int) -> bytes:
        with self.lock:
            self.spool.seek(self.offset + offset)
            return self.spool.read(n)


def _span_opener(spool: BinaryIO, lock: threading.Lock, offset: int, size: int) -> Callable[[], BinaryIO]:
    return lambda: cast(BinaryIO, _Span(spool, lock, offset, size))


class AndroidBackupSource(Source):
    FORMAT = "android-backup"

    def __init__(self, fh: BinaryIO, locator: Locator, size: int, password: bytes | None = None,
                 limits: Limits = DEFAULT_LIMITS, label: str = "") -> None:
        super().__init__(locator, limits)
        self.fh = fh
        self.size = size
        self.label = label or str(locator)
        self.header = read_header(fh, self.label)
        self.key = master_key(self.header, password, self.label) if self.header.encryption != "none" else None
        self.details["android_backup"] = self.header.to_json()
        # the first bytes of the payload must decrypt and inflate: a damaged backup is said now
        probe = _Payload(fh, self.header, self.key, 64 << 10)
        first = probe.read()
        if probe.problem is not None or (not first and self.header.compressed):
            raise CorruptSourceError(f"{self.label}: Android backup payload unreadable: "
                                     f"{probe.problem or 'it is empty'}",
                                     hint="the file may be truncated or damaged")
        self.tar: TarSource | None = None

    def _spool(self) -> BinaryIO:
        """The TAR, inflated into a temporary copy within the archive budget."""
        budget = max(self.limits.archive_min_budget, self.limits.archive_ratio * max(self.size, 1))
        out = cast(BinaryIO, tempfile.SpooledTemporaryFile(max_size=64 << 20, prefix="forensic-ab-"))
        payload = _Payload(self.fh, self.header, self.key, self.limits.chunk)
        total = 0
        try:
            while data := payload.read():
                total += len(data)
                if total > budget:
                    self.warnings.append(f"backup expands past {budget:,} bytes: zlib bomb suspected; "
                                         "the members past that are not listed")
                    break
                out.write(data)
        except OSError as exc:
            self.warnings.append(f"reading the backup failed after {total:,} bytes: {exc}")
        except BaseException:
            out.close()
            raise
        if payload.problem is not None:
            self.warnings.append(f"{payload.problem}: the members before it are listed")
        out.seek(0)
        return out

    def entries(self) -> Iterator[FileEntry]:
        spooled = self._spool()
        try:
            self.tar = TarSource(spooled, self.locator, self.size, self.limits, self.label)
        except CorruptSourceError as exc:
            spooled.close()
            self.warnings.append(f"the backup's payload is not a readable TAR: {exc}")
            return
        self.tar.owned.append(spooled)
        self.tar.warnings = self.warnings        # its warnings are the source's
        lock = threading.Lock()
        for entry in self.tar.entries():
            walked = getattr(self.tar.tf, "members", None)      # TarFile keeps the TarInfos met so far
            ti = walked[-1] if walked else None
            if entry.opener is not None and ti is not None and ti.isreg() and not ti.sparse \
                    and safe_name(ti.name)[0] == entry.path:
                # read by position under a lock: members may be read in any order, from any
                # thread (a TAR's own member readers share one file position)
                entry.opener = _span_opener(spooled, lock, ti.offset_data, ti.size)
            device = android_backup_path(entry.path)
            if device is not None:               # the locator keeps the member's own name
                entry.path = device
                entry.name = posixpath.basename(device)
            yield entry

    def close(self) -> None:
        try:
            if self.tar is not None:
                self.tar.close()
        finally:
            super().close()
