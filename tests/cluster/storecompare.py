"""Two case stores compared for what a triage found: the same files, hashes, records,
timestamps and warnings, whatever ids, recording times and hosts they got."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import casestore

# recorded when and where the triage ran, not what it found (rowid: PostgreSQL's row order)
_RUN_COLUMNS = {"id", "file_id", "artifact_id", "at", "triaged_at", "seconds", "rowid"}


def _columns(db: Any, table: str) -> list[str]:
    cur = db.execute(f"SELECT * FROM {table} LIMIT 0")
    return [d[0] for d in cur.description if d[0] not in _RUN_COLUMNS]


def _rows(db: Any, sql: str) -> list[tuple]:
    return sorted((tuple(r) for r in db.execute(sql)), key=repr)


def findings(case: Path) -> dict[str, list]:
    """What a triage of the case found, as sorted lists (no ids, no times of the run), from
    its store on either backend."""
    db = casestore.connect(case)
    try:
        cols = _columns(db, "files")
        files = _rows(db, f"SELECT {', '.join(cols)} FROM files")
        art = [c for c in _columns(db, "artifacts")]
        records = _rows(db, f"SELECT f.locator, {', '.join('a.' + c for c in art)} FROM artifacts a "
                            "JOIN files f ON f.id = a.file_id")
        ts = _columns(db, "timestamps")
        stamps = _rows(db, f"SELECT f.locator, a.record_type, a.fields, {', '.join('t.' + c for c in ts)} "
                           "FROM timestamps t JOIN artifacts a ON a.id = t.artifact_id "
                           "JOIN files f ON f.id = a.file_id")
        warnings = _rows(db, "SELECT item, locator, stage, message FROM warnings")
        totals = []
        for item, summary in db.execute("SELECT item, triage_summary FROM items ORDER BY item"):
            s = json.loads(summary or "{}")
            totals.append((item, {k: s.get(k) for k in ("files", "deleted", "bytes", "warnings", "artifacts")}))
        return {"files": files, "records": records, "timestamps": stamps, "warnings": warnings, "totals": totals}
    finally:
        db.close()


def differences(a: Path, b: Path) -> list[str]:
    """What differs between two cases' findings (empty: the same answers)."""
    fa, fb = findings(a), findings(b)
    out = []
    for key in fa:
        only_a = [x for x in fa[key] if x not in fb[key]]
        only_b = [x for x in fb[key] if x not in fa[key]]
        if only_a or only_b or len(fa[key]) != len(fb[key]):
            out.append(f"{key}: {len(fa[key])} vs {len(fb[key])}; only in the first {only_a[:3]!r}, "
                       f"only in the second {only_b[:3]}")
    return out
