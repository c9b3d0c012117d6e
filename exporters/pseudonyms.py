"""Pseudonyms for victims and witnesses in a bundle (``forensic export --pseudonymise``).

The examiner marks persons (``forensic person mark ID --role victim|witness|suspect``, kept in
the store's ``person_roles``). An export with ``--pseudonymise`` replaces, in everything it
generates (report, messages, files, timeline, geotags, CASE/UCO, bundle.json), the names,
phone numbers, e-mail addresses and user ids of each person marked victim or witness by a
pseudonym: ``Victim-A``, ``Witness-B``. The letter is the person's place in the order of first
marking, kept in the store, so a person has the same pseudonym in every export of the case
(unmarked and marked again too); suspects keep their names.

Text is compared as written and as a reader sees it (:func:`_fold`: NFKC, invisible
characters dropped, Cyrillic and Greek look-alikes as Latin), so "AnaLima", "Ａｎａ" and
"A\u200bna" are hers too. Ids are never rewritten: a case id or exported item id naming a
marked person refuses the export.

What cannot be rewritten is left out, never altered: an evidence file whose bytes (or path)
hold a marked person's name, number, e-mail address or user id is withheld, listed with its
hash and the reason ``pseudonymised`` (a ZIP's members are read, and a container of a
withheld file is withheld too); a custody entry that names one (a tag's note) is left
out of the excerpt (the others keep their inclusion proofs). Before anything generated is
written, every generated member is searched for what was replaced: one found stops the export
(:meth:`Pseudonyms.check`), so a leak is an error, not a bundle.

The key linking pseudonyms to persons goes to a file beside the bundle
(``BUNDLE.zip.pseudonyms.key``), never into it, encrypted with the examiner's passphrase:
scrypt (n=2**15, r=8, p=1, a random 16-byte salt) derives a 256-bit key for AES-256-GCM (the
``cryptography`` package's primitives), with the file's clear header (case, bundle and its
SHA-256, the parameters) as associated data. ``forensic person reveal KEYFILE`` reads it back.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import io
import itertools
import json
import os
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from forensic.errors import SourceError, UsageError

try:                                  # a dependency (pyproject)
    import phonenumbers
except ImportError:                   # pragma: no cover - installed with the package
    phonenumbers = None  # type: ignore[assignment]

PSEUDONYMISED = "pseudonymised"
WITHHELD_REASON = PSEUDONYMISED
KEY_SUFFIX = ".pseudonyms.key"
KEY_FORMAT = "forensic-pseudonym-key/1"
PSEUDONYMISED_ROLES = ("victim", "witness")
PSEUDONYMISED_ACTION = "artifact.pseudonymised"
MIN_PASSPHRASE = 12
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 15, 8, 1
# keys whose values are hashes, ids or evidence item names: never rewritten
_KEEP = frozenset({"item", "sha256", "md5", "sha1", "file_id", "artifact_id", "record_id", "leaf_hash", "root",
                   "proof", "hash", "prev_hash", "seq", "tree_size"})
_SEP = r"[\s.\-/()_\u2010-\u2015\u2212]*"
# a name or id ends where no letter or digit follows ("_" too: "ana_lima" in a file name)
_B, _E = r"(?<![^\W_])", r"(?![^\W_])"
# a name ends where no letter follows: digits may ("Moreno2021", "Ana%20Lima", "ana.lima1990@...")
_BN, _EN = r"(?<![^\W\d_])", r"(?![^\W\d_])"
# what hides a name from a search and not from a reader: zero-width and format characters,
# soft hyphens; Cyrillic and Greek letters drawn as Latin ones
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
                        "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]")
_LOOKALIKE = str.maketrans("АВЕКМНОРСТУХІЈЅаеорсуххіјѕԁԛԝΑΒΕΖΗΙΚΜΝΟΡΤΥΧοϲνι",
                           "ABEKMHOPCTYXIJSaeopcyxxijsdqwABEZHIKMNOPTYXocvi")
_CHUNK = 1 << 20
_OVERLAP = 1024
_ZIP_CAP = 256 << 20        # a ZIP whose stream cannot seek is read into memory up to this size


def letters(n: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA (as spreadsheet columns)."""
    out = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


