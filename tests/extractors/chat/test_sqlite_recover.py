"""Deleted message rows recovered from an mmssms.db's free pages, freeblocks, unallocated
space and write-ahead log (issue 15).

The databases are made for real with SQLite (``secure_delete`` off, no auto-vacuum): rows
inserted, some deleted. Every recovered record must be a row that really existed (its
body, address, time and kind equal to one inserted; its rowid too where the bytes kept it),
the live rows come out unmarked, the evidence bytes are never changed, and garbage yields
no row."""
from __future__ import annotations

import hashlib
import math
import shutil
import sqlite3
import struct
from pathlib import Path

import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forensic.extractors.base import ExtractorInput, Sibling
from forensic.extractors.chat.android_sms import AndroidSmsExtractor
from forensic.extractors.chat.sqlite_chat import FoundRow
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from forensic.extractors.sqlite_recover import TableShape, freeblock_cell, intact_cell, recover
from tests.extractors.chat.test_phone_dbs import ANDROID_SCHEMA

ANDROID = AndroidSmsExtractor()
T0 = 1615755960000
PATH = "/data/data/com.android.providers.telephony/databases/mmssms.db"


def _rows(n: int) -> list[tuple]:
    """n texts of the sms table: each body unique and of its own length (some pages hold few
    rows, some many)."""
    return [(i, 1 + i % 3, f"+3460011{i:04d}", None, T0 + i * 1000, 0, 0, 1, -1, 1 + i % 2, 0, None,
             f"message {i} " + "y" * (i % 40), None, 0, 0, 1) for i in range(1, n + 1)]


def _make(path: Path, rows: list[tuple], wal: bool = False) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript("PRAGMA page_size=1024; PRAGMA secure_delete=OFF; PRAGMA auto_vacuum=NONE;"
                     + ("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;" if wal else "") + ANDROID_SCHEMA)
    db.execute("BEGIN")
    db.executemany(f"INSERT INTO sms VALUES ({','.join('?' * 17)})", rows)
    db.execute("COMMIT")
    return db


def _delete(db: sqlite3.Connection, ids: list[int]) -> None:
    db.execute("BEGIN")
    db.executemany("DELETE FROM sms WHERE _id = ?", [(i,) for i in ids])
    db.execute("COMMIT")


def _sibling(path: Path) -> Sibling:
    return Sibling(path.name, f"phone › {path.name}", path.stat().st_size, lambda: open(path, "rb"))


def _extract(db: Path, *suffixes: str) -> tuple[list[ArtifactRecord], list[ArtifactRecord], list[str]]:
    data = db.read_bytes()
    item = ExtractorInput(PATH, db.name, "application/vnd.sqlite3", len(data), data,
                          siblings={s: _sibling(Path(str(db) + s)) for s in suffixes})
    out = list(ANDROID.extract(item))
    records = [r for r in out if isinstance(r, ArtifactRecord)]
    return ([r for r in records if not r.fields.get("recovered")], [r for r in records if r.fields.get("recovered")],
            [w.message for w in out if isinstance(w, ExtractionWarning)])


def _assert_real(recovered: list[ArtifactRecord], rows: list[tuple], deleted: set[int]) -> set[int]:
    """Every recovered record is one of ``rows`` that was deleted (same body, address, time,
    box; same rowid where it is known); returns the rowids they are."""
    by_body = {r[12]: r for r in rows}
    found = set()
    for rec in recovered:
        f = rec.fields
        row = by_body.get(f["body"])
        assert row is not None, f"fabricated: {f['body']!r} at {f['source']}"
        assert (f["address"], f["box"], f["source"]["table"]) == (row[2], {1: "inbox", 2: "sent"}[row[9]], "sms")
        assert f["sent_at_utc"].startswith("2021-03-1"), f
        assert f["source"]["row_id"] in (None, row[0])
        assert row[0] in deleted, f"live row {row[0]} reported as recovered: {f['source']}"
        assert f["recovered"] == "deleted" and f["source"]["in"] in ("freelist", "freeblock", "unallocated", "wal")
        assert isinstance(f["source"]["page"], int) and isinstance(f["source"]["offset"], int)
        found.add(row[0])
    return found


