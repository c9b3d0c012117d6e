"""Pinned keys: which examiner keys may sign a case's custody log.

A key is pinned by an ``examiner.key_pinned`` entry (at ``case init`` with a key, or by
``forensic examiner add``). The rules, which :mod:`forensic.chain_of_custody.verify` applies
and docs/custody-log.md states for independent verifiers:

* a log is **signed** from its first signed checkpoint on; after it, every checkpoint must be
  signed, and entries after the latest checkpoint (a crash, or lines added by hand) are a
  failure, not a warning: no key vouches for them;
* once a key has been pinned *and a checkpoint covering that pin has been written*, every
  later checkpoint must be signed by a key established that way: pinned by an entry that an
  earlier checkpoint already covered. A pin and a checkpoint that an outsider appends
  together therefore do not make the outsider's key acceptable: that checkpoint is signed
  by a key no earlier checkpoint established.

A case whose log has no pin (older cases, or cases never signed) falls back to the first
rule alone.
"""
from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from forensic.chain_of_custody.signing import PublicKey, Signer
from forensic.store import custody as store_custody

PIN_ACTION = "examiner.key_pinned"
# A pin entry's line starts with this (canonical JSON sorts members: "action" is first), so
# the mark elsewhere in a line (a note quoting it) is not taken for a pin.
_MARK = b'{"action":"examiner.key_pinned"'


@dataclass(frozen=True)
class Pin:
    seq: int
    name: str
    key: PublicKey


def pin_details(name: str, key: PublicKey) -> dict:
    """The ``details`` of a pin entry."""
    return {"examiner": name, "key_id": key.id_text, "fingerprint": key.fingerprint,
            "public_key": key.base64()}


def scan_pins(log_path: Path, limit: int | None = None) -> list[Pin]:
    """Every pin entry of the log (up to entry ``limit``), read from the file; malformed
    pin entries are skipped (the verifier reports broken lines on its own). The file is
    searched block by block for the pin action, so a log of millions of file leaves costs
    one read, not a parse per line."""
    pins: list[Pin] = []
    for seq, line in _marked_lines(log_path):
        if limit is not None and seq >= limit:
            break
        try:
            details = json.loads(line)["details"]
            pins.append(Pin(seq, str(details["examiner"]), PublicKey.from_base64(details["public_key"])))
        except (ValueError, KeyError, TypeError, RecursionError):
            continue           # not a well-formed pin: the verifier reports the line itself
    return pins


def _marked_lines(path: Path, block: int = 1 << 22) -> Iterator[tuple[int, bytes]]:
    """(seq, line) of each complete line that starts with the pin action. The file is read
    block by block and searched (pins are few, and early in a log): no line is parsed, no
    block is copied, and memory stays at one block. Lines are counted only up to each pin
    found (a pin's seq), not over the rest of the log."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    overlap = len(_MARK) - 1          # a mark that starts in one block and ends in the next
    with open(path, "rb", buffering=0) as f:
        fd = f.fileno()
        newlines = 0                  # line ends before ``counted``
        counted = 0
        pos = 0
        while pos < size:
            data = os.pread(fd, block + overlap, pos)
            if not data:
                return
            at = data.find(_MARK, 0, block + overlap)
            while 0 <= at < block:
                start = pos + at
                if start == 0 or (data[at - 1:at] if at else os.pread(fd, 1, start - 1)) == b"\n":
                    line = _line_from(fd, start, size)
                    if line is None:  # a torn last line: not an entry
                        return
                    if counted < pos:     # the blocks since the last pin, read again
                        newlines += _count_lines(fd, counted, pos, block)
                        counted = pos
                    newlines += data.count(b"\n", counted - pos, at)
                    counted = start
                    yield newlines, line
                at = data.find(_MARK, at + 1)
            pos += block


def _count_lines(fd: int, begin: int, end: int, block: int) -> int:
    """Line ends in bytes [begin, end) of the file."""
    n = 0
    while begin < end:
        chunk = os.pread(fd, min(block, end - begin), begin)
        if not chunk:
            break
        n += chunk.count(b"\n")
        begin += len(chunk)
    return n


def _line_from(fd: int, begin: int, size: int) -> bytes | None:
    """The line that starts at byte ``begin`` (None if it has no line end)."""
    window = 1 << 12
    while True:
        cut = os.pread(fd, window, begin).find(b"\n")
        if cut >= 0:
            return os.pread(fd, cut, begin)
        if begin + window >= size:
            return None
        window *= 2


def established(pins: list[Pin], before: int) -> dict[bytes, Pin]:
    """Keys pinned by entries below ``before`` (a checkpoint's tree size), by the raw 32-byte
    key: never by key id alone, which a minisign key line states but does not prove (anyone
    can write another key's id beside their own key)."""
    return {p.key.raw: p for p in pins if p.seq < before}


# -- what a writer checks before it records (a guard for the examiner; verify is the proof) ---
def pinned_in_store(db: sqlite3.Connection | None) -> dict[bytes, str]:
    """raw key -> examiner, of the keys pinned so far (the case store's copy)."""
    if db is None:
        return {}
    found = {}
    for name, line in store_custody.pins(db):
        try:
            found[PublicKey.from_base64(line).raw] = str(name)
        except ValueError:
            continue          # a damaged copy: the log's own pins decide (verify)
    return found


def store_pin(db: sqlite3.Connection, name: str, key: PublicKey) -> None:
    store_custody.add_pin(db, name, key.id_text, key.base64())


def signing_problem(latest_signed: bool, signer: Signer | None, pinned: dict[bytes, str]) -> str | None:
    """Why a command with ``signer`` (None: no key) may not add to this log, or None."""
    if signer is None and (latest_signed or pinned):
        return ("this case's custody log is signed: every command that records must be signed "
                "too (give --key FILE, or set $FORENSIC_KEY)")
    if signer is not None and pinned and signer.public.raw not in pinned:
        return (f"key {signer.public.id_text} ({signer.name}) is not pinned in this case "
                f"(pinned: {', '.join(sorted(set(pinned.values())))}); an examiner whose key is "
                "pinned adds it with 'forensic examiner add KEY.pub --key THEIR.key'")
    return None