@dataclass
class Person:
    """A marked person as the export replaces them."""
    pseudonym: str
    role: str
    identity: str
    names: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)    # compared forms: +E.164, digits:...
    emails: list[str] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    note: str | None = None

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def _number_pattern(key: str) -> str | None:
    """A regex matching a number in the forms people write it: +31 6 12345678, 0031612345678,
    06-12 34 56 78, 31612345678 (a WhatsApp jid), 612345678; not inside a longer number."""
    if key.startswith("digits:"):
        digits = key[7:]
        return rf"(?<!\d){_SEP.join(re.escape(d) for d in digits)}(?!\d)" if len(digits) >= 5 else None
    if not key.startswith("+"):
        return None
    cc, nsn = "", key[1:]
    if phonenumbers is not None:
        try:
            parsed = phonenumbers.parse(key, None)
            cc, nsn = str(parsed.country_code), phonenumbers.national_significant_number(parsed)
        except phonenumbers.NumberParseException:
            pass
    body = _SEP.join(re.escape(d) for d in nsn)
    if cc:
        prefix = rf"(?:(?:\+|00){_SEP}{cc}{_SEP}(?:\(0\){_SEP})?|{cc}{_SEP}|0{_SEP})?"
    else:
        prefix = r"(?:\+|00)?"
    if len(nsn) < 6:          # a short number only in its full international form
        return rf"(?<!\d)(?:\+|00){_SEP}{cc}{_SEP}{body}(?!\d)"
    return rf"(?<!\d){prefix}{body}(?!\d)"


# in bytes: UTF-8 no-break space and dashes (U+2010..U+2015, U+2212) are dropped byte by byte
_NUMBER_SEPARATORS = b" \t\r\n.-/()_\xc2\xa0\xe2\x80\x88\x90\x91\x92\x93\x94\x95"


def _number_bytes(key: str) -> tuple[bytes, tuple[bytes, ...]] | None:
    """A number as sought in bytes once separators are dropped: its national significant
    digits, and the prefixes they may follow (+31, 0031, 31, 0, +310 for "+31 (0)6...")."""
    if key.startswith("digits:"):
        return (key[7:].encode("ascii"), ()) if len(key) - 7 >= 5 else None
    if not key.startswith("+") or phonenumbers is None:
        return None
    try:
        parsed = phonenumbers.parse(key, None)
    except phonenumbers.NumberParseException:
        return None
    cc, nsn = str(parsed.country_code), phonenumbers.national_significant_number(parsed)
    if len(nsn) < 6:         # too short alone: only in its international form
        return ("+" + cc + nsn).encode("ascii"), ()
    prefixes = (f"+{cc}0", f"00{cc}0", f"+{cc}", f"00{cc}", cc, "0")
    return nsn.encode("ascii"), tuple(p.encode("ascii") for p in prefixes)


# in evidence bytes (UTF-8): invisible characters that split a name, and fullwidth ASCII
_INVISIBLE_UTF8 = re.compile(b"\xc2\xad|\xe2\x80[\x8b-\x8f]|\xe2\x81[\xa0-\xa4]|\xef\xbb\xbf")
_FULLWIDTH_UTF8 = re.compile(b"\xef([\xbc\xbd])([\x80-\xbf])")


def _halfwidth(m: re.Match[bytes]) -> bytes:
    return bytes([(0x20 if m[1] == b"\xbc" else 0x60) + m[2][0] - 0x80])


def _plain_bytes(data: bytes) -> bytes:
    """UTF-8 ``data`` as a reader sees it: zero-width characters and soft hyphens dropped,
    fullwidth letters, digits and signs as ASCII ("Ａｎａ" -> "Ana")."""
    if b"\xe2\x80" in data or b"\xe2\x81" in data or b"\xc2\xad" in data or b"\xef\xbb\xbf" in data:
        data = _INVISIBLE_UTF8.sub(b"", data)
    if b"\xef\xbc" in data or b"\xef\xbd" in data:
        data = _FULLWIDTH_UTF8.sub(_halfwidth, data)
    return data


_JSON_ESCAPE = re.compile(rb"\\u([0-9a-fA-F]{4})")


def _unescaped(data: bytes) -> bytes:
    """A generated member as its reader sees it: JSON's \\uXXXX escapes and HTML's character
    references decoded (what the byte search of :meth:`Pseudonyms.check` would miss)."""
    if b"\\u" in data:
        data = _JSON_ESCAPE.sub(lambda m: chr(int(m[1], 16)).encode("utf-8", "replace"), data)
    if b"&" in data:
        data = html.unescape(data.decode("utf-8", "replace")).encode("utf-8")
    return data


