"""``forensic search --save``: hits kept as ``search/hit`` records, logged in the custody log
(``artifact.recorded`` each, ``search.recorded`` once, never the hits' text), verified by
``custody verify --deep``, on the timeline at their file's time, taggable as ``artifact:ID``
and carried by ``export --tag`` (the file they are in), and never found by a later search."""
from __future__ import annotations

import json
import zipfile

from tests.search.folder_case import store, triaged_folder
from tests.training_case import cli


def _jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_saved_hits_are_records(tmp_path, capsys):
    case = triaged_folder(tmp_path, {"note.txt": b"meet at the PIER-NINE tonight\n",
                                     "other.txt": b"nothing here\n"}, "S-9", dated=("note.txt",))

    capsys.readouterr()
    assert cli("search", "PIER-NINE", "--in", "content,names", "--save", "--json", "--case", case) == 0
    (hit,) = _jsonl(capsys.readouterr().out)
    assert hit["text"] == "PIER-NINE" and hit["locator"].endswith("note.txt")
    ref = hit["saved_as"]
    assert ref.startswith("artifact:")
    aid = int(ref.split(":")[1])

    with store(case) as db:
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

    # taggable by its record id (artifact:ID or search-hit:ID), the file it is in by its target
    assert cli("tag", "add", f"search-hit:{aid}", hit["target"], "--tag", "pier", "--case", case) == 0
    capsys.readouterr()
    assert cli("tag", "list", "--tag", "pier", "--json", "--case", case) == 0
    tagged = sorted((t["kind"], t["ref"]) for t in _jsonl(capsys.readouterr().out))
    assert tagged == [("file", hit["locator"]), ("hit", str(aid))]
    out = tmp_path / "bundle"
    assert cli("export", "--tag", "pier", "--out", out, "--case", case) in (0, 3)
    capsys.readouterr()
    assert cli("verify-bundle", out) == 5                 # intact, unsigned
    assert "INTACT" in capsys.readouterr().out
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        assert any(n.endswith("/note.txt") for n in names)
        (member,) = [n for n in names if n.endswith("data/search_hits.jsonl")]
        (row,) = _jsonl(z.read(member).decode())
        html = z.read(next(n for n in names if n.endswith("report/index.html"))).decode()
    assert row["artifact_id"] == aid and row["fields"]["text"] == "PIER-NINE" and not row["withheld"]
    assert row["fields"]["locator"].endswith("note.txt")
    # the report's "Search hits" section: the hit, its offset and its context
    from tests.exporters.test_report import section, text as seen
    text = seen(section(html, "hits"))
    assert f"search-hit:{aid}" in text and "[PIER-NINE]" in text and "12 (file)" in text


def test_a_sensitive_hit_goes_without_its_text(tmp_path, capsys):
    case = triaged_folder(tmp_path, {"a.txt": b"the name VICTIM-NAME here\n"}, "S-10")
    capsys.readouterr()
    assert cli("search", "VICTIM-NAME", "--in", "content", "--save", "--json", "--case", case) == 0
    (hit,) = _jsonl(capsys.readouterr().out)
    assert cli("tag", "add", hit["saved_as"], "--tag", "v", "--sensitive", "--case", case) == 0
    out = tmp_path / "bundle"
    assert cli("export", "--tag", "v", "--out", out, "--case", case) in (0, 3)
    with zipfile.ZipFile(out) as z:
        blobs = b"".join(z.read(n) for n in z.namelist())
        (member,) = [n for n in z.namelist() if n.endswith("data/search_hits.jsonl")]
        (row,) = _jsonl(z.read(member).decode())
    assert row["withheld"] and row["fields"]["text"] is None
    assert b"VICTIM-NAME" not in blobs


def test_saving_the_same_search_twice_keeps_each_hit_once(tmp_path, capsys):
    """A second ``--save`` of the same search stores no record again: it says how many hits
    were saved before and names their records; a wider search saves only what it adds. The
    list is part of a hit's identity: the same term from a list file is another hit."""
    case = triaged_folder(tmp_path, {"a.txt": b"DOCK-SEVEN at noon, DOCK-SEVEN again\n",
                                     "DOCK-SEVEN.txt": b"x\n"}, "S-11")

    def save(*args: str) -> tuple[list[dict], str]:
        capsys.readouterr()
        assert cli("search", *args, "--save", "--json", "--case", case) == 0
        out = capsys.readouterr()
        return _jsonl(out.out), " ".join(out.err.split())

    def stored() -> int:
        with store(case) as db:
            return db.execute("SELECT count(*) FROM artifacts WHERE record_type = 'search/hit'").fetchone()[0]

    first, err = save("DOCK-SEVEN", "--in", "content")
    assert len(first) == 2 and "2 hit(s) kept" in err and "saved before" not in err
    again, err = save("DOCK-SEVEN", "--in", "content")
    assert [h["saved_as"] for h in again] == [h["saved_as"] for h in first]
    assert "0 hit(s) kept" in err and "2 saved before, kept once" in err and stored() == 2
    wider, err = save("DOCK-SEVEN", "--in", "content,names")
    assert len(wider) == 3 and "1 hit(s) kept" in err and "2 saved before" in err and stored() == 3
    listed = tmp_path / "terms.txt"
    listed.write_text("DOCK-SEVEN\n", encoding="utf-8")
    _, err = save("--list", str(listed), "--in", "content")
    assert "2 hit(s) kept" in err and stored() == 5
    log = "".join(p.read_text() for p in case.iterdir() if p.suffix == ".jsonl")
    recorded = [json.loads(line) for line in log.splitlines() if '"search.recorded"' in line]
    assert [e["details"]["saved_before"] for e in recorded] == [0, 2, 2, 0]
    capsys.readouterr()
    assert cli("custody", "verify", "--deep", "--case", case) == 0, capsys.readouterr()


