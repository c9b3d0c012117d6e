"""Red team, second round: `forensic search`'s raw pass against evidence laid out to meet
its buffer edges; see docs/threat-model.md."""
from __future__ import annotations

import pytest

from forensic.search.patterns import pattern_terms
from forensic.search.raw import scan
from forensic.search.terms import Matcher, Term


def _stream(lines: int = 400) -> bytes:
    """Lines of 100 bytes, "xfoo" ending each (a word that only ends in foo: its ``f`` at 96
    of each 100), the last line "foo" alone; then a line of 10,000 bytes (longer than a
    buffer's overlap) that starts "bar", and a last line "end" with no line break: ``$``
    (without ``(?m)``) has no match after "bar"."""
    return (b"A" * 95 + b"xfoo\n") * lines + b"foo\n" + b"bar" + b"B" * 10_000 + b"\nend"


# buffers that start at a "foo" (100 m + 96) or end their read inside the long line
BUFFERS = (4296, 4396, 5096, 8196, 4200, 6000)


def _hits(data: bytes, terms: list[Term], buffer: int) -> list[tuple[str, int]]:
    matcher = Matcher(terms)
    read = lambda at, n: data[at:at + n]        # noqa: E731
    return sorted((sh.match.term.text, sh.offset) for sh in scan(read, len(data), matcher, buffer=buffer)
                  if sh.match.encoding == "utf-8")


@pytest.mark.parametrize("pattern", [r"^foo", r"\bfoo", r"(?<!x)foo", r"\Afoo", r"(?m)^foo", r"(?<=A{90}x)foo",
                                     r"bar[^\n]*$", r"bar[^\n]*\Z", r"(?m)bar[^\n]*$", r"bar\w+\b", r"bar.*"])
def test_regex_anchors_do_not_depend_on_the_buffer_size(pattern):
    """A raw stream is one text: ``^``, ``\\b`` and a lookbehind at a buffer's first byte
    matched "xfoo"'s ``foo`` as if it started the stream or a word, and ``$`` at a buffer's last
    byte, so the hits (an offset reported as a line's start) changed with the buffer size."""
    data = _stream()
    terms = [Term(pattern, "cli", True)]
    want = _hits(data, terms, 1 << 20)              # one buffer: the whole stream
    for buffer in BUFFERS:
        assert _hits(data, terms, buffer) == want, buffer


def test_regex_anchored_hits_are_only_true_ones():
    data = _stream()
    terms = [Term(r"^foo", "cli", True), Term(r"(?m)^foo", "cli", True), Term(r"\bfoo", "cli", True),
             Term(r"bar[^\n]*$", "cli", True), Term(r"(?m)bar[^\n]*$", "cli", True), Term(r"end$", "cli", True)]
    for buffer in BUFFERS:
        got = _hits(data, terms, buffer)
        assert got == [("(?m)^foo", 40_000), ("(?m)bar[^\\n]*$", 40_004), ("\\bfoo", 40_000),
                       ("end$", len(data) - 3)], buffer


def test_a_card_number_split_by_a_buffer_edge_is_not_cut_to_a_valid_one():
    """The card pattern's lookbehind (no digit before) saw nothing at a buffer's first byte:
    the tail of a longer digit run that passes Luhn was a card number at any buffer edge."""
    card = b"4111111111111111"                       # passes Luhn
    data = bytearray(b"." * 30_000)
    for at in range(1000, 29_000, 1001):
        data[at - 3:at + 16] = b"999" + card        # 19 digits: the 16 after "999" are no card
    data = bytes(data)
    terms = pattern_terms(["card"])
    assert _hits(data, terms, 1 << 20) == []
    for buffer in (5004, 6005, 8007):               # 1001 m - 1: buffers that start at a "4111"
        assert _hits(data, terms, buffer) == [], buffer


def test_a_long_match_is_still_found_where_it_starts():
    """The fix keeps a match longer than the overlap (cut at MAX_MATCH) found where it starts."""
    data = b"." * 5000 + b"secret " + b"z" * 20_000 + b"\n" + b"." * 5000
    for buffer in (4200, 1 << 20):
        hits = _hits(data, [Term(r"secret [^\n]*", "cli", True)], buffer)
        assert hits[0] == (r"secret [^\n]*", 5000), buffer


def test_evidence_shorter_than_when_triaged_is_said(tmp_path):
    """A disk image cut short since triage (a copy that stopped, a full drive): the files past
    its new end were not searched and nothing said so, "N hits", exit 0, as if the whole
    evidence had been searched; with ``--unallocated`` pytsk3's error on a read past the end
    stopped the search (exit 1) and every hit was lost."""
    import contextlib
    import io
    import os

    from builders import fat_image

    from forensic.cli.main import main
    image = fat_image(tmp_path, {"/DOCS/A.TXT": b"hello secret one\n" * 10,
                                 "/DOCS/B.TXT": b"x" * 3000 + b"secret two\n"}, size_mib=8, fat=12)
    case = tmp_path / "case"
    quiet = contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO())
    with quiet[0], quiet[1]:
        assert main(["case", "init", str(case), "--case-id", "RT4", "--examiner", "E"]) == 0
        assert main(["evidence", "add", str(image), "--case", str(case), "--id", "card"]) == 0
        assert main(["triage", "--case", str(case)]) == 0
    whole = image.read_bytes()
    b_at = whole.index(b"secret two")
    os.truncate(image, b_at - 100)                  # B.TXT's cluster is past the end now
    for args in (["--in", "content"], ["--in", "raw"], ["--in", "content", "--unallocated", "--slack"]):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["search", "secret", "--case", str(case), *args])
        said = " ".join(err.getvalue().split())
        assert code == 3, (args, said)
        assert "shorter" in said, (args, said)
        if "content" in args:
            assert "/DOCS/B.TXT: only" in said and "A.TXT" in out.getvalue(), said     # the hits before kept