def _free(data: bytes, at: int) -> bool:
    """No ASCII letter or digit at ``at`` (or outside ``data``)."""
    return at < 0 or at >= len(data) or not data[at:at + 1].isalnum()


def _fold(text: str) -> str:
    """``text`` as a reader sees it: without invisible characters, NFKC (fullwidth letters and
    digits, composed accents), look-alike letters as Latin, every decimal digit as ASCII."""
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text)).translate(_LOOKALIKE)
    return re.sub(r"[^\x00-\x7f]", lambda m: str(unicodedata.decimal(m.group(), "")) or m.group(), text)


def _unaccented(text: str) -> str:
    """``text`` without its combining marks (Sofía -> Sofia)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _number_hit(data: bytes, at: int, nsn: bytes, prefixes: tuple[bytes, ...]) -> bool:
    """The digits at ``at`` are the number: no digit right after them, and before them a
    prefix it may have, or no digit."""
    end = at + len(nsn)
    if end < len(data) and data[end:end + 1].isdigit():
        return False
    start = at
    for p in prefixes:
        if data[max(0, at - len(p)):at] == p:
            start = at - len(p)
            break
    return start == 0 or data[start:start + 1] == b"+" or not data[start - 1:start].isdigit()


def _layer_path(f: dict) -> tuple[str, ...]:
    """A file's layers (its container, the file inside it...), each as comparable text."""
    return tuple(json.dumps(layer, sort_keys=True) for layer in f.get("layers") or ())


def _longest_first(b: bytes) -> int:
    return -len(b)


