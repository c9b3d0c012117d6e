"""Shared builders of the red-team tests: a triaged case, a store rewritten in the
schema-1 layout, and raw SQLite edits made as an attacker (or a bad disk) would."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import casestore
from builders import tiny_jpeg, write_tree
from v1_store import V1_COPIED, V1_SCHEMA, rewrite_as_v1  # noqa: F401  (the red-team tests use them from here)

FORENSIC = [sys.executable, "-m", "forensic.cli.main"]

CHAT = ("12/01/2024, 09:15 - Alice: work starts at 6\n"
        "12/01/2024, 09:16 - Bob: IMG-20241201-WA0001.jpg (file attached)\n"
        "12/01/2024, 09:17 - Alice: no excuses\n").encode()


def cli(*args, key: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """The CLI in a process of its own; no FORENSIC_* from the test's environment but the
    store backend the run makes cases on ($FORENSIC_STORE, tests/conftest.py)."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("FORENSIC_") or k == "FORENSIC_STORE"}
    if key is not None:
        e["FORENSIC_KEY"] = str(key)
    e.update(env or {})
    return subprocess.run(FORENSIC + [str(a) for a in args], env=e, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=300)


def phone_tree(root: Path) -> Path:
    return write_tree(root, {
        "WhatsApp/Chat.txt": CHAT,
        "WhatsApp/IMG-20241201-WA0001.jpg": tiny_jpeg(),
        "DCIM/photo.jpg": tiny_jpeg(b"Canon", b"EOS"),
        "DCIM/other.jpg": tiny_jpeg(b"Nikon", b"D1"),
    })


def edit_store(case: Path, *statements: str) -> int:
    """Run SQL on the case's store as someone with write access to it would; rows changed."""
    with casestore.tampered(case) as db:
        return sum(db.execute(sql).rowcount for sql in statements)


def query(case: Path, sql: str, args: tuple = ()) -> list:
    with casestore.opened(case) as db:
        return [tuple(r) for r in db.execute(sql, args).fetchall()]
