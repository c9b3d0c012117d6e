"""The evidence-source interface: every kind of source is walked the same way."""
from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, Iterator, Self, cast

from forensic.entry import FileEntry
from forensic.limits import DEFAULT_LIMITS, Limits
from forensic.locator import Locator

if TYPE_CHECKING:
    from _typeshed import StrOrBytesPath, WriteableBuffer


_alias_dir: str | None = None


def lib_path(path: Path | str) -> str:
    """``path`` as text that a C library (libtsk, libewf) can take.

    Those libraries take UTF-8 paths only, but a seized file's name may be any bytes
    (Python holds the bytes that are not UTF-8 as surrogate escapes). Such a path is reached
    through a symlink with an ASCII name, made in a private folder of this process (mode
    0700, removed at exit); the evidence itself is untouched."""
    global _alias_dir
    text = os.fspath(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    if _alias_dir is None:
        import atexit
        import shutil
        _alias_dir = tempfile.mkdtemp(prefix="forensic-paths-")
        atexit.register(shutil.rmtree, _alias_dir, True)
    suffix = Path(text).suffix if Path(text).suffix.isascii() else ""
    alias = os.path.join(_alias_dir, f"{len(os.listdir(_alias_dir))}{suffix}")
    os.symlink(os.path.abspath(text), alias)
    return alias


def display_path(path: Path | str) -> str:
    """``path`` as readable text for messages, JSON and the case store: bytes that are not
    UTF-8 shown as ``\\xNN`` escapes (the surrogate escapes Python holds them as cannot be
    written to UTF-8 text)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


class Source:
    """An opened, read-only evidence source."""

    FORMAT = ""

    def __init__(self, locator: Locator, limits: Limits = DEFAULT_LIMITS) -> None:
        self.locator = locator
        self.limits = limits
        self.warnings: list[str] = []     # source-level problems (bad partition, ...)
        self.details: dict = {}           # facts worth recording (partitions, fs types, ...)
        self.owned: list[BinaryIO] = []   # files opened for this source alone, closed with it

    def entries(self) -> Iterator[FileEntry]:
        raise NotImplementedError  # pragma: no cover

    def close(self) -> None:
        """Closes the files the source owns; a subclass closes its own handles first, then calls this."""
        owned, self.owned = self.owned, []
        for fh in owned:
            fh.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_readonly(path: StrOrBytesPath) -> BinaryIO:
    """Open a file for reading without touching its access time where the OS allows."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    try:
        fd = os.open(path, flags | noatime)
    except PermissionError:
        fd = os.open(path, flags)
    except OSError as exc:
        if noatime and exc.errno == 1:  # EPERM: O_NOATIME needs ownership
            fd = os.open(path, flags)
        else:
            raise
    return os.fdopen(fd, "rb", buffering=0)


def spool(reader: BinaryIO) -> BinaryIO:
    """A seekable copy of a non-seekable reader (an archive inside an archive): memory up
    to 64 MiB, a temporary file past that. The reader's own caps (zip-bomb budget) apply.
    The reader is closed."""
    out = tempfile.SpooledTemporaryFile(max_size=64 << 20, prefix="forensic-")
    try:
        with reader:
            while chunk := reader.read(1 << 20):
                out.write(chunk)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return cast(BinaryIO, out)     # a SpooledTemporaryFile is an IO[bytes], not nominally a BinaryIO


class PositionalReader(io.RawIOBase):
    """A seekable, read-only file object over ``size`` bytes that a subclass reads by
    position (:meth:`read_at`): what sources hand out for a file's content (a file system's
    file, a carved or embedded object, an APFS file, a span of an image).

    A read returns at most what is left. A read that fails, or gets nothing before the end,
    is an OSError naming the offset: content that cannot be read is never taken for its end."""

    WHAT = "read"           # how a failed read is named in its error

    def __init__(self, size: int) -> None:
        self.size = size
        self.pos = 0

    def read_at(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``offset`` (0 <= offset < size, n > 0)."""
        raise NotImplementedError  # pragma: no cover

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            n = self.size - self.pos
        n = min(n, self.size - self.pos)
        if n <= 0:
            return b""
        try:
            data = self.read_at(self.pos, n)
        except (OSError, RuntimeError) as exc:
            raise OSError(f"{self.WHAT} failed at offset {self.pos}: {short_error(exc)}") from exc
        if not data:
            raise OSError(f"{self.WHAT} failed at offset {self.pos} (content not recoverable)")
        self.pos += len(data)
        return data

    def readinto(self, b: WriteableBuffer, /) -> int:
        view = memoryview(b).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)


def short_error(exc: BaseException) -> str:
    """The last non-empty line of a library's error (libtsk and libyal errors are stacks)."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    return lines[-1] if lines else type(exc).__name__
