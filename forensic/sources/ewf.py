"""E01/EWF images through libewf (pyewf), including split segments (.E01, .E02, ...)."""
from __future__ import annotations

from pathlib import Path

import pyewf

from forensic.errors import CorruptSourceError

EWF_SIGNATURES = (b"EVF\x09\x0d\x0a\xff\x00", b"EVF2\x0d\x0a\x81\x00", b"LVF\x09\x0d\x0a\xff\x00")


def looks_like_ewf(head: bytes) -> bool:
    return head[:8] in EWF_SIGNATURES


def segments(path: Path) -> list[str]:
    try:
        found = pyewf.glob(str(path))
    except (OSError, IOError) as exc:
        raise CorruptSourceError(f"{path.name}: cannot find the E01 segments ({exc})") from exc
    return sorted(found)


def open_ewf(path: Path):
    """Open an E01 set read-only; returns (handle, segment paths)."""
    files = segments(path)
    handle = pyewf.handle()
    try:
        handle.open(files, "r")
    except (OSError, IOError) as exc:
        raise CorruptSourceError(
            f"{path.name}: the E01 cannot be opened ({str(exc).strip().splitlines()[-1] if str(exc).strip() else exc})",
            hint="a segment may be missing or truncated; all segments (.E01, .E02, ...) must be side by side") from exc
    return handle, files


def acquisition_info(handle) -> tuple[dict[str, str], dict[str, str]]:
    """The hashes and case metadata the acquisition tool stored in the E01."""
    hashes: dict[str, str] = {}
    try:
        for k, v in (handle.get_hash_values() or {}).items():
            if v:
                hashes[k.lower()] = v.lower()
    except (OSError, IOError):
        pass
    for name in ("MD5", "SHA1"):
        if name.lower() not in hashes:
            try:
                v = handle.get_hash_value(name)
            except (OSError, IOError):
                v = None
            if v:
                hashes[name.lower()] = v.lower()
    try:
        headers = {k: v for k, v in (handle.get_header_values() or {}).items() if v}
    except (OSError, IOError):
        headers = {}
    return hashes, headers