class Pseudonyms:
    """The marked persons of one export and how their traces are replaced (text) or found
    (evidence bytes). ``withheld`` lists the files left out, ``custody_left_out`` the custody
    entries left out of the excerpt."""

    def __init__(self, persons: list[Person]) -> None:
        self.persons = persons
        self.withheld: list[dict] = []
        self.custody_left_out: list[int] = []
        text: list[tuple[re.Pattern[str], str]] = []
        words: set[bytes] = set()               # lower-case literals sought in bytes
        wide: set[bytes] = set()                # UTF-16LE names beyond Latin-1 (zero bytes kept)
        numbers: set[tuple[bytes, tuple[bytes, ...]]] = set()   # (digits, the prefixes they may follow)
        for p in persons:
            for e in p.emails:
                text.append((re.compile(re.escape(e), re.IGNORECASE), p.pseudonym))
                words.add(e.lower().encode("utf-8"))
            for u in p.user_ids:
                text.append((re.compile(rf"{_B}{re.escape(u)}{_E}", re.IGNORECASE), p.pseudonym))
                if len(u) >= 4:
                    words.add(u.lower().encode("utf-8"))
        for p in persons:
            for n in p.numbers:
                pat = _number_pattern(n)
                if pat is not None:
                    text.append((re.compile(pat), p.pseudonym))
                found = _number_bytes(n)
                if found is not None:
                    numbers.add(found)
        # every name as written and without its accents ("sofia_moreno" in a folder name)
        spelt = {(variant, p.pseudonym) for p in persons for name in p.names if len(name.strip()) >= 2
                 for variant in (name.strip(), _unaccented(name.strip()), _fold(name.strip()))}
        full = sorted(spelt, key=lambda t: (-len(t[0]), t))
        for name, pseudonym in full:
            joined = r"[\s_.\-]*".join(re.escape(w) for w in name.split())   # "Ana Lima", "ana_lima", "AnaLima"
            text.append((re.compile(rf"{_BN}{joined}{_EN}", re.IGNORECASE), pseudonym))
            # latin-1: UTF-16 text once its zero bytes are dropped; upper and title case spelt out,
            # as bytes.lower() folds ASCII letters only ("SOFÍA"); the words joined by "_" too
            for form in {name, name.lower(), name.upper(), name.title(), "_".join(name.split()),
                         "".join(name.split()), "-".join(name.split()), ".".join(name.split()),
                         unicodedata.normalize("NFD", name)}:
                words.add(form.encode("utf-8").lower())
                try:
                    words.add(form.encode("latin-1").lower())
                except UnicodeEncodeError:         # beyond Latin-1: UTF-16 sought as it is
                    wide.add(form.encode("utf-16-le").lower())
        # each word of a name (a first name alone in a message), once the whole names are done
        parts = sorted({(w, pseudonym) for name, pseudonym in spelt for w in re.findall(r"[^\W_]{3,}", name)},
                       key=lambda t: (-len(t[0]), t))
        for word, pseudonym in parts:
            text.append((re.compile(rf"{_BN}{re.escape(word)}{_EN}", re.IGNORECASE), pseudonym))
        self._text = text
        self._words = sorted(words, key=_longest_first)
        self._wide = sorted(wide, key=_longest_first)
        self._numbers = sorted(numbers)

    # -- text ------------------------------------------------------------------------------------
    def text(self, value: str) -> str:
        """``value`` with every marked person's traces replaced by their pseudonym; written as a
        reader sees it (:func:`_fold`) where only that form shows one ("Ａｎａ", "A\u200bna")."""
        folded = value if value.isascii() else _fold(value)      # ASCII is as a reader sees it
        if folded != value:
            replaced = self._replace(folded)
            if replaced != folded:
                return replaced
        return self._replace(value)

    def _replace(self, value: str) -> str:
        for pattern, pseudonym in self._text:
            value = pattern.sub(pseudonym, value)
        return value

    def scrub(self, obj: Any) -> Any:
        """A copy of ``obj`` (JSON-like: dicts, lists, strings) with every string (and
        dictionary key) rewritten by :meth:`text`, but the values of hashes, ids and evidence
        item names."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, dict):
            return {self._key(k): (v if k in _KEEP else self.scrub(v))
                    for k, v in obj.items()}     # keys too: a jid can key a map of names
        if isinstance(obj, (list, tuple)):
            return [self.scrub(v) for v in obj]
        return obj

    def _key(self, key: Any) -> Any:
        if isinstance(key, str):
            return self.text(key)
        if isinstance(key, tuple):          # (item, platform, conversation id) and the like
            return tuple(v if i == 0 else self._key(v) for i, v in enumerate(key))
        return key

    def names_someone(self, value: Any) -> bool:
        """Whether a string (or JSON-like value) holds a marked person's trace."""
        return bool(self.scrub(value) != value)

    # -- bytes -----------------------------------------------------------------------------------
    def found_in(self, data: bytes, bounded: bool = False) -> bool:
        """Whether ``data`` holds a marked person's name, number, e-mail or user id: as UTF-8,
        Latin-1 or UTF-16LE text, case ignored (ASCII letters), a number in any written form
        (its separators and zero bytes dropped before the search). ``bounded``: only where no
        letter or digit adjoins it (as :meth:`text` replaces); else anywhere, which withholds
        evidence whose fields run together."""
        if not (self._words or self._numbers):
            return False
        low = _plain_bytes(data).lower()
        for word in self._wide:
            if word in low:
                return True
        flat = low.translate(None, b"\x00")
        for word in self._words:
            at = flat.find(word)
            while at >= 0:
                if not bounded or (_free(flat, at - 1) and _free(flat, at + len(word))):
                    return True
                at = flat.find(word, at + 1)
        if self._numbers:
            digits = flat.translate(None, _NUMBER_SEPARATORS)
            for nsn, prefixes in self._numbers:
                at = digits.find(nsn)
                while at >= 0:
                    if _number_hit(digits, at, nsn, prefixes):
                        return True
                    at = digits.find(nsn, at + 1)
        return False

    def found_in_stream(self, chunks: Iterable[bytes]) -> bool:
        tail = b""
        for chunk in chunks:
            window = tail + chunk
            if self.found_in(window):
                return True
            tail = window[-_OVERLAP:]
        return False

    # -- the selection ---------------------------------------------------------------------------
    def withhold(self, case: Any, sel: Any, password: bytes | None) -> None:
        """Withhold every exported file whose path or bytes name a marked person (and mark
        such chat sources withheld too): evidence is never rewritten."""
        from forensic.case import item_source
        from forensic.resolve import layer_key, resolve_entries
        files = [f for f in sel.exported_files]
        sources = [s for s in sel.chat_sources.values() if s.get("locator")]
        by_item: dict[str, list[dict]] = {}
        for f in files:
            if self.names_someone([f["path"], f["locator"], f["name"], f["layers"]]):
                self._withhold(f)
            else:
                by_item.setdefault(f["item"], []).append(f)
        for s in sources:
            if self.names_someone([s["path"], s["locator"]]):
                self._withhold(s)
        # chat sources are looked for by locator in the item's walk
        for item in sorted(by_item):
            row = case.item(item)
            wanted = {layer_key(f["layers"]): f for f in by_item[item]}
            try:
                for key, entry in resolve_entries(item_source(row), row.format, wanted, password):
                    with entry.open() as src:
                        head = src.read(_CHUNK)
                        if self.found_in_stream(itertools.chain([head], iter(lambda: src.read(_CHUNK), b""))):
                            self._withhold(wanted[key])
                            continue
                    if head.startswith(b"PK\x03\x04"):     # a .docx, .xlsx, .odt, .zip: its parts are deflated
                        with entry.open() as src:
                            if self._zip_names_someone(src):
                                self._withhold(wanted[key])
            except (OSError, RuntimeError) as exc:
                raise SourceError(f"evidence item {item}: reading the source failed: {exc}",
                                  hint="check that the evidence source is connected and readable") from exc
        # a container (a .docx, a ZIP) holding a withheld file holds her too, compressed where no
        # byte search of the container finds her: withheld with it
        inner = {(f["item"], _layer_path(f)) for f in self.withheld}
        for f in files:
            layers = _layer_path(f)
            if any(item == f["item"] and len(deeper) > len(layers) and deeper[:len(layers)] == layers
                   for item, deeper in inner):
                self._withhold(f)
        withheld = {(f["item"], f["locator"]) for f in self.withheld}
        for media in [*sel.photos, *sel.videos]:
            if (media["item"], media["locator"]) in withheld:
                media["withheld"] = True
        if self.withheld:
            sel.notes.append(f"{len(self.withheld)} file(s) withheld ({PSEUDONYMISED}): their name or content holds "
                             "a pseudonymised person's name, number, e-mail address or user id; listed with their "
                             "hashes")

    def _zip_names_someone(self, src: Any, depth: int = 0) -> bool:
        """Whether a ZIP's members (and the ZIPs inside it, three deep) hold a marked person's
        trace. One that cannot be read as a ZIP (damaged, encrypted) is searched as bytes only."""
        if not src.seekable():
            src = io.BytesIO(src.read(_ZIP_CAP + 1))
            if len(src.getvalue()) > _ZIP_CAP:
                return True               # too big to search in memory: withheld, said as pseudonymised
        try:
            with zipfile.ZipFile(src) as zf:
                for info in zf.infolist():
                    if info.is_dir() or info.flag_bits & 0x1:
                        continue
                    with zf.open(info) as member:
                        head = member.read(_CHUNK)
                        if self.found_in_stream(itertools.chain([head], iter(lambda: member.read(_CHUNK), b""))):
                            return True
                    if depth < 2 and head.startswith(b"PK\x03\x04"):
                        with zf.open(info) as member:
                            if self._zip_names_someone(member, depth + 1):
                                return True
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError, ValueError):
            return False
        return False

    def _withhold(self, f: dict) -> None:
        if f.get("withheld_reason") == WITHHELD_REASON:
            return
        f["withheld"] = True
        f["withheld_reason"] = WITHHELD_REASON
        self.withheld.append(f)

    def vouch(self, case: Any, sel: Any, opts: Any) -> int:
        """Record in the custody log, before the export cites its checkpoint, one
        ``artifact.pseudonymised`` entry per exported message whose ``artifact.*`` entries all
        name a marked person (its chat file is named after her): those are left out of the
        excerpt, and this entry ties the message as exported (rewritten locator, the SHA-256 of
        its rewritten fields) to them by their ``seq``. Recorded once per rewritten form.
        Returns how many were added."""
        from forensic.chain_of_custody.log import LOG_NAME, CustodyLog, iter_lines
        messages = {m["artifact_id"]: m for m in sel.messages}
        if not messages:
            return 0
        tied: set[int] = set()
        seqs: dict[int, list[int]] = {}
        done: set[tuple[int, str]] = set()
        for line in iter_lines(case.root / LOG_NAME):
            if not line.startswith(b'{"action":"artifact.'):
                continue
            try:
                e = json.loads(line)
                aid = e["details"]["artifact_id"]
            except (ValueError, KeyError, TypeError):
                continue
            if aid not in messages:
                continue
            if e["action"] == PSEUDONYMISED_ACTION:
                done.add((aid, str(e["details"].get("pseudonymised_sha256"))))
                continue
            text = line.decode("utf-8", "replace")
            if self.text(text) == text and not self.found_in(line, bounded=True):
                tied.add(aid)
            else:
                seqs.setdefault(aid, []).append(e.get("seq"))
        entries = []
        for aid, m in messages.items():
            if aid in tied or aid not in seqs:
                continue
            shown = self.scrub({"locator": m["locator"], "fields": m["fields"]})
            digest = hashlib.sha256(json.dumps(shown["fields"], sort_keys=True, ensure_ascii=False,
                                               separators=(",", ":")).encode("utf-8")).hexdigest()
            if (aid, digest) in done:
                continue
            entries.append({"action": PSEUDONYMISED_ACTION,
                            "subject": {"item": m["item"], "locator": shown["locator"], "record_type": "chat/message"},
                            "sha256": m["sha256"],
                            "details": {"artifact_id": aid, "entries": seqs[aid], "pseudonymised_sha256": digest}})
        if entries:
            with CustodyLog(case.root, case.db, case.case_id, signer=opts.signer,
                            actor=opts.actor or case.examiner) as log:
                log.extend(entries)
                log.commit()
        return len(entries)

    def view(self, sel: Any) -> Any:
        """The selection as the generated members show it: every string rewritten."""
        return dataclasses.replace(sel, files=self.scrub(sel.files), photos=self.scrub(sel.photos),
                                   videos=self.scrub(sel.videos), messages=self.scrub(sel.messages),
                                   chat_sources={k: self.scrub(v) for k, v in sel.chat_sources.items()},
                                   notes=self.scrub(sel.notes))

    def trim_custody(self, ex: Any) -> None:
        """Leave out of the excerpt the custody entries that name a marked person (signed
        entries cannot be rewritten); the others keep their inclusion proofs."""
        keep = []
        for seq in ex.concerned:
            line = ex.lines[seq].decode("utf-8", "replace")
            if self.text(line) != line or self.found_in(ex.lines[seq], bounded=True):
                self.custody_left_out.append(seq)
                ex.proofs.pop(seq, None)
                ex.entries[seq] = {}
            else:
                keep.append(seq)
        ex.concerned[:] = keep
        gone = set(self.custody_left_out)
        for k, seqs in ex.file_seqs.items():
            ex.file_seqs[k] = [s for s in seqs if s not in gone]

    def check(self, members: dict[str, Any]) -> None:
        """Stop the export when a generated member still holds a marked person's trace."""
        for name in sorted(members):
            data = members[name]
            if isinstance(data, str):
                data = data.encode("utf-8")
            if isinstance(data, (bytes, bytearray)) and (self.found_in(bytes(data), bounded=True)
                                                        or self.found_in(_unescaped(bytes(data)), bounded=True)):
                raise UsageError(f"pseudonymised export stopped: {name} would still name a marked person",
                                 hint="nothing was written; report this as a bug, and export without "
                                      "--pseudonymise only for recipients who may see the names")

    def summary(self) -> dict:
        """For the custody log and the export summary: counts, never identities."""
        return {"persons": len(self.persons), "pseudonyms": [p.pseudonym for p in self.persons],
                "withheld_files": len(self.withheld), "custody_entries_left_out": len(self.custody_left_out)}


