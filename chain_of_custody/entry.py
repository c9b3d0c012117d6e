"""One custody entry: one action by one person on one subject, with the hashes of its bytes.

An entry is stored as one line of canonical JSON (see :mod:`forensic.chain_of_custody.canonical`)
with exactly these members (more may be added by later versions; verifiers accept them)::

    action   what was done ("evidence.received", "file.recorded", ...; see ACTIONS)
    actor    {"name": examiner, "key_id": minisign key id | null,
              "key_fingerprint": SHA-256 of the Ed25519 public key | null}
    at       UTC time, RFC 3339 with microseconds: 2024-05-01T12:00:00.000000Z
    details  object (free structure, no floats)
    hash     SHA-256 (hex) of the canonical entry without its "hash" member
    host     host name of the machine that did it
    prev     "hash" of the entry before; 64 zeros for the first entry
    reason   text for actions that have one (a transfer, a check-out), else null
    seq      0, 1, 2, ...
    sha256   SHA-256 (hex) of the subject's bytes where it has bytes, else null
    subject  string or object naming what was acted on: {"case": ...}, {"item": ...},
             {"item": ..., "locator": ...}, {"bundle": ...}
    tool     {"name": "forensic", "version": ..., "command": the command line}

Entries are built here by :class:`LineBuilder` (fast: the fixed member order is known, so
only the variable parts go through the JSON encoder) and checked by :func:`check_line`.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import Any

import orjson

from forensic.chain_of_custody.canonical import (FLAT_TYPES, MAX_SAFE_INT, ORJSON_OPTIONS, check_value,
                                       encode, encode_checked)

ZERO_HASH = "0" * 64
MAX_LINE = 1 << 20          # bytes; an entry is a record of hashes, not a blob
FORMAT_VERSION = 1

ACTIONS = {
    "case.created": "the case was opened",
    "evidence.received": "an evidence item was received (who delivered it, seizure details, "
                         "source and acquisition hashes and whether they verified)",
    "evidence.verified": "an evidence item's hashes were recomputed",
    "triage.started": "triage of an item began (tool version, options)",
    "triage.finished": "triage of an item ended (counts, warnings)",
    "file.recorded": "a file was recorded (locator, SHA-256)",
    "artifact.recorded": "an artifact was recorded",
    "artifact.linked": "a recorded artifact was completed at the end of its triage (an "
                       "attachment found, a contact's name): why, and the new record SHA-256",
    "case.migrated": "the case store was brought to a newer schema version (from, to, steps)",
    "export.created": "an export bundle was written (bundle SHA-256)",
    "tag.added": "an examiner tagged a file, message or photo (tag, note, whether sensitive)",
    "tag.removed": "an examiner removed a tag (tag, targets, how many)",
    "custody.transferred": "custody passed to another person",
    "custody.note": "a free note",
    "triage.interrupted": "a triage ended before it finished (the reason, how far it got)",
    "triage.resumed": "a triage began again after an interrupted one",
    "triage.piece": "a piece of an item triaged on a cluster was stored (its walk range, entries, and the "
                    "worker's host, address and process that read it)",
    "examiner.key_pinned": "a key was allowed to sign this case's log (name, key id, fingerprint, "
                           "public key)",
    "custody.repaired": "a torn write, or entries no checkpoint covered, moved out of the log "
                        "into quarantine",
    "person.marked": "an examiner marked a person as victim, witness or suspect (identity, role, note)",
    "person.unmarked": "an examiner took a person's role off",
    "artifact.pseudonymised": "a record exported with its victims' and witnesses' traces replaced by "
                              "pseudonyms: the seqs of its entries (left out of the bundle, as they name "
                              "them) and the SHA-256 of its rewritten fields",
    "hashset.checked": "items checked again against the examiner's hash sets (each set's name, kind, "
                       "source SHA-256, record count; files checked and matched)",
    "file.viewed": "known-bad content written out to be viewed (the files, their sets, where, and why)",
    "search.recorded": "search hits kept as search/hit records (the lists, places and counts, a hash of "
                       "the terms, the records' ids; never the hits' text)",
}

REQUIRED = frozenset(("action", "actor", "at", "details", "hash", "host", "prev", "reason",
                      "seq", "sha256", "subject", "tool"))

_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+\Z")
_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")
_sha256 = hashlib.sha256


def is_hex64(value: Any) -> bool:
    return type(value) is str and _HEX64.match(value) is not None


class Clock:
    """RFC 3339 UTC times with microseconds, cheaply (formats the date once per second)."""

    __slots__ = ("_sec", "_prefix", "last")

    def __init__(self) -> None:
        self._sec = -1
        self._prefix = ""
        self.last: str | None = None      # the latest time given out (known well-formed)

    def now(self) -> str:
        sec, us = divmod(time.time_ns() // 1000, 1_000_000)
        if sec != self._sec:
            self._sec = sec
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        self.last = f"{self._prefix}.{us:06d}Z"
        return self.last


@dataclass(frozen=True, slots=True)
class CustodyEntry:
    """A parsed entry (for display and for callers; the stored line is the authority)."""

    seq: int
    at: str
    actor: dict
    action: str
    subject: str | dict
    sha256: str | None
    details: dict
    tool: dict
    host: str
    reason: str | None
    prev: str
    hash: str
    line: bytes

    @classmethod
    def from_line(cls, line: bytes) -> "CustodyEntry":
        d = json.loads(line)
        return cls(d["seq"], d["at"], d["actor"], d["action"], d["subject"], d["sha256"],
                   d["details"], d["tool"], d["host"], d["reason"], d["prev"], d["hash"], line)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = json.loads(self.line)     # a checked entry: a JSON object
        return d


# -- building -----------------------------------------------------------------------------------
# An entry waiting for its place in the log: everything but actor, seq, prev and hash already
# in canonical text, cut where those go:
#   ('{"action":A,"actor":', ',"at":"T","details":D', ',"reason":R,"seq":', ',"sha256":S,...}')
Pending = tuple


class LineBuilder:
    """Turns (action, actor, subject, ...) into the canonical line of an entry."""

    def __init__(self, tool: dict, host: str) -> None:
        check_value(tool)
        self.tool_json = encode(tool)
        self.host_prev = f',"host":{encode(str(host))},"prev":"'
        self.clock = Clock()
        self._actor_cache: dict[tuple, str] = {}
        self._action_cache: dict[str, str] = {}
        self._reason_null = ',"reason":null,"seq":'

    def actor_json(self, name: str, key_id: str | None, key_fingerprint: str | None) -> str:
        k = (name, key_id, key_fingerprint)
        cached = self._actor_cache.get(k)
        if cached is None:
            if type(name) is not str or not name:
                raise ValueError("actor: an examiner name is required")
            cached = encode({"name": name, "key_id": key_id, "key_fingerprint": key_fingerprint})
            try:
                cached.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(f"actor name is not valid Unicode: {exc}") from None
            self._actor_cache[k] = cached
        return cached

    def pending(self, action: str, subject: Any, sha256: str | None, details: dict | None,
                reason: str | None, at: str | None = None) -> Pending:
        """Check and pre-encode one entry's own parts (all but actor, seq, prev, hash).

        Raises ValueError for anything outside the canonical subset. Written for speed: a
        triage records one entry per file and per artifact, so the common case -- flat
        subject and details objects with ASCII keys -- goes straight to orjson, which
        itself refuses lone surrogates and integers beyond +-(2**53-1)."""
        head = self._action_cache.get(action)
        if head is None:
            if type(action) is not str or not _ACTION.match(action):
                raise ValueError(f"action {action!r} is not a dotted lower-case name")
            head = self._action_cache[action] = f'{{"action":{encode(action)},"actor":'
        try:
            if type(subject) is dict and FLAT_TYPES.issuperset(map(type, subject.values())) \
                    and "".join(subject).isascii():
                subject_json = orjson.dumps(subject, option=ORJSON_OPTIONS).decode()
            else:
                subject_json = None
            if not details:
                details_json = "{}"
            elif type(details) is dict and FLAT_TYPES.issuperset(map(type, details.values())) \
                    and "".join(details).isascii():
                details_json = orjson.dumps(details, option=ORJSON_OPTIONS).decode()
            else:
                details_json = None
        except TypeError:                    # non-string keys, bad text: said below
            subject_json = details_json = None
        if subject_json is None:
            if type(subject) is str:
                subject_json = encode(subject)
            elif type(subject) is dict:
                subject_json = encode_checked(subject, "subject")
            else:
                raise ValueError("subject must be a string or an object")
        if details_json is None:
            if type(details) is not dict:
                raise ValueError("details must be an object")
            details_json = encode_checked(details, "details")
        if sha256 is None:
            sha_json = "null"
        elif type(sha256) is str and _HEX64.match(sha256):
            sha_json = f'"{sha256}"'
        else:
            raise ValueError(f"sha256 {sha256!r} is not 64 lower-case hex digits")
        if reason is None:
            reason_seq = self._reason_null
        elif type(reason) is str:
            reason_seq = f',"reason":{encode(reason)},"seq":'
        else:
            raise ValueError("reason must be text")
        if at is None:
            at = self.clock.now()
        elif at is not self.clock.last and (type(at) is not str or not _AT.match(at)):
            raise ValueError(f"at {at!r} is not RFC 3339 UTC with microseconds")
        if len(subject_json) + len(details_json) + len(reason_seq) > MAX_LINE // 4 - 2048:
            raise ValueError("entry too large: record hashes and locators, not content")
        # every part is valid UTF-8 text: orjson refuses lone surrogates
        return (head, f',"at":"{at}","details":{details_json}', reason_seq,
                f',"sha256":{sha_json},"subject":{subject_json},"tool":{self.tool_json}}}')

    def line(self, p: Pending, actor_json: str, seq: int, prev: str) -> tuple[bytes, str]:
        """(line bytes without newline, entry hash) for pending entry ``p`` at ``seq``."""
        lines, h = self.lines([(actor_json, p)], seq, prev)
        return lines[0], h

    def lines(self, batch: list[tuple[str, Pending]], seq: int, prev: str
              ) -> tuple[list[bytes], str]:
        """The lines of consecutive entries (actor JSON, pending) from ``seq`` on, chained
        to ``prev``; and the last entry's hash."""
        out: list[bytes] = []
        append = out.append
        host_prev = self.host_prev
        for actor_json, p in batch:
            head = p[0] + actor_json + p[1]
            rest = f'{host_prev}{prev}"{p[2]}{seq}{p[3]}'
            prev = _sha256(f"{head}{rest}".encode()).hexdigest()
            append(f'{head},"hash":"{prev}"{rest}'.encode())
            seq += 1
        return out, prev


