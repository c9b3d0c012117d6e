"""Pure parser for WhatsApp "Export chat" text files (no extractor machinery here).

A message line is a header (date, time, optional sender) followed by text; any line that
is not a header continues the message above it. The layouts seen in the wild:

    18/03/2022, 14:56 - Name: text                 Android (dash)
    [18/03/2022, 14:56:01] Name: text              iOS (bracket)
    [14:56:01, 3/18/22] Name: text                 iOS, time first (Vietnamese)
    12/24/14, 3:25:01 PM: Name: text               old iOS (colon)

with day-first, month-first or year-first dates; '/', '.' or '-' separators; 2- or 4-digit,
Buddhist-era ('2565 BE') or Japanese-era ('R4') years; 12-hour clocks with a localised
marker ('PM', 'a. m.', 'nachm.', 'م', 'in the afternoon', joined by U+202F or NBSP); Arabic-
Indic digits; bidi marks anywhere in the header.

Two passes, both streaming: :func:`scan` reads the whole file once and decides the layout
(from the first lines) and the date order (from every date in the file); :func:`parse` reads
it again and yields :class:`ChatMessage` objects. Only the distinct dates and the sender
names are held between the passes, never the text.

Each pass has a line-by-line reference and a fast path that reads the common lines a block
at a time; the ``fast`` option of :func:`scan_blocks` and :func:`parse_blocks` (default True)
chooses, and the tests hold both to the same results.
"""
from __future__ import annotations

import codecs
import functools
import io
import itertools
import operator
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import BinaryIO, Callable, Iterable, Iterator

from forensic.extractors.chat import whatsapp_locale as loc

DATE_ORDERS = ("dmy", "mdy", "ymd")
MAX_BODY_CHARS = 1 << 20          # one message's text is cut beyond this (warning)
MAX_SENDERS = 5000                # participants kept per file
MAX_DATES = 10_000                # date changes kept for the chronology tie-break
LAYOUT_SAMPLE = 200               # header lines used to decide the layout (scan_blocks)

_M = f"[{loc.MARKS}]*"
_SP = f"[{loc.SPACES}]"


def _header_pattern(time_first: bool, bracket: bool | None, ds: str | None, ts: str | None,
                    marks: bool = True, part: str | None = None) -> str:
    """Regex for a header; None parts are left general (the fallback pattern). Without
    ``marks`` the pattern allows no bidi marks (faster, for files that have none). ``part``
    'date' or 'time': only that part (its groups as in the whole header)."""
    _M = globals()["_M"] if marks else ""
    dsep = f"(?P<ds>{re.escape(ds)})" if ds else r"(?P<ds>[./\-])"
    dsep2 = re.escape(ds) if ds else "(?P=ds)"
    tsep = f"(?P<ts>{re.escape(ts)})" if ts else "(?P<ts>[:.])"
    tsep2 = re.escape(ts) if ts else "(?P=ts)"
    # optional parts as '(?:x|)', not '(?:x)?': the same matches (x first, then nothing), but
    # the re engine runs a branch faster than a repeated group
    date = (rf"(?P<date>(?P<d1>\d{{1,4}}){_M}{dsep}{_SP}?{_M}(?P<d2>\d{{1,2}}){_M}{dsep2}{_SP}?{_M}"
            rf"(?:(?P<era>[A-Z]{{1,2}})|)(?P<d3>\d{{1,4}})(?:{_SP}?(?P<be>BE)|)\.?)")
    # the time in two parts, its hours and minutes ('hm') and the rest of it ('tail': seconds
    # and 12-hour marker), for the second pass's clock tables (see _clock_tail)
    time = (rf"(?P<time>(?P<hm>(?P<h>\d{{1,2}}){tsep}(?P<mi>\d{{2}}))(?P<tail>(?:{tsep2}(?P<s>\d{{2}})|)"
            rf"(?:{_SP}*{_M}(?P<ap>[^\W\d_][^\]\d:\-–\n]{{0,20}}?)|)))")
    if part is not None:
        return date if part == "date" else time
    join = rf"{_M}(?:[,،]|{_SP}à|){_SP}*{_M}"          # French Android: '14/03/2021 à 21:05'
    body = f"{time}{join}{date}" if time_first else f"{date}{join}{time}"
    if bracket is True:
        return rf"{_M}\[{_M}{body}{_M}\]{_SP}?"
    if bracket is False:
        return rf"{_M}{body}{_M}(?:{_SP}[-–]{_SP}|:{_SP})"
    return rf"{_M}(?P<br>\[)?{_M}{body}{_M}(?(br)\]{_SP}?|(?:{_SP}[-–]{_SP}|:{_SP}))"


_GENERIC_DT = re.compile(_header_pattern(False, None, None, None))
_GENERIC_TD = re.compile(_header_pattern(True, None, None, None))
# A line that starts with a date and a time but is not a valid header: kept as a flagged record.
_BROKEN = re.compile(rf"{_M}\[?{_M}\d{{1,4}}[./\-]\d{{1,2}}[./\-]\S{{1,8}}[,،]?{_SP}*\d{{1,2}}[:.]\d")
# Such a line up to where its header would end ('] ' or ' - '): the 'Name:' after it is kept
_BROKEN_HEAD = re.compile(rf"{_BROKEN.pattern}[^\]\n]{{0,24}}?(?:\]{_SP}?|{_SP}[-–]{_SP})")
_RAW_TIME_STRIP = " []-–:" + loc.SPACES
# a shared location: 'https://maps.google.com/?q=LAT,LON' (also '/maps?q=', '%2C' for the comma)
_MAPS = re.compile(r"maps\.google\.[a-z.]+/(?:maps)?\?q=(-?\d{1,2}(?:\.\d+)?)(?:,|%2C)(-?\d{1,3}(?:\.\d+)?)")
_ATTACHED_IOS = re.compile(r"<[^<>:]{1,40}:\s?(?P<name>[^<>]{1,255})>")
_FILE_ATTACHED = re.compile(r"^(?P<name>[^\n]{1,255}?\.[A-Za-z0-9]{1,6})\s\((?P<label>[^()\n]{1,40})\)")
_EDITED_SUFFIX = re.compile(r"\s*<(?P<label>[^<>:]{4,60})>\s*$")


@dataclass(frozen=True, slots=True)
class Layout:
    time_first: bool
    bracket: bool
    date_sep: str
    time_sep: str

    @property
    def style(self) -> str:
        return "ios" if self.bracket else "android"


@dataclass(slots=True)
class ChatFacts:
    """What the first pass learned about one file."""

    layout: Layout | None = None
    date_order: str | None = None          # 'dmy' | 'mdy' | 'ymd'
    date_order_basis: str | None = None    # 'dates' | 'chronology' | 'option' | 'default'
    date_order_ambiguous: bool = False
    date_order_conflict: bool = False      # both a day > 12 in the first and in the second field
    clock: str | None = None               # '12h' | '24h'
    calendar: str = "gregorian"            # 'gregorian' | 'buddhist' | 'japanese'
    header_lines: int = 0
    marked_headers: int = 0                # headers with bidi marks or a BOM inside
    senders: list[str] = field(default_factory=list)
    lines: int = 0
    undecodable_lines: list[int] = field(default_factory=list)   # first few line numbers
    undecodable_count: int = 0
    encoding: str = "utf-8"


