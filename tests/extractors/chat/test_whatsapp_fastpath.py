"""The WhatsApp parser's fast paths against its line-by-line reference, on generated chats.

Both passes have a public ``fast`` option. With ``fast=False`` every line is read on its own
(pass 1: the general header match of each line; pass 2: ``_LineParser``, one line at a time).
With the default, pass 1 reads a block at a time once the layout is known, and pass 2 reads
the headers of the file's layout a block at a time, with their times from tables. Both runs
must give the same messages (every field), the same file facts and the same line accounting,
for any layout, clock and marker language, date order, digits, calendar, block size, layout
sample, bidi marks, BOM, line breaks and mix of lines (continuations, blank, broken headers,
headers in another layout, service lines).
"""
from __future__ import annotations

import dataclasses
import io
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from forensic.extractors.chat import whatsapp_locale as loc
from forensic.extractors.chat import whatsapp_text as wt

LRM, RLM, NNBSP, NBSP = "\u200e", "\u200f", "\u202f", "\u00a0"

# (before noon, after noon) as exports write them; 'XM'/'YM' is no marker at all, and the
# Tagalog 'ng gabi' ("at night") reads by the hour (a night marker)
MARKERS = [("AM", "PM"), ("am", "pm"), ("a. m.", "p. m."), (f"a.{NBSP}m.", f"p.{NBSP}m."),
           ("vorm.", "nachm."), ("ص", "م"), ("午前", "午後"), ("오전", "오후"), ("πμ", "μμ"),
           ("in the morning", "in the afternoon"), ("ng umaga", "ng gabi"), ("XM", "YM")]
SENDERS = ["Ana", "Bob Smith", "+34 600 11 22 33", "~ Zed", "~\u00a0Zed", f"{LRM}Ana{LRM}", "Mr: X",
           "A:B", "Ana ", " Ana", f"Ana{NBSP}", '"Q" man', "“Q” man", "x" * 100, "x" * 101, "مريم",
           "María José", "Ana\tB"]
BODIES = ["hello", "This message was deleted", "Mensaje eliminado.", "<Media omitted>",
          f"{LRM}image omitted", f"{LRM}<attached: 00000012-PHOTO-2021-03-14-21-08-00.jpg>",
          "IMG-20210314-WA0001.jpg (file attached)", "doc.pdf (archivo adjunto)",
          "https://maps.google.com/?q=41.38,2.17", "x (y) <z>", "", "héllo wörld", "a: b: c",
          "12:30 works", f"{LRM}Messages and calls are end-to-end encrypted.",
          "changed <This message was edited>", "message number 7", "мы удалили", "  spaced",
          f"{LRM}hello", f"hello{RLM}", "تم حذف هذه الرسالة", "Se eliminó este mensaje", f"a{NBSP}b", "a\tb"]
EXTRA = ["more text", "", "   ", LRM, "2 more things", "[not a header", "12/12/2020 not a header",
         "14/03/2021, 21:6x - broken", "99/99/99, 12:00 - X: impossible date",
         "2021-03-14 21:05 - other layout", "31/12/2021, 23:59 - Ana: other layout, android",
         "[31/12/2021, 23:59:03] Ana: other layout, ios"]
ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@st.composite
def chats(draw) -> bytes:
    style = draw(st.sampled_from(["android", "ios", "ios-time-first", "colon", "french"]))
    ds = draw(st.sampled_from(["/", ".", "-"]))
    ts = draw(st.sampled_from([":", ":", "."]))
    year = draw(st.sampled_from(["2", "4", "4", "BE", "era"]))
    day_first = draw(st.booleans())
    twelve = draw(st.booleans())
    am, pm = draw(st.sampled_from(MARKERS))
    join = draw(st.sampled_from([" ", NNBSP, NBSP]))
    seconds = style != "android" and draw(st.booleans())
    mixed = draw(st.booleans())            # some headers with seconds, some without
    arabic = draw(st.integers(0, 5)) == 0  # Arabic-Indic digits in the headers
    marked = draw(st.sampled_from([0, 0, 1, 3]))   # how many in 4 headers have bidi marks
    lines = []
    if draw(st.integers(0, 9)) == 0:
        lines.append("Some text before the first header")
        lines.extend(draw(st.lists(st.sampled_from(EXTRA), max_size=2)))
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
        ys = {"2": f"{y % 100:02d}", "4": str(y), "BE": f"{y + 543} BE", "era": f"R{y - 2018}"}[year]
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
        if arabic:
            date, clock = date.translate(ARABIC_DIGITS), clock.translate(ARABIC_DIGITS)
        if twelve:
            clock += join + (am if h < 12 else pm)
        lead, inner = "", ""
        if draw(st.integers(0, 3)) < marked:
            lead = draw(st.sampled_from(["", LRM, RLM + LRM]))
            inner = draw(st.sampled_from(["", LRM]))
        if style == "android":
            head = f"{lead}{date}, {inner}{clock} - "
        elif style == "french":
            head = f"{lead}{date} à {inner}{clock} - "
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


