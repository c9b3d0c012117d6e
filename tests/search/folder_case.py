"""A case of one folder of files, added as evidence and triaged, for the search tests."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from tests.training_case import cli

MTIME = 1_600_000_000            # 2020-09-13T12:26:40Z: the time a file given one is modified at


def triaged_folder(tmp: Path, files: dict[str, bytes], case_id: str, dated: tuple[str, ...] = ()) -> Path:
    """The case (``tmp/case``) of the folder ``tmp/extraction`` holding ``files`` (relative
    path -> bytes), those named in ``dated`` modified at :data:`MTIME`, added as item
    ``logical`` and triaged."""
    root = tmp / "extraction"
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    for rel in dated:
        os.utime(root / rel, (MTIME, MTIME))
    case = tmp / "case"
    assert cli("case", "init", case, "--case-id", case_id, "--examiner", "E") == 0
    assert cli("evidence", "add", root, "--case", case, "--id", "logical") == 0
    cli("triage", "--case", case)
    return case


@contextmanager
def store(case: Path) -> Iterator[Any]:
    """A connection of its own to the case's store, whichever backend the run made it on
    (``case.db``, or the PostgreSQL schema ``store.json`` names), as forensic opens it:
    autocommit (each statement committed)."""
    from forensic.store import db, postgres
    where = postgres.Location.read(case) if (case / postgres.STORE_FILE).is_file() else case / "case.db"
    conn = db.connect(where)
    try:
        yield conn
    finally:
        conn.close()
