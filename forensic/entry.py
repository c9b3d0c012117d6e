"""FileEntry: what a walk yields for every file, folder, link or stream it meets."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Callable

from forensic.locator import Locator

KINDS = ("file", "dir", "link", "other", "stream")


@dataclass(slots=True)
class FileEntry:
    locator: Locator
    path: str                      # path inside its file system or archive ('/a/b.jpg')
    name: str
    kind: str                      # one of KINDS
    size: int | None
    times: dict[str, datetime | None] = field(default_factory=dict)  # modified/accessed/changed/born
    times_tz_known: bool = True    # False for FAT/exFAT/ZIP local times
    inode: str | None = None
    allocated: bool = True
    deleted: bool = False
    link_target: str | None = None
    opener: Callable[[], BinaryIO] | None = None    # returns a fresh, seekable reader
    warnings: list[str] = field(default_factory=list)

    @property
    def has_content(self) -> bool:
        return self.kind in ("file", "stream") and self.opener is not None

    def open(self) -> BinaryIO:
        if self.opener is None:
            raise OSError(f"{self.locator} has no readable content")
        return self.opener()
