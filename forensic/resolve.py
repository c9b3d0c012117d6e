"""Reopen stored locators: from a case's ``files`` rows back to readable entries.

Triage records every file by its locator (source › partition › path › member ...). Exporters
need those bytes again. :func:`resolve_entries` opens the item's source read-only, walks it,
and yields the entries whose locator is wanted, descending into a nested archive only when a
wanted locator lies inside it. Walking metadata is cheap next to reading content, and the
walk gives exactly the locators triage gave (same sources, same duplicate-name suffixes).

Entries are yielded in walk order, which for a given source is always the same (the order
triage stored them in). Each entry must be read before the next is requested: a TAR shares
one file position between its members.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator

from forensic.entry import FileEntry
from forensic.errors import CorruptSourceError, ForensicError, SourceError
from forensic.limits import DEFAULT_LIMITS, Limits
from forensic.sources import open_nested, open_source
from forensic.sources.base import Source, spool

LayerKey = tuple[tuple[str, str], ...]
HEAD = 8192


def layer_key(layers: str | list) -> LayerKey:
    """The hashable form of a ``files.layers`` value (JSON text or list of {kind, label})."""
    data = json.loads(layers) if isinstance(layers, str) else layers
    return tuple((d["kind"], d["label"]) for d in data)


def _entry_key(entry: FileEntry) -> LayerKey:
    return tuple((layer.kind, layer.label) for layer in entry.locator.layers)


def resolve_entries(source_path: Path, fmt: str, wanted: Iterable[LayerKey],
                    password: bytes | None = None,
                    limits: Limits = DEFAULT_LIMITS) -> Iterator[tuple[LayerKey, FileEntry]]:
    """Yield ``(key, entry)`` for every wanted locator found in the source (walk order).

    Locators that are not found are simply not yielded: the caller compares what it got with
    what it asked for. Raises :class:`SourceError` when the source itself cannot be opened.
    """
    want = set(wanted)
    if not want:
        return
    prefixes = {k[:i] for k in want for i in range(1, len(k))}
    path = Path(source_path)
    if not path.exists():
        raise SourceError(f"the evidence source {path} is no longer there",
                          hint="reconnect the evidence (same path), then rerun")
    src = open_source(path, fmt, path.name, password, limits)
    # carved entries are found again where they start, not by carving all unallocated space
    carved = {(" › ".join(label for _, label in k[:i]), k[i][1])
              for k in want for i in range(1, len(k)) if k[i][0] == "carved"}
    from forensic.sources.tsk import TskImageSource
    if isinstance(src, TskImageSource):
        src.carve_only = carved
    try:
        yield from _walk(src, want, prefixes, limits, password)
    finally:
        src.close()


def _walk(src: Source, want: set, prefixes: set, limits: Limits,
          password: bytes | None) -> Iterator[tuple[LayerKey, FileEntry]]:
    for entry in src.entries():
        key = _entry_key(entry)
        if key in want:
            yield key, entry
        if key in prefixes and entry.has_content:
            yield from _nested(entry, key, want, prefixes, limits, password)


def _nested(entry: FileEntry, key: LayerKey, want: set, prefixes: set, limits: Limits,
            password: bytes | None) -> Iterator[tuple[LayerKey, FileEntry]]:
    reader = entry.open()
    try:
        if not (hasattr(reader, "seekable") and reader.seekable()):
            reader = spool(reader)
        head = reader.read(HEAD)
        reader.seek(0)
        try:
            nested = open_nested(reader, head, entry.locator, entry.size or 0, limits, password)
        except CorruptSourceError:
            return
        if nested is None:
            if not any(len(k) > len(key) and k[:len(key)] == key and k[len(key)][0] == "embedded" for k in want):
                return
            # objects inside the file (forensic.sources.embedded): its signatures noted again
            from forensic.sources.embedded import EmbeddedSource, scanner
            scan = scanner(head, entry.size)
            if scan is not None:
                while chunk := reader.read(limits.chunk):
                    scan.feed(chunk)
            nested = EmbeddedSource(entry, head, scan.found if scan is not None else None, limits)
        try:
            yield from _walk(nested, want, prefixes, limits, password)
        finally:
            nested.close()
    finally:
        reader.close()


__all__ = ["LayerKey", "layer_key", "resolve_entries", "ForensicError"]