def marked(case: Any) -> list[Person]:
    """The persons marked victim or witness, as the export replaces them: every name, number,
    e-mail address and user id the case's contacts give their identity."""
    from forensic.store import items as store_items
    from forensic.store import people as store_people
    everyone = store_people.roles(case.db, marked_only=False)
    found = store_people.people(case.db, store_items.ids(case.db))
    out = []
    for rank, r in enumerate(everyone):
        if r.role not in PSEUDONYMISED_ROLES:
            continue
        p = Person(f"{r.role.capitalize()}-{letters(rank)}", r.role, r.identity, note=r.note)
        ident = found.identity(r.identity)
        keys = set(ident.keys) if ident is not None else {r.identity}
        names = list(ident.names) if ident is not None else []
        for s in ident.sources if ident is not None else []:
            for n in s["numbers"]:
                keys.add(n["normalized"])
        for k in sorted(keys):
            if k.startswith("email:"):
                p.emails.append(k[6:])
            elif k.startswith("id:"):
                p.user_ids.append(k[3:])
            elif k[:1] == "+" or k.startswith("digits:"):
                p.numbers.append(k)
            elif k.startswith("name:"):
                names.append(k[5:])
        if r.given not in (r.identity, *p.numbers) and "@" not in r.given and not any(c.isdigit() for c in r.given):
            names.append(r.given)
        p.names = list(dict.fromkeys(n for n in names if n))
        out.append(p)
    return out


