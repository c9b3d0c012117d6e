"""ZIP and TAR archives, as sources of their own or nested inside another source.

Members are streamed from the archive, never extracted to disk by their names. Names
that climb out of the archive (``../``, absolute paths) and duplicate names are recorded
as given, with a warning. Output is capped (entries, bytes, nesting): a zip bomb becomes
a warning, not an exhausted disk or memory.
"""
from __future__ import annotations

import importlib
import io
import posixpath
import tarfile
import zipfile
from datetime import datetime, timezone
from types import ModuleType
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterator, Protocol, cast

from forensic.entry import FileEntry
from forensic.errors import CorruptSourceError, PasswordError
from forensic.limits import DEFAULT_LIMITS, Limits
from forensic.locator import Locator, safe_name
from forensic.sources.base import Source

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


def _pyzipper() -> ModuleType:
    """pyzipper (and the crypto it loads) only when a ZIP is met: it costs a command 35 ms."""
    return importlib.import_module("pyzipper")


def bad_zip(*more: type[Exception]) -> tuple[type[Exception], ...]:
    """pyzipper carries its own copy of the zipfile module: both kinds of BadZipFile occur
    (with ``more``: those exception types too, for one ``except`` clause)."""
    return (zipfile.BadZipFile, _pyzipper().zipfile.BadZipFile, *more)


ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


def looks_like_zip(head: bytes) -> bool:
    return head[:4] in ZIP_MAGICS


def looks_like_tar(head: bytes) -> bool:
    if len(head) >= 262 and head[257:262] == b"ustar":
        return True
    return False


def looks_like_gzip(head: bytes) -> bool:
    return head[:2] == b"\x1f\x8b"


class BombError(OSError):
    pass


class _Budget:
    """Bytes an archive may expand to, shared by all its members.

    A member that would take the archive past the budget is abandoned (listed, not hashed,
    with a warning). Its bytes are given back for the first few such members, so that one
    bomb member does not hide the ordinary files after it; past that, the budget stays spent
    and the work an archive can cause is bounded by (MAX_REFUNDS + 1) x limit."""

    MAX_REFUNDS = 3

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.refunds = 0


class _Readable(Protocol):
    def read(self, n: int, /) -> bytes: ...

    def close(self) -> None: ...


class CappedReader(io.RawIOBase):
    """Reads at most what the archive's budget allows; past it, raises BombError."""

    def __init__(self, raw: _Readable, budget: _Budget) -> None:
        self.raw = raw
        self.budget = budget
        self.taken = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: WriteableBuffer, /) -> int:
        view = memoryview(b).cast("B")
        data = self.read(len(view))
        n = len(data)
        view[:n] = data
        return n

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            n = 1 << 20
        data = self.raw.read(n)
        budget = self.budget
        budget.used += len(data)
        self.taken += len(data)
        if budget.used > budget.limit:
            if budget.refunds < budget.MAX_REFUNDS:
                budget.refunds += 1
                budget.used -= self.taken
                self.taken = 0
            raise BombError(f"archive expands past {self.budget.limit:,} bytes: zip bomb suspected; "
                            "member not fully read")
        return data

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            super().close()


def _check_name(name: str, seen: dict[str, int], entry: FileEntry) -> str:
    """Returns the locator label for a member name (unique), warning on hostile names."""
    norm = posixpath.normpath(name.replace("\\", "/")) if name else name
    if name.startswith(("/", "\\")) or norm == ".." or norm.startswith("../") or (len(name) > 1 and name[1] == ":"):
        entry.warnings.append("member name points outside the archive (path traversal); "
                              "recorded as given, never extracted")
    count = seen.get(name, 0) + 1
    seen[name] = count
    if count > 1:
        entry.warnings.append(f"duplicate member name (occurrence {count})")
        return f"{name} [{count}]"
    return name