# -- checking -----------------------------------------------------------------------------------
class LineError(Exception):
    """One stored line is not a valid entry (the message says why)."""


def _reject_float(text: str) -> Any:
    raise ValueError(f"number {text} is not an integer (floats are not allowed)")


def _reject_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def _safe_int(text: str) -> int:
    value = int(text)
    if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
        raise ValueError(f"integer {text} is outside +-(2**53-1)")
    return value


# A decoder for the canonical subset: floats, NaN/Infinity and unsafe integers are errors.
decode = json.JSONDecoder(parse_float=_reject_float, parse_int=_safe_int,
                          parse_constant=_reject_constant).decode


def entry_hash_of(d: dict) -> str:
    """The hash an entry should have: SHA-256 of its canonical form without "hash"."""
    rest = {k: v for k, v in d.items() if k != "hash"}
    return _sha256(encode(rest).encode("utf-8")).hexdigest()


def check_line(line: bytes, seq: int, prev: str | None) -> tuple[str, str]:
    """Check one stored line as entry ``seq`` following an entry whose hash is ``prev``
    (None: do not check the link). Returns (entry hash, the entry's "prev"); raises
    LineError saying what is wrong."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LineError(f"not valid UTF-8: {exc}") from None
    fast = _fast_check(line, seq, prev)
    if fast is not None:
        return fast
    h, d = _full_check(text, seq, prev)
    return h, d["prev"]


def _full_check(text: str, seq: int, prev: str | None) -> tuple[str, dict]:
    """The general check: parse, re-encode canonically, compare, hash."""
    try:
        d = decode(text)
    except ValueError as exc:
        raise LineError(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise LineError("not a custody entry: JSON nested deeper than any entry is") from None
    if type(d) is not dict:
        raise LineError("not a JSON object")
    if not d.keys() >= REQUIRED:
        raise LineError("missing members: " + ", ".join(sorted(REQUIRED - d.keys())))
    got_seq = d["seq"]
    if type(got_seq) is not int or got_seq != seq:
        raise LineError(f"seq is {got_seq!r} where {seq} was expected "
                        "(an entry was deleted, inserted, duplicated or moved)")
    h = d["hash"]
    if not is_hex64(h):
        raise LineError("hash is not 64 lower-case hex digits")
    if prev is not None and d["prev"] != prev:
        raise LineError("prev does not match the hash of the entry before "
                        "(the entry before was changed, or this one moved)")
    if not text.isascii():     # keys above U+FFFF sort differently in JCS: full check
        try:
            check_value(d)
        except ValueError as exc:
            raise LineError(f"not canonical JSON: {exc}") from None
    if encode(d) != text:
        raise LineError("not in canonical JSON form (bytes were changed)")
    if entry_hash_of(d) != h:
        raise LineError("hash does not match the entry's content (the entry was changed)")
    if type(d["action"]) is not str or type(d["at"]) is not str or not _AT.match(d["at"]) \
            or type(d["actor"]) is not dict or type(d["details"]) is not dict \
            or not (d["sha256"] is None or is_hex64(d["sha256"])) \
            or not (d["reason"] is None or type(d["reason"]) is str) \
            or type(d["subject"]) not in (str, dict) or not is_hex64(d["prev"]):
        raise LineError("a member has the wrong type")
    return h, d


# -- fast path ---------------------------------------------------------------------------------
# A canonical line with exactly the v1 members is the concatenation of fixed member names and
# the canonical texts of the values, so one regular expression over the bytes splits it. Every
# captured piece is proved canonical on its own: strings by the pattern itself (it admits
# exactly the RFC 8785 escapes), the flat subject and details shapes triage records by
# literal patterns, and any other object by parsing and re-encoding it (remembered, as actor,
# tool and the like repeat on every line). A valid JSON text has one parse, so when every
# piece is a canonical value of the right type the whole line is canonical. Anything else
# (nested objects, braces inside strings, non-ASCII text) goes to the general check, which
# also says what is wrong. Python's regex engine costs a few nanoseconds per byte, so the
# patterns avoid nested repetition where they can, and "hash" and "prev" are matched as any
# 64 bytes but a quote (the engine's fastest loop; a character class costs several times
# more per byte): equality proves them, as the hash must equal the one recomputed from the
# line and prev the hash of the entry before -- or, with none to compare it with (the first
# line checked), be 64 lower-case hex digits, which is then checked on its own.
_S = rb'"[^"\\\x00-\x1f]*(?:\\(?:["\\bfnrt]|u00(?:0[0-7bef]|1[0-9a-f]))[^"\\\x00-\x1f]*)*"'
_OBJ = rb'\{[^{}]*\}'                       # a flat object, to be proved canonical
_INT = rb'(?:0|-?[1-9][0-9]{0,14})'        # well inside +-(2**53-1)
_HEX = rb'"[0-9a-f]{64}"'
_SUBJECT = rb'\{"item":' + _S + rb'(?:,"locator":' + _S + rb'(?:,"record_type":' + _S + rb')?)?\}'
_DETAILS = (rb'\{\}|\{"deleted":(?:true|false),"file_id":' + _INT + rb'(?:,"row_sha256":' + _HEX + rb')?\}'
            rb'|\{"artifact_id":' + _INT + rb',"record_sha256":(?:null|' + _HEX + rb')'
            rb'(?:,"row_sha256":' + _HEX + rb',"times_sha256":' + _HEX + rb')?\}')
_MIDDLE = (                                  # from the time to the subject, both included
    rb'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z",'
    rb'"details":(?:' + _DETAILS + rb'|(?P<details>' + _OBJ + rb')),'
    rb'"hash":"(?P<hash>[^"]{64})","host":' + _S + rb',"prev":"(?P<prev>[^"]{64})",'
    rb'"reason":(?:null|' + _S + rb'),"seq":(?P<seq>0|[1-9][0-9]*),"sha256":(?:null|' + _HEX
    + rb'),"subject":(?:' + _SUBJECT + rb'|' + _S + rb'|(?P<subject>' + _OBJ + rb'))')
_LINE = re.compile(
    rb'\{"action":"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+","actor":(?P<actor>' + _OBJ + rb'),'
    rb'"at":"' + _MIDDLE + rb',"tool":(?P<tool>' + _OBJ + rb')\}')
_MIDDLE_RE = re.compile(_MIDDLE)
_HASH_GROUP = _MIDDLE_RE.groupindex["hash"]
# _check_middle takes the middle's groups by position: in _LINE they follow actor's
assert tuple(_MIDDLE_RE.groupindex) == ("details", "hash", "prev", "seq", "subject")
assert tuple(_LINE.groupindex) == ("actor", *_MIDDLE_RE.groupindex, "tool")
_KNOWN_MAX = 4096
_known: set[bytes] = set()    # object texts already proved canonical


def _canonical_object(raw: bytes) -> bool:
    """Whether ``raw`` is the canonical text of a JSON object (remembered when it is)."""
    if raw in _known:
        return True
    try:
        text = raw.decode("utf-8")
        value = decode(text)
        if type(value) is not dict:
            return False
        if not text.isascii():
            check_value(value)
        if encode(value) != text:
            return False
    except ValueError:
        return False
    if len(_known) >= _KNOWN_MAX:
        _known.clear()
    _known.add(raw)
    return True


def _fast_check(line: bytes, seq: int, prev: str | None) -> tuple[str, str] | None:
    """(hash, prev) of a line in the common canonical shape that checks, else None."""
    m = _LINE.fullmatch(line)
    return None if m is None else _check_whole(line, m, seq, prev)


def _check_whole(line: bytes, m: re.Match, seq: int, prev: str | None) -> tuple[str, str] | None:
    actor, tool = m["actor"], m["tool"]
    if not (actor in _known or _canonical_object(actor)) \
            or not (tool in _known or _canonical_object(tool)):
        return None
    return _check_middle(line, m.groups()[1:6], m.start("hash"), seq, prev)


def _check_middle(line: bytes, middle: tuple, hash_at: int, seq: int, prev: str | None
                  ) -> tuple[str, str] | None:
    """The checks of a matched middle: ``middle`` holds its groups (details, hash, prev,
    seq, subject, as in ``_MIDDLE_RE``), ``hash_at`` where the hash's hex digits begin."""
    details, h, got_prev, got_seq, subject = middle
    if int(got_seq) != seq:
        return None
    # hash and prev were matched as any 64 bytes but a quote: latin-1 decodes any byte, so
    # they compare equal to hex digits only when they are those digits
    got_prev = got_prev.decode("latin-1")
    if got_prev != prev and (prev is not None or not _HEX64.match(got_prev)):
        return None
    if (details is not None and not _canonical_object(details)) \
            or (subject is not None and not _canonical_object(subject)):
        return None
    h = h.decode("latin-1")
    cut = hash_at - 9                       # ,"hash":"<64 hex>" is left out of the hash
    if _sha256(line[:cut] + line[cut + 74:]).hexdigest() != h:
        return None
    return h, got_prev


