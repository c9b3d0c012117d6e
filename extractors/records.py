"""Typed records that extractors yield.

A record is one artifact found inside one file: a photo's metadata (``photo/exif``),
a chat message (``chat/message``), ... ``record_type`` is a public contract: change a
type's fields only with a version bump of its extractor.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from forensic.timestamps import Timestamp


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    record_type: str                          # slash name, e.g. 'photo/exif'
    fields: dict[str, Any]                    # JSON-serialisable scalars/lists/dicts
    timestamps: tuple[Timestamp, ...] = ()
    corrupted: bool = False                   # damaged inside its format; kept anyway
    warnings: tuple[str, ...] = ()            # problems met while reading this record
    source_ref: str | None = None             # place inside the file: 'line 1234', 'table:rowid'


@dataclass(slots=True)
class RecordBatch:
    """Records of one type made many at a time, column by column (a phone database's
    messages, a read's worth of rows at once), for a caller that stores them a batch at a
    time (the triage: ``ExtractorInput.batches``). Position ``i`` of each list is one record,
    stored as the :class:`ArtifactRecord` it stands for would be, save that its timestamps
    are already the rows they are stored as (:meth:`~forensic.timestamps.Timestamp.row`): a
    million messages make no Timestamp and no record object only to be stored. Its fields
    are read, never changed: they give the record's JSON (a list may be a tuple), and records
    may share an unchanging part (a conversation's dict). A record's fields may come as that
    JSON text itself, exactly as :func:`~forensic.store.records.fields_json` writes the dict
    they stand for (a reader of a million messages writes the text, not a dict to encode)."""

    record_type: str
    fields: list[dict[str, Any] | str] = field(default_factory=list)
    times: list[tuple[tuple, ...]] = field(default_factory=list)     # Timestamp.row() each
    corrupted: list[bool] = field(default_factory=list)
    warnings: list[tuple[str, ...]] = field(default_factory=list)
    source_refs: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.fields)

    def add(self, rec: ArtifactRecord) -> None:
        """A record made one at a time (a row a batch reader leaves to the per-row path)."""
        self.fields.append(rec.fields)
        self.times.append(tuple(ts.row() for ts in rec.timestamps))
        self.corrupted.append(rec.corrupted)
        self.warnings.append(rec.warnings)
        self.source_refs.append(rec.source_ref)

    def rows(self) -> Iterator[tuple[dict[str, Any] | str, tuple[tuple, ...], bool, tuple[str, ...], str | None]]:
        """(fields, time rows, corrupted, warnings, source_ref) of each record, in order."""
        return zip(self.fields, self.times, self.corrupted, self.warnings, self.source_refs, strict=True)


@dataclass(frozen=True, slots=True)
class ExtractionWarning:
    """A problem met while extracting from one file: counted and stored, never lost."""

    extractor: str
    message: str
    locator: str | None = None                # filled in by the pipeline
    detail: dict[str, Any] = field(default_factory=dict)