def test_deleted_rows_from_free_pages_and_freeblocks(tmp_path):
    rows = _rows(200)
    db_path = tmp_path / "mmssms.db"
    db = _make(db_path, rows)
    scattered = list(range(5, 100, 10))          # one row here and there: freeblocks in live pages
    block = list(range(120, 160))                # a run of rows: whole pages go to the freelist
    _delete(db, scattered + block)
    assert db.execute("PRAGMA freelist_count").fetchone()[0] >= 2
    db.close()
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()

    live, recovered, warnings = _extract(db_path)

    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before
    assert len(live) == 150 and not any("recovered" in r.fields for r in live)
    assert sorted(r.fields["source"]["row_id"] for r in live) == sorted(set(range(1, 201)) - set(scattered + block))
    found = _assert_real(recovered, rows, set(scattered + block))
    assert len(found) == len(recovered), "a deleted row reported twice"
    # each row deleted alone leaves its cell in a freeblock: all come back (their rowids were overwritten)
    by_in = {}
    for r in recovered:
        by_in.setdefault(r.fields["source"]["in"], []).append(r)
    assert set(scattered) <= found
    assert all(r.fields["source"]["row_id"] is None for r in by_in["freeblock"])
    # the freed pages keep whole cells: rows with their rowids
    freed = {r.fields["source"]["row_id"] for r in by_in["freelist"]} - {None}
    assert len(freed) >= 15 and freed <= set(block)
    # the offset points at the cell: its body is there in the file
    data = db_path.read_bytes()
    # every deleted row whose text is still in the file came back (the others' cells were reused)
    left = {i for i in scattered + block if rows[i - 1][12].encode() in data}
    assert left == found, sorted(left ^ found)
    for r in recovered:
        at = r.fields["source"]["offset"]
        assert r.fields["source"]["file"] == "mmssms.db"
        assert at // 1024 + 1 == r.fields["source"]["page"]
        assert r.fields["body"].encode() in data[at:at + 200]
    assert sum("deleted rows recovered" in w for w in warnings) == 1
    assert f"{len(recovered)} deleted rows recovered" in next(w for w in warnings if "deleted rows recovered" in w)


def test_deleted_rows_from_the_write_ahead_log(tmp_path):
    rows = _rows(120)
    src = tmp_path / "device"
    src.mkdir()
    db = _make(src / "mmssms.db", rows, wal=True)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()     # the rows are in the database file
    gone = [3, 17, 18, 19, 60, 61, 100]
    _delete(db, gone)                                             # only in the log: not checkpointed
    ev = tmp_path / "evidence"
    ev.mkdir()
    for name in ("mmssms.db", "mmssms.db-wal"):                   # copied as seized, the app still running
        shutil.copyfile(src / name, ev / name)
    db.close()
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in ev.iterdir()}

    live, recovered, warnings = _extract(ev / "mmssms.db", "-wal")

    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in ev.iterdir()} == digests
    assert sorted(r.fields["source"]["row_id"] for r in live) == sorted(set(range(1, 121)) - set(gone))
    found = _assert_real(recovered, rows, set(gone))
    assert found == set(gone)
    # the database file still holds the pages as they were before the delete, with the rowids
    from_db = [r for r in recovered if r.fields["source"]["in"] == "wal"]
    assert {r.fields["source"]["row_id"] for r in from_db} == set(gone)
    assert all(r.fields["source"]["file"] == "mmssms.db" for r in from_db)
    assert len(recovered) == len(gone), "a row found in the file and the log is reported once"
    assert any("deleted rows recovered" in w for w in warnings)


