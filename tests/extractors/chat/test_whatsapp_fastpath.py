"""The WhatsApp parser's fast paths against its line-by-line path, on generated chats.

Both passes read most lines with one regex per block (the file's layout, names split off,
rows counted column by column in pass 1, headers cached in pass 2). The reference run makes
that regex read no header at all, so that every line goes the plain way: the general header
match of each line, :meth:`_Scan.header` for pass 1 and ``start()`` for pass 2. Both runs must
give the same messages (every field), the same file facts and the same line accounting, for
any layout, locale clock, date order, block size, bidi marks, BOM, line breaks and mix of
lines (continuations, blank, broken headers, headers in another layout, service lines).
"""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forensic.extractors.chat import whatsapp_locale as loc
from forensic.extractors.chat import whatsapp_text as wt

LRM, RLM, NNBSP, NBSP = "\u200e", "\u200f", "\u202f", "\u00a0"

MARKERS = [("AM", "PM"), ("am", "pm"), ("a. m.", "p. m."), (f"a.{NBSP}m.", f"p.{NBSP}m."),
           ("vorm.", "nachm."), ("ص", "م"), ("午前", "午後"), ("XM", "YM")]
SENDERS = ["Ana", "Bob Smith", "+34 600 11 22 33", "~ Zed", "~\u00a0Zed", f"{LRM}Ana{LRM}", "Mr: X",
           "A:B", "Ana ", '"Q" man', "x" * 101, "مريم"]
BODIES = ["hello", "This message was deleted", "Mensaje eliminado.", "<Media omitted>",
          f"{LRM}image omitted", f"{LRM}<attached: 00000012-PHOTO-2021-03-14-21-08-00.jpg>",
          "IMG-20210314-WA0001.jpg (file attached)", "doc.pdf (archivo adjunto)",
          "https://maps.google.com/?q=41.38,2.17", "x (y) <z>", "", "héllo wörld", "a: b: c",
          "12:30 works", f"{LRM}Messages and calls are end-to-end encrypted.",
          "changed <This message was edited>", "message number 7", "мы удалили", "  spaced"]
EXTRA = ["more text", "", "   ", LRM, "2 more things", "[not a header", "12/12/2020 not a header",
         "14/03/2021, 21:6x - broken", "99/99/99, 12:00 - X: impossible date",
         "2021-03-14 21:05 - other layout", "31/12/2021, 23:59 - Ana: other layout, android"]


@st.composite
def chats(draw) -> bytes:
    style = draw(st.sampled_from(["android", "ios", "ios-time-first", "colon"]))
    ds = draw(st.sampled_from(["/", ".", "-"]))
    ts = draw(st.sampled_from([":", ":", "."]))
    year4 = draw(st.booleans())
    day_first = draw(st.booleans())
    twelve = draw(st.booleans())
    am, pm = draw(st.sampled_from(MARKERS))
    join = draw(st.sampled_from([" ", NNBSP, NBSP]))
    seconds = style != "android" and draw(st.booleans())
    mixed = draw(st.booleans())            # some headers with seconds, some without
    lines = []
    if draw(st.integers(0, 9)) == 0:
        lines.append("Some text before the first header")
    n = draw(st.integers(1, 40))
    head = None
    for _ in range(n):
        if head is not None and draw(st.integers(0, 2)) == 0:      # the same minute again
            sender = draw(st.sampled_from(SENDERS + [None]))
            body = draw(st.sampled_from(BODIES))
            lines.append(head + (f"{sender}: {body}" if sender is not None else body))
            lines.extend(draw(st.lists(st.sampled_from(EXTRA), max_size=2)))
            continue
        d, m = draw(st.integers(1, 28)), draw(st.integers(1, 12))
        y = draw(st.integers(2009, 2030))
        ys = str(y) if year4 else f"{y % 100:02d}"
        a, b = (d, m) if day_first else (m, d)
        pad = draw(st.booleans())
        date = ds.join([f"{a:02d}" if pad else str(a), f"{b:02d}" if pad else str(b), ys])
        h = draw(st.integers(0, 23))
        if draw(st.integers(0, 5)):
            clock = f"{(h % 12 or 12) if twelve else h}{ts}{draw(st.integers(0, 59)):02d}"
            sec = f"{draw(st.integers(0, 59)):02d}"
        else:       # an hour, minute or second out of range for its clock, or at its edge
            clock = ts.join(draw(st.tuples(st.sampled_from(["0", "00", "1", "11", "12", "13", "23", "24", "99"]),
                                           st.sampled_from(["00", "59", "60"]))))
            sec = draw(st.sampled_from(["00", "59", "60", "99"]))
        if seconds and (not mixed or draw(st.booleans())):
            clock += f"{ts}{sec}"
        if twelve:
            clock += join + (am if h < 12 else pm)
        lead = draw(st.sampled_from(["", "", "", LRM, RLM + LRM]))
        inner = draw(st.sampled_from(["", "", LRM]))
        if style == "android":
            head = f"{lead}{date}, {inner}{clock} - "
        elif style == "ios":
            head = f"{lead}[{date}, {inner}{clock}] "
        elif style == "ios-time-first":
            head = f"{lead}[{clock}, {inner}{date}] "
        else:
            head = f"{lead}{date}, {clock}: "
        sender = draw(st.sampled_from(SENDERS + [None]))
        body = draw(st.sampled_from(BODIES))
        lines.append(head + (f"{sender}: {body}" if sender is not None else body))
        lines.extend(draw(st.lists(st.sampled_from(EXTRA), max_size=2)))
    text = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines)
    if draw(st.booleans()):
        text += "\n"
    if draw(st.integers(0, 4)) == 0:
        text = "\ufeff" + text
    data = text.encode("utf-8")
    if draw(st.integers(0, 9)) == 0:
        data += b"\n\xff\xfe broken bytes\n"
    return data


