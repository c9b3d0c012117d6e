"""An item read in pieces (forensic.cluster.read_piece, run here: no cluster needed): every
top-level entry is read by exactly one piece, an archive's members by the piece holding the
archive, and an input whose companion file falls in another piece still gets it -- the
pieces together hold the entries a local triage stores."""
from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from builders import write_tree, zip_file
from forensic.case import Case
from forensic.cluster import PieceTask, count_entries, fingerprint, map_path, parse_path_map, read_piece
from forensic.errors import SourceError, UsageError
from forensic.extractors.base import Extractor
from forensic.extractors.records import ArtifactRecord
from forensic.intake import add_evidence
from forensic.pipeline import TriageOptions, triage_item


class _Pair(Extractor):
    """Reads ``*.main`` and, beside it, ``*.main-side``."""

    NAME, VERSION = "pair", "1"
    SIBLINGS = ("-side",)

    def accepts(self, path, mime, head):
        return path.endswith(".main")

    def extract(self, item):
        sides = {}
        for suffix, sib in (item.siblings or {}).items():
            with sib.open() as fh:
                sides[suffix] = fh.read().decode()
        yield ArtifactRecord("pair/x", {"main": item.stream().read().decode(), "siblings": sides})


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("pieces")
    root = write_tree(tmp / "device", {"d/a.main": b"main", "d/a.main-side": b"side",
                                       **{f"d/f{i:02d}.txt": f"file {i}\n".encode() for i in range(6)}})
    zip_file(root / "d" / "inner.zip", [("m/1.txt", b"one\n"), ("m/2.txt", b"two\n")])
    return root


def _rows(entries) -> list[tuple]:
    return sorted((e.row["locator"], e.row["sha256"], e.row["size"], json.dumps(e.warnings),
                   json.dumps([r.fields_json for r in e.records])) for e in entries)


def test_pieces_together_are_the_item(folder, tmp_path):
    opts = TriageOptions(workers=1, extractors=[_Pair()], extract_processes=0)
    case = Case.init(tmp_path / "case", "C", "E")
    add_evidence(case, folder, "x", None, None)
    triage_item(case, "x", opts)
    local = [tuple(r) for r in case.db.execute("SELECT locator, sha256, size FROM files")]
    record = json.loads(case.db.execute("SELECT fields FROM artifacts").fetchone()[0])
    assert record["siblings"] == {"-side": "side"}

    task = PieceTask("x", str(folder), "directory", fingerprint(folder), opts, 0, 1)
    total = count_entries(task)
    assert total >= 9                       # 8 files, the zip (its members are not top-level)
    pieces = [read_piece(PieceTask("x", str(folder), "directory", fingerprint(folder), opts, k, total),
                         {}, total) for k in range(total)]
    assert [p.span for p in pieces] == [(k, k + 1) for k in range(total)]
    entries = [e for p in pieces for e in p.entries]
    assert sorted((e.row["locator"], e.row["sha256"], e.row["size"]) for e in entries) == sorted(local)
    whole = read_piece(task, {}, None).entries
    assert _rows(entries) == _rows(whole)                   # one piece per entry == one piece for all
    [main] = [e for e in entries if e.row["name"] == "a.main"]
    assert json.loads(main.records[0].fields_json)["siblings"] == {"-side": "side"}   # from another piece
    members = [p for p in pieces if any("m/1.txt" in e.row["locator"] for e in p.entries)]
    assert len(members) == 1 and any(e.row["name"] == "inner.zip" for e in members[0].entries)


def test_a_piece_skips_what_is_stored(folder):
    opts = TriageOptions(workers=1, extractors=[], extract_processes=0)
    task = PieceTask("x", str(folder), "directory", fingerprint(folder), opts, 0, 1)
    whole = read_piece(task, {}, None)
    done = {e.row["locator"]: e.row["mime"] for e in whole.entries if e.row["name"].startswith("f0")}
    again = read_piece(task, done, None)
    assert again.skipped == len(done) > 0
    assert {e.row["locator"] for e in again.entries} == {e.row["locator"] for e in whole.entries} - set(done)


def test_a_worker_refuses_other_evidence(folder, tmp_path):
    opts = TriageOptions(workers=1, extractors=[], extract_processes=0)
    other = write_tree(tmp_path / "other", {"d/a.main": b"not the same"})
    with pytest.raises(SourceError, match="not the evidence"):
        read_piece(PieceTask("x", str(other), "directory", fingerprint(folder), opts, 0, 1), {}, None)
    with pytest.raises(SourceError, match="is not there"):
        read_piece(PieceTask("x", str(tmp_path / "gone"), "directory", fingerprint(folder), opts, 0, 1), {}, None)


def test_path_maps():
    maps = [parse_path_map("/mnt/evidence=/srv/ev"), parse_path_map("/mnt/evidence/big=/fast/big")]
    assert map_path(Path("/mnt/evidence/case1/phone.E01"), maps) == Path("/srv/ev/case1/phone.E01")
    assert map_path(Path("/mnt/evidence/big/disk.img"), maps) == Path("/fast/big/disk.img")   # the longest
    assert map_path(Path("/mnt/evidence-old/x.img"), maps) == Path("/mnt/evidence-old/x.img")  # not a folder of it
    with pytest.raises(UsageError):
        parse_path_map("/mnt/evidence")


def test_the_identity_check_leaves_access_times(tmp_path):
    """A worker's (and the coordinator's) look at the evidence changes no access time: each
    path's atime is set before its mtime, which any plain read would update (relatime)."""
    root = write_tree(tmp_path / "dev", {"d/e/f.txt": b"content\n", "g.bin": b"\x00" * 5000})
    paths = [root, root / "d", root / "d/e", root / "d/e/f.txt", root / "g.bin"]
    for p in paths:
        st = p.stat()
        os.utime(p, ns=(st.st_mtime_ns - 10**11, st.st_mtime_ns))
    before = [p.stat().st_atime_ns for p in paths]
    fingerprint(root)
    fingerprint(root / "g.bin")
    assert [p.stat().st_atime_ns for p in paths] == before
    os.listdir(root / "d")                  # the check can fail: a plain listing moves it
    assert (root / "d").stat().st_atime_ns != before[1]


def test_a_result_that_is_not_the_piece_asked_for_is_refused(folder):
    """What a worker (or whatever answers for one) returns is stored only when it is the task's
    piece, every entry of the task's item."""
    from forensic.cluster import _check_result
    opts = TriageOptions(workers=1, extractors=[], extract_processes=0)
    good = read_piece(PieceTask("x", str(folder), "directory", fingerprint(folder), opts, 0, 2), {}, None)
    _check_result(good, "x", 0, 2)                                   # the piece asked for: stored
    with pytest.raises(SourceError, match="piece 2 of 2.*it is item 'x', piece 1"):
        _check_result(good, "x", 1, 2)                               # another piece's answer
    with pytest.raises(SourceError, match="nothing of it is stored"):
        _check_result(good, "y", 0, 2)                               # another item's
    foreign = good.entries[0]._replace(row={**good.entries[0].row, "item": "y"})
    with pytest.raises(SourceError, match="entries of another item"):
        _check_result(replace(good, entries=[*good.entries, foreign]), "x", 0, 2)
    for junk in (None, {"item": "x", "piece": 0, "entries": []}, [good]):
        with pytest.raises(SourceError, match=f"it is {type(junk).__name__}"):
            _check_result(junk, "x", 0, 2)