def test_deleted_rows_from_earlier_frames_of_the_log(tmp_path):
    """Never checkpointed: the rows were written into the log, then deleted in a later
    transaction; the earlier frames keep them (offsets count in the log)."""
    rows = _rows(80)
    db = _make(tmp_path / "mmssms.db", rows, wal=True)
    gone = [5, 6, 41, 77]
    _delete(db, gone)
    ev = tmp_path / "ev"
    ev.mkdir()
    for name in ("mmssms.db", "mmssms.db-wal"):
        shutil.copyfile(tmp_path / name, ev / name)
    db.close()
    live, recovered, _ = _extract(ev / "mmssms.db", "-wal")
    assert len(live) == 76
    assert _assert_real(recovered, rows, set(gone)) == set(gone) and len(recovered) == len(gone)
    log = (ev / "mmssms.db-wal").read_bytes()
    for r in recovered:
        assert r.fields["source"]["in"] == "wal" and r.fields["source"]["file"] == "mmssms.db-wal"
        assert r.fields["body"].encode() in log[r.fields["source"]["offset"]:r.fields["source"]["offset"] + 200]


def test_deleted_rows_from_an_earlier_generation_of_the_log(tmp_path):
    """Checkpointed, then the log restarted by a small write: past the new frames, the
    earlier generation's frames still hold the pages as they were before the delete."""
    rows = _rows(120)
    db = _make(tmp_path / "mmssms.db", rows, wal=True)
    gone = [3, 50, 51, 90]
    _delete(db, gone)
    db.execute("PRAGMA wal_checkpoint(FULL)").fetchone()              # every frame copied back; the log kept
    db.execute("UPDATE threads SET snippet = 'x' WHERE _id = 1")      # the log restarts, new salts
    db.execute("INSERT INTO threads (_id, recipient_ids) VALUES (9, '9')")
    ev = tmp_path / "ev"
    ev.mkdir()
    for name in ("mmssms.db", "mmssms.db-wal"):
        shutil.copyfile(tmp_path / name, ev / name)
    db.close()
    live, recovered, _ = _extract(ev / "mmssms.db", "-wal")
    assert len(live) == 116
    assert _assert_real(recovered, rows, set(gone)) == set(gone)
    from_log = {r.fields["source"]["row_id"] for r in recovered if r.fields["source"]["file"] == "mmssms.db-wal"}
    assert from_log == set(gone), "the old frames keep the rows with their rowids"


def test_earlier_version_of_an_updated_row_is_kept_and_says_so(tmp_path):
    rows = _rows(40)
    db = _make(tmp_path / "mmssms.db", rows, wal=True)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    db.execute("UPDATE sms SET body = 'edited' WHERE _id = 7")    # the file keeps the page as it was
    ev = tmp_path / "ev"
    ev.mkdir()
    for name in ("mmssms.db", "mmssms.db-wal"):
        shutil.copyfile(tmp_path / name, ev / name)
    db.close()
    live, recovered, _ = _extract(ev / "mmssms.db", "-wal")
    assert len(live) == 40 and next(r for r in live if r.fields["source"]["row_id"] == 7).fields["body"] == "edited"
    old = [r for r in recovered if r.fields["source"]["row_id"] == 7]
    assert [r.fields["body"] for r in old] == [rows[6][12]]
    assert old[0].fields["recovered_note"] == ("live row 7 has this rowid with other content: an earlier version "
                                               "of that row, or a row whose rowid was reused")
    assert old[0].fields["recovered"] == "deleted"
    assert not any(r.fields["body"] == "edited" for r in recovered)
    assert all(r.fields["source"]["row_id"] in (None, 7) for r in recovered), "unchanged rows are live: dropped"


def test_database_without_deletions_has_no_recovered_rows_and_no_warning(tmp_path):
    db_path = tmp_path / "mmssms.db"
    _make(db_path, _rows(80)).close()
    live, recovered, warnings = _extract(db_path)
    assert len(live) == 80 and recovered == [] and warnings == []


# -- hostile bytes ------------------------------------------------------------------------------------

