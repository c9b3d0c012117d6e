"""The extractor interface.

An extractor reads one file's bytes (handed to it from the single read the walk makes)
and yields :class:`ArtifactRecord` and :class:`ExtractionWarning` objects (and, for a caller
that asked for them, :class:`RecordBatch` objects: many records at once). It never
raises for bad input: "not my format" is ``accepts() -> False`` or yielding nothing;
"damaged inside my format" is a record with ``corrupted=True`` plus a warning.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO, Callable, ClassVar, Iterable

from forensic.extractors.records import ArtifactRecord, ExtractionWarning, RecordBatch
from forensic.store.records import Link
from forensic.store.view import StoreView


@dataclass(frozen=True, slots=True)
class Sibling:
    """A companion file beside an extractor's input (same folder of the same source, same name
    plus a suffix), e.g. a database's ``-journal``: named, located, and opened on demand."""

    name: str
    locator: str
    size: int | None
    open: Callable[[], BinaryIO]


@dataclass(slots=True)
class ExtractorInput:
    """What an extractor sees of one file."""

    path: str                 # path inside its file system or archive
    name: str                 # base name
    mime: str                 # libmagic MIME
    size: int
    data: bytes | None        # the whole content when it fits the in-memory cap
    reopen: Callable[[], BinaryIO] | None = None   # for content too large to hold
    options: dict | None = None                    # per-item options (e.g. assume_tz)
    locator: str | None = None                     # full layered location ('x.zip › _chat.txt')
    container: str | None = None                   # the archive/file system it sits in, as a locator
    siblings: dict[str, Sibling] | None = None     # suffix -> companion file (Extractor.SIBLINGS)
    # True where the caller takes a RecordBatch (many records at once) in place of records:
    # the triage, which stores them a batch at a time. An extractor may make batches then.
    batches: bool = False

    def stream(self) -> BinaryIO:
        if self.data is not None:
            return io.BytesIO(self.data)
        if self.reopen is None:
            raise ValueError("no content available")
        return self.reopen()


class Extractor:
    """Base class. Subclasses set NAME, VERSION and override accepts/extract."""

    NAME: ClassVar[str] = ""
    VERSION: ClassVar[str] = "0"
    DESCRIPTION: ClassVar[str] = ""
    REQUIRES: ClassVar[tuple[str, ...]] = ()   # importable modules it needs
    RECORD_TYPES: ClassVar[tuple[str, ...]] = ()
    # True for an extractor that is CPU-bound Python, reads only ``item.data`` and keeps no
    # state between files: the triage may then run it in a worker process (forked, fed
    # batches of files), where it does not hold the walk's interpreter lock.
    OFFLOAD: ClassVar[bool] = False
    # Name suffixes of companion files read with the input (``-journal``): the triage hands
    # over those present, allocated, beside an allocated input as ``item.siblings``. It runs
    # such an extractor once the input's source has been walked (a companion may come later
    # in the walk), so the input's row is stored then, after its source's other files.
    SIBLINGS: ClassVar[tuple[str, ...]] = ()

    @property
    def ident(self) -> str:
        return f"{self.NAME}@{self.VERSION}"

    def accepts(self, path: str, mime: str, head: bytes) -> bool:   # pragma: no cover
        raise NotImplementedError

    def extract(self, item: ExtractorInput) -> Iterable[ArtifactRecord | RecordBatch | ExtractionWarning]:
        raise NotImplementedError  # pragma: no cover

    def finalize(self, store: StoreView, item: str) -> Iterable[ExtractionWarning | Link]:
        """Called once after an evidence item's walk, for work that needs the whole item
        (e.g. linking a chat's attachments to the media files of the same export). ``store``
        reads the records and files stored (read-only); a record to complete is returned as
        a :class:`~forensic.store.records.Link` (its new fields and why), which the pipeline
        stores and the custody log records as ``artifact.linked``. Default: nothing."""
        return ()