def _names_in_messages(persons: list[Person], messages: list[dict]) -> None:
    """Add to each person the names the selected messages give their number or jid (a
    WhatsApp push name: ``sender_name``, ``participant_names``), which no address book holds."""
    from forensic.store.people import read_value, user_id
    by_key: dict[str, Person] = {}
    for p in persons:
        for k in [*p.numbers, *("email:" + e for e in p.emails), *("id:" + u.lower() for u in p.user_ids)]:
            by_key[k] = p
    if not by_key:
        return
    for m in messages:
        f = m["fields"]
        named = [(f.get("sender"), f.get("sender_name"))]
        if isinstance(f.get("participant_names"), dict):
            named += list(f["participant_names"].items())
        for value, name in named:
            if not isinstance(value, str) or not isinstance(name, str) or not name.strip():
                continue
            reading = read_value(value) or user_id(value)
            person = by_key.get(reading.key) if reading is not None else None
            if person is not None and name.strip() not in person.names:
                person.names.append(name.strip())


def prepare(case: Any, sel: Any, opts: Any) -> Pseudonyms:
    """The pseudonyms of an export (``opts``: its ExportOptions), with the files that name a
    marked person withheld from ``sel`` (see :meth:`Pseudonyms.withhold`). Checked first: the
    key file's passphrase, and that the key file beside the bundle can be a new file."""
    from forensic.outputs import check_output
    check_passphrase(opts.pseudonym_passphrase)
    if opts.password and opts.password == opts.pseudonym_passphrase:
        raise UsageError("the pseudonym key's passphrase is the bundle's password: whoever opens the bundle "
                         "could open the key beside it",
                         hint="give the key a passphrase of its own (--pseudonym-passphrase-file)")
    target = key_path(Path(opts.out))
    check_output(target, case, option="--pseudonymise")
    if target.exists() or target.is_symlink():
        raise UsageError(f"the pseudonym key {target} already exists",
                         hint="a key file is always new: remove it or choose another bundle name")
    if opts.full_custody:
        raise UsageError("--pseudonymise cannot go with --full-custody",
                         hint="the whole custody log names the marked persons; the excerpt leaves out the "
                              "entries that do")
    persons = marked(case)
    if not persons:
        raise UsageError("--pseudonymise: no person is marked victim or witness",
                         hint="mark one first: forensic person mark ID --role victim")
    _names_in_messages(persons, sel.messages)
    p = Pseudonyms(persons)
    if opts.recipient and p.names_someone(opts.recipient):
        raise UsageError("--recipient names a person marked victim or witness (bag-info.txt would hold it)",
                         hint="name the recipient another way (the office, the role)")
    # ids are never rewritten (signed custody entries, member paths, the PDF's footer)
    if p.names_someone(case.case_id):
        raise UsageError("the case id names a person marked victim or witness (every member's path, the PDF's "
                         "footer and the custody entries would hold it)",
                         hint="a pseudonymised export needs a case id that names no victim or witness")
    items = sorted({x["item"] for x in [*sel.exported_files, *sel.messages, *sel.chat_sources.values()]
                    if isinstance(x.get("item"), str)})
    named = [i for i in items if p.names_someone(i)]
    if named:
        raise UsageError(f"the id of evidence item {named[0]!r} names a person marked victim or witness "
                         "(ids are kept as they are in the bundle)",
                         hint="leave that item out of a pseudonymised export (--item the others)")
    sel.notes.append("pseudonymised: the victims and witnesses the examiner marked appear as "
                     + ", ".join(x.pseudonym for x in persons) + " (names, numbers, e-mail addresses and user ids "
                     "replaced); the key to them stays with the examiner")
    p.withhold(case, sel, opts.evidence_password)
    if opts.custody_size is None:        # a pinned, earlier checkpoint cannot gain entries
        p.vouch(case, sel, opts)
    return p