SMS = TableShape("sms", 2, ("_id", "thread_id", "address", "person", "date", "date_sent", "protocol", "read",
                            "status", "type", "reply_path_present", "subject", "body", "service_center", "locked",
                            "error_code", "seen"),
                 ("INTEGER", "INTEGER", "TEXT", "INTEGER", "INTEGER", "INTEGER", "INTEGER", "INTEGER", "INTEGER",
                  "INTEGER", "INTEGER", "TEXT", "TEXT", "TEXT", "INTEGER", "INTEGER", "INTEGER"), 0)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=0, max_size=300), st.integers(0, 40))
def test_cell_decoders_never_raise_and_keep_inside_the_bytes(data, start):
    for fn in (lambda: intact_cell(data, start, len(data), SMS, "utf-8", 989),
               lambda: freeblock_cell(data, start, len(data), SMS, "utf-8")):
        got = fn()
        if got:
            stop = got[-1]
            assert start < stop <= len(data)


def test_garbage_in_free_space_gives_no_rows_and_no_crash(tmp_path):
    rows = _rows(100)
    db_path = tmp_path / "mmssms.db"
    db = _make(db_path, rows)
    _delete(db, list(range(2, 100, 7)) + list(range(40, 70)))
    db.close()
    data = bytearray(db_path.read_bytes())
    size = len(data) // 1024
    # every free byte region of every page overwritten with bogus varints (0xff runs) and noise
    import random
    rng = random.Random(7)
    first_trunk = int.from_bytes(data[32:36], "big")
    for n in range(2, size + 1):
        base = (n - 1) * 1024
        if data[base] == 0x0D:                          # a leaf: its freeblocks filled with garbage
            fb = int.from_bytes(data[base + 1:base + 3], "big")
            while fb and fb < 1020:
                length = int.from_bytes(data[base + fb + 2:base + fb + 4], "big")
                nxt = int.from_bytes(data[base + fb:base + fb + 2], "big")
                data[base + fb + 4:base + fb + min(length, 1024 - fb)] = bytes(
                    rng.choice((0xFF, 0x81, 0x00, rng.randrange(256))) for _ in range(min(length, 1024 - fb) - 4))
                fb = nxt if nxt > fb else 0
        elif n == first_trunk or data[base] == 0:
            data[base + 8:base + 1024] = bytes(rng.randrange(256) for _ in range(1016))
    bad = tmp_path / "bad" / "mmssms.db"
    bad.parent.mkdir()
    bad.write_bytes(bytes(data))
    live, recovered, warnings = _extract(bad)
    assert len(live) == 100 - len(set(range(2, 100, 7)) | set(range(40, 70)))
    _assert_real(recovered, rows, set(range(2, 100, 7)) | set(range(40, 70)))


def test_recover_survives_a_truncated_and_a_garbage_file(tmp_path):
    db_path = tmp_path / "mmssms.db"
    db = _make(db_path, _rows(60))
    _delete(db, list(range(10, 40)))
    db.close()
    data = db_path.read_bytes()
    cut = tmp_path / "cut.db"
    cut.write_bytes(data[:len(data) - 1500])
    found = recover(str(cut), [SMS])
    assert all(r.table == "sms" for r in found.rows)
    noise = tmp_path / "noise.db"
    noise.write_bytes(data[:100] + bytes(range(256)) * 40)
    recover(str(noise), [SMS])


def test_ios_sms_db_deleted_messages(tmp_path):
    from forensic.extractors.chat.ios_sms import IosSmsExtractor
    from tests.extractors.chat.test_phone_dbs import IOS_SCHEMA
    path = tmp_path / "sms.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript("PRAGMA page_size=1024; PRAGMA secure_delete=OFF;" + IOS_SCHEMA)
    texts = {i: f"iMessage number {i} " + "z" * (i % 30) for i in range(1, 81)}
    db.execute("BEGIN")
    db.executemany("INSERT INTO message (ROWID, guid, text, handle_id, service, date, is_from_me) "
                   "VALUES (?, ?, ?, 1, 'iMessage', ?, ?)",
                   [(i, f"G{i}", t, 700_000_000_000_000_000 + i * 10**9, i % 2) for i, t in texts.items()])
    db.execute("COMMIT")
    gone = [4, 9] + list(range(40, 66))
    db.executemany("DELETE FROM message WHERE ROWID = ?", [(i,) for i in gone])
    db.close()
    data = path.read_bytes()
    item = ExtractorInput("/private/var/mobile/Library/SMS/sms.db", "sms.db", "application/vnd.sqlite3", len(data),
                          data)
    out = [r for r in IosSmsExtractor().extract(item) if isinstance(r, ArtifactRecord)]
    live = [r for r in out if not r.fields.get("recovered")]
    recovered = [r for r in out if r.fields.get("recovered")]
    assert len(live) == 80 - len(gone)
    assert recovered and {r.fields["body"] for r in recovered} <= {texts[i] for i in gone}
    for r in recovered:
        rowid = r.fields["source"]["row_id"]
        assert rowid is None or texts[rowid] == r.fields["body"]
        assert r.fields["guid"] in {f"G{i}" for i in gone}


