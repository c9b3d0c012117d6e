"""Red team: `forensic search` against hostile documents, hostile terms and hostile hit text;
see docs/threat-model.md."""
from __future__ import annotations

import io
import json
import time
import zipfile

import pytest

from forensic.search.text import extract


def _timed(kind: str, data: bytes) -> tuple[str, float]:
    start = time.monotonic()
    text, why = extract(kind, data)
    assert why is None and text is not None
    return text, time.monotonic() - start


def test_unclosed_script_tags_do_not_backtrack():
    """HTML of 50,000 ``<script>`` never closed (400 KB): each opener looked for its closer to
    the end of the page (quadratic: minutes). Linear now, and the words after them still found."""
    text, took = _timed("html", b"<script>" * 50_000 + b" needle")
    assert took < 5 and "needle" in text


def test_unclosed_angle_brackets_do_not_backtrack():
    """200,000 ``<`` with no ``>``: each looked for a ``>`` to the end of the page."""
    text, took = _timed("html", b"<" * 200_000 + b" needle")
    assert took < 5 and "needle" in text


def test_html_text_still_drops_tags_scripts_and_styles():
    text, _ = _timed("html", b"<html><style>p{}</style><p>hello <b>big</b></p><SCRIPT>var x</script >"
                              b"<p>world &amp; more</p></html>")
    assert "hello" in text and "big" in text and "world & more" in text
    assert "var x" not in text and "p{}" not in text and "<" not in text