@dataclass(slots=True)
class ChatMessage:
    """One message as the export shows it (times local, zone unknown)."""

    line: int                       # first line (1-based)
    line_end: int                   # last line of its text
    local: datetime | None          # None for a corrupt header
    raw_time: str                   # the header's date and time, verbatim
    sender: str | None              # the header's 'Name:', always kept when it has one
    actor: str | None               # the name an iOS app notice stands under (not its sender)
    body: str
    system: bool = False
    deleted: bool = False
    edited: bool = False
    media_omitted: bool = False
    attachments: tuple[str, ...] = ()   # a tuple: no list to build for every message
    location: tuple[float, float] | None = None
    corrupted: bool = False
    problem: str | None = None
    layout_mismatch: bool = False   # header in a different layout from the file's
    app_notice: bool = False        # iOS: WhatsApp's notice under the chat's name (encryption...)


@dataclass(slots=True)
class ChatCounts:
    """Line accounting of the second pass (the conformance test checks it)."""

    message_lines: int = 0
    system_lines: int = 0
    continuation_lines: int = 0
    corrupt_lines: int = 0
    preamble_lines: int = 0
    blank_lines: int = 0
    truncated_messages: int = 0


# -- reading lines -----------------------------------------------------------------------------

BLOCK_BYTES = 1 << 16             # text is decoded and matched a block (whole lines) at a time


