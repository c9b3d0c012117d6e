"""One custody entry: one action by one person on one subject, with the hashes of its bytes.

An entry is stored as one line of canonical JSON (see :mod:`chain_of_custody.canonical`)
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

from chain_of_custody.canonical import MAX_SAFE_INT, check_value, encode

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
    "export.created": "an export bundle was written (bundle SHA-256)",
    "custody.transferred": "custody passed to another person",
    "custody.note": "a free note",
    "custody.repaired": "a torn write was moved out of the log into quarantine",
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

    __slots__ = ("_sec", "_prefix")

    def __init__(self) -> None:
        self._sec = -1
        self._prefix = ""

    def now(self) -> str:
        sec, us = divmod(time.time_ns() // 1000, 1_000_000)
        if sec != self._sec:
            self._sec = sec
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return f"{self._prefix}.{us:06d}Z"


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

    def to_dict(self) -> dict:
        return json.loads(self.line)


# -- building -----------------------------------------------------------------------------------
Pending = tuple  # (action_json, actor_json, at, details_json, reason_json, sha_json, subject_json)


class LineBuilder:
    """Turns (action, actor, subject, ...) into the canonical line of an entry."""

    def __init__(self, tool: dict, host: str) -> None:
        check_value(tool)
        self.tool_json = encode(tool)
        self.host_json = encode(str(host))
        self.clock = Clock()
        self._actor_cache: dict[tuple, str] = {}
        self._action_cache: dict[str, str] = {}

    def actor_json(self, name: str, key_id: str | None, key_fingerprint: str | None) -> str:
        k = (name, key_id, key_fingerprint)
        cached = self._actor_cache.get(k)
        if cached is None:
            if type(name) is not str or not name:
                raise ValueError("actor: an examiner name is required")
            cached = encode({"name": name, "key_id": key_id, "key_fingerprint": key_fingerprint})
            self._actor_cache[k] = cached
        return cached

    def pending(self, action: str, actor_json: str, subject: Any, sha256: str | None,
                details: dict | None, reason: str | None, at: str | None = None) -> Pending:
        """Check and pre-encode one entry's variable parts (everything but seq/prev/hash)."""
        action_json = self._action_cache.get(action)
        if action_json is None:
            if type(action) is not str or not _ACTION.match(action):
                raise ValueError(f"action {action!r} is not a dotted lower-case name")
            action_json = self._action_cache[action] = encode(action)
        if type(subject) is str:
            subject_json = encode(subject)
        elif type(subject) is dict:
            check_value(subject, "subject")
            subject_json = encode(subject)
        else:
            raise ValueError("subject must be a string or an object")
        if sha256 is None:
            sha_json = "null"
        elif is_hex64(sha256):
            sha_json = f'"{sha256}"'
        else:
            raise ValueError(f"sha256 {sha256!r} is not 64 lower-case hex digits")
        if not details:
            details_json = "{}"
        elif type(details) is dict:
            check_value(details, "details")
            details_json = encode(details)
        else:
            raise ValueError("details must be an object")
        if reason is None:
            reason_json = "null"
        elif type(reason) is str:
            reason_json = encode(reason)
        else:
            raise ValueError("reason must be text")
        if at is None:
            at = self.clock.now()
        elif not _AT.match(at):
            raise ValueError(f"at {at!r} is not RFC 3339 UTC with microseconds")
        variable = (subject_json, details_json, reason_json)
        if sum(map(len, variable)) > MAX_LINE // 4 - 2048:
            raise ValueError("entry too large: record hashes and locators, not content")
        for part in variable:
            if not part.isascii():
                try:
                    part.encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise ValueError(f"text is not valid Unicode (lone surrogate?): {exc}") from None
        return (action_json, actor_json, at, details_json, reason_json, sha_json, subject_json)

    def line(self, p: Pending, seq: int, prev: str) -> tuple[bytes, str]:
        """(line bytes without newline, entry hash) for pending entry ``p`` at ``seq``."""
        head = f'{{"action":{p[0]},"actor":{p[1]},"at":"{p[2]}","details":{p[3]}'
        tail = (f'"host":{self.host_json},"prev":"{prev}","reason":{p[4]},"seq":{seq},'
                f'"sha256":{p[5]},"subject":{p[6]},"tool":{self.tool_json}}}')
        try:
            h = _sha256(f"{head},{tail}".encode("utf-8")).hexdigest()
            return f'{head},"hash":"{h}",{tail}'.encode("utf-8"), h
        except UnicodeEncodeError as exc:
            raise ValueError(f"entry text is not valid Unicode (lone surrogate?): {exc}") from exc


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
    fast = _fast_check(text, seq, prev)
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
# the canonical texts of the values. Checking it piece by piece needs no full parse: a value
# whose text was already seen canonical (actor, tool, host, ...) is recognised by prefix -- an
# object or string is self-delimiting, so a matching prefix *is* the value -- and other values
# are parsed alone and re-encoded. Anything unexpected falls back to the general check.
_scan = json.JSONDecoder(parse_float=_reject_float, parse_int=_safe_int,
                         parse_constant=_reject_constant).scan_once
