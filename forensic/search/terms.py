"""Search terms and the one compiled matcher that finds all of them at once.

A term is a literal string or a regular expression, from the command line, a lab's list
(one term a line, ``#`` comments) or a built-in pattern list (:mod:`forensic.search.patterns`).
:class:`Matcher` compiles every term into one alternation over bytes, each term in each
encoding a named group, so that a buffer is scanned once whatever the number of terms:

- literals in UTF-8 (ASCII included) and UTF-16LE; ``ignore_case`` folds ASCII through the
  regex flag and other cased letters by spelling out both cases (``É`` -> ``(?:É|é)``);
- regular expressions in UTF-8 over the bytes, and in UTF-16LE over the buffer decoded as
  UTF-16LE at both byte alignments (a pattern is text: it cannot be re-encoded as bytes).

Every match is at most :data:`MAX_MATCH` bytes long (the overlap the streaming pass keeps
between buffers): a longer regular-expression match is cut there.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

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


# A quantified group holding a quantifier: ``(a+)+``, ``(\w*x)*``, ``(\d+\s?){3,}``. Python's
# ``re`` has no time bound and may backtrack exponentially on text that almost matches such a
# pattern. A warning, not a proof: overlapping alternatives (``(a|aa)+``) are not seen.
_NESTED = re.compile(r"(?<!\\)\((?:[^()\\]|\\.)*(?<!\\)[*+}](?:[^()\\]|\\.)*(?<!\\)\)[*+{]")


def backtracking_risk(pattern: str) -> bool:
    """Whether a user's regular expression nests quantifiers (see :data:`_NESTED`)."""
    return _NESTED.search(pattern) is not None


def _fold(text: str) -> str:
    return text.lower()


try:            # Hyperscan: every literal in one pass at memory speed; else one `re` alternation
    import hyperscan
    HAVE_HYPERSCAN = True
except ImportError:          # pragma: no cover - a platform without its wheels
    HAVE_HYPERSCAN = False


