"""Phone databases left with a hot -journal or a -wal (issue 13, item 4).

The journals and logs are made for real: a child process is killed (SIGKILL) inside a
transaction whose pages have spilled to disk (a small page cache). What SQLite recovers is
checked with the sqlite3 command-line tool on copies; triage must report that committed
state, flag the records only the uncommitted state holds, and leave the evidence bytes as
they were. A companion that cannot be used costs a warning and the database is read as
found."""
from __future__ import annotations

import hashlib
import shutil
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from builders import ext4_image, need
from forensic.extractors.base import ExtractorInput, Sibling
from forensic.extractors.chat.whatsapp_db import WhatsAppDbExtractor
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from forensic.extractors.sqlite_journal import check_journal, check_wal
from tests.extractors.chat.test_phone_dbs import WA_CURRENT, build

DB_DIR = "data/data/com.whatsapp/databases"
SCHEMA = WA_CURRENT + "CREATE TABLE props (_id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT, value TEXT);\n"
T0 = 1615755960000

# A child that runs a script and dies inside its transaction, as a phone whose battery dies.
CHILD = """
import os, signal, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.executescript(sys.argv[2])
os.kill(os.getpid(), signal.SIGKILL)
"""


def _messages(ids, text: str) -> list[tuple]:
    return [(i, 1, 0, f"K{i}", None, 0, 0, 0, 0, T0 + i * 1000, 0, 0, 0, f"{text} {i}", 0, 0, i) for i in ids]


def _insert(ids, text: str) -> str:
    return "".join(f"INSERT INTO message (_id, chat_row_id, from_me, key_id, timestamp, message_type, text_data) "
                   f"VALUES ({i}, 1, 0, 'K{i}', {T0 + i * 1000}, 0, '{text} {i}');\n" for i in ids)


# 400 rows of 200 bytes: every page the transaction dirtied before is pushed out of a 2-page
# cache into the database file (rollback mode) or the log (WAL mode)
SPILL = ("INSERT INTO props (key, value) SELECT 'pad', printf('%0200d', i) FROM "
         "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) SELECT i FROM n);\n")


def _die_inside(db: Path, script: str) -> None:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(db), script], capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()


def _base(db: Path, ids, wal: bool = False) -> None:
    build(db, ("PRAGMA journal_mode=WAL;" if wal else "") + SCHEMA, {
        "jid": [(1, "34600111222", "s.whatsapp.net", 0, 0, 0, "34600111222@s.whatsapp.net")],
        "chat": [(1, 1, 0, None, 0)],
        "message": _messages(ids, "committed")})


def hot_journal(folder: Path) -> Path:
    """msgstore.db (200 committed messages) + the hot -journal of a transaction that deleted
    them all and wrote 14 others."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "msgstore.db"
    _base(db, range(1, 201))
    _die_inside(db, "PRAGMA cache_size=2; BEGIN; DELETE FROM message;\n" + _insert(range(201, 215), "uncommitted")
                + SPILL)
    assert (folder / "msgstore.db-journal").stat().st_size > 0
    return db


def wal_db(folder: Path) -> Path:
    """msgstore.db in WAL mode (50 messages checkpointed) + a -wal holding 100 committed
    messages and, after its last commit, the frames of a transaction that wrote 14 more."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "msgstore.db"
    _base(db, range(1, 51), wal=True)
    committed = "".join("BEGIN;\n" + _insert(range(first, first + 25), "logged") + "COMMIT;\n"
                        for first in range(51, 151, 25))
    _die_inside(db, "PRAGMA wal_autocheckpoint=0;\n" + committed + "PRAGMA cache_size=2; BEGIN;\n"
                + _insert(range(901, 915), "uncommitted") + SPILL)
    assert (folder / "msgstore.db-wal").stat().st_size > 0
    return db


