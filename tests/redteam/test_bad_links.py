"""Red team, issue 18: an extractor's ``finalize`` returns ``Link``s that the pipeline stores
and the custody log records as ``artifact.linked``. docs/architecture.md: an extractor
"never raises on bad input", and the pipeline's own comment: "a failing extractor never
stops a triage". Here a tiny extractor returns bad links; the triage must end (the item
triaged, the bad link a warning) and no record of another item may change."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from builders import write_tree
from forensic.case import Case
from forensic.chain_of_custody.hooks import triage_session
from forensic.extractors.base import Extractor
from forensic.extractors.records import ArtifactRecord
from forensic.pipeline import TriageOptions, triage_item
from forensic.store.records import Link


class NoteExtractor(Extractor):
    NAME, VERSION = "redteam_note", "1"
    RECORD_TYPES = ("test/note",)

    def __init__(self, links=()) -> None:
        self.links = list(links)

    def accepts(self, path, mime, head):
        return path.endswith(".txt")

    def extract(self, item):
        yield ArtifactRecord(record_type="test/note", fields={"text": item.data.decode()})

    def finalize(self, store, item):
        return list(self.links)


def triage(case: Case, item: str, extractor: Extractor) -> None:
    with triage_session(case, item, {}) as recorder:
        stats = triage_item(case, item, TriageOptions(extractors=[extractor], workers=1),
                            on_batch=recorder, on_committed=recorder.committed)
        recorder.finish(stats)


@pytest.fixture
def two_items(tmp_path, forensic) -> tuple[Path, int]:
    """Items A (triaged: one record) and B (not yet): A's record id."""
    a = write_tree(tmp_path / "a", {"a.txt": b"item A: the victim's statement"})
    b = write_tree(tmp_path / "b", {"b.txt": b"item B"})
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "RT-L", "--examiner", "ann")
    forensic("evidence", "add", a, "--case", case, "--id", "A")
    forensic("evidence", "add", b, "--case", case, "--id", "B")
    c = Case.open(case)
    try:
        triage(c, "A", NoteExtractor())
        [rec] = list(c.db.execute("SELECT id FROM artifacts WHERE item = 'A'"))
    finally:
        c.close()
    return case, rec[0]


def fields_of(case: Path) -> dict:
    c = Case.open(case)
    try:
        return {row[0]: row[1] for row in c.db.execute("SELECT item, fields FROM artifacts")}
    finally:
        c.close()


def test_a_good_link_is_stored_logged_and_verified(two_items, forensic):
    case, a_id = two_items
    c = Case.open(case)
    try:
        triage(c, "B", NoteExtractor([Link(a_id + 1, {"text": "item B", "linked": True}, "completed")]))
        assert c.item("B").triaged_at
    finally:
        c.close()
    assert json.loads(fields_of(case)["B"])["linked"] is True
    [entry] = forensic("custody", "log", "--case", case, "--json", "--action", "artifact.linked").jsonl()
    assert entry["details"]["artifact_id"] == a_id + 1 and entry["subject"]["item"] == "B"
    assert forensic("custody", "verify", "--deep", "--case", case, "--json").json()["deep"]["ok"]


def test_a_link_to_a_record_of_another_item_changes_nothing(two_items, forensic):
    case, a_id = two_items
    before = fields_of(case)["A"]
    c = Case.open(case)
    try:
        triage(c, "B", NoteExtractor([Link(a_id, {"text": "item A: the victim withdrew"}, "x")]))
    finally:
        c.close()
    assert fields_of(case)["A"] == before


BAD = {
    "a record that does not exist": lambda a_id: Link(a_id + 999, {"text": "x"}, "x"),
    "fields with a circular reference": lambda a_id: Link(a_id + 1, _circular(), "x"),
    "fields with a non-string key": lambda a_id: Link(a_id + 1, {(1, 2): "x"}, "x"),
    "fields with a lone surrogate": lambda a_id: Link(a_id + 1, {"text": "\udc80"}, "x"),
    "a reason that is not text": lambda a_id: Link(a_id + 1, {"text": "y"}, object()),
}


def _circular() -> dict:
    d: dict = {}
    d["self"] = d
    return d


@pytest.mark.parametrize("bad", sorted(BAD))
def test_one_bad_link_never_stops_the_triage(two_items, bad):
    case, a_id = two_items
    c = Case.open(case)
    try:
        triage(c, "B", NoteExtractor([BAD[bad](a_id)]))
        assert c.item("B").triaged_at, "the triage did not finish"
    finally:
        c.close()


@pytest.mark.parametrize("fields", [None, {"v": float("nan")}], ids=["not a dict", "NaN"])
def test_a_link_stores_only_a_json_object(two_items, fields):
    case, a_id = two_items
    c = Case.open(case)
    try:
        triage(c, "B", NoteExtractor([Link(a_id + 1, fields, "x")]))
    finally:
        c.close()
    stored = fields_of(case)["B"]
    assert isinstance(json.loads(stored, parse_constant=_not_json), dict)


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")