class Matcher:
    """Every term compiled once; :meth:`find_bytes` for raw bytes, :meth:`find_text` for text
    (names, messages, metadata, text extracted from documents).

    Literals are found by Hyperscan (every occurrence of every literal, overlapping ones
    too) or, without it, by one ``re`` alternation (longest term first: at one place, only
    the longest term is reported). Regular expressions and built-in patterns get a ``re``
    pass each."""

    def __init__(self, terms: list[Term], ignore_case: bool = False, engine: str | None = None) -> None:
        if not terms:
            raise UsageError("nothing to search for", hint="give a TERM, --list FILE or --patterns NAME")
        self.terms = terms
        self.ignore_case = ignore_case
        flags = re.IGNORECASE if ignore_case else 0
        self._regexes: list[tuple[int, re.Pattern[bytes], re.Pattern[str]]] = []
        literals: list[tuple[int, int]] = []          # (term index, encoding index)
        self._literal_of: dict[str, int] = {}         # a literal's text (folded with ignore_case) -> term
        text_parts: list[str] = []
        self.max_len = 1
        for i, t in enumerate(terms):
            if not t.text:
                raise UsageError("an empty term matches everywhere", hint="give a term of one character or more")
            if t.regex:
                try:
                    self._regexes.append((i, re.compile(t.text.encode("utf-8"), flags), re.compile(t.text, flags)))
                except re.error as exc:
                    raise UsageError(f"{t.text!r} is not a valid regular expression: {exc}",
                                     hint="without --regex a term is searched literally") from exc
                self.max_len = MAX_MATCH
                continue
            for k, enc in enumerate(ENCODINGS):
                literals.append((i, k))
                self._literal_of.setdefault(_fold(t.text) if ignore_case else t.text, i)
                self.max_len = max(self.max_len, len(t.text.encode(enc)) + 4)
            text_parts.append(re.escape(t.text))
        self.max_len = min(self.max_len, MAX_MATCH)
        self.engine = engine or ("hyperscan" if HAVE_HYPERSCAN else "re")
        self._hs = None
        self._bytes = None
        self._literals = literals
        if literals and self.engine == "hyperscan":
            if not HAVE_HYPERSCAN:
                raise UsageError("Hyperscan is not installed", hint="pip install hyperscan")
            db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            hs_flags = hyperscan.HS_FLAG_SOM_LEFTMOST | (hyperscan.HS_FLAG_CASELESS if ignore_case else 0)
            db.compile(expressions=[_literal_bytes(terms[i].text, ENCODINGS[k], ignore_case, _hs_escape)
                                    for i, k in literals],
                       ids=list(range(len(literals))), elements=len(literals), flags=[hs_flags] * len(literals))
            self._hs = db
        elif literals:
            order = sorted(literals, key=lambda ik: -len(terms[ik[0]].text))     # longest first
            self._bytes = re.compile(b"|".join(_literal_bytes(terms[i].text, ENCODINGS[k], ignore_case, re.escape)
                                               for i, k in order), flags)
        # longest first here too: at one place in a text, the longest term is reported
        text_parts.sort(key=len, reverse=True)
        self._text = re.compile("|".join(text_parts), flags) if text_parts else None

    def _keep(self, term: Term, text: str) -> bool:
        return term.validate is None or term.validate(text)

    def prefilter(self) -> list[str] | None:
        """The literal terms, when every term is a literal of 3 characters or more (what the
        trigram index of documents' text can narrow a search down with); else None."""
        if self._regexes or any(len(t.text) < 3 for t in self.terms):
            return None
        return [t.text for t in self.terms]

    def _literal_term(self, text: str) -> Term | None:
        i = self._literal_of.get(_fold(text) if self.ignore_case else text)
        return None if i is None else self.terms[i]

    def find_bytes(self, buf: bytes) -> Iterator[Match]:
        """Every match in ``buf``, in either encoding (UTF-16LE regex matches included), in
        no particular order."""
        if self._hs is not None:
            found: list[tuple[int, int, int]] = []

            def on_match(n: int, lo: int, hi: int, _flags: int, _context: object) -> None:
                found.append((n, lo, hi))       # returns None: the scan goes on
            self._hs.scan(buf, match_event_handler=on_match)
            for n, lo, hi in found:
                i, k = self._literals[n]
                yield self._match(self.terms[i], ENCODINGS[k], lo, hi, buf)
        elif self._bytes is not None:
            for m in self._bytes.finditer(buf):
                k = 0
                text = m.group().decode("utf-8", "replace")
                term = self._literal_term(text)
                if term is None:
                    k, text = 1, m.group().decode("utf-16le", "replace")
                    term = self._literal_term(text)
                if term is not None:
                    yield self._match(term, ENCODINGS[k], m.start(), m.end(), buf)
        for i, one, _ in self._regexes:
            term = self.terms[i]
            for m in one.finditer(buf):
                if not m.group():
                    continue
                found_match = self._match(term, "utf-8", m.start(), m.end(), buf)
                if self._keep(term, found_match.text):
                    yield found_match
        if not self._regexes:
            return
        for align in (0, 1):
            view = buf[align:len(buf) - (len(buf) - align) % 2]
            if not view:
                continue
            wide = view.decode("utf-16le", "replace")
            for i, _, regex in self._regexes:
                term = self.terms[i]
                for w in regex.finditer(wide):
                    hit_text: str = w.group()
                    if not hit_text:
                        continue
                    # U+FFFD stands for one bad 2-byte unit, a surrogate pair for 4 bytes: encode to count
                    start = align + len(wide[:w.start()].encode("utf-16le", "surrogatepass"))
                    end = start + len(hit_text.encode("utf-16le", "surrogatepass"))
                    if self._keep(term, hit_text):
                        yield Match(term, "utf-16le", start, min(end, start + MAX_MATCH), hit_text)

    @staticmethod
    def _match(term: Term, encoding: str, start: int, end: int, buf: bytes) -> Match:
        end = min(end, start + MAX_MATCH)
        return Match(term, encoding, start, end, buf[start:end].decode(encoding, "replace"))

    def find_text(self, text: str) -> Iterator[Match]:
        """Every match in a text (offsets are characters)."""
        if self._text is not None:
            for m in self._text.finditer(text):
                term = self._literal_term(m.group())
                if term is not None:
                    yield Match(term, "text", m.start(), m.end(), m.group())
        for i, _, one in self._regexes:
            for m in one.finditer(text):
                if m.group() and self._keep(self.terms[i], m.group()):
                    yield Match(self.terms[i], "text", m.start(), m.end(), m.group())