def _parse(data: bytes) -> tuple:
    p = wt.parse_text(data)
    return p.messages, p.facts, p.counts, p.warnings


def _line_by_line(layout, marks=True, plain=False, raw=False, scan=False):
    """A block regex that reads no header: every line is tried on its own."""
    _, _, date_rx, time_rx = _ORIGINAL(layout, marks, plain)
    empty = "()" * ((3 if plain else 4) if scan else 5)
    return re.compile(rf"(?m)^{empty}([^\n]*)"), None, date_rx, time_rx


_ORIGINAL = wt._block_regex


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=chats(), block=st.sampled_from([1, 64, 700, 1 << 16]), sample=st.sampled_from([1, 3, 200]))
def test_fast_paths_agree_with_the_line_by_line_path(monkeypatch, data, block, sample):
    monkeypatch.setattr(wt, "BLOCK_BYTES", block)
    monkeypatch.setattr(wt, "_LAYOUT_SAMPLE", sample)     # the block regex from the first headers on
    fast = _parse(data)
    with monkeypatch.context() as m:
        m.setattr(wt, "_block_regex", _line_by_line)
        slow = _parse(data)
    assert fast[1:] == slow[1:]
    assert len(fast[0]) == len(slow[0])
    for a, b in zip(*(fast[0], slow[0])):
        assert a == b
    counts = fast[2]
    lines = wt.lines_of(data.decode("utf-8-sig", "replace"))
    assert (counts.message_lines + counts.system_lines + counts.continuation_lines + counts.corrupt_lines
            + counts.preamble_lines + counts.blank_lines) == len(lines)
    assert fast[1].lines == len(lines)
    raw = re.split(rb"\r\n|\r|\n", data)
    bad = [i + 1 for i, line in enumerate(raw[:-1] if raw[-1] == b"" else raw) if not _decodes(line)]
    assert fast[1].undecodable_lines == bad[:20] and fast[1].undecodable_count == len(bad)


