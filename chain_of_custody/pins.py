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
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from forensic.chain_of_custody.signing import PublicKey

PIN_ACTION = "examiner.key_pinned"
_MARK = b'"action":"examiner.key_pinned"'


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
    pin entries are skipped (the verifier reports broken lines on its own)."""
    pins: list[Pin] = []
    for seq, line in _lines(log_path):
        if limit is not None and seq >= limit:
            break
        if _MARK not in line:
            continue
        try:
            entry = json.loads(line)
            if entry.get("action") != PIN_ACTION:
                continue
            details = entry["details"]
            pins.append(Pin(seq, str(details["examiner"]), PublicKey.from_base64(details["public_key"])))
        except (ValueError, KeyError, TypeError):
            continue
    return pins


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    if not path.exists():
        return
    seq = 0
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                return
            yield seq, line[:-1]
            seq += 1


def established(pins: list[Pin], before: int) -> dict[bytes, Pin]:
    """Keys pinned by entries below ``before`` (a checkpoint's tree size), by key id."""
    return {p.key.key_id: p for p in pins if p.seq < before}


# -- what a writer checks before it records (a guard for the examiner; verify is the proof) ---
PINS_SCHEMA = """
CREATE TABLE IF NOT EXISTS custody_pins (
    examiner TEXT NOT NULL,
    key_id TEXT NOT NULL,
    public_key TEXT NOT NULL
)"""


def pinned_in_store(db) -> dict[bytes, str]:
    """key id -> examiner, of the keys pinned so far (the case store's copy)."""
    if db is None:
        return {}
    db.execute(PINS_SCHEMA)
    found = {}
    for name, line in db.execute("SELECT examiner, public_key FROM custody_pins"):
        try:
            found[PublicKey.from_base64(line).key_id] = name
        except ValueError:
            continue
    return found


def store_pin(db, name: str, key: PublicKey) -> None:
    db.execute(PINS_SCHEMA)
    db.execute("INSERT INTO custody_pins(examiner, key_id, public_key) VALUES (?, ?, ?)",
               (name, key.id_text, key.base64()))


def signing_problem(latest_signed: bool, signer, pinned: dict[bytes, str]) -> str | None:
    """Why a command with ``signer`` (None: no key) may not add to this log, or None."""
    if signer is None and (latest_signed or pinned):
        return ("this case's custody log is signed: every command that records must be signed "
                "too (give --key FILE, or set $FORENSIC_KEY)")
    if signer is not None and pinned and signer.public.key_id not in pinned:
        return (f"key {signer.public.id_text} ({signer.name}) is not pinned in this case "
                f"(pinned: {', '.join(sorted(set(pinned.values())))}); an examiner whose key is "
                "pinned adds it with 'forensic examiner add KEY.pub --key THEIR.key'")
    return None
