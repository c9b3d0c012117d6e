"""Red team, issue 20: hostile hash sets and a hostile hash set library.

Each test is an attack that worked before its fix: a VICS file nested deeper than Python
recurses, an "NSRL" whose FILE is an endless view, an NSRL database replaced after it was
imported (the case would record the old file's SHA-256 for lookups in the new one), and a
set folder another user can write (they could turn a known-bad set into nothing).
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from forensic import hashsets
from forensic.errors import UsageError
from tests.hashsets.test_import import nsrl_rds_v3

BAD = [f"known bad picture {i}\n".encode() for i in range(5)]
OTHER = [f"something else {i}\n".encode() for i in range(5)]


@pytest.fixture
def library(tmp_path) -> Path:
    folder = tmp_path / "library"
    folder.mkdir(mode=0o700)
    return folder


@pytest.mark.parametrize("depth", [995, 200_000])
def test_vics_nested_deeper_than_python_recurses_is_refused(tmp_path, library, depth):
    path = tmp_path / "deep.json"
    path.write_text("[" * depth + '{"SHA256": "' + "a" * 64 + '"}' + "]" * depth, encoding="utf-8")
    with pytest.raises(UsageError, match="nested"):
        hashsets.import_set(path, "deep", "known-bad", library=library)
    assert not any(library.iterdir())            # nothing half imported left behind


def test_nsrl_whose_file_table_is_an_endless_view_is_refused(tmp_path, library):
    path = tmp_path / "rds.db"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE VIEW FILE AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n)
            SELECT printf('%064X', x) AS sha256, printf('%040X', x) AS sha1, printf('%032X', x) AS md5 FROM n;
    """)
    db.close()
    code = ("import sys; from pathlib import Path; from forensic import hashsets\n"
            "hashsets.import_set(Path(sys.argv[1]), 'endless', 'known-good', library=Path(sys.argv[2]))")
    try:
        run = subprocess.run([sys.executable, "-c", code, str(path), str(library)], capture_output=True,
                             text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    except subprocess.TimeoutExpired:
        pytest.fail("importing an NSRL whose FILE is an endless view never ends")
    assert run.returncode != 0
    assert "UsageError" in run.stderr and "table" in run.stderr


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_nsrl_replaced_after_import_is_not_checked_against(tmp_path, library):
    path = nsrl_rds_v3(tmp_path / "rds.db", BAD)
    hs = hashsets.import_set(path, "nsrl", "known-good", library=library)
    assert hs.in_place                           # read in place: the case records its SHA-256
    sets, problems = hashsets.open_sets(library=library)
    assert sets[0].match("sha256", _sha256(BAD[0]))[0] and not problems
    for s in sets:
        s.close()
    replacement = nsrl_rds_v3(tmp_path / "other.db", OTHER)
    os.replace(replacement, path)                # same path, other content
    sets, problems = hashsets.open_sets(library=library)
    assert not sets and problems and "changed since" in problems[0]


@pytest.mark.parametrize("what", ["folder", "set.json", "index", "library"])
def test_a_set_others_can_write_is_not_used(tmp_path, library, what):
    path = tmp_path / "bad.txt"
    path.write_text("".join(f"{_sha256(b)}  img{i}.jpg\n" for i, b in enumerate(BAD)), encoding="utf-8")
    hashsets.import_set(path, "bad", "known-bad", library=library)
    target = {"folder": library / "bad", "set.json": library / "bad" / "set.json",
              "index": library / "bad" / "sha256.idx", "library": library}[what]
    target.chmod(target.stat().st_mode | 0o022)
    sets, problems = hashsets.open_sets(library=library)
    assert not sets and problems and "other users can" in problems[0]


def test_nsrl_writing_digests_in_both_cases_is_matched_in_both(tmp_path, library):
    """The lab's own known-bad set in the RDS layout, merged from two tools: the first row's
    digest upper case, the rest lower. Only the first row's case was looked up."""
    path = nsrl_rds_v3(tmp_path / "rds.db", BAD[:1])
    db = sqlite3.connect(path)
    for i, data in enumerate(BAD[1:], 1):
        d = {a: hashlib.new(a, data).hexdigest() for a in ("sha256", "sha1", "md5")}
        db.execute("INSERT INTO FILE VALUES (?,?,?,?,?,?,?)",
                   (d["sha256"], d["sha1"], d["md5"], "00000000", f"b{i}.jpg", len(data), 1))
    db.commit()
    db.close()
    hashsets.import_set(path, "lab-bad", "known-bad", library=library)
    sets, problems = hashsets.open_sets(library=library)
    try:
        assert not problems
        for data in BAD:
            assert sets[0].match("sha256", _sha256(data))[0], data
            assert sets[0].match("md5", hashlib.md5(data).hexdigest())[0], data
    finally:
        for s in sets:
            s.close()


def _sum_list(path: Path, contents: list[bytes]) -> Path:
    path.write_text("".join(f"{_sha256(b)}  f{i}\n" for i, b in enumerate(contents)), encoding="utf-8")
    return path


@pytest.fixture
def marked(tmp_path, monkeypatch):
    """A triaged case whose bad.jpg a known-bad set marks, and a second (alert) set."""
    from forensic.cli.main import main
    library = tmp_path / "library"
    monkeypatch.setenv("FORENSIC_HASHSETS", str(library))
    phone = tmp_path / "phone"
    phone.mkdir()
    (phone / "bad.jpg").write_bytes(BAD[0])
    (phone / "lab.txt").write_bytes(OTHER[0])
    assert main(["hashset", "import", str(_sum_list(tmp_path / "vic.txt", BAD)), "--name", "vic",
                 "--kind", "known-bad"]) == 0
    assert main(["hashset", "import", str(_sum_list(tmp_path / "lab.txt", OTHER)), "--name", "lab",
                 "--kind", "alert"]) == 0
    case = tmp_path / "case"
    assert main(["case", "init", str(case), "--case-id", "HS-RT", "--examiner", "E"]) == 0
    assert main(["evidence", "add", str(phone), "--case", str(case), "--id", "phone"]) == 0
    assert main(["triage", "--case", str(case)]) in (0, 3)
    return {"case": case, "library": library}


def _marks(forensic, case) -> dict[str, tuple[list, bool]]:
    return {r["path"]: (r["hashsets"], r["known_bad"])
            for r in forensic("files", "--case", case, "--json", "--kind", "file").jsonl()}


def test_checking_one_set_keeps_the_marks_of_the_others(marked, forensic):
    """`hashset check --set lab` dropped every other set's hits of the item: the known-bad
    picture was then shown as a picture everywhere (photos, report, serve)."""
    case = marked["case"]
    assert _marks(forensic, case)["/bad.jpg"] == (["vic"], True)
    forensic("hashset", "check", "--case", case, "--set", "lab")
    marks = _marks(forensic, case)
    assert marks["/bad.jpg"] == (["vic"], True) and marks["/lab.txt"] == (["lab"], False)


def test_a_set_that_cannot_be_opened_keeps_its_earlier_marks(marked, forensic):
    """A check while the known-bad set is unusable (here: made group-writable) must not
    silently unmark what it marked before."""
    case = marked["case"]
    folder = marked["library"] / "vic"
    folder.chmod(0o777)
    res = forensic("hashset", "check", "--case", case, expect=None)
    assert "vic" in res.err
    assert _marks(forensic, case)["/bad.jpg"] == (["vic"], True)


def test_an_nsrl_with_rows_still_in_its_wal_is_refused(tmp_path, library):
    """A lab's set in the RDS layout written in WAL mode and copied with its -wal file before
    a checkpoint: read immutable, the rows in the -wal were silently left out."""
    import shutil
    path = nsrl_rds_v3(tmp_path / "made.db", BAD[:1])
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    for i, data in enumerate(BAD[1:], 1):
        d = {a: hashlib.new(a, data).hexdigest().upper() for a in ("sha256", "sha1", "md5")}
        db.execute("INSERT INTO FILE VALUES (?,?,?,?,?,?,?)",
                   (d["sha256"], d["sha1"], d["md5"], "00000000", f"b{i}.jpg", len(data), 1))
    db.commit()
    copy = tmp_path / "copy.db"                  # copied as a backup tool copies it: the -wal beside
    shutil.copyfile(path, copy)
    shutil.copyfile(str(path) + "-wal", str(copy) + "-wal")
    db.close()
    try:
        hs = hashsets.import_set(copy, "lab-bad", "known-bad", library=library)
    except UsageError as exc:
        assert "-wal" in str(exc)
        return
    assert hs.records == len(BAD)                # else: every row in the -wal must be there


def test_a_set_named_with_a_path_is_not_opened_from_outside_the_library(tmp_path, library):
    """`hashset check --set ../elsewhere/x` opened a set folder outside the library."""
    outside = tmp_path / "elsewhere"
    outside.mkdir(mode=0o700)
    hashsets.import_set(_sum_list(tmp_path / "bad.txt", BAD), "x", "known-good", library=outside)
    with pytest.raises(UsageError, match="cannot name a hash set"):
        hashsets.open_sets(["../elsewhere/x"], library=library)


def test_a_csv_row_longer_than_csv_reads_is_skipped_not_a_crash(tmp_path, library):
    """A field over csv's 128 KiB limit stopped the import with an unexpected csv.Error."""
    path = tmp_path / "lab.csv"
    path.write_text(f"sha256,name\n{_sha256(BAD[0])},a\n{_sha256(BAD[1])},\"{'y' * 200_000}\"\n"
                    f"{_sha256(BAD[2])},c\n", encoding="utf-8")
    hs = hashsets.import_set(path, "lab", "known-bad", library=library)
    assert hs.records == 2 and hs.skipped == 1
