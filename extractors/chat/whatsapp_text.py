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
"""
from __future__ import annotations

import codecs
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
_LAYOUT_SAMPLE = 200              # header lines used to decide the layout

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
    time = (rf"(?P<time>(?P<h>\d{{1,2}}){tsep}(?P<mi>\d{{2}})(?:{tsep2}(?P<s>\d{{2}})|)"
            rf"(?:{_SP}*{_M}(?P<ap>[^\W\d_][^\]\d:\-–\n]{{0,20}}?)|))")
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
_RAW_TIME_STRIP = " []-–:" + loc.SPACES
_MAPS = re.compile(r"maps\.google\.[a-z.]+/\?q=(-?\d{1,2}(?:\.\d+)?),(-?\d{1,3}(?:\.\d+)?)")
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
    sender: str | None
    actor: str | None               # the name on a service line (iOS: chat or contact name)
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


def iter_blocks(stream: BinaryIO, facts: ChatFacts | None = None) -> Iterator[str]:
    """Decoded text of a byte stream in blocks of whole lines (about :data:`BLOCK_BYTES`),
    each ending with ``"\\n"``: line breaks (CRLF, LF or lone CR) normalised to LF. Invalid
    UTF-8 is replaced (U+FFFD) and counted in ``facts``; a leading BOM is dropped; UTF-16
    (with its BOM) is decoded as such. Memory stays flat: one block at a time."""
    head = stream.read(4)
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        if facts is not None:
            facts.encoding = "utf-16"
        text = io.TextIOWrapper(_Prepend(head, stream), encoding="utf-16", errors="replace",
                                newline=None)
        carry = ""
        while True:
            chunk = text.read(BLOCK_BYTES // 2)
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
        chunk = src.read(BLOCK_BYTES)
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
    if len(name) > 100 or '"' in name or "“" in name or "://" in name:
        return None, rest
    name = loc.strip_marks(name).strip(loc.SPACES)
    if not name:
        return None, rest
    return name, rest[i + 2:]


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
    if raw:         # the same, as hours and minutes + the rest (see _block_regex)
        time = rf"(?P<hm>[0-9]{{1,2}}{ts}[0-9]{{2}})(?P<tail>(?:{ts}[0-9]{{2}}|)(?:[ \u202f][AaPp][Mm]|))(?![0-9])"
    join = r",?[ ]*"
    body = f"{time}{join}{date}" if layout.time_first else f"{date}{join}{time}"
    if raw:
        body = f"(?P<head>{body})"
    if layout.bracket:
        return rf"\[{body}\][{loc.SPACES}]?"
    return rf"{body}(?:[ ][-–][ ]|:[ ])"


def _block_regex(layout: Layout, marks: bool = True, plain: bool = False, raw: bool = False,
                 scan: bool = False) -> tuple[re.Pattern, Callable, re.Pattern, re.Pattern]:
    """For a block of lines (its final line break removed): one regex whose ``findall`` gives,
    for every line, (header, date, time, name, text, '') when the line starts with a header of
    ``layout`` (``plain``: in its common form, see :func:`_plain_header_pattern`), else
    ('', '', '', '', '', line); a getter putting the groups in that order (None when they are);
    and the regexes of the date and of the time alone (to read their parts).

    ``name`` is the text before the first ': ' of the rest of the line when that is the
    first colon and ends within 104 characters (what ``rest.find(": ", 0, 104)`` finds then),
    and ``text`` what follows it; otherwise ``name`` is '' and ``text`` is the whole rest.

    ``raw`` (for the second pass): the time column is split in two, the time's hours and
    minutes ('3:25') and the rest of it (':01\u202fPM', ' PM', ':01' or ''), and one column
    holds the text or the other line: (header, date, hm, tail, name, text or line). With
    ``plain``, the header column then holds the header's date and time only, its raw time
    (what the header is stripped to), not the brackets or dash around them; without, hm is
    the whole time and tail is ''.

    ``scan`` (for the first pass): rows (header, date, time, name, first), where ``first`` is
    the first character of a line that is not a header, and the text is left out (each
    column costs time in every row); with ``plain``, (date, time, name, first), the time
    only the 'm' or 'M' of its clock marker ('' without one). See :data:`_SCAN_COLUMNS`."""
    key = (layout, marks, plain, raw, scan)
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
            head = _plain_header_pattern(layout, raw)
        else:
            head = re.sub(r"\(\?P<(?!date>|time>)\w+>", "(?:", _header_pattern(*args))
            if raw:
                head = head.replace("(?P<time>", "(?P<hm>") + "(?P<tail>)"
        if not (raw and plain):
            head = f"(?P<head>{head})"
        if raw:
            columns = ("head", "date", "hm", "tail", "name", "text")
            rx = re.compile(rf"(?m)^(?:{head}(?:(?P<name>[^:\n]{{1,102}}): |)|)(?P<text>[^\n]*)")
        else:
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

    def __init__(self, facts: ChatFacts) -> None:
        self.facts = facts
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
            if facts.header_lines >= _LAYOUT_SAMPLE:
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


def scan_blocks(blocks: Iterable[str], date_order: str | None = None,
                facts: ChatFacts | None = None) -> ChatFacts:
    """First pass over blocks of whole lines (see :func:`iter_blocks`): layout, clock,
    calendar, date order and senders of the whole file. Line by line until the layout is
    decided (the first :data:`_LAYOUT_SAMPLE` headers), then one regex over each block."""
    facts = facts if facts is not None else ChatFacts()
    st = _Scan(facts)
    lines = 0
    for block in blocks:
        start = 0
        while st.reader.layout is None and start < len(block):
            end = block.index("\n", start)
            st.line(block[start:end])
            lines += 1
            start = end + 1
        if start < len(block):
            lines += st.block(block, start)
    facts.lines = lines
    return st.finish(date_order)


def scan(lines: Iterable[str], date_order: str | None = None, facts: ChatFacts | None = None) -> ChatFacts:
    """First pass over lines (without their line breaks); see :func:`scan_blocks`."""
    return scan_blocks(_blocks_of_lines(lines), date_order, facts)


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
        return sum(1 for x, y in zip(seq, seq[1:]) if y < x)
    dmy, mdy = descents("dmy"), descents("mdy")
    if dmy != mdy:
        facts.date_order = "dmy" if dmy < mdy else "mdy"
        facts.date_order_basis = "chronology"
    else:
        facts.date_order, facts.date_order_basis = "dmy", "default"


# -- pass 2 ------------------------------------------------------------------------------------

class _TimeReader:
    """Header groups -> naive local datetime, with a cache per distinct date."""

    def __init__(self, facts: ChatFacts) -> None:
        self.order = facts.date_order or "dmy"
        self._dates: dict[tuple, tuple[int, int, int]] = {}

    def date(self, d1: str, d2: str, d3: str, era: str | None, be: str | None) -> tuple[int, int, int]:
        key = (d1, d2, d3, era, be)
        hit = self._dates.get(key)
        if hit is not None:
            return hit
        if len(d1) >= 3:
            y, mo, d = int(d1), int(d2), int(d3)
        else:
            y = int(d3)
            mo, d = (int(d2), int(d1)) if self.order == "dmy" else (int(d1), int(d2))
            if era:
                y += {"R": 2018, "H": 1988, "S": 1925}.get(era.upper(), 0)
            elif len(d3) <= 2:
                y += 2000
        if be or y > 2400:             # Thai Buddhist era
            y -= 543
        self._dates[key] = (y, mo, d)
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


def _deleted(text: str) -> bool:
    """Whether ``text`` (without bidi marks) is a deleted-message marker."""
    if not loc.maybe_deleted(text):
        return False
    return text.casefold().rstrip(". ") in loc.DELETED or (not text.isascii() and loc.is_deleted(text))


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
            msg.location = (float(m.group(1)), float(m.group(2)))
    if len(text) <= 80 and _deleted(text):
        msg.deleted = True
    elif not msg.attachments:
        head = text.split("\n", 1)[0] if "\n" in text else text
        if head.startswith("<") and head.endswith(">") and ":" not in head:
            msg.media_omitted = True                  # Android '<Media omitted>'
        elif (generated or "\u200e" in body or "\u200f" in body) and loc.is_omitted_placeholder(body):
            msg.media_omitted = True                  # iOS 'image omitted'
        elif msg.sender is not None and bracket and msg.location is None and (
                generated or (first and loc.is_system_phrase(text))):
            msg.system = True                         # iOS service line: 'Name: ‎text'
    msg.body = text
    if msg.system:
        msg.actor, msg.sender = msg.sender, None


def _is_ios_service(name: str, body: str, facts: ChatFacts) -> bool:
    if body.lstrip(" ")[:1] not in ("\u200e", "\u200f") and facts.header_lines > 1:
        return False
    probe = ChatMessage(0, 0, None, "", name, None, "")
    _classify(probe, body, True, facts.header_lines == 1)
    return probe.system


def parse_blocks(blocks: Iterable[str], facts: ChatFacts, counts: ChatCounts | None = None) -> Iterator[ChatMessage]:
    """Second pass over blocks of whole lines (see :func:`iter_blocks`): the messages, in file
    order. ``counts`` receives the line accounting.

    One regex over each block splits it into lines and reads the headers of the file's layout
    (and the sender's name); any other line continues the message above (or is a header in
    another layout, a broken header, a blank line). A header's date and time are read once per
    distinct date text and time part, a sender's name once per distinct prefix. (Made a block
    at a time instead, in lists, the messages came slower: the garbage collector's young
    generation then holds hundreds of them at each collection.)"""
    counts = counts if counts is not None else ChatCounts()
    reader = _HeaderReader(facts.layout, marks=facts.marked_headers > 0)
    plain = True                      # the plain pattern first, the full one if it misses too often
    if facts.layout is not None:
        findall, get, date_rx, time_rx = _block_regex(facts.layout, facts.marked_headers > 0, plain, True)
        findall = findall.findall
    else:
        findall = get = date_rx = time_rx = None
    names: dict[str, str] = {}        # raw 'Name' prefix -> cleaned sender
    times = _TimeReader(facts)
    dates: dict[str, tuple[int, int, int] | str] = {}                 # date text -> (y, m, d) | problem
    clock: dict[str, tuple[int | None, int, int, str | None]] = {}   # time text -> (h24, mi, s, marker)
    heads: dict[str, tuple[str, datetime, None]] = {}                 # header text -> (raw time, local, None)
    # a header of the plain pattern: its local time is its date's midnight + its hours and
    # minutes + the rest of its time (seconds, and 12 hours for 'PM'), each read once per
    # distinct text (a few thousand at most)
    midnights: dict[str, datetime] = {}                                # date text -> its midnight
    hours24: dict[str, timedelta] = {}                                 # '14:05' -> 14 h 5 min
    hours12: dict[str, timedelta] = {}                                 # '12:05' -> 5 min (before 'AM' / 'PM')
    tails: dict[str, tuple[timedelta | None, dict]] = {}               # ':01 PM' -> (12 h 1 s, hours12)
    bracket = facts.layout.bracket if facts.layout else False
    strip_chars = loc.MARKS + " \t"
    strip_time = _RAW_TIME_STRIP
    deleted_phrases = loc.DELETED
    deleted_heads = loc.DELETED_ASCII_HEADS
    has_marks = loc.MARKS_RX.search
    cur: ChatMessage | None = None
    # the text of ``cur``: its first line is cur.body; ``parts`` (all its lines, from the first)
    # only once a second line comes; ``size`` counts their characters from then on
    parts: list[str] | None = None
    size = 0
    body = ""                         # cur.body while fast
    # how cur was read: 0 not on the common path; on it (never the first, never corrupt) 1, or
    # 2 from a block with no '<', '(' or maps link (see finish)
    fast = 0
    heads3: dict[str, bool] = {}      # a text's first 3 characters -> loc.maybe_deleted()
    preamble: list[str] = []
    preamble_start = 0
    first = True
    first_line = 0
    lineno = 0
    tried = block_start = 0            # lines of the last block tried one by one as headers; its first line
    quick = 0                          # messages read on the common path, not yet in counts

    def finish(msg: ChatMessage, parts: list[str] | None) -> ChatMessage:
        body = msg.body if parts is None else parts[0] if len(parts) == 1 else "\n".join(parts).rstrip("\n")
        if msg.corrupted:
            msg.body = body
        elif ("<" not in body and "(" not in body and "maps.google" not in body and msg.line != first_line
              and (body.isascii() or not has_marks(body))):
            # nothing to classify but a deleted-message marker (see _classify)
            msg.body = body
            if len(body) <= 80 and _deleted(body):
                msg.deleted = True
        else:
            _classify(msg, body, bracket, msg.line == first_line)
            if msg.system and msg.actor is not None:      # an iOS service line
                counts.message_lines -= 1
                counts.system_lines += 1
        return msg

    def preamble_record(lines: list[str], first: int, last: int) -> ChatMessage:
        """Text before the first header: kept as one flagged record, never dropped."""
        return ChatMessage(first, last, None, "", None, None, "\n".join(lines).rstrip("\n"), corrupted=True,
                           problem=f"{counts.preamble_lines} line(s) before the first message header")

    def read_time(head: str, date_text: str, time_text: str, m: re.Match | None = None,
                  plain: tuple[str, str] | None = None) -> tuple[str, datetime | None, str | None]:
        """(raw time, local time or None, problem) of a header; a header of the file's layout
        read without a problem is kept in ``heads``, or with ``plain`` (a header of the plain
        pattern: the hm and tail of its time, see _block_regex) its date's midnight and its
        time's parts go to their tables. ``m``: the match of a header in another layout."""
        raw_time = (head if head.isascii() else loc.strip_marks(head)).strip(strip_time)
        ymd = dates.get(date_text)
        if ymd is None:
            if len(dates) > 50_000:
                dates.clear()
            dm = m or date_rx.fullmatch(date_text)
            try:
                ymd = times.date(*dm.group("d1", "d2", "d3", "era", "be"))
            except ValueError as exc:
                ymd = f"invalid date or time in header: {exc}"
            dates[date_text] = ymd
        hms = clock.get(time_text)
        if hms is None:
            tm = m or time_rx.fullmatch(time_text)
            h, mi, sec, marker = tm.group("h", "mi", "s", "ap")
            hms = (_hour24(int(h), marker), int(mi), int(sec) if sec else 0, marker)
            if plain is None:               # (a plain one goes to the tables below)
                if len(clock) > 50_000:
                    clock.clear()
                clock[time_text] = hms
        problem = local = None
        if ymd.__class__ is str:
            problem = ymd
        elif hms[0] is None:
            problem = f"unknown 12-hour clock marker {hms[3]!r}"
        else:
            try:
                local = datetime(ymd[0], ymd[1], ymd[2], hms[0], hms[1], hms[2])
            except ValueError as exc:
                problem = f"invalid date or time in header: {exc}"
            else:
                if plain is not None:
                    if len(midnights) > 50_000:
                        midnights.clear()
                    midnights[date_text] = datetime(ymd[0], ymd[1], ymd[2])
                    plain_parts(*plain)
                elif m is None:
                    if len(heads) > 100_000:
                        heads.clear()
                    heads[head] = (raw_time, local, None)
        return raw_time, local, problem

    time_sep = facts.layout.time_sep if facts.layout else ":"

    def plain_parts(hm: str, tail: str) -> None:
        """Tables for a valid time of the plain pattern, as hours and minutes ('3:25') and the
        rest (':01\u202fPM'): hm -> its hours and minutes in ``hours24`` (no clock marker) or,
        read as _hour24 reads 'AM' and 'PM', in ``hours12`` (hour 12 as 0, up to 11 h 59 min:
        'PM' adds 12 hours); tail -> (its seconds, plus 12 hours for 'PM'; the table its hm
        goes to). A part that would give an invalid time with another is left out (the header
        is then read by read_time, which tells the problem)."""
        if len(tails) > 1000 or len(hours12) + len(hours24) > 10_000:     # (hostile input only)
            tails.clear()
            hours12.clear()
            hours24.clear()
        twelve = tail[-1:] in ("m", "M")
        sec = int(tail[1:3]) if tail[:1] == time_sep else 0
        if tail not in tails and sec < 60:
            pm = twelve and tail[-2] in "pP"
            tails[tail] = (timedelta(hours=12 if pm else 0, seconds=sec) or None,    # None: nothing to add
                           hours12 if twelve else hours24)
        h, mi = map(int, hm.split(time_sep))
        if twelve:
            h = 0 if h == 12 else h
            if h < 12 and mi < 60:
                hours12[hm] = timedelta(hours=h, minutes=mi)
        elif h < 24 and mi < 60:
            hours24[hm] = timedelta(hours=h, minutes=mi)

    def start(head: str, date_text: str, time_text: str, rest: str, lineno: int,
              m: re.Match | None = None) -> ChatMessage:
        """A message from its header (``m``: the match of a header in another layout), its
        first line of text as its body."""
        hit = heads.get(head) if m is None else None
        if hit is not None:
            raw_time, local, problem = hit
        else:
            raw_time, local, problem = read_time(head, date_text, time_text, m)
        i = rest.find(": ", 0, 104)
        hit = names.get(rest[:i]) if i > 0 else None
        if hit is not None:
            name, body = hit, rest[i + 2:]
        else:
            name, body = _split_sender(rest, bracket)
            if name is not None and i > 0 and len(names) < MAX_SENDERS and rest[i + 2:i + 2 + len(body)] == body:
                names[rest[:i]] = name
        msg = ChatMessage(lineno, lineno, local, raw_time, name, None, body)
        if m is not None:
            msg.layout_mismatch = True
        if problem:
            msg.corrupted, msg.problem = True, problem
            counts.corrupt_lines += 1
        elif name is None:
            msg.system = True
            counts.system_lines += 1
        else:
            counts.message_lines += 1
        return msg

    for block in blocks:
        text = block[:-1]
        if plain and findall is not None and tried * 4 > lineno - block_start + 8:
            plain = False
            findall, get = _block_regex(facts.layout, facts.marked_headers > 0, False, True)[:2]
            findall = findall.findall
        tried, block_start = 0, lineno
        block_fast = 1 if "<" in text or "(" in text or "maps.google" in text else 2
        counts.message_lines += quick
        quick = 0
        rows = (findall(text) if get is None else map(get, findall(text))) if findall is not None else (
            ("", "", "", "", "", line) for line in text.split("\n"))
        for head, date_text, hm, tail, raw_name, line in rows:       # line: a header's text, or the line
            lineno += 1
            if head:                                   # a header of the file's layout
                if cur is not None:
                    # finish(cur, parts), its common case inline: a text with no '<', '(', maps
                    # link or bidi mark (a format character: a printable text has none) is only
                    # tested for the deleted-message marker
                    if fast and parts is None and (fast > 1 or ("<" not in (b := body) and "(" not in b
                                                                and "maps.google" not in b)):
                        b = body                       # cur.body (set with fast)
                        if b.isascii():
                            if (len(b) <= 80 and b[:4].lower() in deleted_heads
                                    and b.casefold().rstrip(". ") in deleted_phrases):
                                cur.deleted = True
                        elif not (b.isprintable() or not has_marks(b)):
                            cur = finish(cur, parts)
                        elif len(b) <= 80:
                            maybe = heads3.get(b[:3])
                            if maybe is None:
                                if len(heads3) > 50_000:
                                    heads3.clear()
                                maybe = heads3[b[:3]] = loc.maybe_deleted(b[:3])
                            if maybe and _deleted(b):
                                cur.deleted = True
                        yield cur
                    else:
                        yield finish(cur, parts)
                    # start(), its common case inline: a valid header, a name read before
                    if not plain:                  # hm: the whole time
                        raw_time, local, _ = heads.get(head) or read_time(head, date_text, hm)
                    elif ((local := midnights.get(date_text)) is not None and (t := tails.get(tail)) is not None
                          and (h := t[1].get(hm)) is not None):
                        raw_time, local = head, local + h if t[0] is None else local + h + t[0]   # head: the raw time
                    else:
                        raw_time, local, _ = read_time(head, date_text, hm + tail, None, (hm, tail))
                    if local is not None:
                        name = names.get(raw_name)
                        if name is not None:
                            cur = ChatMessage(lineno, lineno, local, raw_time, name, None, line)
                            parts, fast, body = None, block_fast, line
                            quick += 1
                            continue
                elif preamble:
                    yield preamble_record(preamble, preamble_start, lineno - 1)
                    preamble = []
                if first:
                    first, first_line = False, lineno
                cur = start(head, date_text, hm + tail, f"{raw_name}: {line}" if raw_name else line, lineno)
                parts, fast = None, 0
                continue
            other = None
            mismatch = False
            if _starts_like_header(line):
                other, mismatch = reader.match(line)
                tried += 1
            if other is None:
                if not line.strip(strip_chars):
                    counts.blank_lines += 1
                    if cur is not None:
                        if parts is None:
                            parts, size = [cur.body], len(cur.body)
                        parts.append("")
                    elif preamble:
                        preamble.append("")
                    continue
                if _starts_like_header(line) and _BROKEN.match(line):
                    # a date and a time but not a header: kept, flagged
                    if cur is not None:
                        yield finish(cur, parts)
                    counts.corrupt_lines += 1
                    cur = ChatMessage(lineno, lineno, None, "", None, None, "", corrupted=True,
                                      problem="line starts with a date and time but is not a message header")
                    parts, size, fast = [loc.strip_marks(line)], len(line), 0
                    continue
                if cur is None:
                    if not preamble:
                        preamble_start = lineno
                    preamble.append(line)
                    counts.preamble_lines += 1
                    continue
                counts.continuation_lines += 1
                cur.line_end = lineno
                if parts is None:
                    parts, size = [cur.body], len(cur.body)
                size += len(line)
                if size <= MAX_BODY_CHARS:
                    parts.append(line)
                elif not cur.problem:
                    cur.problem = f"message text cut at {MAX_BODY_CHARS} characters"
                    counts.truncated_messages += 1
                continue
            # a header, in another layout than the file's (or of the marked form)
            if cur is not None:
                yield finish(cur, parts)
            elif preamble:
                yield preamble_record(preamble, preamble_start, lineno - 1)
                preamble = []
            if first:
                first, first_line = False, lineno
            cur = start(other.group(0), other.group("date"), other.group("time"), line[other.end():], lineno,
                        other)
            if not mismatch:
                cur.layout_mismatch = False
            parts, fast = None, 0
    counts.message_lines += quick
    if cur is not None:
        yield finish(cur, parts)
    elif preamble:
        yield ChatMessage(preamble_start, lineno, None, "", None, None,
                          "\n".join(preamble).rstrip("\n"), corrupted=True,
                          problem=f"{counts.preamble_lines} line(s) before the first message header")