class ZipSource(Source):
    FORMAT = "zip"

    def __init__(self, fileobj: BinaryIO, locator: Locator, size: int, password: bytes | None = None,
                 limits: Limits = DEFAULT_LIMITS, label: str = "") -> None:
        super().__init__(locator, limits)
        self.password = password
        self.budget = _Budget(max(limits.archive_min_budget, limits.archive_ratio * max(size, 1)))
        try:
            self.zf = _pyzipper().AESZipFile(fileobj)
        except bad_zip(OSError, ValueError, EOFError) as exc:
            raise CorruptSourceError(f"{label or locator}: not a readable ZIP archive ({exc})",
                                     hint="the file may be truncated or damaged") from exc
        self.infos = self.zf.infolist()
        self.encrypted = any(zi.flag_bits & 0x1 for zi in self.infos)
        if self.encrypted and password is not None:
            self._check_password(label or str(locator))

    def _check_password(self, label: str) -> None:
        first = next((zi for zi in self.infos if zi.flag_bits & 0x1 and not zi.is_dir()), None)
        if first is None:
            return
        try:
            with self.zf.open(first, pwd=self.password) as fh:
                fh.read(1)
        except RuntimeError as exc:
            raise PasswordError(f"{label}: wrong password for the encrypted ZIP",
                                hint="check the file given with --password-file") from exc
        except bad_zip(OSError) as exc:
            # pyzipper reports a failed AES password check as BadZipFile('Bad password ...')
            if "password" in str(exc).lower():
                raise PasswordError(f"{label}: wrong password for the encrypted ZIP",
                                    hint="check the file given with --password-file") from exc

    def require_password(self, label: str) -> None:
        if self.encrypted and self.password is None:
            raise PasswordError(f"{label}: the ZIP is encrypted and no password was given",
                                hint="pass --password-file FILE (the password on its first line)")

    def entries(self) -> Iterator[FileEntry]:
        seen: dict[str, int] = {}
        for index, zi in enumerate(self.infos):
            if index >= self.limits.max_members:
                self.warnings.append(f"more than {self.limits.max_members:,} members: the rest not listed "
                                     "(zip bomb suspected)")
                return
            name, valid = safe_name(zi.filename)
            is_dir = zi.is_dir()
            try:
                # a ZIP stores the wall-clock time of the machine that wrote it, with no zone
                # (hence times_tz_known=False): kept as that local time, never assumed UTC
                mtime: datetime | None = datetime(*zi.date_time)  # noqa: DTZ001 - a source's local time on purpose
            except ValueError:
                mtime = None
            entry = FileEntry(self.locator, name.rstrip("/") if is_dir else name,
                              posixpath.basename(name.rstrip("/")), "dir" if is_dir else "file",
                              None if is_dir else zi.file_size,
                              times={"modified": mtime, "accessed": None, "changed": None, "born": None},
                              times_tz_known=False)
            if not valid:
                entry.warnings.append("member name is not valid UTF-8")
            label = _check_name(zi.filename, seen, entry)
            entry.locator = self.locator.child("member", safe_name(label)[0])
            if zi.flag_bits & 0x1:
                if self.password is None:
                    entry.warnings.append("encrypted member: no password given; content not read")
                    yield entry
                    continue
            if not is_dir:
                entry.opener = self._opener(zi)
            yield entry

    def _opener(self, zi: zipfile.ZipInfo) -> Callable[[], BinaryIO]:   # pyzipper's copy of ZipInfo
        def opener() -> BinaryIO:
            try:
                raw = self.zf.open(zi, pwd=self.password if zi.flag_bits & 0x1 else None)
            except RuntimeError as exc:
                raise OSError(f"cannot decrypt member: {exc}") from exc
            except bad_zip(NotImplementedError, ValueError) as exc:
                raise OSError(f"cannot read member: {exc}") from exc
            # a stream (read, close), not seekable: the pipeline spools what it must seek
            return cast(BinaryIO, CappedReader(_ZipErrors(raw), self.budget))
        return opener

    def close(self) -> None:
        try:
            self.zf.close()
        finally:
            super().close()


class _ZipErrors:
    """Turns the zip module's errors for damaged data into OSError for the pipeline."""

    def __init__(self, raw: _Readable) -> None:
        self.raw = raw

    def read(self, n: int, /) -> bytes:
        try:
            return self.raw.read(n)
        except bad_zip(EOFError, ValueError, RuntimeError) as exc:
            raise OSError(f"damaged member data: {exc}") from exc
        except Exception as exc:  # zlib.error, lzma.LZMAError, ...
            raise OSError(f"damaged member data: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        self.raw.close()


class TarSource(Source):
    FORMAT = "tar"

    def __init__(self, fileobj: BinaryIO, locator: Locator, size: int,
                 limits: Limits = DEFAULT_LIMITS, label: str = "") -> None:
        super().__init__(locator, limits)
        self.budget = _Budget(max(limits.archive_min_budget, limits.archive_ratio * max(size, 1)))
        try:
            self.tf = tarfile.open(fileobj=fileobj, mode="r:*")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise CorruptSourceError(f"{label or locator}: not a readable TAR archive ({exc})",
                                     hint="the file may be truncated or damaged") from exc

    def entries(self) -> Iterator[FileEntry]:
        seen: dict[str, int] = {}
        count = 0
        while True:
            try:
                ti = self.tf.next()
            except (tarfile.TarError, OSError, EOFError) as exc:
                self.warnings.append(f"archive damaged after {count} members: {exc}")
                return
            if ti is None:
                return
            count += 1
            if count > self.limits.max_members:
                self.warnings.append(f"more than {self.limits.max_members:,} members: the rest not listed")
                return
            name, valid = safe_name(ti.name)
            kind = "file" if ti.isreg() else "dir" if ti.isdir() else "link" if (ti.issym() or ti.islnk()) else "other"
            entry = FileEntry(self.locator, name, posixpath.basename(name.rstrip("/")), kind,
                              ti.size if kind == "file" else None,
                              times={"modified": datetime.fromtimestamp(ti.mtime, tz=timezone.utc)
                                     if isinstance(ti.mtime, (int, float)) else None,
                                     "accessed": None, "changed": None, "born": None})
            if not valid:
                entry.warnings.append("member name is not valid UTF-8")
            label = _check_name(ti.name, seen, entry)
            entry.locator = self.locator.child("member", safe_name(label)[0])
            if kind == "link":
                entry.link_target = safe_name(ti.linkname)[0]
            elif kind == "other":
                entry.warnings.append("device, FIFO or other special member: recorded, not read")
            elif kind == "file":
                entry.opener = self._opener(ti)
            yield entry

    def _opener(self, ti: tarfile.TarInfo) -> Callable[[], BinaryIO]:
        def opener() -> BinaryIO:
            fh = self.tf.extractfile(ti)
            if fh is None:
                raise OSError("member has no content")
            return cast(BinaryIO, CappedReader(_ZipErrors(fh), self.budget))
        return opener

    def close(self) -> None:
        try:
            self.tf.close()
        finally:
            super().close()
