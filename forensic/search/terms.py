"""Search terms and the one compiled matcher that finds all of them at once.

A term is a literal string or a regular expression, from the command line, a lab's list
(one term a line, ``#`` comments) or a built-in pattern list (:mod:`forensic.search.patterns`).
:class:`Matcher` compiles every term once, so that a buffer is scanned in one pass per
engine whatever the number of terms:

- literals in UTF-8 (ASCII included) and UTF-16LE; ``ignore_case`` folds ASCII through the
  engine's flag and other cased letters by spelling out both cases (``É`` -> ``(?:É|é)``);
- regular expressions in UTF-8 over the bytes, and in UTF-16LE over the buffer decoded as
  UTF-16LE at both byte alignments (a pattern is text: it cannot be re-encoded as bytes);
  Hyperscan runs them in linear time, a pattern it refuses runs under a time bound.

Every match is at most :data:`MAX_MATCH` bytes long (the overlap the streaming pass keeps
between buffers): a longer regular-expression match is cut there.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import regex

from forensic.errors import UsageError

MAX_MATCH = 4096        # bytes: the longest match, and the overlap kept between buffers
MAX_TERMS = 10_000
ENCODINGS = ("utf-8", "utf-16le")


@dataclass(frozen=True, slots=True)
class Term:
    """One thing searched for: ``text`` as given, the ``list`` it came from, whether it is a
    regular expression, and for a built-in pattern the check a candidate must pass."""
    text: str
    list: str
    regex: bool = False
    validate: Callable[[str], bool] | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """A term found in a buffer: [start, end) in that buffer, in ``encoding``."""
    term: Term
    encoding: str
    start: int
    end: int
    text: str


def read_list(path: Path, regex: bool = False) -> list[Term]:
    """A lab's list: one term a line; blank lines and lines starting with ``#`` skipped.
    The list's name is its file name."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the term list {path}: {exc.strerror or exc}") from exc
    text = raw.decode("utf-8-sig", "replace")
    terms = []
    for line in text.splitlines():
        term = line.strip()
        if term and not term.startswith("#"):
            terms.append(Term(term, path.name, regex))
    if not terms:
        raise UsageError(f"the term list {path} holds no term", hint="one term a line; # starts a comment")
    if len(terms) > MAX_TERMS:
        raise UsageError(f"the term list {path} holds {len(terms):,} terms; at most {MAX_TERMS:,} are searched")
    return terms


def _cased(ch: str) -> bool:
    return not ch.isascii() and ch.lower() != ch.upper()


def _forms(ch: str) -> list[str]:
    return sorted(f for f in {ch, ch.lower(), ch.upper()} if len(f) == 1)


def _literal_bytes(term: str, encoding: str, ignore_case: bool, escape: Callable[[bytes], bytes]) -> bytes:
    """The regex (bytes) of a literal in an encoding; non-ASCII cased letters spelled in both
    cases when ``ignore_case`` (the engines fold ASCII only over bytes)."""
    if not ignore_case or all(not _cased(c) for c in term):
        return escape(term.encode(encoding))
    parts = []
    for ch in term:
        if _cased(ch):
            parts.append(b"(?:" + b"|".join(escape(f.encode(encoding)) for f in _forms(ch)) + b")")
        else:
            parts.append(escape(ch.encode(encoding)))
    return b"".join(parts)


def _hs_escape(data: bytes) -> bytes:
    """Bytes as a Hyperscan (PCRE) literal: letters and digits as they are (so that caseless
    folds them), every other byte as ``\\xHH`` (a NUL may not appear in the expression)."""
    return b"".join(bytes([c]) if 48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 else b"\\x%02x" % c
                    for c in data)


def _fold(text: str) -> str:
    return text.lower()


try:            # Hyperscan: every literal in one pass at memory speed, regexes gated in linear time
    import hyperscan
    HAVE_HYPERSCAN = True
except ImportError:          # pragma: no cover - a platform without its wheels
    HAVE_HYPERSCAN = False

REGEX_TIMEOUT = 2.0     # seconds a --regex may run over one text (a buffer, a field)
REGEX_STRIKES = 3       # texts it may run out of time on before it is searched no further

Found = tuple[int, int, int]        # (expression id, start, end) as Hyperscan reports them


def _followed(data: bytes | str) -> bytes | str:
    """``data`` with a line break and a byte after it: its end is then no text's end."""
    return data + b"\n\0" if isinstance(data, bytes) else data + "\n\0"


def _hs_flags(ignore_case: bool) -> int:
    return hyperscan.HS_FLAG_SOM_LEFTMOST | (hyperscan.HS_FLAG_CASELESS if ignore_case else 0)


def _hs_database(exprs: list[bytes], flags: list[int]) -> hyperscan.Database:
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs), flags=flags)
    return db