def _parse(data: bytes, fast: bool, block_bytes: int = wt.BLOCK_BYTES,
           layout_sample: int = wt.LAYOUT_SAMPLE) -> tuple:
    """Both passes over ``data`` read in blocks of about ``block_bytes``: (messages, facts,
    counts, warnings), every dataclass as a tuple of its fields."""
    facts, counts = wt.ChatFacts(), wt.ChatCounts()
    wt.scan_blocks(wt.iter_blocks(io.BytesIO(data), facts, block_bytes=block_bytes), None, facts,
                   fast=fast, layout_sample=layout_sample)
    messages = list(wt.parse_blocks(wt.iter_blocks(io.BytesIO(data), block_bytes=block_bytes), facts, counts,
                                    fast=fast))
    return ([dataclasses.astuple(m) for m in messages], dataclasses.astuple(facts), dataclasses.astuple(counts),
            wt.facts_warnings(facts, counts))


@settings(max_examples=400, deadline=None)
@given(data=chats(), block=st.sampled_from([1, 64, 700, 1 << 16]), sample=st.sampled_from([1, 3, 200]))
def test_the_fast_paths_give_what_the_line_by_line_reference_gives(data, block, sample):
    """``sample``: the first pass's block regex from the first headers on (1, 3), or only
    after this short file (200); ``block``: a line a block (1) to the whole file."""
    fast = _parse(data, True, block, sample)
    slow = _parse(data, False, block, sample)
    assert fast[1:] == slow[1:]
    assert len(fast[0]) == len(slow[0])
    for a, b in zip(fast[0], slow[0], strict=True):
        assert a == b
    p = wt.parse_text(data)
    facts, counts = p.facts, p.counts
    lines = wt.lines_of(data.decode("utf-8-sig", "replace"))
    assert (counts.message_lines + counts.system_lines + counts.continuation_lines + counts.corrupt_lines
            + counts.preamble_lines + counts.blank_lines) == len(lines)
    assert facts.lines == len(lines)
    raw = re.split(rb"\r\n|\r|\n", data)
    bad = [i + 1 for i, line in enumerate(raw[:-1] if raw[-1] == b"" else raw) if not _decodes(line)]
    assert facts.undecodable_lines == bad[:20] and facts.undecodable_count == len(bad)