_AT_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\"")
_HEX_AT = re.compile(r"[0-9a-f]{64}\"")
_CACHE_SIZE = 4
_caches: dict[str, list[str]] = {k: [] for k in ("action", "actor", "details", "host",
                                                  "tool", "reason")}


def _value(text: str, pos: int, cache: list[str] | None, kinds: tuple) -> int:
    """End of the canonical value of an allowed type at ``pos``, or -1."""
    if cache:
        for known in cache:
            if text.startswith(known, pos):
                return pos + len(known)
    try:
        value, end = _scan(text, pos)
    except (ValueError, StopIteration):
        return -1
    if type(value) not in kinds:
        return -1
    try:
        if type(value) is dict and not text.isascii():
            check_value(value)
        canonical = encode(value)
    except ValueError:
        return -1
    if not text.startswith(canonical, pos) or len(canonical) != end - pos:
        return -1
    if cache is not None and type(value) in (dict, str):
        cache.insert(0, canonical)
        del cache[_CACHE_SIZE:]
    return end


def _fast_check(text: str, seq: int, prev: str | None) -> tuple[str, str] | None:
    c = _caches
    if not text.startswith('{"action":'):
        return None
    pos = _value(text, 10, c["action"], (str,))
    if pos < 0 or not text.startswith(',"actor":', pos):
        return None
    pos = _value(text, pos + 9, c["actor"], (dict,))
    if pos < 0 or not text.startswith(',"at":"', pos) or not _AT_AT.match(text, pos + 7):
        return None
    pos += 7 + 28
    if not text.startswith(',"details":', pos):
        return None
    pos = _value(text, pos + 11, c["details"], (dict,))
    cut = pos
    if pos < 0 or not text.startswith(',"hash":"', pos) or not _HEX_AT.match(text, pos + 9):
        return None
    h = text[pos + 9:pos + 73]
    pos += 74
    if not text.startswith(',"host":', pos):
        return None
    cut_end = pos
    pos = _value(text, pos + 8, c["host"], (str,))
    if pos < 0 or not text.startswith(',"prev":"', pos) or not _HEX_AT.match(text, pos + 9):
        return None
    got_prev = text[pos + 9:pos + 73]
    if prev is not None and got_prev != prev:
        return None
    pos += 74
    if not text.startswith(',"reason":', pos):
        return None
    if text.startswith("null", pos + 10):
        pos += 14
    else:
        pos = _value(text, pos + 10, c["reason"], (str,))
    seq_text = f',"seq":{seq},"sha256":'
    if pos < 0 or not text.startswith(seq_text, pos):
        return None
    pos += len(seq_text)
    if text.startswith("null", pos):
        pos += 4
    elif text.startswith('"', pos) and _HEX_AT.match(text, pos + 1):
        pos += 66
    else:
        return None
    if not text.startswith(',"subject":', pos):
        return None
    pos = _value(text, pos + 11, None, (str, dict))
    if pos < 0 or not text.startswith(',"tool":', pos):
        return None
    pos = _value(text, pos + 8, c["tool"], (dict,))
    if pos < 0 or pos != len(text) - 1 or text[pos] != "}":
        return None
    if _sha256((text[:cut] + text[cut_end:]).encode("utf-8")).hexdigest() != h:
        return None
    return h, got_prev
