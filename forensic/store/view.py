"""What an extractor may read of the case store at the end of a triage (``finalize``): the
records it made and the files walked, typed and read-only. It changes a record by returning
a :class:`~forensic.store.records.Link`, which the pipeline stores and the custody log
records."""
from __future__ import annotations

import sqlite3
from typing import Iterable

from forensic.store import artifacts
from forensic.store.records import File, Record


class StoreView:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def records(self, item: str, record_type: str | None = None, extractor: str | None = None,
                with_attachments: bool = False) -> list[Record]:
        """``item``'s records, in the order stored (see :func:`forensic.store.artifacts.of_item`)."""
        return list(artifacts.of_item(self._db, item, record_type, extractor, with_attachments))

    def files_named(self, item: str, names: Iterable[str]) -> list[File]:
        return artifacts.files_named(self._db, item, names)

    def files_under(self, item: str, prefix: str) -> list[File]:
        return artifacts.files_under(self._db, item, prefix)
