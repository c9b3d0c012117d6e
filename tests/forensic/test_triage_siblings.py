"""Companion files (Extractor.SIBLINGS): an extractor that reads files beside its input (a
database's -journal) is handed those present in the same folder of the same source, wherever
they come in the walk (after the input too), allocated ones only, and its input's row is still
stored once, with its records."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from builders import fat_image, zip_file
from forensic.case import Case
from forensic.extractors.base import Extractor
from forensic.extractors.records import ArtifactRecord
from forensic.intake import add_evidence
from forensic import pipeline
from forensic.pipeline import TriageOptions, triage_item


class _Pair(Extractor):
    """Reads ``*.main`` and, beside it, ``*.main-side`` / ``*.main-other``."""

    NAME, VERSION = "pair", "1"
    SIBLINGS = ("-side", "-other")

    def accepts(self, path, mime, head):
        return path.endswith(".main")

    def extract(self, item):
        sides = {}
        for suffix, sib in (item.siblings or {}).items():
            with sib.open() as fh:
                sides[suffix] = [sib.name, sib.locator, sib.size, fh.read().decode()]
        yield ArtifactRecord("pair/x", {"main": item.stream().read().decode(), "siblings": sides})


def _triage(tmp: Path, src: Path, name: str, workers: int) -> Case:
    case = Case.init(tmp / name, "C", "E")
    add_evidence(case, src, "x", None, None)
    triage_item(case, "x", TriageOptions(workers=workers, extractors=[_Pair()]))
    return case


def _records(case: Case) -> dict[str, dict]:
    return {loc: json.loads(fields) for loc, fields in case.db.execute(
        "SELECT f.locator, a.fields FROM artifacts a JOIN files f ON f.id = a.file_id")}


@pytest.mark.parametrize("workers,park_bytes", [(1, None), (2, None), (2, 0)], ids=["serial", "threads", "reread"])
def test_siblings_after_the_input_in_the_walk_and_inside_an_archive(tmp_path, monkeypatch, workers, park_bytes):
    if park_bytes is not None:               # no content held while waiting: the input is read again
        monkeypatch.setattr(pipeline, "PARK_BYTES", park_bytes)
    src = tmp_path / "phone"
    (src / "db").mkdir(parents=True)
    (src / "db" / "a.main").write_bytes(b"A")
    (src / "db" / "a.main-side").write_bytes(b"side of A")          # sorted after a.main
    (src / "db" / "a.main-sidecar").write_bytes(b"not a companion")
    (src / "db" / "b.main").write_bytes(b"B")                        # no companion
    (src / "other").mkdir()
    (src / "other" / "b.main-side").write_bytes(b"another folder's")
    for i in range(60):                                              # more than the read window
        (src / "db" / f"filler{i:02d}.txt").write_bytes(b"x")
    zip_file(src / "backup.zip", [("z/c.main", b"C"), ("z/c.main-other", b"other of C"), ("z/c.main-side", b"S")])
    case = _triage(tmp_path, src, "case", workers)
    recs = _records(case)
    assert recs["phone › /db/a.main"] == {"main": "A", "siblings": {
        "-side": ["a.main-side", "phone › /db/a.main-side", 9, "side of A"]}}
    assert recs["phone › /db/b.main"] == {"main": "B", "siblings": {}}
    assert recs["phone › /backup.zip › z/c.main"] == {"main": "C", "siblings": {
        "-other": ["c.main-other", "phone › /backup.zip › z/c.main-other", 10, "other of C"],
        "-side": ["c.main-side", "phone › /backup.zip › z/c.main-side", 1, "S"]}}
    locators = [r[0] for r in case.db.execute("SELECT locator FROM files WHERE item='x'")]
    assert len(locators) == len(set(locators)) == 2 + 5 + 60 + 1 + 3     # folders, files, fillers, zip + members
    assert case.db.execute("SELECT count(*) FROM warnings").fetchone()[0] == 0


def test_a_deleted_companion_is_not_handed_over(tmp_path):
    """A deleted -journal is a committed transaction's (commit deletes it): never applied."""
    img = fat_image(tmp_path, {"/live/k.main": b"K", "/live/k.main-side": b"side of K",
                               "/gone/d.main": b"D", "/gone/d.main-side": b"deleted side of D"},
                    deleted=("/gone/d.main-side",))
    case = _triage(tmp_path, img, "case", 2)
    deleted = case.db.execute("SELECT name, sha256 FROM files WHERE deleted = 1 AND kind = 'file'").fetchall()
    assert [r[0] for r in deleted] == ["d.main-side"] and deleted[0][1]      # listed, content read
    fields = [json.loads(f) for (f,) in case.db.execute("SELECT fields FROM artifacts")]
    recs = {f["main"]: f["siblings"] for f in fields}
    assert recs["D"] == {}
    assert list(recs["K"]) == ["-side"] and recs["K"]["-side"][3] == "side of K"
