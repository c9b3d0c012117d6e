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


def _literal_bytes(term: str, encoding: str, ignore_case: bool) -> bytes:
    """The regex (bytes) of a literal in an encoding; non-ASCII cased letters spelled in both
    cases when ``ignore_case`` (the flag folds ASCII only over bytes)."""
    if not ignore_case or all(not _cased(c) for c in term):
        return re.escape(term.encode(encoding))
    parts = []
    for ch in term:
        if _cased(ch):
            forms = sorted({ch, ch.lower(), ch.upper()} - {""})
            forms = [f for f in forms if len(f) == 1]
            parts.append(b"(?:" + b"|".join(re.escape(f.encode(encoding)) for f in forms) + b")")
        else:
            parts.append(re.escape(ch.encode(encoding)))
    return b"".join(parts)


class Matcher:
    """Every term compiled once; :meth:`find_bytes` for raw bytes, :meth:`find_text` for text
    (names, messages, metadata, text extracted from documents)."""

    def __init__(self, terms: list[Term], ignore_case: bool = False) -> None:
        if not terms:
            raise UsageError("nothing to search for", hint="give a TERM, --list FILE or --patterns NAME")
        self.terms = terms
        self.ignore_case = ignore_case
        flags = re.IGNORECASE if ignore_case else 0
        byte_parts: list[bytes] = []
        text_parts: list[str] = []
        wide_parts: list[str] = []
        # checked patterns each get a pass of their own: a candidate that fails its check
        # must not hide another term's match at the same place
        self._checked: list[tuple[int, re.Pattern[bytes], re.Pattern[str]]] = []
        self.max_len = 1
        order = sorted(range(len(terms)), key=lambda i: -len(terms[i].text))    # longest literal first
        for i in order:
            t = terms[i]
            if not t.text:
                raise UsageError("an empty term matches everywhere", hint="give a term of one character or more")
            try:
                re.compile(t.text if t.regex else re.escape(t.text))
                if t.validate is not None:
                    self._checked.append((i, re.compile(t.text.encode("utf-8"), flags), re.compile(t.text, flags)))
                    self.max_len = MAX_MATCH
                    continue
            except re.error as exc:
                raise UsageError(f"{t.text!r} is not a valid regular expression: {exc}",
                                 hint="without --regex a term is searched literally") from exc
            if t.regex:
                byte_parts.append(b"(?P<t%d_0>" % i + t.text.encode("utf-8") + b")")
                wide_parts.append(f"(?P<t{i}_1>{t.text})")
                self.max_len = MAX_MATCH
            else:
                for k, enc in enumerate(ENCODINGS):
                    pat = _literal_bytes(t.text, enc, ignore_case)
                    byte_parts.append(b"(?P<t%d_%d>" % (i, k) + pat + b")")
                    self.max_len = max(self.max_len, len(t.text.encode(enc)) + 4)
            text_parts.append(f"(?P<t{i}>{t.text if t.regex else re.escape(t.text)})")
        try:
            self._bytes = re.compile(b"|".join(byte_parts), flags) if byte_parts else None
            self._wide = re.compile("|".join(wide_parts), flags) if wide_parts else None
            self._text = re.compile("|".join(text_parts), flags) if text_parts else None
        except re.error as exc:          # e.g. a regex that is valid as text but not over bytes
            raise UsageError(f"the terms do not compile together: {exc}") from exc
        self.max_len = min(self.max_len, MAX_MATCH)

    def _keep(self, term: Term, text: str) -> bool:
        return term.validate is None or term.validate(text)

    def find_bytes(self, buf: bytes) -> Iterator[Match]:
        """Every match in ``buf``, in either encoding (UTF-16LE regex matches included)."""
        if self._bytes is not None:
            for m in self._bytes.finditer(buf):
                i, k = (int(x) for x in (m.lastgroup or "t0_0")[1:].split("_"))
                yield self._match(self.terms[i], ENCODINGS[k], m.start(), m.end(), buf)
        for i, one, _ in self._checked:
            term = self.terms[i]
            for m in one.finditer(buf):
                found = self._match(term, "utf-8", m.start(), m.end(), buf)
                if self._keep(term, found.text):
                    yield found
        wide_passes = ([(self._wide, None)] if self._wide is not None else []) \
            + [(w, i) for i, _, w in self._checked]
        if not wide_passes:
            return
        for align in (0, 1):
            view = buf[align:len(buf) - (len(buf) - align) % 2]
            if not view:
                continue
            wide = view.decode("utf-16le", "replace")
            for regex, only in wide_passes:
                for w in regex.finditer(wide):
                    hit_text: str = w.group()
                    if not hit_text:
                        continue
                    i = only if only is not None else int((w.lastgroup or "t0_1")[1:].split("_")[0])
                    term = self.terms[i]
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
                if m.group():
                    yield Match(self.terms[int((m.lastgroup or "t0")[1:])], "text", m.start(), m.end(), m.group())
        for i, _, one in self._checked:
            for m in one.finditer(text):
                if m.group() and self._keep(self.terms[i], m.group()):
                    yield Match(self.terms[i], "text", m.start(), m.end(), m.group())
