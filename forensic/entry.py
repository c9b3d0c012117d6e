"""FileEntry: what a walk yields for every file, folder, link or stream it meets."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Callable

from forensic.locator import Locator

KINDS = ("file", "dir", "link", "other", "stream")
# How an entry's content was had (``FileEntry.recovery``): through a live name and its
# metadata; through the metadata a deleted name still points to; from an orphan (metadata no
# name points to); cut out of unallocated space or slack by its signature; or from inside
# another file (a photo in a Word document).
RECOVERY = ("allocated", "deleted-metadata", "orphan", "carved", "embedded")
# How far recovered content can be trusted to be what the deleted file held: "high" when
# its metadata is its own and unused since; "low" when its metadata entry or clusters may
# have been reused (the reason is one of the entry's warnings).
CONFIDENCE = ("high", "low")


@dataclass(slots=True)
class FileEntry:
    locator: Locator
    path: str                      # path inside its file system or archive ('/a/b.jpg')
    name: str
    kind: str                      # one of KINDS
    size: int | None
    times: dict[str, datetime | None] = field(default_factory=dict)  # modified/accessed/changed/born
    times_tz_known: bool = True    # False for FAT/exFAT/ZIP local times
    # where the zone of known times comes from (forensic.timestamps.TZ_SOURCES): None is "utc"
    # (the file system stores UTC); "offset_tag" for local times stored with their offset
    # (ISO 9660 directory records): the datetimes then carry that offset
    times_tz_source: str | None = None
    inode: str | None = None
    allocated: bool = True
    deleted: bool = False
    link_target: str | None = None
    opener: Callable[[], BinaryIO] | None = None    # returns a fresh, seekable reader
    warnings: list[str] = field(default_factory=list)
    recovery: str | None = None               # one of RECOVERY; None: the source does not say
    recovery_confidence: str | None = None    # one of CONFIDENCE, for content not allocated

    @property
    def has_content(self) -> bool:
        return self.kind in ("file", "stream") and self.opener is not None

    def open(self) -> BinaryIO:
        if self.opener is None:
            raise OSError(f"{self.locator} has no readable content")
        return self.opener()