def parse(lines: Iterable[str], facts: ChatFacts, counts: ChatCounts | None = None) -> Iterator[ChatMessage]:
    """Second pass over lines (without their line breaks); see :func:`parse_blocks`."""
    return parse_blocks(_blocks_of_lines(lines), facts, counts)


@dataclass(slots=True)
class ChatParse:
    messages: list[ChatMessage]
    facts: ChatFacts
    counts: ChatCounts
    warnings: list[str]


def parse_text(source: str | bytes | Callable[[], Iterable[str]], date_order: str | None = None) -> ChatParse:
    """Convenience for in-memory input (tests, bench): both passes, messages as a list.

    ``source`` is the text, the raw bytes, or a callable returning a fresh iterable of lines
    (it is called twice)."""
    facts = ChatFacts()
    counts = ChatCounts()
    if isinstance(source, bytes):
        data = source
        scan_blocks(iter_blocks(io.BytesIO(data), facts), date_order, facts)
        messages = list(parse_blocks(iter_blocks(io.BytesIO(data), None), facts, counts))
    else:
        if isinstance(source, str):
            text_lines = lines_of(source)
            def again():                                              # noqa: E306
                return text_lines
        else:
            again = source
        scan(again(), date_order, facts)
        messages = list(parse(again(), facts, counts))
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