def test_triage_lists_recovered_messages_marked(forensic, tmp_path):
    """Through triage: `forensic messages` flags recovered rows R, --json gives their place."""
    root = tmp_path / "phone" / "data" / "data" / "com.android.providers.telephony" / "databases"
    root.mkdir(parents=True)
    rows = _rows(60)
    db = _make(root / "mmssms.db", rows)
    _delete(db, [10, 20, 30])
    db.close()
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C", "--examiner", "E")
    forensic("evidence", "add", tmp_path / "phone", "--case", case, "--id", "phone")
    forensic("triage", "--case", case, expect=None)
    listed = forensic("messages", "--case", case, "--json").jsonl()
    back = [m for m in listed if m.get("recovered") == "deleted"]
    assert len(listed) - len(back) == 57 and not any("recovered" in m for m in listed if m not in back)
    assert sorted(m["body"] for m in back) == sorted(rows[i - 1][12] for i in (10, 20, 30))
    assert all(m["source"]["in"] == "freeblock" and m["source"]["offset"] > 0 for m in back)
    lines = forensic("messages", "--case", case).out.splitlines()
    assert sum(line.split(" ", 1)[0].endswith("R") for line in lines) == 3
    warnings = forensic("warnings", "--case", case, "--json").jsonl()
    assert [w["message"] for w in warnings if "deleted rows recovered" in w["message"]] == [
        "mmssms.db: 3 deleted rows recovered from free space (3 from freeblock), marked recovered 'deleted'; "
        "0 copies of live rows dropped"]


def test_loops_in_the_freelist_and_the_btree_are_cut_short(tmp_path):
    rows = _rows(200)
    db_path = tmp_path / "mmssms.db"
    db = _make(db_path, rows)
    _delete(db, list(range(100, 150)))
    db.close()
    data = bytearray(db_path.read_bytes())
    trunk = int.from_bytes(data[32:36], "big")
    data[(trunk - 1) * 1024:(trunk - 1) * 1024 + 4] = trunk.to_bytes(4, "big")   # the trunk names itself next
    root = 2                                                                       # sms: an interior page
    assert data[1024] == 0x05
    data[1024 + 8:1024 + 12] = root.to_bytes(4, "big")                             # its right child: itself
    bad = tmp_path / "bad.db"
    bad.write_bytes(bytes(data))
    found = recover(str(bad), [SMS])
    assert any("loops back to page 2" in p for p in found.problems)
    assert any("freelist names page" in p for p in found.problems)
    assert all(r.table == "sms" for r in found.rows)