def _docx(parts: int, chars: int) -> bytes:
    body = ("<w:document xmlns:w='w'><w:body><w:p><w:t>" + "a" * chars + "</w:t></w:p></w:body></w:document>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in range(parts):
            zf.writestr(f"word/header{n}.xml", body)
    return out.getvalue()


def test_a_docx_of_many_huge_parts_stops_at_the_text_cap():
    """A 1 MB docx whose 60 header parts each unpack to 8 MB of text (480 MB): every part was
    parsed and kept before the text was cut to its cap. Reading stops at the cap now."""
    import tracemalloc

    from forensic.search.text import MAX_TEXT
    data = _docx(60, 8 << 20)
    assert len(data) < 2 << 20
    tracemalloc.start()
    try:
        text, _ = _timed("ooxml", data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(text) == MAX_TEXT
    assert peak < 256 << 20, f"{peak >> 20} MB held (960 MB before the fix)"


# -- the command over a case: query syntax, terminal escapes, engines, many terms -------------

DOC = b'he wrote "QUOTE" NEAR *STAR* -minus text:col (x OR y) needle\x1b]0;pwned\x07\x1b[2J\x9b31m end\n'


@pytest.fixture(scope="module")
def hostile_case(tmp_path_factory):
    from tests.training_case import cli
    tmp = tmp_path_factory.mktemp("hostile_search")
    root = tmp / "extraction"
    root.mkdir()
    (root / "notes.html").write_bytes(b"<html><body><p>" + DOC + b"</p></body></html>")
    (root / "plain.txt").write_bytes(DOC)
    (root / "needle\x1b[31mred.txt").write_bytes(b"x")
    case = tmp / "case"
    assert cli("case", "init", case, "--case-id", "RT3", "--examiner", "E") == 0
    assert cli("evidence", "add", root, "--case", case, "--id", "logical") == 0
    cli("triage", "--case", case)
    return case


@pytest.mark.parametrize("term", ['"QUOTE" NEAR *STAR*', '"', "*STAR*", "NEAR", "-minus", "text:col", "(x OR y)"])
def test_fts_syntax_in_a_term_is_searched_literally(forensic, hostile_case, term):
    """A term with FTS5 query syntax (quotes, ``*``, ``NEAR``, ``-``, a column filter, OR and
    brackets): no query error, and the document holding it literally is found."""
    r = forensic("search", "--in", "content", "--case", hostile_case, "--json", "--", term, expect=None)
    assert r.code in (0, 3), r.err
    hits = [json.loads(line) for line in r.out.splitlines()]
    assert {h["locator"].rsplit("/", 1)[-1] for h in hits} >= {"notes.html", "plain.txt"}, (term, hits)
    assert all(h["text"] == term for h in hits)


def test_terminal_escapes_in_hits_are_shown_escaped(forensic, hostile_case):
    """Hit text, context and a file name carry ESC, BEL and a C1 CSI: neither the compact lines
    nor the JSON Lines write them raw to the terminal."""
    for extra in ((), ("--json",)):
        r = forensic("search", "needle", "--case", hostile_case, *extra, expect=None)
        assert r.code in (0, 3) and r.out.count("needle") >= 3, r.out
        for ch in ("\x1b", "\x07", "\x9b"):
            assert ch not in r.out and ch not in r.err, (extra, ch)


def test_the_fallback_engine_finds_what_hyperscan_finds():
    """Without Hyperscan, the ``re`` engine gives the same hits (offsets, terms, encodings)."""
    from forensic.search.terms import HAVE_HYPERSCAN, Matcher, Term
    if not HAVE_HYPERSCAN:
        pytest.skip("Hyperscan not installed")
    terms = [Term(t, "t") for t in ("needle", "QUOTE", "a?b\\c*d$e#f[g^", "ÉTÉ", "x")]
    terms += [Term(t, "r", True) for t in ("need+le", r"\d{3}-\d{4}", "[ÉE]T[ÉE]", r"\bOR\b")]
    data = (DOC + "été ÉTÉ a?b\\c*d$e#f[g^ 555-1234 ".encode() + "needle ÉTÉ 555-9876".encode("utf-16-le")) * 50
    text = data.decode("utf-8", "replace")
    for ignore_case in (False, True):
        got = [sorted((m.start, m.end, m.term.text, m.encoding)
                      for m in Matcher(terms, ignore_case, e).find_bytes(data)) for e in ("hyperscan", "re")]
        assert got[0] == got[1] and got[0]
        assert {(t, e) for _, _, t, e in got[0]} >= {(r"\d{3}-\d{4}", "utf-16le"), ("need+le", "utf-8")}
        got = [sorted((m.start, m.end, m.term.text) for m in Matcher(terms, ignore_case, e).find_text(text))
               for e in ("hyperscan", "re")]
        assert got[0] == got[1] and got[0]


def test_a_list_of_100000_terms(tmp_path):
    """100,000 terms: refused with a clear error (at most 10,000); 10,000 are compiled and
    matched over 1 MB in bounded time, every planted term found."""
    from forensic.errors import UsageError
    from forensic.search.terms import Matcher, read_list
    listing = tmp_path / "terms.txt"
    listing.write_text("\n".join(f"term{n:06d}x" for n in range(100_000)), encoding="utf-8")
    with pytest.raises(UsageError, match="100,000 terms"):
        Matcher(read_list(listing))
    listing.write_text("\n".join(f"term{n:06d}x" for n in range(10_000)), encoding="utf-8")
    start = time.monotonic()
    matcher = Matcher(read_list(listing))
    data = (b"filler " * 150_000)[:1 << 20] + b" term000007x term009999x"
    found = {m.term.text for m in matcher.find_bytes(data)}
    took = time.monotonic() - start
    assert found == {"term000007x", "term009999x"}
    assert took < 60, took


def test_a_catastrophic_regex_runs_in_linear_time():
    """``(a+)+$`` over a megabyte of ``a`` that ends in ``!``: Python's ``re`` backtracks
    exponentially (30 ``a`` take minutes); Hyperscan, which runs a user's regex, is linear."""
    from forensic.search.terms import HAVE_HYPERSCAN, Matcher, Term
    if not HAVE_HYPERSCAN:
        pytest.skip("Hyperscan not installed")
    matcher = Matcher([Term("(a+)+$", "term", True)])
    assert matcher.refused == {}
    start = time.monotonic()
    assert list(matcher.find_bytes(b"a" * (1 << 20) + b"!")) == []
    assert list(matcher.find_text("a" * 200_000 + "!")) == []
    assert [m.text for m in matcher.find_text("baaa")] == ["aaa"]
    assert time.monotonic() - start < 10


def test_a_gate_never_hides_a_match_pythons_regex_finds():
    """``\\b`` with Unicode words: Hyperscan takes ``\\b`` only without Unicode classes, where
    ``\\w`` misses ``é``; such a pattern is not gated over text, and ``café`` is found there."""
    from forensic.search.terms import Matcher, Term
    for engine in ("hyperscan", "re"):
        matcher = Matcher([Term(r"caf\w\b", "term", True)], engine=engine)
        assert [m.text for m in matcher.find_text("un café noir")] == ["café"]
        assert [(m.text, m.encoding) for m in matcher.find_bytes("un café noir".encode("utf-16le"))] == [
            ("café", "utf-16le")]


def test_a_regex_hyperscan_refuses_runs_under_a_time_bound():
    """A lookahead Hyperscan refuses, catastrophic in the ``regex`` module too: each text stops
    at the bound and is named; after three such texts the term is searched no further."""
    from forensic.search.terms import REGEX_STRIKES, Matcher, Term
    matcher = Matcher([Term("(a|aa)+(?=!)b", "term", True)], regex_timeout=0.2)
    assert "(a|aa)+(?=!)b" in matcher.refused
    start = time.monotonic()
    for _ in range(REGEX_STRIKES + 2):
        assert list(matcher.find_text("a" * 5_000 + "!")) == []
    assert time.monotonic() - start < 10 * REGEX_STRIKES * 0.2 + 5
    assert matcher.take_skipped() == [(Term("(a|aa)+(?=!)b", "term", True), True)]
    assert matcher.take_skipped() == []


def test_catastrophic_regexes_over_a_case_end_with_a_clear_message(forensic, tmp_path):
    """``forensic search --regex`` over a file of 200,000 ``a`` and a ``!`` (one buffer: ``$``
    over raw bytes also anchors at a buffer's end): ``(a+)+$`` ends at once with no warning;
    ``(a|aa)+(?=!)b`` (a lookahead: Hyperscan cannot gate it) says so, names the file it ran
    out of time on, and ends (exit 3)."""
    from tests.training_case import cli
    root = tmp_path / "extraction"
    root.mkdir()
    (root / "redos.txt").write_bytes(b"a" * 200_000 + b"!\n")
    (root / "fine.txt").write_bytes(b"meet aab there\n")
    case = tmp_path / "case"
    assert cli("case", "init", case, "--case-id", "RT4", "--examiner", "E") == 0
    assert cli("evidence", "add", root, "--case", case, "--id", "logical") == 0
    cli("triage", "--case", case)
    start = time.monotonic()
    r = forensic("search", "--regex", "(a+)+$", "--in", "content,names", "--case", case, "--json", expect=None)
    assert r.code == 0 and "{\"term\"" not in r.out and "Hyperscan" not in r.err, (r.out[-300:], r.err)
    assert time.monotonic() - start < 30
    start = time.monotonic()
    r = forensic("search", "--regex", "(a|aa)+(?=!)b", "--in", "content", "--case", case, "--json", expect=None)
    took = time.monotonic() - start
    assert r.code == 3, r.err
    err = " ".join(r.err.split())
    assert "Hyperscan cannot gate it" in err and "Zero-width assertions" in err
    assert "redos.txt" in err and "ran out of its 2 s" in err and "fine.txt" not in err
    assert took < 60, took
    r = forensic("search", "--regex", "a+b", "--in", "content", "--case", case, "--json", expect=None)
    assert r.code == 0 and "Hyperscan" not in r.err
    assert [json.loads(line)["text"] for line in r.out.splitlines() if line.startswith("{")] == ["aab"]


# -- hostile documents: entity expansion, deep nesting, a PDF bomb -----------------------------

def _docx_xml(xml: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("word/document.xml", xml)
    return out.getvalue()


def test_entity_expansion_in_a_docx_is_refused_with_a_reason():
    """Billion laughs in word/document.xml: no text, a reason, at once."""
    laughs = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
              + "".join(f'<!ENTITY {chr(98 + i)} "' + f"&{chr(97 + i)};" * 10 + '">' for i in range(9))
              + ']><w:document xmlns:w="w"><w:t>&j;</w:t></w:document>')
    start = time.monotonic()
    text, why = extract("ooxml", _docx_xml(laughs))
    assert text is None and why is not None and "Entities" in why
    assert time.monotonic() - start < 5


def test_deeply_nested_documents_are_read():
    """300,000 nested elements (XML) and 300,000 unclosed ``<div>`` (HTML): read without a
    recursion error or a crash, the word inside found."""
    text, took = _timed("ooxml", _docx_xml("<a>" * 300_000 + "needle" + "</a>" * 300_000))
    assert "needle" in text and took < 20
    text, took = _timed("html", b"<div>" * 300_000 + b"needle")
    assert "needle" in text and took < 5


def _pdf(stream: bytes) -> bytes:
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream"]
    out, offsets = b"%PDF-1.4\n", []
    for n, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)


def test_a_pdf_bomb_is_bounded():
    """A 250 KB PDF whose page stream inflates to 256 MB: pypdf's output limit holds (little
    memory, little time), no error that stops the search."""
    import tracemalloc
    import zlib
    z = zlib.compressobj(9)
    stream = z.compress(b"BT (needle) Tj ET ") + b"".join(z.compress(b" " * (1 << 20)) for _ in range(256)) + z.flush()
    data = _pdf(stream)
    assert len(data) < 1 << 20
    tracemalloc.start()
    try:
        start = time.monotonic()
        text, _why = extract("pdf", data)
        took, peak = time.monotonic() - start, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert took < 20 and peak < 200 << 20, (took, peak >> 20)


def test_fts_syntax_with_ignore_case(forensic, hostile_case):
    """The index prefilter with ``--ignore-case``: a lower-case term with FTS syntax still
    finds the document written in upper case."""
    r = forensic("search", "-i", "--in", "content", "--case", hostile_case, "--json", "--", '"quote" near *star*',
                 expect=None)
    assert r.code in (0, 3), r.err
    hits = [json.loads(line) for line in r.out.splitlines()]
    assert {h["locator"].rsplit("/", 1)[-1] for h in hits} >= {"notes.html", "plain.txt"}, hits
