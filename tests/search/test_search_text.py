"""``forensic search`` over a logical extraction (a folder): document text (PDF, DOCX, HTML,
UTF-16BE), names, record metadata, the built-in patterns and the lab's list; and the
streaming pass's seams, with buffers far smaller than the data."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from forensic.search.patterns import b58check, bech32_ok, eip55_ok, luhn, pattern_terms
from forensic.search.raw import RunMap, scan
from forensic.search.terms import Matcher, Term
from tests.builders import tiny_jpeg
from tests.search.folder_case import store, triaged_folder
from tests.training_case import cli


def _docx(words: list[str]) -> bytes:
    runs = "".join(f"<w:r><w:t>{w}</w:t></w:r>" for w in words)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"/>')
        z.writestr("word/document.xml", '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.'
                   f'org/wordprocessingml/2006/main"><w:body><w:p>{runs}</w:p></w:body></w:document>')
    return buf.getvalue()


def _pdf(text: str) -> bytes:
    import weasyprint
    return weasyprint.HTML(string=f"<p>{text}</p>").write_pdf()


PATTERNED = (b"ring +44 20 7946 0958 now; pay GB82 WEST 1234 5698 7654 32 or card 4111 1111 1111 1111 "
             b"(not 4111 1111 1111 1112); btc 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 eth "
             b"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed bad eth 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD "
             b"trx TJCnKsPa7y5okkXvQAidZBzqx3QyQ6sxMW mail ops@example.org see http://duskgytldkxiuqc6.onion/x\n")


@pytest.fixture(scope="module")
def folder_case(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("search_text")
    case = triaged_folder(tmp, {
        "docs/report.docx": _docx(["DOCX-", "KEY", "WORD"]),
        "docs/page.html": b"<html><body><p>HTML&#45;KEYWORD</p></body></html>",
        "docs/be.txt": "\ufeffBE-KEYWORD in UTF-16BE".encode("utf-16-be"),
        "docs/scan.pdf": _pdf("PDF KEYWORD"),
        "docs/money.txt": PATTERNED,
        "SECRET-NAME.txt": b"x",
        "photo.jpg": tiny_jpeg(make=b"MAKER-KEYWORD"),
        "WhatsApp Chat with Luis.txt": ("25/06/2021, 14:35 - Ana: Hola, ¿dónde estás?\n"
                                        "25/06/2021, 14:36 - Luis: En el muelle PORT-KEYWORD\n").encode(),
    }, "S-3")
    return case, tmp


def search(case: Path, capsys, *args: object) -> list[dict]:
    capsys.readouterr()
    code = cli("search", "--case", case, "--json", *args)
    out = capsys.readouterr().out
    assert code in (0, 3), out
    return [json.loads(line) for line in out.splitlines()]


def test_document_text(folder_case, capsys):
    case, _ = folder_case
    hits = {h["text"]: h for h in search(case, capsys, r"(DOCX|HTML|BE|PDF)[- ]KEYWORD", "--regex", "--in", "content")}
    assert set(hits) == {"DOCX-KEYWORD", "HTML-KEYWORD", "BE-KEYWORD", "PDF KEYWORD"}
    assert hits["DOCX-KEYWORD"]["extracted"] == "ooxml" and hits["DOCX-KEYWORD"]["locator"].endswith("report.docx")
    assert hits["PDF KEYWORD"]["extracted"] == "pdf"
    # UTF-16BE text one byte on is UTF-16LE: the raw pass finds it first, at its offset
    assert hits["BE-KEYWORD"]["encoding"] == "utf-16le" and hits["BE-KEYWORD"]["file_offset"] == 3
    assert all(h["where"] == "content" and h["image_offset"] is None for h in hits.values())
    # the first search indexed the documents' text (FTS5 or pg_trgm, trigram); the next ones read it there
    with store(case) as db:
        indexed = dict(db.execute("SELECT extractor, count(*) FROM content_text GROUP BY extractor"))
    assert indexed == {"ooxml": 1, "html": 1, "bom-text": 1, "pdf": 1}
    again = {h["text"]: h for h in search(case, capsys, r"(DOCX|HTML|BE|PDF)[- ]KEYWORD", "--regex", "--in",
                                          "content")}
    assert again == hits
    (docx,) = search(case, capsys, "docx-keyword", "-i", "--in", "content")       # through the trigram index
    assert docx["extracted"] == "ooxml" and docx["text"] == "DOCX-KEYWORD"
    assert search(case, capsys, "docx-keyword", "--in", "content") == []


def test_names_and_metadata(folder_case, capsys):
    case, _ = folder_case
    (n,) = search(case, capsys, "secret-name", "-i", "--in", "names")
    assert n["where"] == "name" and n["locator"].endswith("SECRET-NAME.txt")
    meta = search(case, capsys, "MAKER-KEYWORD", "--in", "metadata")
    assert meta and all(h["where"] == "metadata" and h["record_type"] for h in meta)
    assert any(h["locator"].endswith("photo.jpg") for h in meta)


def test_messages(folder_case, capsys):
    case, _ = folder_case
    hits = search(case, capsys, "port-keyword", "-i", "--in", "messages")
    assert [(h["where"], h["text"], h["field"]) for h in hits] == [("message", "PORT-KEYWORD", "body")]
    assert hits[0]["record_id"] and hits[0]["locator"].endswith("WhatsApp Chat with Luis.txt")
    assert "muelle [PORT-KEYWORD]" in hits[0]["context"]
    # the same words as content: the export's bytes
    (c,) = search(case, capsys, "PORT-KEYWORD", "--in", "content")
    assert c["where"] == "content" and c["file_offset"] > 0
    # hits are taggable as any record: their `target` is what `tag add` takes
    assert cli("tag", "add", hits[0]["target"], c["target"], "--tag", "port", "--item", "logical", "--case", case) == 0
    capsys.readouterr()
    assert cli("tag", "list", "--tag", "port", "--json", "--case", case) == 0
    tagged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted((t["kind"], t["ref"]) for t in tagged) == sorted(
        [("message", str(hits[0]["record_id"])), ("file", c["locator"])])


def test_builtin_patterns_and_a_lab_list(folder_case, capsys):
    case, tmp = folder_case
    hits = search(case, capsys, "--patterns", "all", "--in", "content")
    found = {(h["list"], h["text"]) for h in hits if h["locator"].endswith("money.txt")}
    assert ("pattern:phone", "+44 20 7946 0958") in found
    assert ("pattern:iban", "GB82 WEST 1234 5698 7654 32") in found
    assert ("pattern:card", "4111 1111 1111 1111") in found
    assert ("pattern:card", "4111 1111 1111 1112") not in found
    assert ("pattern:btc", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2") in found
    assert ("pattern:eth", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed") in found
    assert ("pattern:eth", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD") not in found
    assert ("pattern:trx", "TJCnKsPa7y5okkXvQAidZBzqx3QyQ6sxMW") in found
    assert ("pattern:email", "ops@example.org") in found
    assert ("pattern:onion", "duskgytldkxiuqc6.onion") in found
    lab = tmp / "lab-terms.txt"
    lab.write_text("# the lab's own list\nops@example\n\nWEST 1234\n")
    hits = search(case, capsys, "--list", lab, "--in", "content")
    assert {(h["list"], h["term"]) for h in hits} == {("lab-terms.txt", "ops@example"), ("lab-terms.txt", "WEST 1234")}


def test_checksums():
    assert luhn("4111111111111111") and not luhn("4111111111111112")
    assert b58check("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", b"\x00\x05")
    assert not b58check("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", b"\x00\x05")
    assert bech32_ok("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
    assert not bech32_ok("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5")
    assert eip55_ok("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
    assert not eip55_ok("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD")


def test_national_numbers_need_a_region():
    text = b"call 020 7946 0958 today"
    assert [m.text for m in Matcher(pattern_terms(["phone"])).find_bytes(text)] == []
    assert [m.text for m in Matcher(pattern_terms(["phone"], "GB")).find_bytes(text)] == ["020 7946 0958"]


@pytest.mark.parametrize("engine", ["hyperscan", "re"])
@pytest.mark.parametrize("buffer", [7, 64, 1000])
def test_every_seam_and_fragment(engine, buffer):
    """A term at every offset across seams and run boundaries is found once, at its place."""
    term = "NEEDLE-42"
    data = bytearray(b"." * 4000)
    places = list(range(0, 3900, 97))
    for p in places:
        data[p:p + len(term)] = term.encode()
    # the stream is the data cut into runs placed out of order in an "image"
    cuts = [0, 500, 1203, 2222, 4000]
    image = bytearray(b"#" * 9000)
    runs, at = [], 8000
    for a, b in zip(cuts, cuts[1:], strict=False):
        at -= (b - a) + 300
        image[at:at + b - a] = data[a:b]
        runs.append((at, b - a))
    rm = RunMap(runs)
    matcher = Matcher([Term(term, "t"), Term("needle-4\\d", "r", True)], ignore_case=True, engine=engine)
    hits = list(scan(rm.read_with(lambda o, n: bytes(image[o:o + n])), rm.size, matcher, buffer))
    lit = sorted(h.offset for h in hits if h.match.term.list == "t")
    assert lit == places
    reg = sorted(h.offset for h in hits if h.match.term.list == "r")
    assert reg == places
    for h in hits:
        if h.match.term.list == "t":
            crossing = any(h.offset < c < h.offset + len(term) for c in cuts)
            assert rm.crosses_fragment(h.offset, h.length) == crossing
            if not crossing:
                img = rm.image_offset(h.offset)
                assert img is not None and bytes(image[img:img + len(term)]) == term.encode()


def test_a_damaged_document_is_said_and_the_search_goes_on(tmp_path, capsys):
    case = triaged_folder(tmp_path, {
        "broken.pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ntrailer <<>>\n",
        "broken.docx": b"PK\x03\x04 not a zip at all",
        "ok.txt": b"the ONLY-WORD here\n"}, "S-4")
    capsys.readouterr()
    assert cli("search", "ONLY-WORD", "--in", "content", "--json", "--case", case) == 3
    captured = capsys.readouterr()
    (hit,) = [json.loads(line) for line in captured.out.splitlines()]
    assert hit["locator"].endswith("ok.txt")
    assert "broken.docx" in captured.err and "ooxml text not extracted" in captured.err


def test_archive_members_and_nested_archives_are_searched_as_triage_walked_them(tmp_path, capsys):
    """A ZIP holding a file, a .docx and a stored ZIP holding a TAR: each member's bytes and
    document text searched, each hit at the member's locator as ``forensic files`` lists it
    (the TAR's member is in the TAR's and the stored ZIP's bytes too: three hits); a .docx (a
    ZIP too) is searched as its text, not as its XML parts."""
    import tarfile
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as t:
        data = b"deep in a tar: TAR-SECRET\n"
        info = tarfile.TarInfo("deepest.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("box.tar", tar.getvalue())
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("notes/plan.txt", b"the ZIP-SECRET is here\n")
        z.writestr("memo.docx", _docx(["MEMO-SECRET"]))
        z.writestr("inner.zip", inner.getvalue())
    case = triaged_folder(tmp_path, {"outer.zip": outer.getvalue(), "letter.docx": _docx(["DOCX-SECRET"])}, "S-13")
    capsys.readouterr()
    assert cli("files", "--json", "--case", case) == 0
    stored = {json.loads(line)["locator"] for line in capsys.readouterr().out.splitlines()}
    for _ in range(2):              # the first search indexes the documents' text, the second reads the index
        capsys.readouterr()
        assert cli("search", "--regex", r"\w+-SECRET", "--in", "content", "--json", "--case", case) == 0
        hits = {(h["text"], h["locator"].rsplit("›", 1)[-1].strip(), h["extracted"])
                for h in map(json.loads, capsys.readouterr().out.splitlines())}
        assert hits == {("ZIP-SECRET", "notes/plan.txt", None), ("TAR-SECRET", "deepest.txt", None),
                        ("TAR-SECRET", "box.tar", None), ("TAR-SECRET", "inner.zip", None),
                        ("MEMO-SECRET", "memo.docx", "ooxml"), ("DOCX-SECRET", "/letter.docx", "ooxml")}, hits
    capsys.readouterr()
    assert cli("search", "TAR-SECRET", "--in", "content", "--json", "--case", case) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (hit,) = [h for h in hits if h["locator"].endswith("deepest.txt")]
    assert hit["locator"] in stored and hit["file_offset"] == 15
    assert all(h["locator"] in stored for h in hits)