def test_a_row_without_rowid_equal_to_a_live_row_is_dropped(tmp_path):
    from forensic.extractors.chat.sqlite_chat import new_rows, table_shapes
    from forensic.extractors.sqlite_recover import RecoveredRow
    rows = _rows(50)
    db = _make(tmp_path / "mmssms.db", rows)
    db.close()
    conn = sqlite3.connect(tmp_path / "mmssms.db")
    shapes, problems = table_shapes(conn, ["sms"])
    live = (None,) + rows[9][1:]                          # row 10's content, its rowid lost
    other = (None,) + rows[9][1:12] + ("not a live body",) + rows[9][13:]
    found = [RecoveredRow("sms", None, live, "freeblock", 3, 2100, "db", near=(1, 30)),
             RecoveredRow("sms", None, live, "freelist", 9, 8300, "db"),          # anywhere: the table read once
             RecoveredRow("sms", None, other, "freeblock", 3, 2300, "db", near=(1, 30))]
    kept, copies = new_rows(conn, shapes, found[:1] + found[2:], problems)     # compared around its page
    assert [(r.offset, note) for r, note in kept] == [(2300, None)] and copies == 1
    kept, copies = new_rows(conn, shapes, found[1:], problems)                 # compared with the whole table
    assert [(r.offset, note) for r, note in kept] == [(2300, None)] and copies == 1
    assert problems == []


_FUZZ_DB: list[bytes] = []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 40 * 1024 - 1), st.integers(0, 255)), min_size=1, max_size=200))
def test_recover_never_raises_on_flipped_bytes(tmp_path, flips):
    if not _FUZZ_DB:
        db = _make(tmp_path / "base.db", _rows(150))
        _delete(db, list(range(20, 90, 3)) + list(range(100, 130)))
        db.close()
        _FUZZ_DB.append((tmp_path / "base.db").read_bytes())
    data = bytearray(_FUZZ_DB[0])
    for at, value in flips:
        if at < len(data):
            data[at] = value
    path = tmp_path / "fuzzed.db"
    path.write_bytes(bytes(data))
    found = recover(str(path), [SMS])
    assert all(r.table == "sms" and len(r.values) == len(SMS.columns) for r in found.rows)


