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
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Callable, Iterable, Iterator

from extractors.chat import whatsapp_locale as loc

DATE_ORDERS = ("dmy", "mdy", "ymd")
MAX_BODY_CHARS = 1 << 20          # one message's text is cut beyond this (warning)
MAX_SENDERS = 5000                # participants kept per file
MAX_DATES = 10_000                # date changes kept for the chronology tie-break
_LAYOUT_SAMPLE = 200              # header lines used to decide the layout

_M = f"[{loc.MARKS}]*"
_SP = f"[{loc.SPACES}]"


def _header_pattern(time_first: bool, bracket: bool | None, ds: str | None, ts: str | None,
                    marks: bool = True) -> str:
    """Regex for a header; None parts are left general (the fallback pattern). Without
    ``marks`` the pattern allows no bidi marks (faster, for files that have none)."""
    _M = globals()["_M"] if marks else ""
    dsep = f"(?P<ds>{re.escape(ds)})" if ds else r"(?P<ds>[./\-])"
    dsep2 = re.escape(ds) if ds else "(?P=ds)"
    tsep = f"(?P<ts>{re.escape(ts)})" if ts else "(?P<ts>[:.])"
    tsep2 = re.escape(ts) if ts else "(?P=ts)"
    date = (rf"(?P<d1>\d{{1,4}}){_M}{dsep}{_SP}?{_M}(?P<d2>\d{{1,2}}){_M}{dsep2}{_SP}?{_M}"
            rf"(?P<era>[A-Z]{{1,2}})?(?P<d3>\d{{1,4}})(?:{_SP}?(?P<be>BE))?\.?")
    time = (rf"(?P<h>\d{{1,2}}){tsep}(?P<mi>\d{{2}})(?:{tsep2}(?P<s>\d{{2}}))?"
            rf"(?:{_SP}*{_M}(?P<ap>[^\W\d_][^\]\d:\-–]{{0,20}}?))?")
    join = rf"{_M}(?:[,،]|{_SP}à)?{_SP}*{_M}"          # French Android: '14/03/2021 à 21:05'
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
    attachments: list[str] = field(default_factory=list)
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

def iter_lines(stream: BinaryIO, facts: ChatFacts | None = None) -> Iterator[str]:
    """Decoded lines of a byte stream, one per physical line (CRLF, LF or lone CR), without
    their line breaks. Invalid UTF-8 is replaced (U+FFFD) and counted in ``facts``; a leading
    BOM is dropped; UTF-16 (with its BOM) is decoded as such."""
    head = stream.read(4)
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        if facts is not None:
            facts.encoding = "utf-16"
        text = io.TextIOWrapper(_Prepend(head, stream), encoding="utf-16", errors="replace",
                                newline=None)
        for line in text:
            yield line.rstrip("\n")
        return
    src = _Prepend(head, stream)
    lineno = 0
    carry = b""
    first = True
    while True:
        chunk = src.read(1 << 20)
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
        for line in _decode_block(chunk, lineno, facts):
            lineno += 1
            yield line
    if carry:
        if first and carry.startswith(codecs.BOM_UTF8):
            carry = carry[3:]
        for line in _decode_block(carry + b"\n", lineno, facts):
            lineno += 1
            yield line


def _decode_block(chunk: bytes, lineno: int, facts: ChatFacts | None) -> list[str]:
    """Lines of a block that ends with a line break (CRLF, LF and lone CR all break lines)."""
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
        return out
    if "\r" in text:
        if text.endswith("\r"):
            text += "\n"
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")[:-1]


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

def scan(lines: Iterable[str], date_order: str | None = None, facts: ChatFacts | None = None) -> ChatFacts:
    """First pass: layout, clock, calendar, date order and senders of the whole file."""
    facts = facts if facts is not None else ChatFacts()
    sample: dict[Layout, int] = {}
    reader = _HeaderReader(None)
    over12_first = over12_second = 0
    dates: list[tuple[int, int, int]] = []
    last_date: tuple[str, str, str] | None = None
    senders: dict[str, None] = {}
    twelve = twentyfour = 0
    n = 0
    for line in lines:
        n += 1
        m, _ = reader.match(line)
        if m is None:
            continue
        facts.header_lines += 1
        if reader.layout is None:
            lay = _layout_of(m)
            sample[lay] = sample.get(lay, 0) + 1
            if facts.header_lines >= _LAYOUT_SAMPLE:
                reader = _HeaderReader(max(sample, key=sample.get))
        head = m.group(0)
        if not head.isascii() and head != loc.strip_marks(head):
            facts.marked_headers += 1
        d1, d2, d3 = m.group("d1", "d2", "d3")
        key = (d1, d2, d3)
        if key != last_date:
            last_date = key
            if len(d1) < 3:
                a, b = int(d1), int(d2)
                if a > 12:
                    over12_first += 1
                elif b > 12:
                    over12_second += 1
                elif len(dates) < MAX_DATES and not (over12_first or over12_second):
                    dates.append((a, b, int(d3)))
            if m.group("be"):
                facts.calendar = "buddhist"
            elif m.group("era"):
                facts.calendar = "japanese"
        if m.group("ap"):
            twelve += 1
        else:
            twentyfour += 1
        if len(senders) < MAX_SENDERS:
            rest = line[m.end():]
            i = rest.find(": ", 0, 104)
            if i > 0 and rest[:i] in senders and rest[i + 2:i + 3] not in ("\u200e", "\u200f"):
                continue
            name, body = _split_sender(rest, True)
            if name is not None and name not in senders and not _is_ios_service(name, body, facts):
                senders[name] = None
    facts.lines = n
    if reader.layout is None and sample:
        reader = _HeaderReader(max(sample, key=sample.get))
    facts.layout = reader.layout
    facts.senders = list(senders)
    facts.clock = "12h" if twelve > twentyfour else "24h" if facts.header_lines else None
    _decide_order(facts, over12_first, over12_second, dates, date_order)
    return facts


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
    t = text.casefold().rstrip(". ")
    if t in loc.DELETED:
        return True
    return not text.isascii() and t[:2] in loc.DELETED_HEADS and loc.is_deleted(text)


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
        for m in _ATTACHED_IOS.finditer(text):
            name = m.group("name").strip()
            if "." in name and "://" not in name:
                msg.attachments.append(name)
    if "(" in text and not msg.attachments:
        m = _FILE_ATTACHED.match(text)
        if m and (loc.norm(m.group("label")) in loc.FILE_ATTACHED
                  or loc.WA_MEDIA_NAME.match(m.group("name"))):
            msg.attachments.append(m.group("name"))
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


