"""``forensic search --save``: hits kept as ``search/hit`` records, logged in the custody log
(``artifact.recorded`` each, ``search.recorded`` once, never the hits' text), verified by
``custody verify --deep``, on the timeline at their file's time, taggable as ``artifact:ID``
and carried by ``export --tag`` (the file they are in), and never found by a later search."""
from __future__ import annotations

import json
import os
import sqlite3
import zipfile

from tests.training_case import cli


def _jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_saved_hits_are_records(tmp_path, capsys):
    root = tmp_path / "extraction"
    root.mkdir()
    (root / "note.txt").write_bytes(b"meet at the PIER-NINE tonight\n")
    os.utime(root / "note.txt", (1_600_000_000, 1_600_000_000))
    (root / "other.txt").write_bytes(b"nothing here\n")
    case = tmp_path / "case"
    assert cli("case", "init", case, "--case-id", "S-9", "--examiner", "E") == 0
    assert cli("evidence", "add", root, "--case", case, "--id", "logical") == 0
    cli("triage", "--case", case)

    capsys.readouterr()
    assert cli("search", "PIER-NINE", "--in", "content,names", "--save", "--json", "--case", case) == 0
    (hit,) = _jsonl(capsys.readouterr().out)
    assert hit["text"] == "PIER-NINE" and hit["locator"].endswith("note.txt")
    ref = hit["saved_as"]
    assert ref.startswith("artifact:")
    aid = int(ref.split(":")[1])

    with sqlite3.connect(case / "case.db") as db:
        rtype, fields = db.execute("SELECT record_type, fields FROM artifacts WHERE id = ?", (aid,)).fetchone()
        times = db.execute("SELECT label, utc FROM timestamps WHERE artifact_id = ?", (aid,)).fetchall()
    assert rtype == "search/hit"
    stored = json.loads(fields)
    assert (stored["term"], stored["where"], stored["file_offset"]) == ("PIER-NINE", "content", 12)
    assert times and times[0][0] == "file_modified" and times[0][1].startswith("2020-09-13T12:26:40")

    # the custody log: one leaf for the record, one search.recorded without the hit's text
    log = "".join(p.read_text() for p in case.iterdir() if p.suffix == ".jsonl")
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    rec = [e for e in entries if e.get("action") == "search.recorded"]
    assert len(rec) == 1 and rec[0]["details"]["hits"] == 1 and rec[0]["details"]["records"]["first"] == aid
    assert "PIER-NINE" not in json.dumps(rec[0])
    assert any(e.get("action") == "artifact.recorded" and e["details"]["artifact_id"] == aid for e in entries)
    capsys.readouterr()
    assert cli("custody", "verify", "--deep", "--case", case) == 0, capsys.readouterr()

    # a later search does not find the saved hit's own fields as metadata
    capsys.readouterr()
    cli("search", "PIER-NINE", "--in", "metadata", "--json", "--case", case)
    assert _jsonl(capsys.readouterr().out) == []

    # on the timeline, at the file's time, as a search/hit
    capsys.readouterr()
    assert cli("timeline", "--json", "--case", case) == 0
    rows = _jsonl(capsys.readouterr().out)
    assert any(r.get("record_type") == "search/hit" and r["locator"].endswith("note.txt") for r in rows)

    # taggable by its record id; the export carries the file the hit is in
    assert cli("tag", "add", ref, "--tag", "pier", "--case", case) == 0
    out = tmp_path / "bundle"
    assert cli("export", "--tag", "pier", "--out", out, "--case", case) in (0, 3)
    capsys.readouterr()
    assert cli("verify-bundle", out) == 5                 # intact, unsigned
    assert "INTACT" in capsys.readouterr().out
    with zipfile.ZipFile(out) as z:
        assert any(n.endswith("/note.txt") for n in z.namelist())