def check_lines(lines: list[bytes], seq: int) -> tuple[int, str | None, str | None, str | None]:
    """Check consecutive lines as entries ``seq``, ``seq + 1``, ... linked to each other.

    Returns (number of good lines, "prev" of the first line, hash of the last good line,
    what is wrong with the first bad line or None).

    Lines written by one command share their start (action and actor) and end (tool): once
    a line has passed the whole fast check, a later line that starts and ends with the same
    bytes needs only its middle matched."""
    prev: str | None = None
    first_prev = None
    prefix = suffix = b"\0"                  # no line starts or ends with a NUL
    middle = _MIDDLE_RE.fullmatch
    n = 0
    for line in lines:
        got = None
        ascii_ = line.isascii()               # other text goes to the general check
        if ascii_ and line.startswith(prefix) and line.endswith(suffix):
            m = middle(line, len(prefix), len(line) - len(suffix))
            if m is not None:
                got = _check_middle(line, m.groups(), m.start(_HASH_GROUP), seq + n, prev)
        if got is None and ascii_:
            m = _LINE.fullmatch(line)
            if m is not None:
                got = _check_whole(line, m, seq + n, prev)
                if got is not None:
                    prefix = line[:m.end("actor") + 7]          # through ,"at":"
                    suffix = line[m.start("tool") - 8:]         # ,"tool":{...}}
        if got is None:
            try:
                got = check_line(line, seq + n, prev)
            except LineError as exc:
                return n, first_prev, prev, str(exc)
        if n == 0:
            first_prev = got[1]
        prev = got[0]
        n += 1
    return n, first_prev, prev, None