def parse(lines: Iterable[str], facts: ChatFacts, counts: ChatCounts | None = None) -> Iterator[ChatMessage]:
    """Second pass: the messages, in file order. ``counts`` receives the line accounting."""
    counts = counts if counts is not None else ChatCounts()
    reader = _HeaderReader(facts.layout, marks=facts.marked_headers > 0)
    fast = reader._fast
    names: dict[str, str] = {}        # raw 'Name' prefix -> cleaned sender
    times = _TimeReader(facts)
    bracket = facts.layout.bracket if facts.layout else False
    strip_chars = loc.MARKS + " \t"
    cur: ChatMessage | None = None
    parts: list[str] = []
    size = 0
    preamble: list[str] = []
    preamble_start = 0
    first = True
    lineno = 0

    def finish(msg: ChatMessage, parts: list[str]) -> ChatMessage:
        body = "\n".join(parts).rstrip("\n") if len(parts) > 1 else parts[0]
        if not msg.corrupted:
            _classify(msg, body, bracket, msg.line == first_line)
            if msg.system and msg.actor is not None:      # an iOS service line
                counts.message_lines -= 1
                counts.system_lines += 1
        else:
            msg.body = body
        return msg

    first_line = 0
    for line in lines:
        lineno += 1
        m = fast(line) if fast is not None else None
        mismatch = False
        if m is None and _starts_like_header(line):
            m, mismatch = reader.match(line)
        if m is None:
            if not line.strip(strip_chars):
                counts.blank_lines += 1
                if cur is not None:
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
                parts, size = [loc.strip_marks(line)], len(line)
                continue
            if cur is None:
                if not preamble:
                    preamble_start = lineno
                preamble.append(line)
                counts.preamble_lines += 1
                continue
            counts.continuation_lines += 1
            cur.line_end = lineno
            size += len(line)
            if size <= MAX_BODY_CHARS:
                parts.append(line)
            elif not cur.problem:
                cur.problem = f"message text cut at {MAX_BODY_CHARS} characters"
                counts.truncated_messages += 1
            continue
        if cur is not None:
            yield finish(cur, parts)
        elif preamble:
            yield ChatMessage(preamble_start, lineno - 1, None, "", None, None,
                              "\n".join(preamble).rstrip("\n"), corrupted=True,
                              problem=f"{counts.preamble_lines} line(s) before the first message header")
            preamble = []
        if first:
            first, first_line = False, lineno
        rest = line[m.end():]
        raw_time = m.group(0)
        if not raw_time.isascii():
            raw_time = loc.strip_marks(raw_time)
        raw_time = raw_time.strip(_RAW_TIME_STRIP)
        problem = None
        try:
            y, mo, d = times.date(*m.group("d1", "d2", "d3", "era", "be"))
            h = _hour24(int(m.group("h")), m.group("ap"))
            if h is None:
                problem = f"unknown 12-hour clock marker {m.group('ap')!r}"
                local = None
            else:
                s = m.group("s")
                local = datetime(y, mo, d, h, int(m.group("mi")), int(s) if s else 0)
        except ValueError as exc:
            local, problem = None, f"invalid date or time in header: {exc}"
        i = rest.find(": ", 0, 104)
        hit = names.get(rest[:i]) if i > 0 else None
        if hit is not None:
            name, body = hit, rest[i + 2:]
        else:
            name, body = _split_sender(rest, bracket)
            if name is not None and i > 0 and len(names) < MAX_SENDERS and rest[i + 2:i + 2 + len(body)] == body:
                names[rest[:i]] = name
        cur = ChatMessage(lineno, lineno, local, raw_time, name, None, "",
                          layout_mismatch=mismatch)
        if problem:
            cur.corrupted, cur.problem = True, problem
            counts.corrupt_lines += 1
        elif name is None:
            cur.system, cur.actor = True, None
            counts.system_lines += 1
        else:
            counts.message_lines += 1
        parts, size = [body], len(body)
    if cur is not None:
        yield finish(cur, parts)
    elif preamble:
        yield ChatMessage(preamble_start, lineno, None, "", None, None,
                          "\n".join(preamble).rstrip("\n"), corrupted=True,
                          problem=f"{counts.preamble_lines} line(s) before the first message header")


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
    if isinstance(source, bytes):
        data = source
        def again():                                              # noqa: E306
            return iter_lines(io.BytesIO(data), None)
        facts_lines = iter_lines(io.BytesIO(data), facts)
    elif isinstance(source, str):
        text_lines = lines_of(source)
        def again():                                              # noqa: E306
            return text_lines
        facts_lines = text_lines
    else:
        again = source
        facts_lines = source()
    scan(facts_lines, date_order, facts)
    counts = ChatCounts()
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
