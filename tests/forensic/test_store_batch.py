"""Storing a batch: one statement per table with ids given by the pipeline, and the
row-by-row path it falls back to when a location repeats. Both store the same rows."""
from __future__ import annotations

from pathlib import Path

from builders import tiny_jpeg
from forensic import pipeline
from forensic.case import Case
from forensic.intake import add_evidence
from forensic.pipeline import TriageOptions, triage_item


def _folder(root: Path) -> Path:
    for n in range(3):
        d = root / f"DCIM{n}"
        d.mkdir(parents=True)
        for i in range(30):
            (d / f"IMG_{i:03d}.jpg").write_bytes(tiny_jpeg(b"Cam", f"M{n}-{i}".encode()))
        (d / "notes.txt").write_bytes(b"shift at 9\n")
    return root


def _triage(tmp: Path, name: str, src: Path) -> tuple[dict, list]:
    case = Case.init(tmp / name, f"C1-{name}", "Examiner")      # a case id each: on PostgreSQL, a schema each
    add_evidence(case, src, "x", None, None)
    leaves: list = []
    t = pipeline.Triage(case, "x", TriageOptions(workers=2), on_batch=leaves.extend)
    t.run()
    order = {"files": "id", "artifacts": "id", "timestamps": "rowid"}      # rowid: a column of its own on PostgreSQL
    tables = {table: [tuple(r) for r in case.db.execute(f"SELECT * FROM {table} ORDER BY {key}")]
              for table, key in order.items()}
    tables["warnings"] = [tuple(r)[1:4] for r in case.db.execute("SELECT * FROM warnings ORDER BY id")]
    case.close()
    return tables, leaves


def _strip_times(tables: dict) -> dict:
    """Rows without the columns that hold when the triage ran."""
    out = dict(tables)
    out["files"] = [tuple(v for v in row if not (isinstance(v, str) and v.startswith("20") and "T" in v))
                    for row in tables["files"]]
    return out


def test_batch_and_row_paths_store_the_same(tmp_path, monkeypatch):
    src = _folder(tmp_path / "src")
    fast, fast_leaves = _triage(tmp_path, "fast", src)
    from forensic.store import triage as store_triage
    monkeypatch.setattr(store_triage, "_at_once", lambda db, item, entries, now: None)   # as on a repeat
    rows, row_leaves = _triage(tmp_path, "rows", src)
    # each photo gives three records: its EXIF, its perceptual hashes and its thumbnail
    assert len(fast["files"]) == 96 and len(fast["artifacts"]) == 3 * 90
    assert _strip_times(fast) == _strip_times(rows)
    assert fast_leaves == row_leaves            # same custody leaves, same ids


def test_a_repeated_location_is_kept_once_with_a_warning(tmp_path, monkeypatch):
    src = _folder(tmp_path / "src")
    original = pipeline.Triage._entry

    def twice(self, entry, depth, serial=False):
        original(self, entry, depth, serial)
        if entry.name == "IMG_007.jpg":         # the walk meets this file a second time
            original(self, entry, depth, serial)

    monkeypatch.setattr(pipeline.Triage, "_entry", twice)
    case = Case.init(tmp_path / "case", "C1", "Examiner")
    add_evidence(case, src, "x", None, None)
    triage_item(case, "x", TriageOptions(workers=2))
    files = case.db.execute("SELECT COUNT(*), COUNT(DISTINCT locator) FROM files").fetchone()
    assert tuple(files) == (96, 96)
    photos = case.db.execute("SELECT COUNT(*) FROM artifacts").fetchone()[0]
    assert photos == 3 * 90                      # the repeat adds no second record (EXIF, hashes, thumbnail)
    orphans = case.db.execute("SELECT COUNT(*) FROM artifacts a LEFT JOIN files f ON f.id = a.file_id "
                              "WHERE f.id IS NULL OR f.locator NOT LIKE '%' || 'IMG_' || '%'").fetchone()[0]
    assert orphans == 0
    warned = [r[0] for r in case.db.execute("SELECT locator FROM warnings WHERE stage='store'")]
    assert len(warned) == 3 and all(w.endswith("IMG_007.jpg") for w in warned)
    case.close()
