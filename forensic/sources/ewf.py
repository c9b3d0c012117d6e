"""E01/EWF images through libewf, including split segments (.E01, .E02, ...).

Every chunk of an E01 carries a checksum (an Adler-32, or zlib's inside a compressed
chunk). libewf checks it on every read; a chunk that fails is read as zeros and noted in
the handle's list of checksum errors, which ``ewfverify`` prints. pyewf does not expose
that list, so the media are read through libewf's own C API (``libewf.h``: the
``libewf_handle_*`` functions, which the pyewf extension module carries and exports) with
ctypes; the E01's stored hashes and headers still come through pyewf. Where that C API
cannot be reached the media are read through pyewf and the chunk checksums are reported
as not checked (``checksum_errors`` is None), never as good.
"""
from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pyewf

from forensic.errors import CorruptSourceError
from forensic.sources.base import display_path, lib_path

EWF_SIGNATURES = (b"EVF\x09\x0d\x0a\xff\x00", b"EVF2\x0d\x0a\x81\x00", b"LVF\x09\x0d\x0a\xff\x00")


def ewf_error(exc: BaseException) -> str:
    """The useful part of libewf's long error chain."""
    text = str(exc)
    for key in ("missing segment file for offset", "unable to open", "invalid", "checksum"):
        i = text.find(key)
        if i >= 0:
            return text[i:].split(". ")[0].rstrip(".'")
    return text.strip().splitlines()[-1] if text.strip() else type(exc).__name__


def looks_like_ewf(head: bytes) -> bool:
    return head[:8] in EWF_SIGNATURES


def segments(path: Path) -> list[str]:
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        raise CorruptSourceError(f"{display_path(path)}: libewf finds the segments of an E01 by name, and "
                                 "this name is not UTF-8", hint="give a copy a UTF-8 name (keep the "
                                 "segments side by side) and add that") from None
    try:
        # libewf takes UTF-8 paths: a folder whose name is not UTF-8 is reached by an alias.
        found = pyewf.glob(os.path.join(lib_path(path.parent), path.name))
    except (OSError, RuntimeError) as exc:
        raise CorruptSourceError(f"{path.name}: cannot find the E01 segments ({exc})") from exc
    return sorted(found)


@dataclass(frozen=True, slots=True)
class BadChunk:
    """A span of the media whose chunk(s) fail their checksum in the E01, as libewf reports
    it (adjacent bad chunks are one span). libewf reads these bytes as zeros."""
    start: int            # first media byte
    end: int              # one past the last media byte
    first_sector: int
    last_sector: int      # inclusive, as ewfverify prints it

    def describe(self) -> str:
        return (f"media bytes {self.start:,}-{self.end - 1:,} "
                f"(sectors {self.first_sector}-{self.last_sector})")

    def to_json(self) -> dict:
        return {"start": self.start, "end": self.end, "first_sector": self.first_sector,
                "last_sector": self.last_sector}

    @classmethod
    def from_json(cls, d: dict) -> BadChunk:
        return cls(int(d["start"]), int(d["end"]), int(d["first_sector"]), int(d["last_sector"]))

    def warning(self) -> str:
        return (f"E01 chunk checksum error: {self.describe()} fail the checksum stored in the E01; "
                "libewf reads them as zeros, so whatever lay there (file data or file-system "
                "structures) is not in what this image gives")


def recorded_bad_chunks(details: dict) -> list[BadChunk] | None:
    """The chunk spans intake found failing their checksum, from an item's recorded
    ``details`` (None: not checked when the item was added)."""
    spans = details.get("checksum_errors")
    return None if spans is None else [BadChunk.from_json(d) for d in spans]