@pytest.mark.parametrize("pattern", [r"^foo", r"\bfoo", r"(?m)^foo", r"(?<=A{90}x)foo", r"bar[^\n]*$",
                                     r"(?m)bar[^\n]*$", r"end$"])
def test_utf16_regex_hits_do_not_depend_on_the_buffer_size(pattern):
    """The same in UTF-16LE text (its regexes run over the buffer decoded at both alignments):
    buffers of an odd size start inside a character."""
    data = _stream().decode("ascii").encode("utf-16le")
    terms = [Term(pattern, "cli", True)]

    def hits(buffer: int) -> list[int]:
        return sorted(sh.offset for sh in scan(lambda at, n: data[at:at + n], len(data), Matcher(terms),
                                               buffer=buffer) if sh.match.encoding == "utf-16le")
    want = hits(1 << 22)
    assert want or pattern in (r"^foo", r"bar[^\n]*$")
    for buffer in (4296, 4396, 8193, 8196, 6000):
        assert hits(buffer) == want, buffer


def test_a_long_list_of_regexes_costs_its_length_not_its_square():
    """A lab's list of 2,500 regexes (``--list FILE --regex``), none of which occurs: each
    buffer's gate listed the regexes it does not gate by looking each up in a list of all of
    them (6 million comparisons for each of a buffer's three views): 8 MiB took 2.9 s, a 1 TB
    image 4 days."""
    import os
    import time
    terms = [Term(f"zq{i}x", "lab.txt", True) for i in range(2500)]
    matcher = Matcher(terms)
    data = os.urandom(1 << 20) * 8
    start = time.perf_counter()
    assert list(scan(lambda at, n: data[at:at + n], len(data), matcher)) == []
    took = time.perf_counter() - start
    assert took < 1.0, took


def test_an_e01_whose_chunks_fail_their_checksum_is_said(tmp_path):
    """An E01 damaged since triage: libewf reads a chunk that fails its checksum as zeros, so
    the hits in it vanished and the search said "0 hit(s)", exit 0, as if the words were not
    on the device. The chunk spans found bad while searching are named now (exit 3)."""
    import contextlib
    import io

    from builders import e01_image, fat_image

    from forensic.cli.main import main
    raw = fat_image(tmp_path, {"/DOCS/A.TXT": b"hello secret one\n" * 10}, size_mib=8, fat=12)
    image = e01_image(tmp_path, raw)
    case = tmp_path / "case"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["case", "init", str(case), "--case-id", "RT4", "--examiner", "E"]) == 0
        assert main(["evidence", "add", str(image), "--case", str(case), "--id", "card"]) == 0
        assert main(["triage", "--case", str(case)]) == 0
    data = bytearray(image.read_bytes())
    at = data.index(b"hello secret one")           # uncompressed chunks: the file's bytes are there
    data[at:at + 5] = b"HELLO"                     # the chunk no longer matches its checksum
    image.write_bytes(bytes(data))
    for where in ("content", "raw"):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["search", "secret", "--case", str(case), "--in", where])
        said = " ".join(err.getvalue().split())
        assert code == 3, (where, said)
        assert "checksum" in said and "not when the E01 was added" in said, (where, said)


def test_a_file_of_one_word_repeated_cannot_flood_the_search(tmp_path):
    """A planted 14 MB file of "secret " repeated is 2 million hits: listed one by one for
    minutes, and ``--save`` held every one before storing them (killed at 4.6 GB and
    growing). The first 10,000 hits of a term in one file are listed, the rest counted."""
    import contextlib
    import io
    import json

    from builders import write_tree

    from forensic.cli.main import main
    from forensic.search.engine import MAX_HITS_PER_PLACE
    ev = write_tree(tmp_path / "ev", {"flood.txt": b"secret " * (MAX_HITS_PER_PLACE + 2000),
                                      "real.txt": b"the secret is here\n"})
    case = tmp_path / "case"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["case", "init", str(case), "--case-id", "RT4", "--examiner", "E"]) == 0
        assert main(["evidence", "add", str(ev), "--case", str(case), "--id", "ev"]) == 0
        assert main(["triage", "--case", str(case)]) == 0
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["search", "secret", "--case", str(case), "--in", "content", "--json"])
    hits = [json.loads(line) for line in out.getvalue().splitlines()]
    said = " ".join(err.getvalue().split())
    assert code == 3, said
    assert sum(h["locator"].endswith("flood.txt") for h in hits) == MAX_HITS_PER_PLACE
    assert sum(h["locator"].endswith("real.txt") for h in hits) == 1          # the real hit still listed
    assert "2,000 more hits of 'secret' not listed" in said