def _decodes(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_the_reference_run_reads_every_line_on_its_own(monkeypatch):
    """The reference really avoids the block regex's headers (else the test above compares
    the fast path with itself)."""
    data = "".join(f"14/03/2021, 21:{i:02d} - Ana: hi {i}\n" for i in range(30)).encode()
    monkeypatch.setattr(wt, "_LAYOUT_SAMPLE", 3)
    calls = []
    original = wt._HeaderReader.match

    def match(self, line):
        calls.append(line)
        return original(self, line)
    monkeypatch.setattr(wt._HeaderReader, "match", match)
    fast = _parse(data)
    assert len(calls) == 3                                 # pass 1, until the layout is known
    monkeypatch.setattr(wt, "_block_regex", _line_by_line)
    calls.clear()
    assert _parse(data) == fast
    assert len(calls) == 3 + 27 + 30                     # pass 1 then pass 2, every line


@settings(max_examples=300, deadline=None)
@given(body=st.one_of(st.sampled_from(BODIES + ["Se eliminó este mensaje", "تم حذف هذه الرسالة",
                                                "Сообщение удалено", "This message was deleted."]),
                      st.text(st.sampled_from("aé ж.:>م12ثx\u202f"), max_size=90)),
       sender=st.sampled_from(["Ana", None]), bracket=st.booleans())
def test_a_text_without_marks_brackets_or_links_is_only_tested_for_the_deleted_marker(body, sender, bracket):
    """What the second pass's shortcut in finish() relies on: for a text with no bidi mark,
    '<', '(' or maps link, and not the first message, _classify only sets ``deleted``."""
    if "<" in body or "(" in body or "maps.google" in body or loc.MARKS_RX.search(body):
        return
    msg = wt.ChatMessage(2, 2, None, "", sender, None, "")
    wt._classify(msg, body, bracket, False)
    expected = wt.ChatMessage(2, 2, None, "", sender, None, body, deleted=len(body) <= 80 and wt._deleted(body))
    assert msg == expected


def _deleted_reference(text: str) -> bool:
    """The deleted-marker test without its cheap head check (what _deleted must equal)."""
    t = text.casefold().rstrip(". ")
    return t in loc.DELETED or (not text.isascii() and loc.is_deleted(text))


@st.composite
def deleted_like(draw) -> str:
    phrase = draw(st.sampled_from(sorted(loc.DELETED)))
    chars = []
    for c in phrase:
        if c == " ":
            c = draw(st.sampled_from([" ", "  ", "\t", NBSP, NNBSP, "\u2009", " \u3000"]))
        elif "\u0600" <= c <= "\u06ff" and draw(st.integers(0, 3)) == 0:
            c += draw(st.sampled_from(["\u064b", "\u0651", "\u0670"]))   # Arabic diacritics, dropped by norm()
        else:
            c = draw(st.sampled_from([c, c.upper(), c.title()]))
        chars.append(c)
    text = "".join(chars)
    text = draw(st.sampled_from(["", " ", "  ", "\t"])) + text + draw(st.sampled_from(["", ".", "...", " .", "。"]))
    if draw(st.integers(0, 3)) == 0:               # cut or changed: mostly not a marker any more
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.sampled_from(["", "x", "é", "ж"])) + text[i + 1:]
    return text


@settings(max_examples=500, deadline=None)
@given(text=st.one_of(deleted_like(), st.text(max_size=40)))
def test_the_deleted_head_check_only_rules_out_texts_that_are_no_marker(text):
    """_deleted's cheap head check (loc.maybe_deleted) never turns away a text the full test
    takes, for marker texts in any case, with blank runs, Arabic diacritics and trailing dots."""
    text = loc.strip_marks(text)                   # (its callers pass texts without bidi marks)
    assert wt._deleted(text) == _deleted_reference(text)
    if _deleted_reference(text):
        assert loc.maybe_deleted(text)


def test_blanks_are_every_white_space_character():
    """loc.BLANKS (the deleted-marker head check's blanks) holds every character that
    str.isspace() takes and the norm() blank-run regex matches, in all of Unicode."""
    every = [chr(c) for c in range(0x110000)]
    assert set(loc.BLANKS) == {c for c in every if c.isspace()} == {c for c in every if loc._WS.fullmatch(c)}


def test_a_file_with_every_clock_form_overflows_the_time_tables_and_reads_the_same(monkeypatch):
    """A hostile file: every seconds field and 12-hour marker form the plain header takes
    (more than the second pass keeps in its time tables, which are then cleared mid-file),
    each with hours that do and do not exist on its clock. Every header gets the time the
    line-by-line path gives, and the valid ones the time written."""
    import datetime as dt
    tails = [""] + [f":{s:02d}" for s in range(60)]
    markers = [""] + [sp + a + m for sp in (" ", NNBSP) for a in "AaPp" for m in "Mm"]
    lines, want = [], []
    for rep in range(2):
        for i, (tail, marker) in enumerate((t, m) for t in tails for m in markers):
            h = (i + rep) % 15                          # 0, 12, 13, 14: edges and nonsense on 12 hours
            lines.append(f"[14/03/21, {h}:{i % 60:02d}{tail}{marker}] Ana: message {rep} {i}")
            sec = int(tail[1:]) if tail else 0
            if not marker:
                want.append(dt.datetime(2021, 3, 14, h, i % 60, sec))
            else:
                h24 = (0 if h == 12 else h) + (12 if marker[1] in "pP" else 0)
                want.append(dt.datetime(2021, 3, 14, h24, i % 60, sec) if h24 < 24 else None)
    data = ("\n".join(lines) + "\n").encode()
    fast = _parse(data)
    monkeypatch.setattr(wt, "_block_regex", _line_by_line)
    slow = _parse(data)
    assert fast[:3] == slow[:3]
    assert [m.local for m in fast[0]] == want
    assert sum(m.corrupted for m in fast[0]) == want.count(None) > 0