class _Libewf:
    """libewf's C API (``libewf.h``), as exported by the pyewf extension module."""

    _lib: ctypes.CDLL | None = None
    _why: str | None = None

    @classmethod
    def get(cls) -> ctypes.CDLL | None:
        if cls._lib is None and cls._why is None:
            try:
                cls._lib = cls._bind(ctypes.CDLL(pyewf.__file__))
            except (OSError, AttributeError, TypeError) as exc:
                cls._why = f"libewf's C API is not reachable through pyewf ({exc})"
        return cls._lib

    @staticmethod
    def _bind(lib: ctypes.CDLL) -> ctypes.CDLL:
        P, PP, u32p, u64p = ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), \
            ctypes.POINTER(ctypes.c_uint32), ctypes.POINTER(ctypes.c_uint64)
        sigs = {
            "libewf_get_access_flags_read": (ctypes.c_int, []),
            "libewf_error_free": (None, [PP]),
            "libewf_error_backtrace_sprint": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_size_t]),
            "libewf_handle_initialize": (ctypes.c_int, [PP, PP]),
            "libewf_handle_free": (ctypes.c_int, [PP, PP]),
            "libewf_handle_open": (ctypes.c_int, [P, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                                  ctypes.c_int, PP]),
            "libewf_handle_close": (ctypes.c_int, [P, PP]),
            "libewf_handle_read_buffer_at_offset": (ctypes.c_ssize_t, [P, P, ctypes.c_size_t,
                                                                        ctypes.c_int64, PP]),
            "libewf_handle_get_media_size": (ctypes.c_int, [P, u64p, PP]),
            "libewf_handle_get_bytes_per_sector": (ctypes.c_int, [P, u32p, PP]),
            "libewf_handle_set_read_zero_chunk_on_error": (ctypes.c_int, [P, ctypes.c_uint8, PP]),
            "libewf_handle_get_number_of_checksum_errors": (ctypes.c_int, [P, u32p, PP]),
            "libewf_handle_get_checksum_error": (ctypes.c_int, [P, ctypes.c_uint32, u64p, u64p, PP]),
        }
        for name, (restype, argtypes) in sigs.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        return lib


class _CHandle:
    """One libewf handle through the C API; raises OSError with libewf's message."""

    def __init__(self, lib: ctypes.CDLL, files: list[str]) -> None:
        self.lib = lib
        self.h = ctypes.c_void_p()
        self.buf = ctypes.create_string_buffer(0)
        self._call(lib.libewf_handle_initialize, ctypes.byref(self.h))
        names = (ctypes.c_char_p * len(files))(*(os.fsencode(f) for f in files))
        size, bps = ctypes.c_uint64(), ctypes.c_uint32()
        try:
            self._call(lib.libewf_handle_open, self.h, names, len(files), lib.libewf_get_access_flags_read())
        except OSError:
            self._free()
            raise
        try:
            # zeros for a bad chunk (libewf's default, said here so that it cannot change under us)
            self._call(lib.libewf_handle_set_read_zero_chunk_on_error, self.h, 1)
            self._call(lib.libewf_handle_get_media_size, self.h, ctypes.byref(size))
            self._call(lib.libewf_handle_get_bytes_per_sector, self.h, ctypes.byref(bps))
        except OSError:
            self.close()
            raise
        self.size, self.bytes_per_sector = size.value, bps.value or 512

    def _call(self, fn: Callable[..., int | None], *args: object) -> int:
        err = ctypes.c_void_p()
        rc = fn(*args, ctypes.byref(err))
        if rc is None or rc < 0:
            raise OSError(self._message(err) or f"{fn.__name__} failed")
        return rc

    def _message(self, err: ctypes.c_void_p) -> str:
        if not err.value:
            return ""
        text = ctypes.create_string_buffer(4096)
        self.lib.libewf_error_backtrace_sprint(err, text, len(text))
        self.lib.libewf_error_free(ctypes.byref(err))
        return text.value.decode("utf-8", "replace").replace("\n", " ")

    def read_at(self, offset: int, n: int) -> bytes:
        if len(self.buf) < n:
            self.buf = ctypes.create_string_buffer(n)
        got = self._call(self.lib.libewf_handle_read_buffer_at_offset, self.h, self.buf, n, offset)
        return ctypes.string_at(self.buf, got)

    def checksum_error_count(self) -> int:
        count = ctypes.c_uint32()
        self._call(self.lib.libewf_handle_get_number_of_checksum_errors, self.h, ctypes.byref(count))
        return count.value

    def checksum_errors(self) -> list[tuple[int, int]]:
        count = ctypes.c_uint32()
        self._call(self.lib.libewf_handle_get_number_of_checksum_errors, self.h, ctypes.byref(count))
        out = []
        start, number = ctypes.c_uint64(), ctypes.c_uint64()
        for i in range(count.value):
            self._call(self.lib.libewf_handle_get_checksum_error, self.h, i, ctypes.byref(start),
                       ctypes.byref(number))
            out.append((start.value, number.value))
        return out

    def _free(self) -> None:
        if self.h.value:
            err = ctypes.c_void_p()
            self.lib.libewf_handle_free(ctypes.byref(self.h), ctypes.byref(err))
            self._message(err)

    def close(self) -> None:
        if self.h.value:
            err = ctypes.c_void_p()
            self.lib.libewf_handle_close(self.h, ctypes.byref(err))
            self._message(err)
            self._free()


