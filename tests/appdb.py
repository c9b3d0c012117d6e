"""Build a small app database with its CREATE TABLE statements and rows, and run an
extractor over its bytes as the triage would (tests of extractors/chat/<app>.py)."""
from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

from forensic.extractors.base import ExtractorInput
from forensic.extractors.records import ArtifactRecord, ExtractionWarning


def build(path: Path, script: str, rows: dict[str, list[tuple]] | None = None) -> bytes:
    db = sqlite3.connect(path)
    db.executescript(script)
    for table, values in (rows or {}).items():
        for v in values:
            db.execute(f"INSERT INTO {table} VALUES ({','.join('?' * len(v))})", v)
    db.commit()
    db.close()
    return path.read_bytes()


def run(ex, data: bytes, path: str, must_accept: bool = True):
    """(records, warning messages) of ``ex`` over ``data`` found at ``path``; and checked:
    what the triage stores of them, asking for batches, is what these records store."""
    item = ExtractorInput(path=path, name=path.rsplit("/", 1)[-1], mime="application/vnd.sqlite3", size=len(data),
                          data=data)
    if must_accept:
        assert ex.accepts(path, "application/vnd.sqlite3", data[:8192])
    out = list(ex.extract(item))
    assert stored(ex, dataclasses.replace(item, batches=True)) == stored(ex, item)
    return ([r for r in out if isinstance(r, ArtifactRecord)],
            [w.message for w in out if isinstance(w, ExtractionWarning)])


def stored(ex, item: ExtractorInput) -> list[tuple]:
    """What a triage stores of ``item`` (``forensic.pipeline._extract``): each record's row
    (a batch's, one by one) and each warning, in order."""
    from forensic.pipeline import _extract
    from forensic.store.triage import StoredBatch
    out: list[tuple] = []
    for stage, res in _extract([ex], item):
        if stage is not None:
            out.append((stage, res))
        elif isinstance(res, StoredBatch):
            out.extend(tuple(r) for r in res)
        else:
            out.append(tuple(res))
    return out


def sqlite_rows(path: Path, sql: str) -> list[tuple]:
    """What the sqlite3 library shows for ``sql`` (read-only), to compare with."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def sqlite3_cli(path: Path, sql: str) -> list[dict]:
    """Rows of ``sql`` as the sqlite3 command-line tool prints them (``-json``, read-only)."""
    import json
    import subprocess
    out = subprocess.run(["sqlite3", "-readonly", "-json", str(path), sql], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out) if out.strip() else []


def delete_rows(path: Path, sql: str) -> bytes:
    """Run a DELETE as the app would (secure_delete off: the row's bytes stay in free space)
    and return the database's bytes."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA secure_delete = OFF")
    db.execute(sql)
    db.commit()
    db.close()
    return path.read_bytes()


def recovered(recs) -> list[dict]:
    return [r.fields for r in recs if r.fields.get("recovered") == "deleted"]
