"""``files.recovery`` and ``files.recovery_confidence`` (store version 3): stored, listed,
vouched for by the custody log, and migrated without changing what the log holds."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import casestore
from builders import fat_image, write_tree
from forensic.store.records import FILE_ROW_ADDED, FILE_ROW_COLUMNS, file_row_sha256, values_sha256
from forensic.store.schema import SCHEMA_VERSION

KEPT = b"kept photo\n" * 300
GONE = b"deleted notes\n" * 400


@pytest.fixture
def fat_case(tmp_path: Path, forensic) -> Path:
    img = fat_image(tmp_path, {"DCIM/kept.jpg": KEPT, "notes.txt": GONE}, deleted=("notes.txt",), size_mib=34)
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "REC-1", "--examiner", "Ana Examiner")
    forensic("evidence", "add", img, "--case", case, "--id", "card")
    forensic("triage", "card", "--case", case, expect=None)
    return case


def _by_path(forensic, case: Path) -> dict[str, dict]:
    return {r["path"]: r for r in forensic("files", "--case", case, "--json").jsonl()}


def test_recovery_is_stored_and_listed(fat_case: Path, forensic) -> None:
    rows = _by_path(forensic, fat_case)
    kept, gone = rows["/DCIM/kept.jpg"], rows["/_otes.txt"]      # FAT: a deleted name's first letter is lost
    assert (kept["recovery"], kept["recovery_confidence"]) == ("allocated", None)
    assert gone["deleted"] and gone["recovery"] == "deleted-metadata"
    assert gone["recovery_confidence"] == "high"       # its clusters are free still
    assert rows["/DCIM"]["recovery"] is None             # a folder has no content to recover
    # fields are only ever added to `files --json`, after the ones readers already know
    keys = list(kept)
    assert keys.index("recovery_confidence") == keys.index("recovery") + 1 > keys.index("deleted")


def test_editing_a_rows_recovery_is_found_by_deep_verify(fat_case: Path, forensic) -> None:
    assert forensic("custody", "verify", "--deep", "--case", fat_case, "--json").json()["deep"]["ok"]
    with casestore.tampered(fat_case) as db:
        assert db.execute("UPDATE files SET recovery = 'allocated', recovery_confidence = NULL "
                          "WHERE recovery = 'deleted-metadata'").rowcount == 1
    bad = forensic("custody", "verify", "--deep", "--case", fat_case, "--json", expect=4).json()
    [m] = [m for m in bad["deep"]["mismatches"] if m["problem"] == "file changed"]
    assert m["locator"].endswith("/_otes.txt")


def test_clearing_a_rows_recovery_is_found_too(fat_case: Path, forensic) -> None:
    # NULL in both new columns is how a row stored before version 3 looks: a row stored with
    # a value must not pass for one of those
    with casestore.tampered(fat_case) as db:
        db.execute("UPDATE files SET recovery = NULL, recovery_confidence = NULL WHERE path = '/DCIM/kept.jpg'")
    bad = forensic("custody", "verify", "--deep", "--case", fat_case, "--json", expect=4).json()
    assert [(m["problem"], m["locator"].rsplit(" › ", 1)[-1]) for m in bad["deep"]["mismatches"]] == \
        [("file changed", "/DCIM/kept.jpg")]


def test_row_hash_of_a_row_without_recovery_is_the_version_2_hash() -> None:
    old = [f"v{i}" for i in range(len(FILE_ROW_COLUMNS) - len(FILE_ROW_ADDED))]
    assert file_row_sha256(old + [None, None]) == values_sha256(old)
    assert file_row_sha256(old + ["allocated", None]) == values_sha256(old + ["allocated", None])
    assert file_row_sha256(old + ["allocated", None]) != values_sha256(old)


@casestore.older_versions
def test_a_version_2_store_migrates_and_still_verifies(tmp_path: Path, forensic) -> None:
    folder = write_tree(tmp_path / "phone", {"a.txt": b"a", "b/c.txt": b"c"})
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "REC-2", "--examiner", "Ana Examiner")
    forensic("evidence", "add", folder, "--case", case, "--id", "phone")
    forensic("triage", "phone", "--case", case)
    before = forensic("files", "--case", case, "--json").jsonl()
    # the layout version 2 had: no recovery columns
    db = sqlite3.connect(case / "case.db")
    db.execute("ALTER TABLE files DROP COLUMN recovery")
    db.execute("ALTER TABLE files DROP COLUMN recovery_confidence")
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    after = forensic("files", "--case", case, "--json").jsonl()
    assert after == before
    db = sqlite3.connect(case / "case.db")
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    assert {"recovery", "recovery_confidence"} <= {r[1] for r in db.execute("PRAGMA table_info(files)")}
    db.close()
    [entry] = forensic("custody", "log", "--case", case, "--json", "--action", "case.migrated").jsonl()
    assert entry["details"]["from"] == 2 and entry["details"]["to"] == SCHEMA_VERSION
    assert forensic("custody", "verify", "--deep", "--case", case, "--json").json()["deep"]["ok"]
