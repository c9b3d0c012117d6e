"""One case made twice from the same evidence, its store on SQLite and on PostgreSQL (issue 21):
``forensic search`` lists the same hits, ``forensic similar`` the same pairs, and the review
workspace's store reads (the search box's names and photo metadata, the gallery's filters, the
counts) give the same rows, whatever the backend. Needs a PostgreSQL server (tests/pgserver.py),
in a run on either backend."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import casestore
from tests.extractors.photo_scenes import camera_jpeg, messenger_copy, scene
from tests.search.test_search_text import PATTERNED, _docx
from tests.serve.conftest import geotagged_jpeg
from tests.training_case import cli

def _utf8_camera(make: str, model: str) -> bytes:
    """A camera photo whose make and model are UTF-8 (Pillow writes a str's other letters as '?')."""
    import io

    from PIL import Image
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = make.encode("utf-8"), model.encode("utf-8")
    out = io.BytesIO()
    scene(3, 320, 240).save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


FILES = {
    "DCIM/IMG_0001.jpg": lambda: camera_jpeg(scene(1, 320, 240)),
    "DCIM/IMG_0002.jpg": lambda: camera_jpeg(scene(2, 320, 240), make="Nikon", model="D750"),
    "DCIM/madrid.jpg": geotagged_jpeg,
    "DCIM/IMG_0003.jpg": lambda: _utf8_camera("\u00dcntel", "Stra\u00dfe 5"),
    "WhatsApp/IMG-20210314-WA0001.jpg": lambda: messenger_copy(camera_jpeg(scene(1, 320, 240))),
    "docs/report.docx": lambda: _docx(["DOCX-", "KEY", "WORD"]),
    "docs/page.html": lambda: b"<html><body><p>HTML&#45;KEYWORD and Stra\xc3\x9fe-KEYWORD</p></body></html>",
    "docs/be.txt": lambda: "\ufeffBE-KEYWORD in UTF-16BE".encode("utf-16-be"),
    "docs/money.txt": lambda: PATTERNED,
    "docs/100%_done.txt": lambda: b"percent and underscore in the name\n",
    "SECRET-NAME.txt": lambda: b"x",
    "Stra\u00dfe-\u00dcber.txt": lambda: b"y",
    "WhatsApp Chat with Luis.txt": lambda: ("25/06/2021, 14:35 - Ana: Hola, \u00bfd\u00f3nde est\u00e1s?\n"
                                            "25/06/2021, 14:36 - Luis: En el muelle PORT-KEYWORD\n").encode(),
}

SEARCHES = (
    ("KEYWORD",),                                           # content (indexes the documents), names, ...
    ("KEYWORD", "--in", "content"),                         # the documents' text through the index
    ("keyword", "-i"),
    ("docx-keyword", "-i", "--in", "content"),
    ("stra\u00dfe-keyword", "-i", "--in", "content"),       # no ASCII: every document read
    ("(DOCX|HTML|BE)[- ]KEYWORD", "--regex", "--in", "content"),
    ("--patterns", "all"),
    ("secret", "-i", "--in", "names"),
    ("%", "--in", "names"),
    ("\u00fcber", "-i", "--in", "names,metadata"),
    ("Cam", "--in", "metadata"),
    ("Canon", "--in", "metadata,messages"),
    ("d\u00f3nde", "--in", "messages"),
    ("port-keyword", "-i", "--in", "messages,content"),
)
NAME_TEXTS = ("KEYWORD", "keyword", "secret-name", "img", "IMG_0", "%", "_", "%_d", "dcim/img", "a", "ab",
              "stra\u00dfe", "STRASSE", "\u00dcber", "\u00fcber", "whatsapp chat", "no such name", "x\0y")
META_TEXTS = ("cam", "<b>", "Model \"1\"", "canon eos", "nikon", "2021", "2021:03:14", "40.4", "-3.7", "40", "1",
              "N", "ab", "+01:00", "no such value", "%", "_", "\u00dcntel", "\u00fcntel", "NTEL", "stra\u00dfe",
              "STRASSE")


def _run(capsys, *args: object) -> tuple[int, list[dict]]:
    capsys.readouterr()
    code = cli(*args)
    out = capsys.readouterr()
    return code, [json.loads(line) for line in out.out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def cases(tmp_path_factory, pg_server):
    """The same folder as a case on SQLite (``sqlite/case``) and on PostgreSQL (``pg/case``)."""
    tmp = tmp_path_factory.mktemp("backends")
    evidence = tmp / "evidence"
    for rel, make in FILES.items():
        (evidence / rel).parent.mkdir(parents=True, exist_ok=True)
        (evidence / rel).write_bytes(make())
    made = {}
    for backend in casestore.each_backend(pg_server):
        case = tmp / backend / "case"
        assert cli("case", "init", case, "--case-id", "B-21", "--examiner", "E", "--quiet") == 0
        assert cli("evidence", "add", evidence, "--case", case, "--id", "folder", "--quiet") == 0
        assert cli("triage", "--case", case, "--quiet") in (0, 3)
        made[backend] = case
    assert (made["sqlite"] / "case.db").is_file() and (made["postgresql"] / "store.json").is_file()
    return made


def test_the_same_hits_on_both_backends(cases, capsys):
    seen = {}
    for args in SEARCHES:
        got = {backend: _run(capsys, "search", "--case", case, "--json", *args) for backend, case in cases.items()}
        assert got["sqlite"][0] in (0, 3), args
        assert got["postgresql"] == got["sqlite"], args
        seen[args] = got["sqlite"][1]
    # what the comparison stands on: the searches find what they are meant to
    assert {h["where"] for h in seen[("KEYWORD",)]} == {"content", "message"}
    assert "ooxml" in {h["extracted"] for h in seen[("KEYWORD", "--in", "content")]}
    assert {h["text"] for h in seen[("(DOCX|HTML|BE)[- ]KEYWORD", "--regex", "--in", "content")]} == {
        "DOCX-KEYWORD", "HTML-KEYWORD", "BE-KEYWORD"}
    assert [h["text"] for h in seen[("stra\u00dfe-keyword", "-i", "--in", "content")]] == ["Stra\u00dfe-KEYWORD"]
    assert [h["where"] for h in seen[("Canon", "--in", "metadata,messages")]]
    assert {h["list"] for h in seen[("--patterns", "all")]} >= {"pattern:iban", "pattern:email"}


def test_the_same_hits_read_a_row_at_a_time(cases, capsys, monkeypatch):
    """On PostgreSQL names, records and documents are read a page at a time (by key): pages of
    one row list the same hits as one pass."""
    from forensic.store import search as store_search
    whole = {args: _run(capsys, "search", "--case", cases["postgresql"], "--json", *args) for args in SEARCHES[:4]}
    monkeypatch.setattr(store_search, "PAGE_ROWS", 1)
    monkeypatch.setattr(store_search, "PAGE_DOCUMENTS", 1)
    for args, expected in whole.items():
        assert expected[1] and _run(capsys, "search", "--case", cases["postgresql"], "--json", *args) == expected


def test_saved_hits_the_same_on_both_backends(cases, capsys):
    saved = {}
    for backend, case in cases.items():
        code, hits = _run(capsys, "search", "--case", case, "--json", "--save", "PORT-KEYWORD")
        assert code == 0 and hits and all(h["saved_as"].startswith("artifact:") for h in hits)
        again = _run(capsys, "search", "--case", case, "--json", "--save", "PORT-KEYWORD")[1]
        assert [h["saved_as"] for h in again] == [h["saved_as"] for h in hits]
        saved[backend] = [{k: v for k, v in h.items() if k != "saved_as"} for h in hits]
    assert saved["postgresql"] == saved["sqlite"]


def test_the_same_pairs_on_both_backends(cases, capsys):
    got = {backend: _run(capsys, "similar", "--all", "--json", "--case", case) for backend, case in cases.items()}
    assert got["sqlite"][0] == 0 and got["sqlite"][1], "the messenger copy pairs with its camera original"
    assert got["postgresql"] == got["sqlite"]


def _store_reads(case: Path) -> dict:
    from forensic.case import Case
    from forensic.store import review
    c = Case.open(case)
    try:
        db = c.db
        out: dict = {"names": {t: [(f.item, f.locator) for f in review.files_matching(db, t)] for t in NAME_TEXTS},
                     "meta": {t: [p.locator for p in review.photos_matching(db, t)] for t in META_TEXTS}}
        out["short"] = [f.locator for f in review.files_matching(db, "a", limit=3)]
        out["first"] = [f.locator for f in review.files_matching(db, "jpg", limit=2)]
        gallery = {}
        for name, flt in (("all", review.GalleryFilter()), ("geotagged", review.GalleryFilter(geotagged=True)),
                          ("from", review.GalleryFilter(date_from="2021-03-14")),
                          ("to", review.GalleryFilter(date_to="2000-01-01"))):
            gallery[name] = [(p.item, p.locator, p.fields) for p in review.photo_page(db, flt, None, 100)]
        out["gallery"] = gallery
        out["counts"] = review.item_counts(db, "folder")
        from forensic.store import search
        out["no items"] = [list(search.names(db, [])), list(search.record_texts(db, [], True, True))]
        return out
    finally:
        c.close()


def test_the_review_store_reads_the_same_on_both_backends(cases):
    sqlite, pg = _store_reads(cases["sqlite"]), _store_reads(cases["postgresql"])
    for part in sqlite:
        assert pg[part] == sqlite[part], part
    # what the comparison stands on: each read finds something, and the case folding is ASCII's
    assert [loc.endswith("100%_done.txt") for _, loc in sqlite["names"]["%_d"]] == [True]
    assert sqlite["names"]["secret-name"] and sqlite["names"]["STRASSE"] == []
    assert sqlite["names"]["\u00dcber"] and sqlite["names"]["\u00fcber"] == []
    assert sqlite["meta"]["cam"] and sqlite["meta"]["40.4"] and sqlite["meta"]["nikon"]
    assert [loc.endswith("madrid.jpg") for _, loc, _ in sqlite["gallery"]["geotagged"]] == [True]
    assert sqlite["meta"]["\u00dcntel"] and sqlite["meta"]["NTEL"] and sqlite["meta"]["\u00fcntel"] == []
    assert sqlite["gallery"]["to"] == [] and len(sqlite["gallery"]["all"]) == 5
    assert sqlite["no items"] == [[], []]               # no items: no rows (PostgreSQL has no "IN ()")


META_DOCS = (
    {"make": "Canon", "lat": 48.858222222222224, "lon": -3.7019444444444, "gps_valid": True, "flash": False},
    {"tiny": 1e-05, "whole": 3.0, "huge": 1e+16, "big": 12345678901234567890, "n": -7, "none": None},
    {"nested": {"list": [1, "two", [3.25, {"deep": "x"}]], "empty": [], "obj": {}}},
    {"odd": "a\\u0000b as text", "quote": "\"", "pct": "100%_", "uni": "Stra\u00dfe \u00dcber \U0001f600"},
)


def test_photo_metadata_values_read_as_sqlite_reads_them(pg_server):
    """schema.PG_SEARCH's photo_meta_values gives a record's values as SQLite's json_tree gives
    their atoms, as text: the search box matches the same values on both backends."""
    import sqlite3

    import psycopg

    from forensic.store.schema import PG_SEARCH
    lite = sqlite3.connect(":memory:")
    with psycopg.connect(pg_server.new_database(), autocommit=True) as pg:
        for statement in PG_SEARCH:
            if "CREATE INDEX" not in statement:
                pg.execute(statement)
        for doc in map(json.dumps, META_DOCS):
            want = sorted(str(r[0]) for r in lite.execute(
                "SELECT CAST(atom AS TEXT) FROM json_tree(?) WHERE atom IS NOT NULL", (doc,)))
            (got,), = pg.execute("SELECT photo_meta_values(%s)", (doc,)).fetchall()
            assert sorted(got) == want, doc
        # a text holding a NUL, which no PostgreSQL text holds, up to it (as SQLite's LIKE reads it;
        # an escaped backslash before "u0000" is no NUL); no JSON: no values
        doc = json.dumps({"m": "A\0B\"C", "n": "\\u0000", "o": ["\0", "\\\0x"]})
        (got,), = pg.execute("SELECT photo_meta_values(%s)", (doc,))
        assert sorted(got) == ["", "A", "\\", "\\u0000"]
        assert [r[0].split("\0")[0] for r in lite.execute(
            "SELECT CAST(atom AS TEXT) FROM json_tree(?) WHERE atom IS NOT NULL ORDER BY 1", (doc,))] == sorted(got)
        assert pg.execute("SELECT photo_meta_values('not json')").fetchone() == (None,)
    lite.close()


def test_a_listed_term_holding_a_nul_is_searched_on_both_backends(cases, capsys, tmp_path):
    """A term of a list may hold a NUL: neither FTS5 (it reads a phrase up to it) nor
    PostgreSQL (no text holds one) can narrow the documents down with it, so every document's
    text is read; the search goes on and lists the same hits."""
    terms = tmp_path / "terms.txt"
    terms.write_bytes(b"HTML\0KEYWORD\nDOCX-KEYWORD\n")
    got = {}
    for backend, case in cases.items():
        for _ in range(2):          # the first indexes the documents' text, the second reads it there
            code, hits = _run(capsys, "search", "--list", terms, "--in", "content", "--json", "--case", case)
            assert code == 0 and [h["text"] for h in hits] == ["DOCX-KEYWORD"], backend
        got[backend] = hits
    assert got["postgresql"] == got["sqlite"]


def test_a_camera_make_holding_a_nul_pairs_the_same_on_both_backends(cases, capsys):
    """A hostile camera make holding a NUL (JSON \\u0000, which PostgreSQL's jsonb refuses) on
    a photo record: forensic similar and the search box read it on both backends alike."""
    from tests.search.folder_case import store
    added = {}
    try:
        for backend, case in cases.items():
            with store(case) as db:
                (file_id,) = db.execute("SELECT id FROM files WHERE name = 'IMG_0002.jpg'").fetchone()
                added[backend] = db.execute(
                    "INSERT INTO artifacts(item, file_id, record_type, extractor, fields, corrupted, warnings) "
                    "VALUES ('folder', ?, 'photo/exif', 'photo_exif@1', ?, 0, '[]') RETURNING id",
                    (file_id, json.dumps({"make": "Evil\0Cam", "model": "X"}))).fetchone()[0]
        got = {backend: _run(capsys, "similar", "--all", "--json", "--case", case) for backend, case in cases.items()}
        assert got["sqlite"][0] == 0 and got["postgresql"] == got["sqlite"]
        reads = {backend: _store_reads(case)["meta"] for backend, case in cases.items()}
        assert reads["postgresql"] == reads["sqlite"]
    finally:
        for backend, aid in added.items():
            with store(cases[backend]) as db:
                db.execute("DELETE FROM artifacts WHERE id = ?", (aid,))