def finish(pseudo: Pseudonyms, opts: Any, bundle_sha256: str, case_id: str, created_at: str) -> dict:
    """After the bundle is written: the key file beside it. What the export's summary and
    custody entry add (counts and the key file's hash, never an identity)."""
    bundle = Path(opts.out)
    key = write_key(key_path(bundle), pseudo, opts.pseudonym_passphrase, case_id, bundle, bundle_sha256, created_at)
    return {"pseudonyms": {**pseudo.summary(), "key_file": key["file"], "key_sha256": key["sha256"]},
            "pseudonym_key": str(key_path(bundle))}


# -- the key file ----------------------------------------------------------------------------------

def key_path(bundle: Path) -> Path:
    """Where the key of a pseudonymised bundle goes: beside it, never in it."""
    return bundle.with_name(bundle.name + KEY_SUFFIX)


def _kdf(salt: bytes, n: int, r: int, p: int) -> Scrypt:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _header(case_id: str, bundle: str, bundle_sha256: str, salt: bytes) -> dict:
    return {"format": KEY_FORMAT, "case_id": case_id, "bundle": bundle, "bundle_sha256": bundle_sha256,
            "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": _b64(salt)},
            "cipher": "AES-256-GCM"}


def _aad(header: dict) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")


def check_passphrase(passphrase: bytes | None) -> bytes:
    if not passphrase or len(passphrase.decode("utf-8", "replace")) < MIN_PASSPHRASE:
        raise UsageError(f"the pseudonym key's passphrase must have at least {MIN_PASSPHRASE} characters")
    return passphrase