class EwfMedia:
    """An opened E01 set: its media for reading (thread-safe), the chunks found so far to
    fail their checksum, and the pyewf handle for the stored hashes and headers."""

    def __init__(self, files: list[str]) -> None:
        self.files = files
        self._lock = threading.Lock()
        self._pyewf: pyewf.handle | None = None
        self._c: _CHandle | None = None
        lib = _Libewf.get()
        if lib is not None:
            self._c = _CHandle(lib, files)
            self.size, self.bytes_per_sector = self._c.size, self._c.bytes_per_sector
        else:
            handle = self.handle
            self.size = handle.get_media_size()
            self.bytes_per_sector = handle.get_bytes_per_sector() or 512

    @property
    def handle(self) -> pyewf.handle:
        """pyewf's handle on the same segments (opened on first use)."""
        if self._pyewf is None:
            handle = pyewf.handle()
            handle.open(self.files, "r")
            self._pyewf = handle
        return self._pyewf

    @property
    def checks_chunks(self) -> bool:
        return self._c is not None

    @property
    def unchecked_reason(self) -> str | None:
        return None if self._c is not None else _Libewf._why

    def read_at(self, offset: int, n: int) -> bytes:
        """Up to n media bytes at offset (fewer only at the end of the media)."""
        n = max(0, min(n, self.size - offset))
        with self._lock:
            if self._c is None:
                self.handle.seek(offset)
                data: bytes = self.handle.read(n)
                return data
            parts, done = [], 0
            while done < n:
                data = self._c.read_at(offset + done, n - done)
                if not data:
                    break
                parts.append(data)
                done += len(data)
            return parts[0] if len(parts) == 1 else b"".join(parts)

    def checksum_error_count(self) -> int | None:
        """How many bad spans libewf has listed so far (one C call, no list); None when it
        cannot be known. Cheap enough to ask after every file read."""
        if self._c is None:
            return None
        with self._lock:
            return self._c.checksum_error_count()

    def checksum_errors(self) -> list[BadChunk] | None:
        """The spans of the media read so far whose chunks failed their checksum, in media
        order; None when they cannot be known (libewf's C API not reachable)."""
        if self._c is None:
            return None
        with self._lock:
            spans = self._c.checksum_errors()
        bps, out = self.bytes_per_sector, []
        for first, count in sorted(spans):
            start, end = first * bps, min((first + count) * bps, self.size)
            out.append(BadChunk(start, end, first, first + count - 1))
        return out

    def close(self) -> None:
        with self._lock:
            if self._c is not None:
                self._c.close()
                self._c = None
            if self._pyewf is not None:
                self._pyewf.close()
                self._pyewf = None


def open_ewf(path: Path) -> tuple[EwfMedia, list[str]]:
    """Open an E01 set read-only; returns (media, segment paths)."""
    files = segments(path)
    try:
        media = EwfMedia(files)
    except (OSError, RuntimeError) as exc:
        raise CorruptSourceError(
            f"{path.name}: the E01 cannot be opened ({ewf_error(exc)})",
            hint="a segment may be missing or truncated; all segments (.E01, .E02, ...) must be side by side") from exc
    return media, files


def acquisition_info(media: EwfMedia) -> tuple[dict[str, str], dict[str, str]]:
    """The hashes and case metadata the acquisition tool stored in the E01."""
    handle = media.handle
    hashes: dict[str, str] = {}
    try:
        for k, v in (handle.get_hash_values() or {}).items():
            if v:
                hashes[k.lower()] = v.lower()
    except (OSError, RuntimeError):
        pass
    for name in ("MD5", "SHA1"):
        if name.lower() not in hashes:
            try:
                v = handle.get_hash_value(name)
            except (OSError, RuntimeError):
                v = None
            if v:
                hashes[name.lower()] = v.lower()
    try:
        headers = {k: v for k, v in (handle.get_header_values() or {}).items() if v}
    except (OSError, RuntimeError):
        headers = {}
    return hashes, headers