def iter_blocks(stream: BinaryIO, facts: ChatFacts | None = None, *,
                block_bytes: int = BLOCK_BYTES) -> Iterator[str]:
    """Decoded text of a byte stream in blocks of whole lines (about ``block_bytes``), each
    ending with ``"\\n"``: line breaks (CRLF, LF or lone CR) normalised to LF. Invalid UTF-8
    is replaced (U+FFFD) and counted in ``facts``; a leading BOM is dropped; UTF-16 (with
    its BOM) is decoded as such. Memory stays flat: one block at a time."""
    head = stream.read(4)
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        if facts is not None:
            facts.encoding = "utf-16"
        text = io.TextIOWrapper(_Prepend(head, stream), encoding="utf-16", errors="replace",
                                newline=None)
        carry = ""
        while True:
            chunk = text.read(max(1, block_bytes // 2))
            if not chunk:
                break
            chunk = carry + chunk
            cut = chunk.rfind("\n")
            if cut < 0:
                carry = chunk
                continue
            carry = chunk[cut + 1:]
            yield chunk[:cut + 1]
        if carry:
            yield carry + "\n"
        return
    src = _Prepend(head, stream)
    lineno = 0
    carry = b""
    first = True
    while True:
        chunk = src.read(block_bytes)
        if not chunk:
            break
        chunk = carry + chunk
        cut = chunk.rfind(b"\n")
        if cut < 0:                       # old Mac line breaks: cut at a CR not ending the chunk
            cut = chunk.rfind(b"\r", 0, len(chunk) - 1)
        if cut < 0:
            carry = chunk
            continue
        carry, chunk = chunk[cut + 1:], chunk[:cut + 1]
        if first:
            first = False
            if chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[3:]
        text = _decode_block(chunk, lineno, facts)
        if facts is not None:             # line numbers only name undecodable lines
            # (the bytes' count where no CR breaks a line: the same, and cheaper)
            lineno += text.count("\n") if b"\r" in chunk else chunk.count(b"\n")
        if text:
            yield text
    if carry:
        if first and carry.startswith(codecs.BOM_UTF8):
            carry = carry[3:]
        text = _decode_block(carry + b"\n", lineno, facts)
        if text:
            yield text


def iter_lines(stream: BinaryIO, facts: ChatFacts | None = None) -> Iterator[str]:
    """Decoded lines of a byte stream, one per physical line, without their line breaks
    (same rules as :func:`iter_blocks`)."""
    for block in iter_blocks(stream, facts):
        lines = block.split("\n")
        lines.pop()
        yield from lines


def _decode_block(chunk: bytes, lineno: int, facts: ChatFacts | None) -> str:
    """Text of a block that ends with a line break (CRLF, LF and lone CR all break lines),
    line breaks as LF."""
    try:
        text = chunk.decode("utf-8")
    except UnicodeDecodeError:
        out = []
        if chunk.endswith(b"\r"):
            chunk += b"\n"
        for raw in chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")[:-1]:
            try:
                out.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                if facts is not None:
                    facts.undecodable_count += 1
                    if len(facts.undecodable_lines) < 20:
                        facts.undecodable_lines.append(lineno + len(out) + 1)
                out.append(raw.decode("utf-8", "replace"))
        out.append("")
        return "\n".join(out)
    if "\r" in text:
        if text.endswith("\r"):
            text += "\n"
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _blocks_of_lines(lines: Iterable[str], size: int = 4096) -> Iterator[str]:
    """Blocks (see :func:`iter_blocks`) of an iterable of lines without line breaks."""
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= size:
            batch.append("")
            yield "\n".join(batch)
            batch = []
    if batch:
        batch.append("")
        yield "\n".join(batch)


class _Prepend(io.RawIOBase):
    """A stream with some already-read bytes put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(b))
        n = len(data)
        b[:n] = data
        return n

    def __iter__(self):
        buffered = io.BufferedReader(self, 1 << 16)
        return iter(buffered)


def lines_of(text: str) -> list[str]:
    """Physical lines of an in-memory text (same rules as :func:`iter_lines`)."""
    text = text.lstrip("\ufeff")
    if not text:
        return []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()                  # a final line break ends the last line, it adds none
    return lines


# -- headers -----------------------------------------------------------------------------------

def _starts_like_header(line: str) -> bool:
    c = line[:1]
    return c == "[" or c.isdigit() or (c != "" and c in loc.MARKS)


def _match_generic(line: str) -> re.Match | None:
    if not _starts_like_header(line):
        return None
    return _GENERIC_DT.match(line) or _GENERIC_TD.match(line)


def _layout_of(m: re.Match) -> Layout:
    time_first = m.re is _GENERIC_TD or m.start("h") < m.start("d1")
    bracket = "[" in m.group(0)[: m.start("h" if time_first else "d1") - m.start()]
    return Layout(time_first, bracket, m.group("ds"), m.group("ts"))


def looks_like_whatsapp(lines: Iterable[str], sample: int = 12) -> bool:
    """The first non-empty line is a message header, and so is most of the first few."""
    seen = hits = 0
    for line in lines:
        if not loc.strip_marks(line).strip():
            continue
        seen += 1
        m = _match_generic(line)
        if seen == 1 and m is None:
            return False
        if m is not None:
            hits += 1
        if seen >= sample:
            break
    return hits >= 1 and hits * 2 >= seen


class _HeaderReader:
    """Matches headers: the file's own layout first (one compiled regex), then the general
    pattern for the odd line in another layout."""

    def __init__(self, layout: Layout | None, marks: bool = True) -> None:
        self.layout = layout
        self._fast = self._marked = None
        if layout is not None:
            args = (layout.time_first, layout.bracket, layout.date_sep, layout.time_sep)
            self._marked = re.compile(_header_pattern(*args)).match
            self._fast = self._marked if marks else re.compile(_header_pattern(*args, marks=False)).match

    def match(self, line: str) -> tuple[re.Match | None, bool]:
        if self._fast is not None:
            m = self._fast(line) or self._marked(line)
            if m is not None:
                return m, False
        m = _match_generic(line)
        return m, (m is not None and self._fast is not None)


def _split_sender(rest: str, bracket: bool) -> tuple[str | None, str]:
    """'Name: text' -> ('Name', 'text'); a line without a name is a service line."""
    rest = rest.lstrip(loc.MARKS)
    if rest.startswith("~"):
        rest = rest[1:].lstrip(loc.SPACES + loc.MARKS)
    i = rest.find(": ")
    if i <= 0:
        if rest.endswith(":") and 0 < len(rest) <= 101:    # empty message body
            name = loc.strip_marks(rest[:-1]).strip(loc.SPACES)
            return (name or None), ""
        return None, rest
    name = rest[:i]
    if len(name) > 100 or "://" in name or (('"' in name or "“" in name) and _open_quote(name)):
        # a ': ' inside a quoted text ('Alice changed the subject to "Plan: B"') or after a
        # link is no name's end; a name with its quotes closed ('Bob "Bobby" B') is a name
        return None, rest
    name = loc.strip_marks(name).strip(loc.SPACES)
    if not name:
        return None, rest
    return name, rest[i + 2:]


def _open_quote(text: str) -> bool:
    """Whether ``text`` leaves a quotation open: an odd number of '"', or more '“' than '”'."""
    return text.count('"') % 2 == 1 or text.count("“") > text.count("”")


# -- pass 1 ------------------------------------------------------------------------------------

_BLOCK_REGEXES: dict[tuple, tuple] = {}


def _plain_header_pattern(layout: Layout, raw: bool = False) -> str:
    """The common form of ``layout``'s header, in a cheaper regex: ASCII digits, no bidi
    marks, no spaces inside the date, no era, a clock marker only as 'AM'/'PM'.

    Wherever it matches at the start of a line, the layout's full pattern matches the same
    text with the same date and time: it takes the same path through the full pattern, and
    each optional part of the full pattern it leaves out is shut out by what follows (a
    lookahead after the year for 'BE' and '.'; after the clock, the header's end or the
    date, neither of which starts with a letter). A line it does not match is tried with
    the full patterns, one by one: the result is the same, only slower.

    ``raw``: the group ``head`` around the date and time only (the header's raw time)."""
    ds, ts = re.escape(layout.date_sep), re.escape(layout.time_sep)
    date = rf"(?P<date>[0-9]{{1,4}}{ds}[0-9]{{1,2}}{ds}[0-9]{{1,4}})(?![0-9.]|[{loc.SPACES}]?BE)"
    # '(?:x|)' for '(?:x)?', as in _header_pattern (a fifth of the whole block regex's time)
    time = rf"(?P<time>[0-9]{{1,2}}{ts}[0-9]{{2}}(?:{ts}[0-9]{{2}}|)(?:[ \u202f][AaPp][Mm]|))(?![0-9])"
    if raw:         # the same, as hours and minutes + the rest (see _rows_regex)
        time = rf"(?P<hm>[0-9]{{1,2}}{ts}[0-9]{{2}})(?P<tail>(?:{ts}[0-9]{{2}}|)(?:[ \u202f][AaPp][Mm]|))(?![0-9])"
    join = r",?[ ]*"
    body = f"{time}{join}{date}" if layout.time_first else f"{date}{join}{time}"
    if raw:
        body = f"(?P<head>{body})"
    if layout.bracket:
        return rf"\[{body}\][{loc.SPACES}]?"
    return rf"{body}(?:[ ][-–][ ]|:[ ])"


def _block_regex(layout: Layout, marks: bool = True, plain: bool = False,
                 scan: bool = False) -> tuple[re.Pattern, Callable, re.Pattern, re.Pattern]:
    """For a block of lines (its final line break removed): one regex whose ``findall`` gives,
    for every line, (header, date, time, name, text, '') when the line starts with a header of
    ``layout`` (``plain``: in its common form, see :func:`_plain_header_pattern`), else
    ('', '', '', '', '', line); a getter putting the groups in that order (None when they are);
    and the regexes of the date and of the time alone (to read their parts).

    ``name`` is the text before the first ': ' of the rest of the line when that is the
    first colon and ends within 104 characters (what ``rest.find(": ", 0, 104)`` finds then),
    and ``text`` what follows it; otherwise ``name`` is '' and ``text`` is the whole rest.

    ``scan`` (for the first pass): rows (header, date, time, name, first), where ``first`` is
    the first character of a line that is not a header, and the text is left out (each
    column costs time in every row); with ``plain``, (date, time, name, first), the time
    only the 'm' or 'M' of its clock marker ('' without one). See :data:`_SCAN_COLUMNS`."""
    key = (layout, marks, plain, scan)
    hit = _BLOCK_REGEXES.get(key)
    if hit is None:
        args = (layout.time_first, layout.bracket, layout.date_sep, layout.time_sep, marks)
        columns = ("head", "date", "time", "name", "text", "other")
        if scan:
            head = _plain_header_pattern(layout) if plain else _header_pattern(*args)
            head = re.sub(r"\(\?P<(?!date>|time>)\w+>", "(?:", head)
            if plain:
                head = head.replace("(?P<time>", "(?:").replace("[AaPp][Mm]", "[AaPp](?P<time>[Mm])")
                columns = ("date", "time", "name", "first")
            else:
                head = f"(?P<head>{head})"
                columns = ("head", "date", "time", "name", "first")
            rx = re.compile(rf"(?m)^(?:{head}(?:(?P<name>[^:\n]{{1,102}}): |)|(?P<first>[^\n]?))[^\n]*")
            order = tuple(rx.groupindex[g] - 1 for g in columns)
            get = operator.itemgetter(*order) if order != tuple(range(len(columns))) else None
            hit = _BLOCK_REGEXES[key] = (rx, get, re.compile(_header_pattern(*args, part="date")),
                                         re.compile(head))
            return hit
        if plain:
            head = _plain_header_pattern(layout)
        else:
            head = re.sub(r"\(\?P<(?!date>|time>)\w+>", "(?:", _header_pattern(*args))
        head = f"(?P<head>{head})"
        rx = re.compile(rf"(?m)^(?:{head}(?:(?P<name>[^:\n]{{1,102}}): |)(?P<text>[^\n]*)"
                        rf"|(?P<other>[^\n]*))")
        gi = rx.groupindex
        order = tuple(gi[g] - 1 for g in columns)
        # None: findall's tuples are already in that order
        get = operator.itemgetter(*order) if order != tuple(range(len(columns))) else None
        hit = _BLOCK_REGEXES[key] = (rx, get, re.compile(_header_pattern(*args, part="date")),
                                     re.compile(_header_pattern(*args, part="time")))
    return hit


# columns of the first pass's rows (see _block_regex, scan): plain -> (header or None, date,
# time, name, first); and of _Scan._date_info's tuples
_SCAN_COLUMNS = {True: (None, *map(operator.itemgetter, range(4))),
                 False: tuple(map(operator.itemgetter, range(5)))}
_INFO_KEY, _DATE_CAL, _DATE_KIND = operator.itemgetter(0), operator.itemgetter(4), operator.itemgetter(5)
_LAST = operator.itemgetter(-1)


class _Scan:
    """State of the first pass (so that a file can be fed line by line, then by blocks)."""

    def __init__(self, facts: ChatFacts, layout_sample: int = LAYOUT_SAMPLE) -> None:
        self.facts = facts
        self.layout_sample = layout_sample
        self.sample: dict[Layout, int] = {}
        self.reader = _HeaderReader(None)
        self.over12_first = self.over12_second = 0
        self.dates: list[tuple[int, int, int]] = []
        self.last_date: tuple[str, str, str] | None = None
        self.last_date_text: str | None = None
        self.senders: dict[str, None] = {}
        self.twelve = 0
        self.date_info: dict[str, tuple] = {}      # date text -> _date_info()
        self.plain = True                          # blocks read with the plain pattern first
        self.known_names: set[str] = set()         # name prefixes (raw) of senders already listed
        self.calendars = False                     # a date of another calendar seen
        self._text, self._lines, self._head = "", None, None   # the block being read (see block())
        self._cols = _SCAN_COLUMNS[True]

    def header(self, m: re.Match, rest: str) -> None:
        """One header (``rest``: the text after it on its line)."""
        facts = self.facts
        facts.header_lines += 1
        if self.reader.layout is None:
            lay = _layout_of(m)
            self.sample[lay] = self.sample.get(lay, 0) + 1
            if facts.header_lines >= self.layout_sample:
                self.reader = _HeaderReader(max(self.sample, key=self.sample.get))
        head = m.group(0)
        if not head.isascii() and head != loc.strip_marks(head):
            facts.marked_headers += 1
        self.date(m)
        if m.group("ap"):
            self.twelve += 1
        self.sender(rest)

    def date(self, m: re.Match) -> None:
        text = m.group("date")
        if text == self.last_date_text:
            return
        self.last_date_text = text
        self.new_date(self._date_info(m))

    @staticmethod
    def _date_info(m: re.Match) -> tuple:
        """(key, first field, second field, year, calendar, kind) of a date match; the fields
        only for a date that is not year-first. ``kind``: 1 when the first field exceeds 12,
        2 when the second does (and not the first), 0 when neither, None for year-first."""
        d1, d2, d3 = key = m.group("d1", "d2", "d3")
        cal = "buddhist" if m.group("be") else "japanese" if m.group("era") else None
        if len(d1) < 3:
            a, b = int(d1), int(d2)
            return key, a, b, int(d3), cal, 1 if a > 12 else 2 if b > 12 else 0
        return key, None, None, None, cal, None

    def new_date(self, info: tuple) -> None:
        """A date (its :meth:`_date_info`) differing from the previous header's: counted for
        the day/month order."""
        key, a, b, y, cal, _ = info
        if key == self.last_date:
            return
        self.last_date = key
        if a is not None:
            if a > 12:
                self.over12_first += 1
            elif b > 12:
                self.over12_second += 1
            elif len(self.dates) < MAX_DATES and not (self.over12_first or self.over12_second):
                self.dates.append((a, b, y))
        if cal is not None:
            self.facts.calendar = cal

    def sender(self, rest: str) -> None:
        senders = self.senders
        if len(senders) >= MAX_SENDERS:
            return
        i = rest.find(": ", 0, 104)
        if i > 0 and rest[:i] in senders and rest[i + 2:i + 3] not in ("\u200e", "\u200f"):
            return
        name, body = _split_sender(rest, True)
        if name is not None and name not in senders and not _is_ios_service(name, body, self.facts):
            senders[name] = None

    def line(self, line: str) -> None:
        m, _ = self.reader.match(line)
        if m is not None:
            self.header(m, line[m.end():])

    def block(self, block: str, start: int = 0) -> int:
        """Whole lines of ``block`` from ``start``, once the layout is known: one regex over the
        block reads the layout's headers, the rows are then counted column by column (see
        :meth:`_rows`); the other lines that start like a header are tried one by one (a header
        in another layout), in their place between the runs of rows around them. Returns the
        number of lines read (the regex gives a row for every line)."""
        rx, get, _, self._head = _block_regex(self.reader.layout, plain=self.plain, scan=True)
        text = self._text = block[start:-1]
        self._lines = None
        rows = rx.findall(text)
        if get is not None:
            rows = list(map(get, rows))
        self._cols = _SCAN_COLUMNS[self.plain]
        first = self._cols[4]
        others = [i for i in itertools.compress(range(len(rows)), map(first, rows))
                  if _starts_like_header(first(rows[i]))]
        lo = 0
        for i in others:
            self._rows(rows[lo:i], lo)
            self.line(self._line(i))
            lo = i + 1
        self._rows(rows[lo:] if lo else rows, lo)
        if self.plain and len(others) * 4 > len(rows) + 7:
            self.plain = False                  # many headers not in the common form: full pattern
        return len(rows)

    def _line(self, i: int) -> str:
        """Line ``i`` of the block :meth:`block` reads."""
        if self._lines is None:
            self._lines = self._text.split("\n")
        return self._lines[i]

    def _rows(self, rows: list[tuple], lo: int) -> None:
        """Rows of the block regex (see :func:`_block_regex`, ``scan``), from line ``lo`` of the
        block, with no line among them to try one by one: the same counts as :meth:`header`
        would make for each header row, made column by column in C loops (a file of a million
        messages has some thousand distinct dates and a few senders)."""
        col_head, col_date, col_time, col_name, _ = self._cols
        dates = list(filter(None, map(col_date, rows)))
        n = len(dates)
        if not n:
            return
        facts = self.facts
        facts.header_lines += n
        if not self.plain and not self._text.isascii():        # the plain pattern reads no marks
            strip = loc.strip_marks
            facts.marked_headers += sum(1 for h in map(col_head, rows) if h and not h.isascii() and h != strip(h))
        if self.plain:      # the time column: the 'm' or 'M' of 'AM'/'PM' (see _block_regex)
            self.twelve += len("".join(map(col_time, rows)))
        else:               # a clock without a marker ends with its minutes
            self.twelve += n - sum(map(str.isdecimal, map(_LAST, filter(None, map(col_time, rows)))))
        self._dates(dates)
        known = self.known_names
        if len(self.senders) >= MAX_SENDERS or known.issuperset(map(col_name, rows)):
            return
        # the header rows whose name prefix is not one already known to name a listed sender
        unknown = map(operator.not_, map(known.__contains__, map(col_name, rows)))
        for i in itertools.compress(range(len(rows)), unknown):
            row = rows[i]
            if col_date(row):
                line = self._line(lo + i)
                self.sender(line[self._head.match(line).end():])
                raw = col_name(row)
                if raw and _split_sender(raw + ": ", True)[0] in self.senders:
                    known.add(raw)

    def _dates(self, texts: list[str]) -> None:
        """The dates of consecutive headers, counted as :meth:`date` counts them one by one:
        each date that differs from the one before goes to :meth:`new_date`."""
        info = self.date_info
        before = itertools.chain((self.last_date_text,), texts)
        changes = list(itertools.compress(texts, map(operator.ne, texts, before)))
        self.last_date_text = texts[-1]
        if not changes:
            return
        infos = list(map(info.get, changes))
        if None in infos:
            if len(info) > 50_000:
                info.clear()
            date_rx = _block_regex(self.reader.layout)[2]
            for text in changes:
                if text not in info:
                    info[text] = d = self._date_info(date_rx.fullmatch(text))
                    if d[4] is not None:
                        self.calendars = True
            infos = list(map(info.__getitem__, changes))
        if self.plain:      # distinct texts of the plain pattern are distinct dates
            if infos[0][0] == self.last_date:
                del infos[0]
        else:
            keys = list(map(_INFO_KEY, infos))
            before = itertools.chain((self.last_date,), keys)
            infos = list(itertools.compress(infos, map(operator.ne, keys, before)))
        if not infos:
            return
        self.last_date = infos[-1][0]
        if not (self.over12_first or self.over12_second):
            # the ambiguous dates before the first one that tells the order are kept
            dates = self.dates
            for _, a, b, y, _, kind in infos:
                if kind or len(dates) >= MAX_DATES:
                    break
                if kind is not None:
                    dates.append((a, b, y))
        kinds = list(map(_DATE_KIND, infos))
        self.over12_first += kinds.count(1)
        self.over12_second += kinds.count(2)
        if self.calendars:
            cals = list(filter(None, map(_DATE_CAL, infos)))
            if cals:
                self.facts.calendar = cals[-1]

    def finish(self, date_order: str | None) -> ChatFacts:
        facts = self.facts
        if self.reader.layout is None and self.sample:
            self.reader = _HeaderReader(max(self.sample, key=self.sample.get))
        facts.layout = self.reader.layout
        facts.senders = list(self.senders)
        twentyfour = facts.header_lines - self.twelve
        facts.clock = "12h" if self.twelve > twentyfour else "24h" if facts.header_lines else None
        _decide_order(facts, self.over12_first, self.over12_second, self.dates, date_order)
        return facts


def scan_blocks(blocks: Iterable[str], date_order: str | None = None, facts: ChatFacts | None = None, *,
                fast: bool = True, layout_sample: int = LAYOUT_SAMPLE) -> ChatFacts:
    """First pass over blocks of whole lines (see :func:`iter_blocks`): layout, clock,
    calendar, date order and senders of the whole file. Line by line until the layout is
    decided (from the first ``layout_sample`` headers), then one regex over each block;
    ``fast=False``: every line on its own (the reference). Both give the same facts."""
    facts = facts if facts is not None else ChatFacts()
    st = _Scan(facts, layout_sample)
    lines = 0
    for block in blocks:
        start = 0
        while (not fast or st.reader.layout is None) and start < len(block):
            end = block.index("\n", start)
            st.line(block[start:end])
            lines += 1
            start = end + 1
        if start < len(block):
            lines += st.block(block, start)
    facts.lines = lines
    return st.finish(date_order)


def scan(lines: Iterable[str], date_order: str | None = None, facts: ChatFacts | None = None, *,
         fast: bool = True) -> ChatFacts:
    """First pass over lines (without their line breaks); see :func:`scan_blocks`."""
    return scan_blocks(_blocks_of_lines(lines), date_order, facts, fast=fast)


def _decide_order(facts: ChatFacts, first: int, second: int, dates: list, option: str | None) -> None:
    if option is not None and option not in DATE_ORDERS:
        option = None
    if first and second:
        facts.date_order_conflict = True
        facts.date_order = "dmy" if first >= second else "mdy"
        facts.date_order_basis = "dates"
        return
    if first:
        facts.date_order, facts.date_order_basis = "dmy", "dates"
        return
    if second:
        facts.date_order, facts.date_order_basis = "mdy", "dates"
        return
    if not dates:                       # only year-first dates, or no header at all
        facts.date_order, facts.date_order_basis = "ymd", "dates"
        return
    facts.date_order_ambiguous = len({(a, b) for a, b, _ in dates if a != b}) > 0
    if not facts.date_order_ambiguous:  # every date has day == month: either reading is right
        facts.date_order, facts.date_order_basis = "dmy", "dates"
        return
    if option in ("dmy", "mdy"):
        facts.date_order, facts.date_order_basis = option, "option"
        return
    # exports are (nearly) in time order: the reading with fewer steps back in time wins
    def descents(order: str) -> int:
        seq = [(y, b, a) if order == "dmy" else (y, a, b) for a, b, y in dates]
        return sum(1 for x, y in zip(seq, seq[1:], strict=False) if y < x)     # each date with the next
    dmy, mdy = descents("dmy"), descents("mdy")
    if dmy != mdy:
        facts.date_order = "dmy" if dmy < mdy else "mdy"
        facts.date_order_basis = "chronology"
    else:
        facts.date_order, facts.date_order_basis = "dmy", "default"


# -- pass 2: a header's time -------------------------------------------------------------------

# a header's date or time alone, in any layout (for texts a header pattern has captured)
_DATE = re.compile(_header_pattern(False, None, None, None, part="date"))
_TIME = re.compile(_header_pattern(False, None, None, None, part="time"))


def _calendar_date(d1: str, d2: str, d3: str, era: str | None, be: str | None,
                   date_order: str) -> tuple[int, int, int]:
    """(year, month, day) of a header date's fields, in the file's date order."""
    if len(d1) >= 3:
        y, mo, d = int(d1), int(d2), int(d3)
    else:
        y = int(d3)
        mo, d = (int(d2), int(d1)) if date_order == "dmy" else (int(d1), int(d2))
        if era:
            y += {"R": 2018, "H": 1988, "S": 1925}.get(era.upper(), 0)
        elif len(d3) <= 2:
            y += 2000
    if be or y > 2400:             # Thai Buddhist era
        y -= 543
    return y, mo, d


def _hour24(h: int, ap: str | None) -> int | None:
    if not ap:
        return h
    key = loc.ampm_key(ap)
    if key in loc.NIGHT_MARKERS:
        return 0 if h == 12 else h if h < 6 else h + 12
    if key in loc.AM_MARKERS:
        return 0 if h == 12 else h
    if key in loc.PM_MARKERS:
        return h if h == 12 else h + 12
    return None


def _read_time(date_text: str, time_text: str, date_order: str) -> tuple[datetime | None, str | None]:
    """(local time, None) of a header's date and time texts, or (None, why they are no time)."""
    try:
        y, mo, d = _calendar_date(*_DATE.fullmatch(date_text).group("d1", "d2", "d3", "era", "be"), date_order)
    except ValueError as exc:
        return None, f"invalid date or time in header: {exc}"
    h, mi, s, marker = _TIME.fullmatch(time_text).group("h", "mi", "s", "ap")
    note = None
    if marker and 12 < int(h) < 24:
        # '23:59 PM': no 12-hour clock has this hour. The digits are the one reading the line
        # offers: the time is taken as written on a 24-hour clock, the marker ignored, and
        # the message flagged (kept, not dropped)
        h24: int | None = int(h)
        note = (f"impossible 12-hour time {time_text.strip()!r} (hour {int(h)} with marker {marker.strip()!r}): "
                f"read as the literal 24-hour time {int(h):02d}:{mi}")
    else:
        h24 = _hour24(int(h), marker)
    if h24 is None:
        return None, f"unknown 12-hour clock marker {marker!r}"
    try:
        # the export's wall-clock time: its zone is unknown and is never guessed
        return datetime(y, mo, d, h24, int(mi), int(s) if s else 0), note  # noqa: DTZ001
    except ValueError as exc:
        return None, f"invalid date or time in header: {exc}"


def _raw_time(head: str) -> str:
    """A header's date and time as written (bidi marks, brackets and dashes around removed)."""
    return (head if head.isascii() else loc.strip_marks(head)).strip(_RAW_TIME_STRIP)


# The fast path reads a header's time as a sum: its date's midnight (_midnight), its hours
# and minutes (a table of every valid text), and what the rest of its clock adds (seconds,
# 12 hours for 'PM': _clock_tail). A header the tables do not read (an hour over 12 before
# 'PM', a night marker, an invalid date...) goes to _read_time, which also tells the problem.

def _clock_table(twelve: bool) -> dict[str, timedelta]:
    """Every way a header writes a valid hour and minute ('7:05', '07.05', '23:59') -> the
    time since midnight it stands for; on a 12-hour clock (hours 0 to 12), before its marker
    applies: 12:05 is 0:05, and 'PM' adds 12 hours."""
    table = {}
    for h in range(13 if twelve else 24):
        for hour in {str(h), f"{h:02d}"}:
            for mi in range(60):
                since = timedelta(hours=h % 12 if twelve else h, minutes=mi)
                table[f"{hour}:{mi:02d}"] = table[f"{hour}.{mi:02d}"] = since
    return table


_CLOCK_24H = _clock_table(False)
_CLOCK_12H = _clock_table(True)
_NO_CLOCK: tuple[timedelta, dict[str, timedelta]] = (timedelta(0), {})
# the tail group of a header's time (see _header_pattern) on its own
_TAIL = re.compile(rf"(?:[:.](?P<s>\d{{2}})|)(?:{_SP}*{_M}(?P<ap>[^\W\d_][^\]\d:\-–\n]{{0,20}})|)")


@functools.lru_cache(maxsize=4096)
def _clock_tail(tail: str) -> tuple[timedelta, dict[str, timedelta]]:
    """The rest of a header's clock after its hours and minutes (':01 PM', ' p. m.', ':01',
    ''): the time it adds, and the table that reads the hours and minutes before it; an empty
    table where the tables do not apply (seconds over 59, a night or unknown marker). A file
    has at most a few hundred of these (more only in hostile input: hence the bound)."""
    s, ap = _TAIL.fullmatch(tail).group("s", "ap")
    seconds = int(s) if s else 0
    if seconds > 59:
        return _NO_CLOCK
    if not ap:
        return timedelta(seconds=seconds), _CLOCK_24H
    key = loc.ampm_key(ap)
    if key in loc.NIGHT_MARKERS:            # AM or PM depending on the hour
        return _NO_CLOCK
    if key in loc.AM_MARKERS:
        return timedelta(seconds=seconds), _CLOCK_12H
    if key in loc.PM_MARKERS:
        return timedelta(hours=12, seconds=seconds), _CLOCK_12H
    return _NO_CLOCK


@functools.lru_cache(maxsize=4096)
def _midnight(date_text: str, date_order: str) -> datetime | None:
    """The start of a header's date, or None when it is no date. A file has one date text
    for each day it has messages on, in order (the dates the bound drops are behind it)."""
    try:
        return datetime(*_calendar_date(*_DATE.fullmatch(date_text).group("d1", "d2", "d3", "era", "be"),  # noqa: DTZ001
                                        date_order))          # a wall-clock date, zone unknown
    except ValueError:
        return None


# -- pass 2: classifying a message -----------------------------------------------------------

def _deleted(text: str) -> bool:
    """Whether ``text`` (without bidi marks) is a deleted-message marker."""
    if text.isascii():              # the ASCII markers' first four characters rule out most texts
        return text[:4].lower() in loc.DELETED_ASCII_HEADS and text.casefold().rstrip(". ") in loc.DELETED
    if not loc.maybe_deleted(text):
        return False
    return text.casefold().rstrip(". ") in loc.DELETED or loc.is_deleted(text)


def _classify(msg: ChatMessage, body: str, bracket: bool, first: bool) -> None:
    """Service line, deleted marker, media placeholder, attachment, location, edited flag."""
    generated = body.lstrip(" ")[:1] in ("\u200e", "\u200f")
    text = body if body.isascii() else loc.strip_marks(body)
    if text.endswith(">"):
        m = _EDITED_SUFFIX.search(text)
        if m and loc.norm(m.group("label")) in loc.EDITED:
            msg.edited = True
            text = text[: m.start()]
    if "<" in text:
        names = []
        for m in _ATTACHED_IOS.finditer(text):
            name = m.group("name").strip()
            if "." in name and "://" not in name:
                names.append(name)
        if names:
            msg.attachments = tuple(names)
    if "(" in text and not msg.attachments:
        m = _FILE_ATTACHED.match(text)
        if m and (loc.norm(m.group("label")) in loc.FILE_ATTACHED
                  or loc.WA_MEDIA_NAME.match(m.group("name"))):
            msg.attachments = (m.group("name"),)
    if "maps.google" in text:
        m = _MAPS.search(text)
        if m:
            lat, lon = float(m.group(1)), float(m.group(2))
            if -90 <= lat <= 90 and -180 <= lon <= 180:         # a position on the globe only
                msg.location = (lat, lon)
    if len(text) <= 80 and _deleted(text):
        msg.deleted = True
    elif not msg.attachments:
        head = text.split("\n", 1)[0] if "\n" in text else text
        if head.startswith("<") and head.endswith(">") and ":" not in head:
            msg.media_omitted = True                  # Android '<Media omitted>'
        elif (generated or "\u200e" in body or "\u200f" in body) and loc.is_omitted_placeholder(body):
            msg.media_omitted = True                  # iOS 'image omitted'
        elif msg.sender is not None and bracket and msg.location is None and (
                generated or first) and loc.is_system_phrase(text):
            # iOS writes WhatsApp's own notices (encryption, security code) under the chat's
            # name ('Name: ‎Messages and calls are end-to-end encrypted'), where Android
            # writes them with no name. Nobody wrote such a line: it is a system line, as in
            # the Android export of the same chat, and the name it stands under is kept as
            # its ``actor``, never dropped. Any other line with a 'Name:' keeps its sender.
            msg.app_notice = True
            msg.system = True
            msg.actor, msg.sender = msg.sender, None
    msg.body = text


def _is_ios_service(name: str, body: str, facts: ChatFacts) -> bool:
    """Whether the first message seen from ``name`` is an iOS app notice written under the
    chat's name: such a name is not listed as a participant until it writes a message of
    its own (a group's name is no participant). Its messages keep it as their sender."""
    if body.lstrip(" ")[:1] not in ("\u200e", "\u200f") and facts.header_lines > 1:
        return False
    probe = ChatMessage(0, 0, None, "", name, None, "")
    _classify(probe, body, True, facts.header_lines == 1)
    return probe.app_notice


# -- pass 2: the messages, line by line (the reference) ----------------------------------------

_BLANK = loc.MARKS + " \t"                  # a line of only these is a blank line
_CUT = "message text cut"


class _LineParser:
    """The second pass, one line at a time: the reference reading of a file's messages.

    A header line (in the file's layout or in another) starts a message; a line that starts
    with a date and a time but is no header is kept as a flagged record; text before the
    first header is kept as one flagged record; any other line continues the message above.
    A message is classified (service line, deleted, attachments...) when it ends.
    :func:`_parse_fast` hands it every line it does not read itself."""

    __slots__ = ("counts", "date_order", "bracket", "headers", "lineno", "first_line", "cur", "lines", "size",
                 "preamble", "preamble_start")

    def __init__(self, facts: ChatFacts, counts: ChatCounts) -> None:
        self.counts = counts
        self.date_order = facts.date_order or "dmy"
        self.bracket = facts.layout.bracket if facts.layout else False
        self.headers = _HeaderReader(facts.layout, marks=facts.marked_headers > 0)
        self.lineno = 0                       # the line being read
        self.first_line = 0                   # the file's first header line
        self.cur: ChatMessage | None = None   # the message being read
        self.lines: list[str] | None = None   # its text lines, once it has a second one
        self.size = 0                         # their characters (blank lines not counted)
        self.preamble: list[str] = []         # the lines before the first header
        self.preamble_start = 0

    def line(self, n: int, line: str) -> ChatMessage | None:
        """Reads line ``n``; returns the message it ends, if any."""
        self.lineno = n
        if _starts_like_header(line):
            m, mismatch = self.headers.match(line)
            if m is not None:
                return self.header(n, m.group(0), m.group("date"), m.group("time"), line[m.end():], mismatch)
            if _BROKEN.match(line):
                return self.broken(line)
        if not line.strip(_BLANK):
            self.blank()
        elif self.cur is None:
            self.preamble_line(line)
        else:
            self.continuation(line)
        return None

    def header(self, n: int, head: str, date_text: str, time_text: str, rest: str,
               mismatch: bool = False) -> ChatMessage | None:
        """A header on line ``n`` (``head``: as written; ``rest``: the text after it on its
        line) starts a message. ``mismatch``: the header is not in the file's layout."""
        local, problem = _read_time(date_text, time_text, self.date_order)
        name, body = _split_sender(rest, self.bracket)
        msg = ChatMessage(n, n, local, _raw_time(head), name, None, body, layout_mismatch=mismatch)
        if problem:
            # a time read with a note (an impossible 12-hour hour) is kept, flagged; a header
            # with no time at all is a corrupted record
            msg.problem, msg.corrupted = problem, local is None
        if name is None and not msg.corrupted:
            msg.system = True
        return self.start(msg)

    def start(self, msg: ChatMessage) -> ChatMessage | None:
        """``msg``, read from the header on its line, becomes the message being read; returns
        the message (or the text before the first header) that it ends."""
        self.lineno = msg.line
        if self.cur is not None:
            done = self.finish()
        elif self.preamble:
            done = self.preamble_record(self.lineno - 1)
        else:
            done = None
        if not self.first_line:
            self.first_line = msg.line
        if msg.corrupted:
            self.counts.corrupt_lines += 1
        elif msg.system:
            self.counts.system_lines += 1
        else:
            self.counts.message_lines += 1
        self.cur, self.lines = msg, None
        return done

    def broken(self, line: str) -> ChatMessage | None:
        """A line with a date and a time that is no header: a flagged record of its own (the
        lines after it are its text)."""
        if self.cur is not None:
            done = self.finish()
        elif self.preamble:             # the text before it: its own flagged record, never dropped
            done = self.preamble_record(self.lineno - 1)
        else:
            done = None
        self.counts.corrupt_lines += 1
        problem = "line starts with a date and time but is not a message header"
        # its time is unreadable, but a 'Name:' after where the header would end still names
        # the sender (attribution is kept); the text stays the whole line, as written
        head = _BROKEN_HEAD.match(line)
        name = _split_sender(line[head.end():], self.bracket)[0] if head else None
        if name is not None:
            problem += f"; sender {name!r} read from the text after it"
        self.cur = ChatMessage(self.lineno, self.lineno, None, "", name, None, "", corrupted=True, problem=problem)
        self.lines, self.size = [loc.strip_marks(line)], len(line)
        return done

    def blank(self) -> None:
        self.counts.blank_lines += 1
        if self.cur is not None:
            self._text_lines().append("")
        elif self.preamble:
            self.preamble.append("")

    def continuation(self, line: str) -> None:
        cur = self.cur
        self.counts.continuation_lines += 1
        cur.line_end = self.lineno
        lines = self._text_lines()
        self.size += len(line)
        if self.size <= MAX_BODY_CHARS:
            lines.append(line)
        elif not cur.problem or _CUT not in cur.problem:
            cut = f"{_CUT} at {MAX_BODY_CHARS} characters"
            cur.problem = f"{cur.problem}; {cut}" if cur.problem else cut
            self.counts.truncated_messages += 1

    def _text_lines(self) -> list[str]:
        if self.lines is None:
            self.lines, self.size = [self.cur.body], len(self.cur.body)
        return self.lines

    def preamble_line(self, line: str) -> None:
        if not self.preamble:
            self.preamble_start = self.lineno
        self.preamble.append(line)
        self.counts.preamble_lines += 1

    def preamble_record(self, last: int) -> ChatMessage:
        """The text before the first header (to line ``last``): one flagged record, never
        dropped."""
        msg = ChatMessage(self.preamble_start, last, None, "", None, None, "\n".join(self.preamble).rstrip("\n"),
                          corrupted=True,
                          problem=f"{self.counts.preamble_lines} line(s) before the first message header")
        self.preamble = []
        return msg

    def finish(self) -> ChatMessage:
        """The message being read, its text joined and classified."""
        msg = self.cur
        body = msg.body if self.lines is None else "\n".join(self.lines).rstrip("\n")
        if msg.corrupted:
            msg.body = body
            return msg
        if (msg.line != self.first_line and "<" not in body and "(" not in body and "maps.google" not in body
                and (body.isascii() or not loc.MARKS_RX.search(body))):
            # all that _classify finds in such a text is a deleted-message marker (a test holds it)
            msg.body = body
            msg.deleted = len(body) <= 80 and _deleted(body)
            return msg
        _classify(msg, body, self.bracket, msg.line == self.first_line)
        return msg

    def close(self, lines: int) -> ChatMessage | None:
        """At the end of the file (``lines`` long): its last message, or its text when it has
        no header."""
        if self.cur is not None:
            return self.finish()
        if self.preamble:
            return self.preamble_record(lines)
        return None


def _parse_lines(blocks: Iterable[str], parser: _LineParser) -> Iterator[ChatMessage]:
    """The second pass, every line through ``parser`` on its own (the reference)."""
    n = 0
    for block in blocks:
        for line in block[:-1].split("\n"):
            n += 1
            done = parser.line(n, line)
            if done is not None:
                yield done
    done = parser.close(n)
    if done is not None:
        yield done


# -- pass 2: the fast path ---------------------------------------------------------------------

# A sender's name that _split_sender leaves as written: no bidi mark, colon or quote, no
# blank at either end, no leading '~', at most 100 characters.
_NOT_IN_NAME = ':\n"“' + loc.MARKS
_PLAIN_NAME = rf"[^{_NOT_IN_NAME}~{loc.SPACES}](?:[^{_NOT_IN_NAME}]{{0,98}}[^{_NOT_IN_NAME}{loc.SPACES}]|)"


def _rows_regex(layout: Layout, marks: bool, plain: bool) -> tuple[re.Pattern, Callable | None]:
    """The fast path's regex over a block of lines (its final line break removed): its
    ``findall`` gives a row for every line, (head, date, hm, tail, name, text) for a line that
    starts with a header of ``layout``, ('', '', '', '', '', line) for any other; and a getter
    that puts a row's groups in that order (None where findall gives them so).

    ``plain``: only headers in their common form (:func:`_plain_header_pattern`), ``head``
    their date and time as written; else any header of the layout (with bidi marks where
    ``marks``), ``head`` the whole header. ``hm``, ``tail``: the time's hours and minutes, and
    the rest of it (see :func:`_clock_tail`). ``name``: a name :data:`_PLAIN_NAME` takes before
    ': ', or ''; ``text``: the rest of the line."""
    if plain:
        head = _plain_header_pattern(layout, raw=True)
    else:
        args = (layout.time_first, layout.bracket, layout.date_sep, layout.time_sep, marks)
        head = re.sub(r"\(\?P<(?!date>|hm>|tail>)\w+>", "(?:", _header_pattern(*args))
        head = f"(?P<head>{head})"
    rx = re.compile(rf"(?m)^(?:{head}(?:(?P<name>{_PLAIN_NAME}): |)|)(?P<text>[^\n]*)")
    order = tuple(rx.groupindex[g] - 1 for g in ("head", "date", "hm", "tail", "name", "text"))
    return rx, (operator.itemgetter(*order) if order != tuple(range(6)) else None)


def _parse_fast(blocks: Iterable[str], parser: _LineParser, layout: Layout, marks: bool) -> Iterator[ChatMessage]:
    """The second pass with the common case batched; the messages are those of
    :func:`_parse_lines`.

    - One regex over each block splits it into lines and reads the headers of the file's
      layout and their senders' names (:func:`_rows_regex`).
    - Such a header's time is a sum of table entries (see :func:`_clock_tail`).
    - A message read so, from a block with no '<', '(' or maps link, whose text has only
      printable characters (no bidi mark) and ends without a second line, is only tested for
      the deleted-message marker (all that :meth:`_LineParser.finish` would do with it).

    Every other line, and a header whose time or name the tables and the regex do not read,
    goes to ``parser``, as in the reference. The regex looks for headers in their common form
    first (a cheaper pattern); after a block with many lines that start like a header but
    are not read so (bidi marks in every header, a localised 12-hour marker), it looks for
    any header of the layout."""
    plain = True
    rx, get = _rows_regex(layout, marks, plain)
    date_order = parser.date_order
    counts = parser.counts
    day_text, day = None, None                      # the date of the header before, its midnight
    tail_text, add, hours_minutes = None, None, {}  # the rest of its clock (see _clock_tail)
    simple = False          # parser.cur only needs the deleted test (see above)
    n = 0                   # line number
    for block in blocks:
        text_block = block[:-1]
        rows = rx.findall(text_block)
        plain_block = "<" not in text_block and "(" not in text_block and "maps.google" not in text_block
        others = 0          # lines that start like a header but are not read here
        taken = 0           # messages started here without parser.start (counted below)
        for head, date_text, hm, tail, name, text in (rows if get is None else map(get, rows)):
            n += 1
            if not head:
                if _starts_like_header(text):
                    others += 1
                simple = False
                done = parser.line(n, text)
                if done is not None:
                    yield done
                continue
            if date_text != day_text:
                day_text, day = date_text, _midnight(date_text, date_order)
            if tail != tail_text:
                tail_text, (add, hours_minutes) = tail, _clock_tail(tail)
            since = hours_minutes.get(hm)
            if since is None or day is None or not name:
                simple = False
                done = parser.header(n, head, date_text, hm + tail, f"{name}: {text}" if name else text)
                if done is not None:
                    yield done
                continue
            msg = ChatMessage(n, n, day + since + add, head if plain else _raw_time(head), name, None, text)
            plain_text = plain_block and (text.isascii() or text.isprintable())   # (a bidi mark is not)
            if simple:
                done = parser.cur
                if len(done.body) <= 80 and _deleted(done.body):
                    done.deleted = True
                parser.cur = msg
                taken += 1
                simple = plain_text
                yield done
            else:
                done = parser.start(msg)
                simple = plain_text and n != parser.first_line
                if done is not None:
                    yield done
        counts.message_lines += taken
        if plain and others * 4 > len(rows) + 8:
            plain = False
            rx, get = _rows_regex(layout, marks, plain)
    done = parser.close(n)
    if done is not None:
        yield done


def parse_blocks(blocks: Iterable[str], facts: ChatFacts, counts: ChatCounts | None = None, *,
                 fast: bool = True) -> Iterator[ChatMessage]:
    """Second pass over blocks of whole lines (see :func:`iter_blocks`): the messages, in file
    order. ``counts`` receives the line accounting.

    ``fast`` (the default) reads the common lines a block at a time (:func:`_parse_fast`);
    ``fast=False`` reads every line on its own (:class:`_LineParser`, the reference). Both
    give the same messages and counts."""
    parser = _LineParser(facts, counts if counts is not None else ChatCounts())
    if fast and facts.layout is not None:
        return _parse_fast(blocks, parser, facts.layout, facts.marked_headers > 0)
    return _parse_lines(blocks, parser)


def parse(lines: Iterable[str], facts: ChatFacts, counts: ChatCounts | None = None, *,
          fast: bool = True) -> Iterator[ChatMessage]:
    """Second pass over lines (without their line breaks); see :func:`parse_blocks`."""
    return parse_blocks(_blocks_of_lines(lines), facts, counts, fast=fast)


@dataclass(slots=True)
class ChatParse:
    messages: list[ChatMessage]
    facts: ChatFacts
    counts: ChatCounts
    warnings: list[str]


def parse_text(source: str | bytes | Callable[[], Iterable[str]], date_order: str | None = None, *,
               fast: bool = True) -> ChatParse:
    """Convenience for in-memory input (tests, bench): both passes, messages as a list.

    ``source`` is the text, the raw bytes, or a callable returning a fresh iterable of lines
    (it is called twice). ``fast=False``: both passes line by line (the reference)."""
    facts = ChatFacts()
    counts = ChatCounts()
    if isinstance(source, bytes):
        data = source
        scan_blocks(iter_blocks(io.BytesIO(data), facts), date_order, facts, fast=fast)
        messages = list(parse_blocks(iter_blocks(io.BytesIO(data), None), facts, counts, fast=fast))
    else:
        if isinstance(source, str):
            text_lines = lines_of(source)
            def again():                                              # noqa: E306
                return text_lines
        else:
            again = source
        scan(again(), date_order, facts, fast=fast)
        messages = list(parse(again(), facts, counts, fast=fast))
    return ChatParse(messages, facts, counts, facts_warnings(facts, counts))


def facts_warnings(facts: ChatFacts, counts: ChatCounts | None = None) -> list[str]:
    """The file-level problems worth an examiner's attention, as sentences."""
    out = []
    if facts.date_order_conflict:
        out.append("dates disagree on the order of day and month (both fields exceed 12 in "
                   f"different lines); read as {facts.date_order}")
    if facts.date_order_ambiguous and facts.date_order_basis != "option":
        how = {"chronology": "chose the reading that keeps the messages in time order",
               "default": "assumed day first"}[facts.date_order_basis or "default"]
        out.append(f"day/month order cannot be told from the dates (no field exceeds 12): {how} "
                   f"({facts.date_order}); set --date-order to override")
    if facts.undecodable_count:
        out.append(f"{facts.undecodable_count} line(s) are not valid UTF-8 (replaced with U+FFFD), "
                   f"first at line(s) {', '.join(map(str, facts.undecodable_lines[:5]))}")
    if facts.calendar != "gregorian":
        out.append(f"dates use the {facts.calendar} calendar; converted to Gregorian")
    if counts is not None and counts.truncated_messages:
        out.append(f"{counts.truncated_messages} message(s) longer than {MAX_BODY_CHARS} characters were cut")
    return out