def write_key(path: Path, pseudo: Pseudonyms, passphrase: bytes, case_id: str, bundle: Path,
              bundle_sha256: str, created_at: str) -> dict:
    """Write the encrypted key file (a new file, mode 0600). Returns ``{file, sha256}``."""
    from forensic.outputs import create_new
    salt, nonce = os.urandom(16), os.urandom(12)
    header = _header(case_id, bundle.name, bundle_sha256, salt)
    key = _kdf(salt, SCRYPT_N, SCRYPT_R, SCRYPT_P).derive(check_passphrase(passphrase))
    plain = json.dumps({"case_id": case_id, "bundle": bundle.name, "bundle_sha256": bundle_sha256,
                        "created_at": created_at, "persons": [p.to_json() for p in pseudo.persons]},
                       ensure_ascii=False, sort_keys=True).encode("utf-8")
    sealed = AESGCM(key).encrypt(nonce, plain, _aad(header))
    data = (json.dumps({**header, "nonce": _b64(nonce), "ciphertext": _b64(sealed)}, sort_keys=True, indent=1)
            + "\n").encode("ascii")
    with os.fdopen(create_new(path, 0o600), "wb") as fh:
        fh.write(data)
    return {"file": path.name, "sha256": hashlib.sha256(data).hexdigest()}


def read_key(path: Path, passphrase: bytes) -> dict:
    """The mapping a key file holds (``persons``: pseudonym, role, identity, names, numbers,
    emails, user_ids), decrypted with the examiner's passphrase."""
    try:
        doc = json.loads(Path(path).read_bytes())
        header = {k: doc[k] for k in ("format", "case_id", "bundle", "bundle_sha256", "kdf", "cipher")}
        kdf = header["kdf"]
        if header["format"] != KEY_FORMAT or kdf.get("name") != "scrypt" or header["cipher"] != "AES-256-GCM":
            raise UsageError(f"{path} is not a forensic pseudonym key ({KEY_FORMAT})")
        salt, nonce = base64.b64decode(kdf["salt"]), base64.b64decode(doc["nonce"])
        sealed = base64.b64decode(doc["ciphertext"])
        n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{path} is not a readable pseudonym key file") from exc
    # scrypt needs 128 * n * r bytes and p times the work: a file cannot ask for more than 256 MiB
    if not (2 ** 10 <= n <= 2 ** 20 and 1 <= r <= 16 and 1 <= p <= 4 and 128 * n * r <= 2 ** 28):
        raise UsageError(f"{path}: its key derivation parameters are out of range")
    try:
        plain = AESGCM(_kdf(salt, n, r, p).derive(passphrase)).decrypt(nonce, sealed, _aad(header))
    except (InvalidTag, ValueError) as exc:
        raise UsageError(f"{path} could not be decrypted",
                         hint="wrong passphrase, or the file was changed") from exc
    return dict(json.loads(plain))
