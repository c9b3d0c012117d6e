"""Hashing: every digest in one streaming pass over the bytes."""
from __future__ import annotations

import hashlib
import os
from typing import Callable, Iterable, Protocol

from forensic.errors import UsageError

ALGORITHMS = ("md5", "sha1", "sha256")


class ByteReader(Protocol):
    """Anything read front to back: ``read(n)`` gives up to n bytes, ``b""`` at the end."""

    def read(self, n: int, /) -> bytes: ...


def parse_algorithms(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """'md5,sha1,sha256' -> ('md5', 'sha1', 'sha256'); SHA-256 is always included."""
    if text is None:
        return ("sha256",)
    names = [t.strip().lower().replace("-", "") for t in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in names if n]
    bad = [n for n in names if n not in ALGORITHMS]
    if bad:
        raise UsageError(f"unknown hash algorithm(s): {', '.join(bad)}", hint="choose from md5, sha1, sha256")
    return tuple(a for a in ALGORITHMS if a in set(names) | {"sha256"})


def new_hashers(algorithms: Iterable[str]) -> dict[str, "hashlib._Hash"]:
    return {a: hashlib.new(a) for a in algorithms}


def hash_stream(fh: ByteReader, algorithms: Iterable[str] = ("sha256",), chunk: int = 1 << 20,
                progress: Callable[[int], object] | None = None) -> tuple[dict[str, str], int]:
    """Digest a stream in one pass; returns ({algorithm: hex}, bytes read); ``progress`` is
    told the size of every chunk read."""
    hashers = new_hashers(algorithms)
    total = 0
    updates = [h.update for h in hashers.values()]
    while True:
        data = fh.read(chunk)
        if not data:
            break
        for u in updates:
            u(data)
        total += len(data)
        if progress is not None:
            progress(len(data))
    return {a: h.hexdigest() for a, h in hashers.items()}, total


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file's bytes."""
    with open(path, "rb") as fh:
        return hash_stream(fh)[0]["sha256"]