def test_a_saved_hit_is_on_the_bundles_timeline_at_its_files_time(tmp_path, capsys):
    """A hit tagged alone (not its file): the bundle's data/timeline.csv lists it at the time
    of the file it is in, with its text; the file's own times are not listed (not selected)."""
    import csv
    import io
    case = triaged_folder(tmp_path, {"note.txt": b"meet at the PIER-NINE tonight\n"}, "S-12", dated=("note.txt",))
    capsys.readouterr()
    assert cli("search", "PIER-NINE", "--in", "content", "--save", "--json", "--case", case) == 0
    (hit,) = _jsonl(capsys.readouterr().out)
    assert cli("tag", "add", hit["saved_as"], "--tag", "pier", "--case", case) == 0
    out = tmp_path / "bundle"
    assert cli("export", "--tag", "pier", "--out", out, "--case", case) in (0, 3)
    with zipfile.ZipFile(out) as z:
        (member,) = [n for n in z.namelist() if n.endswith("data/timeline.csv")]
        rows = list(csv.DictReader(io.StringIO(z.read(member).decode("utf-8"))))
    (row,) = rows
    assert row["record_type"] == "search/hit" and row["datetime"].startswith("2020-09-13T12:26:40")
    assert "'PIER-NINE'" in row["message"] and row["locator"] == hit["locator"]


def test_a_damaged_saved_hit_row_does_not_stop_a_save(tmp_path, capsys):
    """A ``search/hit`` row whose fields are not JSON, or JSON but no object (a damaged or
    hand-edited store), is passed over when the saved hits are read back: the save goes on."""
    case = triaged_folder(tmp_path, {"a.txt": b"the WHARF-TWO here\n"}, "S-14")
    with store(case) as db:
        for fields in ("not json", "[1, 2]", '"a string"'):
            db.execute("INSERT INTO artifacts(item, record_type, extractor, fields, corrupted, warnings) "
                       "VALUES ('logical', 'search/hit', 'search@1', ?, 0, '[]')", (fields,))
    capsys.readouterr()
    assert cli("search", "WHARF-TWO", "--in", "content", "--save", "--json", "--case", case) == 0
    (hit,) = _jsonl(capsys.readouterr().out)
    assert hit["text"] == "WHARF-TWO" and hit["saved_as"].startswith("artifact:")


def test_a_saved_hit_whose_time_cannot_be_read_is_exported_untimed(tmp_path, capsys):
    """A stored time the timeline cannot read (a damaged or odd record) is listed as it is,
    untimed, on the bundle's timeline, as ``forensic timeline`` lists it: the export goes on."""
    import csv
    import io
    case = triaged_folder(tmp_path, {"note.txt": b"meet at the PIER-NINE tonight\n"}, "S-15", dated=("note.txt",))
    capsys.readouterr()
    assert cli("search", "PIER-NINE", "--in", "content", "--save", "--json", "--case", case) == 0
    (hit,) = _jsonl(capsys.readouterr().out)
    aid = int(hit["saved_as"].split(":")[1])
    with store(case) as db:
        db.execute("UPDATE timestamps SET utc = 'not a time', local = NULL, tz_known = 1 WHERE artifact_id = ?",
                   (aid,))
    assert cli("tag", "add", hit["saved_as"], "--tag", "pier", "--case", case) == 0
    out = tmp_path / "bundle"
    assert cli("export", "--tag", "pier", "--out", out, "--case", case) in (0, 3)
    with zipfile.ZipFile(out) as z:
        (member,) = [n for n in z.namelist() if n.endswith("data/timeline.csv")]
        (row,) = list(csv.DictReader(io.StringIO(z.read(member).decode("utf-8"))))
    assert row["record_type"] == "search/hit" and row["datetime"] == "not a time"