def _hs_gate(pattern: str, ignore_case: bool) -> tuple[int, int | None] | str:
    """Hyperscan's flags for a regular expression as a gate over bytes, and over UTF-8 text
    with Unicode classes as Python's ``str`` patterns have them (None where Hyperscan refuses
    that: ``\\b``), or why it refuses the pattern. A gate only says whether a text holds a
    match (one report per pattern, no start of match: Hyperscan 5's start-of-match tracking
    crashes on ``a+b`` over a few hundred ``a``)."""
    expr = pattern.encode("utf-8")
    base = hyperscan.HS_FLAG_SINGLEMATCH | (hyperscan.HS_FLAG_CASELESS if ignore_case else 0)
    try:
        _hs_database([expr], [base])
    except hyperscan.error as exc:
        return str(exc)
    text = base | hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_UCP
    try:
        _hs_database([expr], [text])
    except hyperscan.error:
        return base, None
    return base, text


def _hs_scan(db: hyperscan.Database, data: bytes) -> list[Found]:
    found: list[Found] = []

    def on_match(n: int, lo: int, hi: int, _flags: int, _context: object) -> None:
        found.append((n, lo, hi))       # returns None: the scan goes on
    db.scan(data, match_event_handler=on_match)
    return found


class Matcher:
    """Every term compiled once; :meth:`find_bytes` for raw bytes, :meth:`find_text` for text
    (names, messages, metadata, text extracted from documents).

    - Literals are found by Hyperscan, one database per encoding (every occurrence of every
      literal, overlapping ones too; one database for both encodings scanned text at half
      the speed of the two apart), or without it by one ``re`` alternation (longest term
      first: at one place, only the longest term is reported).
    - A user's regular expression runs in the ``regex`` module (Python's syntax and hits)
      under a time bound (``regex_timeout`` a text): past it the rest of that text is
      skipped for that term, which is listed in :attr:`skipped`; after
      :data:`REGEX_STRIKES` such texts it is searched no further. Where Hyperscan accepts
      the pattern, it first tells in linear time whether a text holds a match at all: the
      ``regex`` module runs only over texts that do, so ``(a+)+$`` over a near miss never
      backtracks. A pattern it refuses (a back-reference, lookaround, a possessive or
      empty-matching repeat: :attr:`refused` says why) runs over every text.
    - A built-in pattern (a term with ``validate``) is this package's own expression, written
      not to backtrack: ``re`` finds candidates, its check keeps hits."""

    def __init__(self, terms: list[Term], ignore_case: bool = False, engine: str | None = None,
                 regex_timeout: float = REGEX_TIMEOUT) -> None:
        if not terms:
            raise UsageError("nothing to search for", hint="give a TERM, --list FILE or --patterns NAME")
        self.terms = terms
        self.ignore_case = ignore_case
        self.engine = engine or ("hyperscan" if HAVE_HYPERSCAN else "re")
        if self.engine == "hyperscan" and not HAVE_HYPERSCAN:
            raise UsageError("Hyperscan is not installed", hint="pip install hyperscan")
        self.regex_timeout = regex_timeout
        self.refused: dict[str, str] = {}       # a regex Hyperscan does not gate -> why
        self.skipped: list[Term] = []           # regexes stopped by the time bound (take_skipped())
        self.dropped: set[int] = set()          # regexes out of time REGEX_STRIKES times: no longer searched
        self._strikes: dict[int, int] = {}
        flags = re.IGNORECASE if ignore_case else 0
        self._patterns: list[tuple[int, re.Pattern[bytes], re.Pattern[str]]] = []       # built-in
        self._user: list[tuple[int, regex.Pattern[bytes], regex.Pattern[str]]] = []     # time-bounded
        gated: list[tuple[int, int, int | None]] = []  # (term, bytes flags, text flags): Hyperscan gates
        literals: list[list[int]] = [[] for _ in ENCODINGS]     # per encoding: the literal terms
        self._literal_of: dict[str, int] = {}          # a literal's text (folded with ignore_case) -> term
        text_parts: list[str] = []
        self.max_len = 1
        for i, t in enumerate(terms):
            if not t.text:
                raise UsageError("an empty term matches everywhere", hint="give a term of one character or more")
            if not t.regex:
                for k, enc in enumerate(ENCODINGS):
                    literals[k].append(i)
                    self.max_len = max(self.max_len, len(t.text.encode(enc)) + 4)
                self._literal_of.setdefault(_fold(t.text) if ignore_case else t.text, i)
                text_parts.append(re.escape(t.text))
                continue
            self.max_len = MAX_MATCH
            try:
                compiled = re.compile(t.text.encode("utf-8"), flags), re.compile(t.text, flags)
            except re.error as exc:
                raise UsageError(f"{t.text!r} is not a valid regular expression: {exc}",
                                 hint="without --regex a term is searched literally") from exc
            if t.validate is not None:
                self._patterns.append((i, *compiled))
                continue
            gate = (_hs_gate(t.text, ignore_case) if self.engine == "hyperscan" else
                    "Hyperscan is not installed" if not HAVE_HYPERSCAN else "the re engine was asked for")
            if isinstance(gate, tuple):
                gated.append((i, *gate))
            else:
                self.refused[t.text] = gate
            rflags = regex.IGNORECASE if ignore_case else 0
            self._user.append((i, regex.compile(t.text.encode("utf-8"), rflags), regex.compile(t.text, rflags)))
        self.max_len = min(self.max_len, MAX_MATCH)
        # an all-zero buffer holds no hit when every term is a literal with a character other than NUL
        self.matches_zeros = any(t.regex or not t.text.strip("\0") for t in terms)
        self._literal_dbs: list[tuple[hyperscan.Database, list[int], str]] = []   # per encoding
        self._literal_re: re.Pattern[bytes] | None = None
        if self.engine == "hyperscan":
            for k, enc in enumerate(ENCODINGS):
                if literals[k]:
                    exprs = [_literal_bytes(terms[i].text, enc, ignore_case, _hs_escape) for i in literals[k]]
                    self._literal_dbs.append((_hs_database(exprs, [_hs_flags(ignore_case)] * len(exprs)),
                                              literals[k], enc))
        elif literals[0]:
            order = sorted(((i, k) for k in range(len(ENCODINGS)) for i in literals[k]),
                           key=lambda ik: -len(terms[ik[0]].text))     # longest first
            self._literal_re = re.compile(b"|".join(_literal_bytes(terms[i].text, ENCODINGS[k], ignore_case,
                                                                   re.escape) for i, k in order), flags)
        self._gate_bytes = self._gate(gated, 1)
        self._gate_text = self._gate(gated, 2)
        # longest first here too: at one place in a text, the longest term is reported
        text_parts.sort(key=len, reverse=True)
        self._text = re.compile("|".join(text_parts), flags) if text_parts else None

    def _keep(self, term: Term, text: str) -> bool:
        return term.validate is None or term.validate(text)

    def prefilter(self) -> list[str] | None:
        """The literal terms, when every term is a literal of 3 characters or more (what the
        trigram index of documents' text can narrow a search down with); else None."""
        if any(t.regex or len(t.text) < 3 for t in self.terms):
            return None
        return [t.text for t in self.terms]

    def take_skipped(self) -> list[tuple[Term, bool]]:
        """The regexes the time bound stopped since the last call (once each), and whether
        each is now searched no further."""
        out = [(t, self.terms.index(t) in self.dropped) for t in dict.fromkeys(self.skipped)]
        self.skipped.clear()
        return out

    def _literal_term(self, text: str) -> Term | None:
        i = self._literal_of.get(_fold(text) if self.ignore_case else text)
        return None if i is None else self.terms[i]

    def _gate(self, gated: list[tuple[int, int, int | None]],
              k: int) -> tuple[hyperscan.Database, list[int], frozenset[int]] | None:
        """One Hyperscan database of the gates (flags ``k`` of ``gated``), its terms, and the
        user regexes it does not gate."""
        chosen = [(g[0], flag) for g in gated if (flag := g[k]) is not None]
        if not chosen:
            return None
        exprs = [self.terms[i].text.encode("utf-8") for i, _ in chosen]
        ids = [i for i, _ in chosen]
        return (_hs_database(exprs, [flag for _, flag in chosen]), ids,
                frozenset(i for i, _, _ in self._user) - frozenset(ids))

    def _passed(self, gate: tuple[hyperscan.Database, list[int], frozenset[int]] | None,
                data: bytes) -> set[int] | None:
        """The user regexes to run over ``data``: those with no gate, and those whose gate it
        passes (a gated term that fails it holds no match there); None: all."""
        if gate is None:
            return None
        db, ids, ungated = gate
        return {ids[n] for n, _, _ in _hs_scan(db, data)} | ungated

    def _bounded(self, i: int, pattern: regex.Pattern, data: bytes | str, pos: int = 0,
                 more: bool = False) -> list[tuple[int, int]]:
        """``pattern``'s matches in ``data`` from ``pos`` on, found within the time bound (those
        found before it when it runs out: the term is then noted in :attr:`skipped`).

        The bytes before ``pos`` are context, not text: ``^``, ``\\A``, ``\\b`` and lookbehinds
        see them, so a buffer's first byte is not a stream's or a line's start. ``more``: the
        stream goes on past ``data``, so its end is not the stream's end: a match reaching its
        last two bytes (where ``$`` and ``\\Z`` would match) is kept only if it still matches
        with a line break and a byte after it (as a match longer than the overlap goes on to a
        line break or the stream's end)."""
        if i in self.dropped:
            return []
        out: list[tuple[int, int]] = []
        try:
            for m in pattern.finditer(data, pos, timeout=self.regex_timeout):
                if m.end() <= m.start():
                    continue
                if more and m.end() >= len(data) - 1 and \
                        pattern.match(_followed(data), m.start(), timeout=self.regex_timeout) is None:
                    continue            # it matched only because the buffer ended there
                out.append((m.start(), m.end()))
        except TimeoutError:
            self.skipped.append(self.terms[i])
            self._strikes[i] = self._strikes.get(i, 0) + 1
            if self._strikes[i] >= REGEX_STRIKES:
                self.dropped.add(i)
        return out

    def find_bytes(self, buf: bytes, start: int = 0, more: bool = False) -> Iterator[Match]:
        """Every match in ``buf`` that starts at ``start`` or after, in either encoding
        (UTF-16LE regex matches included), in no particular order. The bytes before ``start``
        are the stream's bytes before the buffer (context for anchors and lookbehinds);
        ``more``: the stream goes on after ``buf`` (see :meth:`_bounded`)."""
        for db, ids, enc in self._literal_dbs:
            for n, lo, hi in _hs_scan(db, buf):
                if lo >= start:
                    yield self._match(self.terms[ids[n]], enc, lo, hi, buf)
        if self._literal_re is not None:
            for m in self._literal_re.finditer(buf):
                k = 0
                text = m.group().decode("utf-8", "replace")
                term = self._literal_term(text)
                if term is None:
                    k, text = 1, m.group().decode("utf-16le", "replace")
                    term = self._literal_term(text)
                if term is not None and m.start() >= start:
                    yield self._match(term, ENCODINGS[k], m.start(), m.end(), buf)
        if not (self._patterns or self._user):
            return
        for i, one, _ in self._patterns:
            for m in one.finditer(buf, start):
                if m.group():
                    found_match = self._match(self.terms[i], "utf-8", m.start(), m.end(), buf)
                    if self._keep(found_match.term, found_match.text):
                        yield found_match
        passed = self._passed(self._gate_bytes, buf)
        for i, user, _ in self._user:
            if passed is None or i in passed:
                for lo, hi in self._bounded(i, user, buf, start, more):
                    yield self._match(self.terms[i], "utf-8", lo, hi, buf)
        for align in (0, 1):
            view = buf[align:len(buf) - (len(buf) - align) % 2]
            if not view:
                continue
            wide = view.decode("utf-16le", "replace")
            narrow = len(view) == 2 * len(wide)          # no surrogate pair: a character is 2 bytes
            lead = max(0, start - align)
            pos = len(view[:lead + lead % 2].decode("utf-16le", "replace"))
            for term, cs, ce, hit_text in self._regex_text_hits(wide, pos, more):
                if narrow:
                    begin, end = align + 2 * cs, align + 2 * ce
                else:
                    begin = align + len(wide[:cs].encode("utf-16le", "surrogatepass"))
                    end = begin + len(hit_text.encode("utf-16le", "surrogatepass"))
                if begin >= start:
                    yield Match(term, "utf-16le", begin, min(end, begin + MAX_MATCH), hit_text)

    def _regex_text_hits(self, text: str, pos: int = 0, more: bool = False) -> Iterator[tuple[Term, int, int, str]]:
        """The regular expressions' hits in a text from character ``pos`` on: (term, start,
        end in characters, text); ``pos`` and ``more`` as for :meth:`_bounded`."""
        for i, _, one in self._patterns:
            for m in one.finditer(text, pos):
                if m.group() and self._keep(self.terms[i], m.group()):
                    yield self.terms[i], m.start(), m.end(), m.group()
        if not self._user:
            return
        # a lone surrogate (a JSON string may hold one) is no UTF-8: replaced for the gate
        passed = self._passed(self._gate_text, text.encode("utf-8", "replace") if self._gate_text else b"")
        for i, _, user in self._user:
            if passed is None or i in passed:
                for cs, ce in self._bounded(i, user, text, pos, more):
                    yield self.terms[i], cs, ce, text[cs:ce]

    @staticmethod
    def _match(term: Term, encoding: str, start: int, end: int, buf: bytes) -> Match:
        end = min(end, start + MAX_MATCH)
        return Match(term, encoding, start, end, bytes(buf[start:end]).decode(encoding, "replace"))

    def find_text(self, text: str) -> Iterator[Match]:
        """Every match in a text (offsets are characters)."""
        if self._text is not None:
            for m in self._text.finditer(text):
                term = self._literal_term(m.group())
                if term is not None:
                    yield Match(term, "text", m.start(), m.end(), m.group())
        for term, cs, ce, hit_text in self._regex_text_hits(text):
            yield Match(term, "text", cs, ce, hit_text)
