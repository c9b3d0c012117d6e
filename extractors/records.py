"""Typed records that extractors yield.

A record is one artifact found inside one file: a photo's metadata (``photo/exif``),
a chat message (``chat/message``), ... ``record_type`` is a public contract: change a
type's fields only with a version bump of its extractor.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from forensic.timestamps import Timestamp


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    record_type: str                          # slash name, e.g. 'photo/exif'
    fields: dict[str, Any]                    # JSON-serialisable scalars/lists/dicts
    timestamps: tuple[Timestamp, ...] = ()
    corrupted: bool = False                   # damaged inside its format; kept anyway
    warnings: tuple[str, ...] = ()            # problems met while reading this record
    source_ref: str | None = None             # place inside the file: 'line 1234', 'table:rowid'


@dataclass(frozen=True, slots=True)
class ExtractionWarning:
    """A problem met while extracting from one file: counted and stored, never lost."""

    extractor: str
    message: str
    locator: str | None = None                # filled in by the pipeline
    detail: dict[str, Any] = field(default_factory=dict)
