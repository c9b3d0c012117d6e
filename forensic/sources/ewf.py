"""E01/EWF images through libewf (pyewf), including split segments (.E01, .E02, ...)."""
from __future__ import annotations

import os
from pathlib import Path

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


def open_ewf(path: Path):
    """Open an E01 set read-only; returns (handle, segment paths)."""
    files = segments(path)
    handle = pyewf.handle()
    try:
        handle.open(files, "r")
    except (OSError, RuntimeError) as exc:
        raise CorruptSourceError(
            f"{path.name}: the E01 cannot be opened ({ewf_error(exc)})",
            hint="a segment may be missing or truncated; all segments (.E01, .E02, ...) must be side by side") from exc
    return handle, files


def acquisition_info(handle) -> tuple[dict[str, str], dict[str, str]]:
    """The hashes and case metadata the acquisition tool stored in the E01."""
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