def test_damaged_btrees_never_read_backwards_or_hang(tmp_path):
    """Bytes flipped in page headers and cells: SQLite may then answer a rowid query out of
    order; reading must still end (a record count bound, not a clock, tells a loop), with
    no crash, whatever the damage."""
    import itertools
    import random
    db = _make(tmp_path / "base.db", _rows(150))
    _delete(db, list(range(20, 90, 3)) + list(range(100, 130)))
    db.close()
    base = (tmp_path / "base.db").read_bytes()
    rng = random.Random(9)                      # among the first 101 cases, three once looped forever
    for _ in range(101):
        data = bytearray(base)
        for _ in range(rng.randint(1, 100)):
            page, at = rng.randrange(1, len(data) // 1024), rng.choice([rng.randrange(12), rng.randrange(1024)])
            data[page * 1024 + at] = rng.randrange(256)
        item = ExtractorInput(PATH, "mmssms.db", "application/vnd.sqlite3", len(data), bytes(data))
        out = list(itertools.islice(ANDROID.extract(item), 2000))
        assert len(out) < 2000


def test_text_that_is_not_utf8_is_read_with_replacement_characters(tmp_path):
    rows = _rows(5)
    db = _make(tmp_path / "mmssms.db", rows)
    db.execute("UPDATE sms SET body = CAST(x'4869ff21' AS TEXT) WHERE _id = 3")   # 'Hi', a bad byte, '!'
    db.close()
    live, recovered, warnings = _extract(tmp_path / "mmssms.db")
    assert [r.fields["body"] for r in live] == [rows[0][12], rows[1][12], "Hi\ufffd!", rows[3][12], rows[4][12]]
    assert any("not valid UTF-8 after rowid 2" in w for w in warnings)


def test_a_recovered_value_reaches_the_reader_as_found(tmp_path):
    """A deleted row's values are handed to the reader as they were found, by name and in
    order: a REAL time that free space holds as a NaN (SQLite never stores one: it would read
    back as NULL) is reported as a bad time, as any bad value is, not read as a missing one."""
    path = tmp_path / "mmssms.db"
    rows = _rows(40)
    rows[19] = (20, 1, "+34600110020", None, 1.5, 0, 0, 1, -1, 2, 0, None, "the NaN row", None, 0, 0, 1)
    db = _make(path, rows)
    _delete(db, [20])
    db.close()
    data = bytearray(path.read_bytes())
    at = data.index(struct.pack(">d", 1.5))
    data[at:at + 8] = struct.pack(">d", math.nan)
    path.write_bytes(bytes(data))
    _, recovered, _ = _extract(path)
    (rec,) = [r for r in recovered if r.fields["body"] == "the NaN row"]
    assert rec.fields["sender"] == "(device owner)" and rec.fields["recipients"] == ["+34600110020"]
    assert rec.corrupted and rec.fields["sent_at"] is None
    assert rec.warnings == ("sent time nan is not a Unix time in milliseconds",)


def test_found_row_reads_by_name_and_in_order():
    row = FoundRow(("_rowid", "date", "body"), (7, math.nan, None))
    rowid, date, body = row
    assert (rowid, body) == (7, None) and math.isnan(date) and math.isnan(row["date"])
    assert row["_rowid"] == row[0] == 7 and row["body"] is None and len(row) == 3
    with pytest.raises(KeyError):
        row["address"]


def _cell(tmp_path: Path, row: tuple) -> bytes:
    """The table-leaf cell SQLite writes for ``row`` of sms (payload length, rowid, record)."""
    scratch = tmp_path / f"cell{row[0]}.db"
    _make(scratch, [row]).close()
    raw = scratch.read_bytes()
    root = sqlite3.connect(scratch).execute("SELECT rootpage FROM sqlite_master WHERE name = 'sms'").fetchone()[0]
    page = raw[(root - 1) * 1024:root * 1024]
    start = int.from_bytes(page[8:10], "big")
    payload, i = 0, start
    while True:                                      # the payload length varint (at most 2 bytes here)
        payload = (payload << 7) | (page[i] & 0x7F)
        i += 1
        if page[i - 1] < 0x80:
            break
    while page[i] >= 0x80:                           # the rowid varint
        i += 1
    return page[start:i + 1 + payload]


def test_cells_after_runs_of_zero_bytes_are_found(tmp_path):
    """The byte scan jumps over runs of zero bytes (no cell and no freeblock head starts in
    four of them): a freed cell whose freeblock head begins with three zero bytes right after
    such a run, and a whole cell after another, are still found on a page with no header."""
    freed_row = (100000, 1, "+34600999000", None, T0, 0, 0, 1, -1, 1, 0, None, "freed after zeros " + "f" * 120,
                 None, 0, 0, 1)
    whole_row = (100001, 2, "+34600999001", None, T0 + 1000, 0, 0, 1, -1, 2, 0, None, "whole after zeros " + "w" * 90,
                 None, 0, 0, 1)
    freed, whole = _cell(tmp_path, freed_row), _cell(tmp_path, whole_row)
    assert 8 <= len(freed) < 256 and freed[4] != 0
    db_path = tmp_path / "mmssms.db"
    db = _make(db_path, _rows(200))
    _delete(db, list(range(50, 150)))
    db.close()
    data = bytearray(db_path.read_bytes())
    trunk = int.from_bytes(data[32:36], "big")
    base_t = (trunk - 1) * 1024
    assert int.from_bytes(data[base_t + 4:base_t + 8], "big") >= 1
    leaf = int.from_bytes(data[base_t + 8:base_t + 12], "big")      # a freelist leaf page
    page = bytearray(1024)                                          # no b-tree header: scanned byte by byte
    page[300:300 + len(freed)] = b"\0\0\0" + bytes([len(freed)]) + freed[4:]
    page[700:700 + len(whole)] = whole
    data[(leaf - 1) * 1024:leaf * 1024] = page
    db_path.write_bytes(bytes(data))
    found = [r for r in recover(str(db_path), [SMS]).rows if r.page == leaf]
    bodies = {(r.rowid, r.values[12], r.headerless) for r in found}
    assert (None, freed_row[12], True) in bodies
    # the whole cell is found too; its three zero bytes before it read as a freeblock head
    # (next 0, size: the cell's first byte), so it comes as a freed cell without its rowid, as it
    # did when every byte was tried
    assert {(rowid, body) for rowid, body, _ in bodies} >= {(None, whole_row[12])} or \
        (100001, whole_row[12], True) in bodies