def _decodes(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_parse_text_passes_the_option_to_both_passes():
    """A file whose headers all have bidi marks (the fast path's regex switches to the full
    pattern) and a localised clock marker reads the same both ways, from bytes, text or lines."""
    data = "".join(f"{LRM}[14/03/21, {h}:0{h % 10}:01{NNBSP}p.{NBSP}m.] Ana: hi {h}\nmore\n"
                   for h in range(1, 13)) * 3
    fast = wt.parse_text(data.encode())
    assert len(fast.messages) == 36 and not fast.warnings
    assert fast.messages[0].local.hour == 13 and fast.messages[0].body == "hi 1\nmore"
    for source in (data.encode(), data, lambda: wt.lines_of(data)):
        assert wt.parse_text(source, fast=False) == fast


@settings(max_examples=300, deadline=None)
@given(body=st.one_of(st.sampled_from(BODIES + ["Se eliminó este mensaje", "تم حذف هذه الرسالة",
                                                "Сообщение удалено", "This message was deleted."]),
                      st.text(st.sampled_from("aé ж.:>م12ثx\u202f"), max_size=90)),
       sender=st.sampled_from(["Ana", None]), bracket=st.booleans())
def test_a_text_without_marks_brackets_or_links_is_only_tested_for_the_deleted_marker(body, sender, bracket):
    """What the second pass's shortcut in _LineParser.finish (and the fast path's one-line
    messages) relies on: for a text with no bidi mark, '<', '(' or maps link, and not the
    first message, _classify only sets ``deleted``."""
    if "<" in body or "(" in body or "maps.google" in body or loc.MARKS_RX.search(body):
        return
    msg = wt.ChatMessage(2, 2, None, "", sender, None, "")
    wt._classify(msg, body, bracket, False)
    expected = wt.ChatMessage(2, 2, None, "", sender, None, body, deleted=len(body) <= 80 and wt._deleted(body))
    assert msg == expected


def _deleted_reference(text: str) -> bool:
    """The deleted-marker test without its cheap head checks (what _deleted must equal)."""
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
    """_deleted's cheap head checks (the ASCII markers' first four characters, and
    loc.maybe_deleted) never turn away a text the full test takes, for marker texts in any
    case, with blank runs, Arabic diacritics and trailing dots."""
    text = loc.strip_marks(text)                   # (its callers pass texts without bidi marks)
    assert wt._deleted(text) == _deleted_reference(text)
    if _deleted_reference(text):
        assert loc.maybe_deleted(text)


def test_blanks_are_every_white_space_character():
    """loc.BLANKS (the deleted-marker head check's blanks) holds every character that
    str.isspace() takes and the norm() blank-run regex matches, in all of Unicode."""
    every = [chr(c) for c in range(0x110000)]
    assert set(loc.BLANKS) == {c for c in every if c.isspace()} == {c for c in every if loc._WS.fullmatch(c)}


def test_every_clock_form_reads_as_written():
    """A hostile file: every seconds field and 12-hour marker form the common header form
    takes (1,037 distinct clock tails), each with hours that do and do not exist on its
    clock. Every header gets the time the reference gives, and the valid ones the time
    written; the impossible ones (hour over 12 with a marker) their literal 24-hour time, flagged."""
    import datetime as dt
    tails = [""] + [f":{s:02d}" for s in range(60)]
    markers = [""] + [sp + a + m for sp in (" ", NNBSP) for a in "AaPp" for m in "Mm"]
    lines, want = [], []
    flagged = 0
    for rep in range(2):
        for i, (tail, marker) in enumerate((t, m) for t in tails for m in markers):
            h = (i + rep) % 15                          # 0, 12, 13, 14: edges and nonsense on 12 hours
            lines.append(f"[14/03/21, {h}:{i % 60:02d}{tail}{marker}] Ana: message {rep} {i}")
            sec = int(tail[1:]) if tail else 0
            if not marker or h > 12:        # an impossible 12-hour hour: read as written, flagged
                want.append(dt.datetime(2021, 3, 14, h, i % 60, sec))
                flagged += bool(marker)
            else:
                h24 = (0 if h == 12 else h) + (12 if marker[1] in "pP" else 0)
                want.append(dt.datetime(2021, 3, 14, h24, i % 60, sec))
    data = ("\n".join(lines) + "\n").encode()
    fast = wt.parse_text(data)
    assert fast == wt.parse_text(data, fast=False)
    assert [m.local for m in fast.messages] == want
    assert not any(m.corrupted for m in fast.messages)
    assert sum(bool(m.problem and "impossible 12-hour time" in m.problem) for m in fast.messages) == flagged > 0