def sqlite_cli(db: Path, companions: tuple[str, ...], sql: str, where: Path) -> list[int]:
    """What the reference tool reads from a copy of ``db`` with the given companions beside it."""
    need("sqlite3")
    where.mkdir(parents=True)
    copy = where / db.name
    shutil.copyfile(db, copy)
    for suffix in companions:
        shutil.copyfile(str(db) + suffix, str(copy) + suffix)
    out = subprocess.run(["sqlite3", str(copy), sql], check=True, capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def _sibling(path: Path) -> Sibling:
    return Sibling(path.name, f"phone › {path.name}", path.stat().st_size, lambda: open(path, "rb"))


def extract(db: Path, *suffixes: str) -> tuple[list[ArtifactRecord], list[str]]:
    data = db.read_bytes()
    item = ExtractorInput(f"/{DB_DIR}/{db.name}", db.name, "application/vnd.sqlite3", len(data), data,
                          siblings={s: _sibling(Path(str(db) + s)) for s in suffixes})
    out = list(WhatsAppDbExtractor().extract(item))
    return ([r for r in out if isinstance(r, ArtifactRecord)],
            [w.message for w in out if isinstance(w, ExtractionWarning)])


def _triage(forensic, tmp: Path, evidence: Path) -> tuple[list[dict], list[dict]]:
    case = tmp / "case"
    forensic("case", "init", case, "--case-id", "C", "--examiner", "E")
    forensic("evidence", "add", evidence, "--case", case, "--id", "phone")
    forensic("triage", "--case", case, expect=3)                # completed with warnings
    messages = forensic("messages", "--case", case, "--json").jsonl()
    warnings = forensic("warnings", "--case", case, "--json").jsonl()
    return messages, [w for w in warnings if w["stage"] == "extract:whatsapp_db"]


def _by_state(messages: list[dict]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for m in messages:
        out.setdefault(m.get("db_state"), []).append(m["source"]["row_id"])
    return {k: sorted(v) for k, v in out.items()}


# -- rollback journal --------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["folder", "ext4"])
def test_hot_journal_committed_messages_and_the_uncommitted_flagged(forensic, tmp_path, source):
    phone = tmp_path / "phone"
    db = hot_journal(phone / DB_DIR)
    folder = db.parent
    sql = "SELECT _id FROM message ORDER BY _id"
    committed = sqlite_cli(db, ("-journal",), sql, tmp_path / "ref-committed")
    as_found = sqlite_cli(db, (), sql, tmp_path / "ref-as-found")
    assert committed == list(range(1, 201)) and as_found == list(range(201, 215))   # the reference tool
    if source == "ext4":
        evidence = ext4_image(tmp_path, {f"/{DB_DIR}/{p.name}": p.read_bytes() for p in folder.iterdir()})
        shutil.rmtree(phone)
        before = {evidence.name: hashlib.sha256(evidence.read_bytes()).hexdigest()}
    else:
        evidence = phone
        before = _hashes(folder)
    messages, warnings = _triage(forensic, tmp_path, evidence)
    assert _by_state(messages) == {"committed": committed, "uncommitted": as_found}
    assert {m["body"] for m in messages if m["db_state"] == "uncommitted"} == {f"uncommitted {i}" for i in as_found}
    assert [w["message"] for w in warnings] == [
        "msgstore.db: hot journal msgstore.db-journal (a transaction left unfinished) rolled back: 14 records "
        "found only in the uncommitted state are flagged db_state 'uncommitted'; 200 committed records are not "
        "in that state"]
    assert warnings[0]["locator"].endswith(f"/{DB_DIR}/msgstore.db")
    after = {evidence.name: hashlib.sha256(evidence.read_bytes()).hexdigest()} if source == "ext4" else _hashes(folder)
    assert after == before                           # same bytes, and nothing written beside them


def test_hot_journal_checked_as_sqlite_plays_it_back(tmp_path):
    db = hot_journal(tmp_path / "db")
    journal = Path(str(db) + "-journal")
    with open(journal, "rb") as fh:
        check = check_journal(fh, journal.stat().st_size)
    assert check.hot and check.problem is None and check.page_size == 1024
    assert [check.db_pages] == sqlite_cli(db, ("-journal",), "PRAGMA page_count", tmp_path / "ref")
    # the journal's pages are those the rolled-back file holds (the reference tool's rollback)
    rolled, data = (tmp_path / "ref" / "msgstore.db").read_bytes(), journal.read_bytes()
    assert check.pages and all(rolled[(n - 1) * 1024:n * 1024] == data[at:at + 1024] for n, at in check.pages.items())


def test_truncated_journal_is_not_used_and_the_database_read_as_found(tmp_path):
    db = hot_journal(tmp_path / "db")
    journal = Path(str(db) + "-journal")
    full = journal.read_bytes()
    journal.write_bytes(full[:len(full) // 2 + 100])             # cut inside a page record
    records, warnings = extract(db, "-journal")
    assert [r.fields["source"]["row_id"] for r in records] == list(range(201, 215))
    assert not any("db_state" in r.fields for r in records)
    assert len(warnings) == 1 and warnings[0].startswith("msgstore.db-journal: not used: it is truncated: record ")
    assert warnings[0].endswith("; msgstore.db is read as found (it may hold the unfinished transaction's changes)")


def test_journal_with_a_wrong_header_is_not_used(tmp_path):
    db = hot_journal(tmp_path / "db")
    journal = Path(str(db) + "-journal")
    journal.write_bytes(b"\x01not a journal" + journal.read_bytes()[14:])
    records, warnings = extract(db, "-journal")
    assert len(records) == 14
    assert warnings == ["msgstore.db-journal: not used: its header is not a rollback journal's; msgstore.db is "
                        "read as found (it may hold the unfinished transaction's changes)"]


def test_journal_naming_a_super_journal_is_never_shown_to_sqlite(tmp_path):
    """A journal can name a super-journal by absolute path; SQLite, rolling it back, deletes
    that file when it looks finished. Evidence must not choose a file on the examiner's
    machine for SQLite to delete."""
    db = hot_journal(tmp_path / "db")
    journal = Path(str(db) + "-journal")
    victim = tmp_path / "examiner-notes.txt"
    data = journal.read_bytes()
    sector = struct.unpack(">I", data[20:24])[0]
    name = str(victim).encode()
    data += b"\0" * (-len(data) % sector) + struct.pack(">I", 0x40000000 // 1024 + 1) + name \
        + struct.pack(">II", len(name), sum(name)) + data[:8]
    journal.write_bytes(data)
    victim.write_text("precious")
    records, warnings = extract(db, "-journal")
    assert victim.read_text() == "precious"
    assert len(records) == 14 and warnings == [SUPER_NOT_USED]
    sqlite_cli(db, ("-journal",), "SELECT count(*) FROM message", tmp_path / "ref")   # the reference tool...
    assert not victim.exists()                                                       # ...deletes it


SUPER_NOT_USED = ("msgstore.db-journal: not used: it ends with a super-journal record (a transaction over several "
                  "databases; SQLite, rolling the journal back, may delete the file the record names): whether "
                  "that transaction committed is not told by this folder; msgstore.db is read as found (it may "
                  "hold the unfinished transaction's changes)")


def _name_super_journal(journal: Path, name: bytes, checksum: int | None = None,
                        length: int | None = None) -> None:
    """Append a super-journal record as SQLite writes one (pager.c writeSuperJournal): the
    pending-byte page number, the name, then its length, its checksum (SQLite's: the bytes
    summed as C ``char``, signed on x86) and the journal magic, after the last segment's
    sector padding."""
    data = journal.read_bytes()
    sector = struct.unpack(">I", data[20:24])[0]
    if checksum is None:
        checksum = sum(b - 256 if b >= 0x80 else b for b in name) & 0xFFFFFFFF
    data += b"\0" * (-len(data) % sector) + struct.pack(">I", 0x40000000 // 1024 + 1) + name \
        + struct.pack(">II", len(name) if length is None else length, checksum) + data[:8]
    journal.write_bytes(data)


@pytest.mark.parametrize("where", ["absolute", "relative"])
def test_super_journal_name_with_a_high_byte_and_a_nul_deletes_nothing(forensic, tmp_path, monkeypatch, where):
    """Red team: a name with a byte >= 0x80 has one checksum summed as signed char (SQLite on
    x86) and another summed unsigned; a NUL ends the path SQLite opens but not the bytes it
    sums. Such a record, pointing at a file outside the private copy (by absolute path, or
    relative to the working directory), must not reach SQLite: the file stays, the journal is
    not used, and the database is read as found."""
    phone = tmp_path / "phone"
    db = hot_journal(phone / DB_DIR)
    examiner = tmp_path / "examiner"
    examiner.mkdir()
    canary = examiner / "case-signing.key"
    canary.write_text("precious")
    monkeypatch.chdir(examiner)
    target = bytes(canary) if where == "absolute" else canary.name.encode()
    name = target + b"\0\xc3\xa9"
    assert sum(name) != sum(b - 256 if b >= 0x80 else b for b in name)     # the two sums differ
    _name_super_journal(Path(str(db) + "-journal"), name)
    before = _hashes(db.parent)
    messages, warnings = _triage(forensic, tmp_path, phone)
    assert canary.read_text() == "precious"
    assert [w["message"] for w in warnings] == [SUPER_NOT_USED]
    assert sorted(m["source"]["row_id"] for m in messages) == list(range(201, 215))     # as found
    assert not any(m.get("db_state") for m in messages)
    assert _hashes(db.parent) == before


@pytest.mark.parametrize("defect", ["checksum_wrong", "length_zero", "length_too_long"])
def test_journal_ending_in_the_magic_is_not_used_whatever_its_record_says(tmp_path, defect):
    """SQLite reads a name only where length and checksum hold, but the rule here is the trailer
    alone: no reading of them can let a name through."""
    db = hot_journal(tmp_path / "db")
    journal = Path(str(db) + "-journal")
    name = b"/nonexistent/super-journal"
    _name_super_journal(journal, name, checksum=1 if defect == "checksum_wrong" else None,
                        length={"length_zero": 0, "length_too_long": 1 << 30}.get(defect))
    with open(journal, "rb") as fh:
        check = check_journal(fh, journal.stat().st_size)
    assert check.problem and check.problem.startswith("it ends with a super-journal record")
    records, warnings = extract(db, "-journal")
    assert len(records) == 14 and warnings == [SUPER_NOT_USED]


def test_journal_of_a_committed_transaction_is_not_applied(tmp_path):
    """PERSIST mode keeps the journal after commit with its header zeroed: not hot."""
    db = tmp_path / "msgstore.db"
    _base(db, range(1, 11))
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=PERSIST")
    con.execute("DELETE FROM message WHERE _id > 5")
    con.commit()
    con.close()
    assert Path(str(db) + "-journal").stat().st_size > 0
    records, warnings = extract(db, "-journal")
    assert warnings == [] and [r.fields["source"]["row_id"] for r in records] == [1, 2, 3, 4, 5]
    assert not any("db_state" in r.fields for r in records)


# -- write-ahead log ---------------------------------------------------------------------------

def test_wal_committed_frames_replayed_and_frames_after_the_last_commit_flagged(forensic, tmp_path):
    phone = tmp_path / "phone"
    db = wal_db(phone / DB_DIR)
    sql = "SELECT _id FROM message ORDER BY _id"
    committed = sqlite_cli(db, ("-wal",), sql, tmp_path / "ref-committed")
    assert committed == list(range(1, 151))                                  # the reference tool
    assert sqlite_cli(db, (), sql, tmp_path / "ref-file") == list(range(1, 51))   # what was read before
    with open(str(db) + "-wal", "rb") as fh:
        check = check_wal(fh, Path(str(db) + "-wal").stat().st_size)
    assert check.problem is None and check.committed and check.after_commit
    before = _hashes(db.parent)
    assert set(before) == {"msgstore.db", "msgstore.db-wal", "msgstore.db-shm"}
    messages, warnings = _triage(forensic, tmp_path, phone)
    assert _by_state(messages) == {"committed": committed, "uncommitted": list(range(901, 915))}
    assert [w["message"] for w in warnings] == [
        f"msgstore.db: write-ahead log msgstore.db-wal: {check.committed} committed frames replayed, "
        f"{check.after_commit} frames after its last commit (a transaction never committed: left unfinished or "
        "rolled back) ignored, as SQLite does: 14 records found only in the uncommitted state are flagged "
        "db_state 'uncommitted'; 0 committed records are not in that state"]
    assert _hashes(db.parent) == before


def test_wal_cut_inside_a_frame_uses_the_frames_before_it(tmp_path):
    db = tmp_path / "db" / "msgstore.db"
    db.parent.mkdir()
    _base(db, range(1, 51), wal=True)
    script = "PRAGMA wal_autocheckpoint=0;\n" + "".join(
        "BEGIN;\n" + _insert(range(first, first + 25), "logged") + "COMMIT;\n" for first in range(51, 151, 25))
    _die_inside(db, script)
    wal = Path(str(db) + "-wal")
    wal.write_bytes(wal.read_bytes()[:-700])
    expected = sqlite_cli(db, ("-wal",), "SELECT _id FROM message ORDER BY _id", tmp_path / "ref")
    assert 50 < len(expected) < 150
    records, warnings = extract(db, "-wal")
    state = {}
    for r in records:
        state.setdefault(r.fields["db_state"], []).append(r.fields["source"]["row_id"])
    # the last transaction lost its commit frame: what is left of it is uncommitted (and torn)
    assert state["committed"] == expected
    assert state["uncommitted"] == list(range(expected[-1] + 1, expected[-1] + 1 + len(state["uncommitted"])))
    assert warnings[0] == ("msgstore.db-wal: ends 348 bytes into a frame (a write cut short, or the copy of the "
                           "log is truncated); the frames before it are used")
    assert all(w.startswith("uncommitted state of msgstore.db: table message: ") for w in warnings[1:-1])
    assert warnings[-1].startswith("msgstore.db: write-ahead log msgstore.db-wal: ")
    assert f": {len(state['uncommitted'])} records found only in the uncommitted state" in warnings[-1]


def test_wal_with_a_wrong_header_is_not_used(tmp_path):
    db = wal_db(tmp_path / "db")
    wal = Path(str(db) + "-wal")
    data = bytearray(wal.read_bytes())
    data[12] ^= 0xFF                                           # the checkpoint sequence: header checksum fails
    wal.write_bytes(bytes(data))
    records, warnings = extract(db, "-wal")
    assert [r.fields["source"]["row_id"] for r in records] == list(range(1, 51))
    assert warnings == ["msgstore.db-wal: not used: its header fails its checksum; msgstore.db is read as found"]


def test_a_companion_of_the_other_mode_is_not_used(tmp_path):
    db = wal_db(tmp_path / "db")
    Path(str(db) + "-journal").write_bytes(b"\x00" * 512)
    records, warnings = extract(db, "-wal", "-journal")
    assert len(records) == 164
    assert warnings[0] == "msgstore.db-journal: not used: the database header says msgstore.db is in wal mode"
