"""Red team: today's fast paths over phone databases, attacked with hostile rows and blobs.

1. Android SMS batches write each record's JSON text piece by piece (``_sms_batch``): the
   promise is the bytes, timestamp rows, warnings and order of the one-by-one path for any
   value a SQLite row can hold (here: floats equal to the integers the app writes, 64-bit
   extremes, every storage class in columns declared without a type).
2. Deleted-row recovery follows live rows' overflow chains only when some page could be one
   (``_any_lost``): a long SMS whose text holds the bytes of an SMS cell must never come back
   as a deleted message: no log, a log checkpointed but not reset, a log restarted after a
   checkpoint, freelist pages beside it.
3. Telegram Android walks TL_message blobs: hostile blobs (lengths past the end, 2**31-item
   vectors, repeated constructors, every truncation, random bytes, 1 MiB of the date's bytes,
   bad UTF-8) and hostile rows (a date that is text or infinity) must raise nothing, take
   linear time, decode no field the walk did not land on, and leave the rest of the database
   read; blobs that do not walk are counted by one database warning, not one per record.
"""
from __future__ import annotations

import dataclasses
import shutil
import sqlite3
import struct
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from appdb import build as app_build, run as app_run, stored
from forensic.extractors.base import ExtractorInput, Sibling
from forensic.extractors.chat.android_sms import AndroidSmsExtractor
from forensic.extractors.chat.sqlite_chat import ROW_ERRORS
from forensic.extractors.chat.telegram_android import MAX_BLOB, TelegramAndroidExtractor
from forensic.extractors.chat.telegram_tl import MESSAGE_LAYOUTS, decode_full, media_attachment, walk_message
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from tests.extractors.chat.test_phone_dbs import ANDROID_SCHEMA, android_rows, build
from tests.extractors.chat.test_record_batches import assert_batch_is
from tests.extractors.chat.test_telegram_android import (GROUP_PEER, MEDIA_ROWS, ROWS, SCHEMA as TG_SCHEMA, P1,
                                                         message, peer_user, tls, vec)

SMS_PATH = "/data/data/com.android.providers.telephony/databases/mmssms.db"
TG_PATH = "/data/data/org.telegram.messenger/files/cache4.db"


# -- 1. Android SMS: the written JSON text against the one-by-one records --------------------------

# the values a row can hold where the app writes integers: the integers, the same numbers as
# REAL (a column without a type keeps them so), 64-bit extremes, text, blobs, NULL
NUMBER = st.one_of(st.none(), st.integers(-3, 7), st.sampled_from([1.0, 2.0, 0.0, -0.0, 1.5, 2 ** 63 - 1, -2 ** 63]),
                   st.floats(allow_nan=False), st.text(max_size=3), st.binary(max_size=3))
MS = st.one_of(st.none(), st.sampled_from([0, 1, -1, 1615755960123, 253402300799999, 253402300800000,
                                           -62135596800000, -62135596800001, 2 ** 41, 2 ** 41 - 1, -2 ** 41,
                                           2 ** 63 - 1, -2 ** 63, 1615755960123.0]),
               st.integers(-10 ** 15, 10 ** 15), NUMBER)
TEXT = st.one_of(st.none(), st.text(max_size=20), st.sampled_from(["", "\u2028", '"\\', "\x00", "😀"]), NUMBER)
SMS_ROW = st.tuples(st.integers(1, 2 ** 63 - 1), st.one_of(st.sampled_from([1, 1.0, 2, None, "1"]), NUMBER),
                    TEXT, MS, MS, NUMBER, NUMBER, NUMBER, TEXT, TEXT, TEXT, NUMBER, NUMBER, NUMBER)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SMS_ROW, min_size=1, max_size=8))
def test_sms_batch_text_is_the_one_by_one_records_with_shared_state(got):
    """As the triage reads them: one context for the whole database (its ``seen`` shared by
    every row, so a thread met first as 1.0 and then as 1 is one cache entry either way)."""
    ex = AndroidSmsExtractor()
    item = ExtractorInput(path=SMS_PATH, name="mmssms.db", mime="", size=0, data=None, batches=True)
    threads = {1: ["+34600111222"], 2: ["+34600111222", 'Ünï "q"'], 3: []}
    problems: list[str] = []
    batch = ex._sms_batch(got, item, {"threads": threads, "seen": {}, "heads": {}}, problems)
    seen: dict = {}
    expected, why = [], []
    for r in got:
        try:
            expected.append(ex._sms(r, item, threads, seen))
        except ROW_ERRORS as exc:
            why.append(f"table sms: row {r[0]} not readable as a message ({exc})")
    assert problems == why
    assert_batch_is(batch, expected)


# sms with its columns declared without a type: REAL, TEXT and BLOB values stay as written
UNTYPED_SMS = ANDROID_SCHEMA.replace(
    """CREATE TABLE sms (_id INTEGER PRIMARY KEY, thread_id INTEGER, address TEXT, person INTEGER, date INTEGER,
  date_sent INTEGER DEFAULT 0, protocol INTEGER, read INTEGER DEFAULT 0, status INTEGER DEFAULT -1, type INTEGER,
  reply_path_present INTEGER, subject TEXT, body TEXT, service_center TEXT, locked INTEGER DEFAULT 0,
  error_code INTEGER DEFAULT 0, seen INTEGER DEFAULT 0);""",
    "CREATE TABLE sms (_id INTEGER PRIMARY KEY, thread_id, address, person, date, date_sent, protocol, read, "
    "status, type, reply_path_present, subject, body, service_center, locked, error_code, seen);")


def test_sms_rows_of_every_storage_class_store_the_same_either_way(tmp_path):
    assert UNTYPED_SMS != ANDROID_SCHEMA
    rows = android_rows(3)
    odd = [1.0, 2.0, 1, 0.0, 1.5, 2 ** 63 - 1, -2 ** 63, "2", b"\x02", None, 1e308, -0.0]
    for i, v in enumerate(odd * 3, start=10):
        w = odd[(i * 7) % len(odd)]
        rows["sms"].append((i, v if i % 3 else 1, "+34600111222" if i % 4 else w, None,
                            1615755960123 if i % 5 else w, w if i % 2 else 0, 0, v, -1, w if i % 3 else 2, 0,
                            None if i % 2 else "Re", f"body {i} \"q\" \\ \u2028" if i % 6 else v, None, 0, 0, v))
    data = build(tmp_path / "mmssms.db", UNTYPED_SMS, rows)
    item = ExtractorInput(path=SMS_PATH, name="mmssms.db", mime="application/vnd.sqlite3", size=len(data), data=data)
    one = stored(AndroidSmsExtractor(), item)
    batched = stored(AndroidSmsExtractor(), dataclasses.replace(item, batches=True))
    assert batched == one
    texts = [r[3] for r in one if len(r) > 2]          # each record's stored fields JSON
    assert len(texts) >= 30
    # a float equal to the app's integer is read as the app's value: box 2.0 is "sent"
    assert any('"box": "sent"' in t and '"row_id": 1' in t for t in texts)


# -- 2. recovery: an SMS cell inside a live long text --------------------------------------------

FAKE = "I will kill him tonight"
# its date as a 6-byte integer whose bytes are all ASCII: the cell is then text SQLite keeps as is
FAKE_MS = 0x017474747474


def forged_sms_cell(tmp_path: Path) -> str:
    """A table-leaf cell of ``sms`` (rowid 99) as SQLite itself writes it, all of its bytes
    below 0x80: a string that, stored as text, holds the cell byte for byte."""
    scratch = tmp_path / "scratch.db"
    build(scratch, ANDROID_SCHEMA, {"sms": [(99, 1, "+34699999999", None, FAKE_MS, 0, 0, 1, 0, 1, 0, None, FAKE, None,
                                              0, 0, 1)]})
    raw = scratch.read_bytes()
    db = sqlite3.connect(scratch)
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'sms'").fetchone()[0]
    db.close()
    page = raw[(root - 1) * 1024:root * 1024]
    assert page[0] == 0x0D and int.from_bytes(page[3:5], "big") == 1
    start = int.from_bytes(page[8:10], "big")
    payload = page[start]
    cell = page[start:start + 2 + payload]
    assert max(cell) < 0x80 and FAKE.encode() in cell
    return cell.decode("ascii")


def _long_sms_rows(cell: str, extra: int = 0) -> dict:
    rows = android_rows(3 + extra)
    # a long text (a pasted picture's base64, a forwarded chain) that spills to overflow pages
    rows["sms"].append((500, 1, "+34600111222", None, 1615756999000, 0, 0, 1, -1, 1, 0, None,
                        "x" * 1500 + cell + "y" * 1500, None, 0, 0, 1))
    return rows


def _sms_records(db: Path, wal: Path | None = None) -> tuple[list[dict], list[str]]:
    data = db.read_bytes()
    siblings = None
    if wal is not None:
        siblings = {"-wal": Sibling(wal.name, f"phone › {wal.name}", wal.stat().st_size, lambda: open(wal, "rb"))}
    item = ExtractorInput(SMS_PATH, "mmssms.db", "application/vnd.sqlite3", len(data), data, siblings=siblings)
    out = list(AndroidSmsExtractor().extract(item))
    return ([r.fields for r in out if isinstance(r, ArtifactRecord)],
            [w.message for w in out if isinstance(w, ExtractionWarning)])


def _no_fake(recs: list[dict]) -> None:
    assert [r for r in recs if r["body"] == FAKE] == []
    [long] = [r for r in recs if r["source"]["row_id"] == 500 and "recovered" not in r]
    assert len(long["body"]) > 3000                         # the live text itself is read whole


def test_a_cell_in_a_live_long_sms_is_no_deleted_sms(tmp_path):
    cell = forged_sms_cell(tmp_path)
    db = tmp_path / "plain" / "mmssms.db"
    db.parent.mkdir()
    build(db, ANDROID_SCHEMA, _long_sms_rows(cell))
    recs, _ = _sms_records(db)
    _no_fake(recs)


def test_a_cell_in_a_live_long_sms_beside_freelist_pages(tmp_path):
    cell = forged_sms_cell(tmp_path)
    db = tmp_path / "free" / "mmssms.db"
    db.parent.mkdir()
    build(db, ANDROID_SCHEMA, _long_sms_rows(cell, extra=120))
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA secure_delete=OFF")
    conn.execute("DELETE FROM sms WHERE _id BETWEEN 20 AND 110")          # whole leaves to the freelist
    conn.commit()
    assert conn.execute("PRAGMA freelist_count").fetchone()[0] > 3
    conn.close()
    recs, _ = _sms_records(db)
    _no_fake(recs)
    assert any(r.get("recovered") == "deleted" and r["body"].startswith("filler message number 0050") for r in recs)


def _wal_db(folder: Path, cell: str, then: str) -> tuple[Path, Path]:
    """A copy of mmssms.db and its -wal as a phone leaves them: the long SMS written in WAL
    mode, then ``then`` (checkpoint: a log checkpointed and not reset; restart: a log
    written over from its start after a checkpoint; none)."""
    folder.mkdir()
    live = folder / "live.db"
    conn = sqlite3.connect(live)
    conn.execute("PRAGMA page_size=1024")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("PRAGMA secure_delete=OFF")
    conn.executescript(ANDROID_SCHEMA)
    for table, values in _long_sms_rows(cell, extra=40).items():
        conn.executemany(f"INSERT INTO {table} VALUES ({','.join('?' * len(values[0]))})", values)
    conn.commit()
    conn.execute("DELETE FROM sms WHERE _id = 7")                         # one really deleted
    conn.commit()
    if then in ("checkpoint", "restart"):
        assert conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[0] == 0
    if then == "restart":
        conn.execute("UPDATE sms SET read = 1 WHERE _id = 2")
        conn.commit()
    db, wal = folder / "mmssms.db", folder / "mmssms.db-wal"
    shutil.copy(live, db)
    shutil.copy(str(live) + "-wal", wal)
    conn.close()
    return db, wal


def test_a_cell_in_a_live_long_sms_with_its_log(tmp_path):
    cell = forged_sms_cell(tmp_path)
    for then in ("none", "checkpoint", "restart"):
        db, wal = _wal_db(tmp_path / then, cell, then)
        recs, warns = _sms_records(db, wal)
        _no_fake(recs)
        # a row really deleted is still found (in the file, the log, or a superseded page)
        assert any(r.get("recovered") == "deleted" and r["source"]["row_id"] in (7, None)
                   and r["body"].startswith("filler message number 0007") for r in recs), (then, warns)


def test_deleted_rows_are_recovered_when_no_page_is_lost(tmp_path):
    """No overflow page, no lost page: chains are not followed (``_any_lost``), and a row
    deleted in a live leaf and on a free page is still found."""
    db = tmp_path / "mmssms.db"
    build(db, ANDROID_SCHEMA, android_rows(200))
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA secure_delete=OFF")
    conn.execute("DELETE FROM sms WHERE _id = 5 OR _id BETWEEN 60 AND 140")
    conn.commit()
    conn.close()
    recs, _ = _sms_records(db)
    bodies = {r["body"][:26] for r in recs if r.get("recovered") == "deleted"}
    assert "filler message number 0005" in bodies                 # freed in a live leaf
    assert len(bodies) > 40                                         # and on the freed pages


# -- 3. Telegram Android: hostile blobs and rows ----------------------------------------------------

L206 = 0x9815CEC8
DATE = 1750000000


def _tg_db(tmp_path: Path, rows: list[tuple]) -> bytes:
    """cache4.db with ``ROWS``' users and chats and the given (mid, uid, date, blob) messages,
    then the usual ones (which must still be read)."""
    data = dict(ROWS)
    data["messages_v2"] = [(mid, uid, 1, 0, date, blob, 0, 0, 0, None, 0, 0, 0, None, 0, 0, 0, None, 0, 0)
                           for mid, uid, date, blob in rows] + ROWS["messages_v2"]
    return app_build(tmp_path / "cache4.db", TG_SCHEMA, data)


def _tg(tmp_path: Path, rows: list[tuple]) -> tuple[dict, list[str]]:
    recs, warns = app_run(TelegramAndroidExtractor(), _tg_db(tmp_path, rows), TG_PATH)
    by_id = {r.fields["message_id"]: r for r in recs}
    assert by_id[10].fields["body"] == "when?" and by_id[12].fields["body"] == "Привет " * 50   # the rest read
    return by_id, warns


def test_a_date_that_is_not_a_number_costs_its_row_nothing_else(tmp_path):
    """A date column holding text, infinity or a blob: the row is kept (id, dialog), its
    time reported unreadable, and the rest of the database read (it raised ValueError out
    of the extractor: the whole cache4.db was lost)."""
    blob = message(L206, 40, DATE, "hi", sender=peer_user(777), peer=P1, flags2=True)
    by_id, warns = _tg(tmp_path, [(40, 777, "soon", blob), (41, 777, float("inf"), blob), (42, 777, b"\x01", blob),
                                  (43, 777, "1750000000", blob), (44, 777, -1.5e300, blob)])
    assert {40, 41, 42, 43, 44} <= set(by_id)
    assert by_id[40].fields["sent_at"] is None and by_id[40].fields["reply_to"] is None
    assert by_id[40].warnings


def _mutations(blob: bytes) -> list[bytes]:
    out = [blob[:k] for k in range(len(blob) + 1)]                  # cut short at every byte
    for k in range(0, len(blob), 3):                                # a byte changed
        out.append(blob[:k] + bytes([blob[k] ^ 0xFF]) + blob[k + 1:])
    return out


def _before_date(walk: dict) -> tuple:
    return walk["from"], walk["fwd"], walk["reply_to"], walk["reply_peer"], walk["reply_story"], walk["layers"]


def test_every_truncation_and_flipped_byte_of_every_test_blob(tmp_path):
    """Nothing raises; a blob cut short walks only when the cut is past its text and then says
    what the whole blob says of everything before the date (no guessed field); a walk
    always lands on the row's own date and id."""
    for mid, _uid, date, full in MEDIA_ROWS:
        whole = walk_message(full, mid, date)
        for blob in _mutations(full):
            got, walk = decode_full(blob, mid, date)
            assert set(got) == {"constructor", "text", "from", "media", "location"}
            if walk is None:
                continue
            assert walk_message(blob, mid, date + 1) is None and walk_message(blob, mid + 1, date) is None
            if full.startswith(blob) and whole is not None:
                assert _before_date(walk) == _before_date(whole) and walk["text"] == whole["text"]
            if walk["media_at"] is not None:
                media_attachment(blob, walk["media_at"])


@settings(max_examples=600, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(sorted(MESSAGE_LAYOUTS)), st.integers(0, 0xFFFFFFFF),
       st.booleans())
def test_random_bytes_after_a_known_constructor(tail, ctor, flags, with_date):
    """Random fields after a known constructor, its id and (sometimes) the date's bytes
    somewhere: no exception; a walk only where the date sits right after the fields."""
    head = struct.pack("<IIi", ctor, flags, 77)
    blob = head + tail + (struct.pack("<I", DATE) + tls("t") if with_date else b"")
    got, walk = decode_full(blob, 77, DATE)
    if walk is not None:
        assert struct.pack("<I", DATE) in blob[12:]
        assert walk_message(blob, 77, DATE + 1) is None
        if walk["media_at"] is not None:
            media_attachment(blob, walk["media_at"])
    decode_full(blob, None, None)
    decode_full(blob, 77, "not a date")


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=200), st.integers(0, 200))
def test_random_media(blob, at):
    media_attachment(blob, at)


def _timed(blob: bytes, mid: int, date) -> float:
    start = time.perf_counter()
    decode_full(blob, mid, date)
    return time.perf_counter() - start


def _mib_of(unit: bytes, head: bytes) -> bytes:
    body = unit * ((MAX_BLOB - len(head)) // len(unit) + 1)
    return head + body[:MAX_BLOB - len(head)]


def test_one_mib_hostile_blobs_take_linear_time():
    """1 MiB blobs (the largest decoded): the row's date's 4 bytes over and over, each time
    followed by a length that runs into bad UTF-8 (a million places to try the text after
    the date: 1.2 s a blob, twice per row, before the search was bounded), vectors claiming
    2**31 items, a string length past the end, the same constructor repeated."""
    head = struct.pack("<IIi", L206, 1 << 9 | 1 << 3, 5) + struct.pack("<I", 0)
    word = struct.pack("<I", 0xFDFDFDFD)
    cases = {
        "date bytes everywhere": (_mib_of(b"\xfd", head), 0xFDFDFDFD),
        "date then a long run of bad UTF-8": (_mib_of(b"\x7f" * 100 + b"\xff", head), 0x7F7F7F7F),
        "date with 3-byte lengths": (_mib_of(word + b"\xfe\xff\xff\x00", head), 0xFDFDFDFD),
        "2**31-item vectors": (_mib_of(struct.pack("<Ii", 0x1CB5C415, 2 ** 31 - 1), head), DATE),
        "negative vectors": (_mib_of(struct.pack("<Ii", 0x1CB5C415, -1), head), DATE),
        "a reply header repeated": (_mib_of(struct.pack("<I", 0x6917560B) + struct.pack("<I", 0xFFFFFFFF), head),
                                    DATE),
        "a string length past the end": (head + P1 + b"\xfe\xff\xff\xff" + bytes(MAX_BLOB - len(head) - 16), DATE),
    }
    for name, (blob, date) in cases.items():
        assert len(blob) <= MAX_BLOB
        spent = _timed(blob, 5, date)
        assert spent < 0.25, (name, spent)
    # and linear: a quarter of the blob costs about a quarter (no quadratic term)
    blob, date = cases["date bytes everywhere"]
    assert _timed(blob[:MAX_BLOB // 4], 5, date) < 0.1


def test_a_real_photo_with_2_31_sizes_is_no_attachment_detail():
    """A document whose thumbs vector claims 2**31-1 items: the walk still reaches the text
    (media follows it), the media is reported with a note, never an exception."""
    media = struct.pack("<II", 0x52D8CCD9, 1) + struct.pack("<IIqq", 0x8FD4C4D8, 1, 1, 2) + tls("ref") + \
        struct.pack("<i", DATE) + tls("image/jpeg") + struct.pack("<q", 5) + struct.pack("<Ii", 0x1CB5C415, 2 ** 31 - 1)
    blob = message(L206, 50, DATE, "pic", sender=peer_user(777), peer=P1, flags2=True, media=media)
    got, walk = decode_full(blob, 50, DATE)
    assert walk is not None and got["text"] == "pic"
    att = media_attachment(blob, walk["media_at"])
    assert att["kind"] == "document" and att["note"].startswith("media details not decoded")


def test_hostile_blobs_in_a_database(tmp_path):
    """The blobs above as rows of cache4.db: each row kept, nothing raised, the rest read, in
    well under the time a hang would take."""
    big = _mib_of(b"\xfd", struct.pack("<IIi", L206, 0, 60))
    too_big = big + b"\x00"
    bad_utf8 = message(L206, 62, DATE, "x", sender=peer_user(777), peer=P1, flags2=True).replace(b"\x01x", b"\x01\xff")
    rows = [(60, 777, 0xFDFDFDFD - 2 ** 32, big), (61, 777, DATE, too_big), (62, 777, DATE, bad_utf8),
            (63, 777, DATE, b""), (64, 777, DATE, "text, not a blob"), (65, 777, DATE, struct.pack("<I", L206))]
    start = time.perf_counter()
    by_id, warns = _tg(tmp_path, rows)
    assert time.perf_counter() - start < 10
    assert {60, 61, 62, 63, 64, 65} <= set(by_id)
    assert by_id[62].fields["body"] == "" and "tl_layers" not in by_id[62].fields       # nothing guessed
    assert all("reply_to" in r.fields and r.fields["reply_to"] is None for k, r in by_id.items() if k >= 60)


# a layer 136-169 message (64-bit peers, no flags2)
L136 = 0x38116EE0


def test_blobs_that_do_not_walk_make_one_warning_not_one_each(tmp_path):
    """A real cache4.db: service messages and secret-chat messages (constructors the walk does
    not know: no warning about the walk), and a whole kind of message of a known layout that
    does not walk (here a reply header of a layer this reader does not know, as a newer app
    writes it for every reply): one database warning counts them, no record carries one."""
    rows = []
    for i in range(100, 140):                      # 40 replies whose header constructor is unknown
        reply = struct.pack("<IIi", 0x12345678, 1 << 4, i - 1)
        rows.append((i, 777, DATE + i, message(L136, i, DATE + i, f"reply {i}", sender=peer_user(777), peer=P1,
                                                reply=reply)))
    for i in range(140, 160):                      # messageService (chat created, user joined ...)
        rows.append((i, -4242, DATE + i, struct.pack("<IIi", 0x2B085862, 0, i) + GROUP_PEER + b"\x00" * 12))
    for i in range(160, 180):                      # TL_message_secret (a secret chat), the client's own
        rows.append((i, 2 ** 32 * 7, DATE + i, struct.pack("<IIi", 0x555555FA, 0, i) + peer_user(777)
                     + struct.pack("<i", DATE + i) + tls(f"secret {i}")))
    for i in range(180, 200):                      # ordinary messages that walk
        rows.append((i, 777, DATE + i, message(L136, i, DATE + i, f"plain {i}", sender=peer_user(777), peer=P1)))
    by_id, warns = _tg(tmp_path, rows)
    assert by_id[120].fields["body"] == "reply 120" and by_id[120].fields["reply_to"] is None   # nothing guessed
    assert by_id[190].fields["tl_layers"] == "136-169"
    noisy = [k for k, r in by_id.items() if any("walk" in w for w in r.warnings)]
    assert noisy == []
    [walk_warning] = [w for w in warns if "did not walk" in w]
    assert walk_warning.startswith("Telegram: 40 message blob(s) in messages_v2.data of a known TL_message layout")
    assert "136-169 ×40" in walk_warning


def test_vectors_claiming_more_than_the_blob_holds():
    """A forward-free reply header quoting entities: a vector of 2**31-1, of -1, of 10_001
    items; then the date. None walks (the count is out of range), nothing raises."""
    for count in (2 ** 31 - 1, -1, 10_001, 3):
        reply = struct.pack("<IIi", 0x6917560B, 1 << 4 | 1 << 7, 9) + struct.pack("<Ii", 0x1CB5C415, count)
        blob = message(L206, 70, DATE, "q", sender=peer_user(777), peer=P1, flags2=True, reply=reply)
        assert walk_message(blob, 70, DATE) is None
    # a vector that does hold its items walks
    ents = vec([struct.pack("<Iii", 0xBB92BA95, 0, 1)] * 3)
    reply = struct.pack("<IIi", 0x6917560B, 1 << 4 | 1 << 7, 9) + ents
    blob = message(L206, 70, DATE, "q", sender=peer_user(777), peer=P1, flags2=True, reply=reply)
    assert walk_message(blob, 70, DATE)["reply_to"] == 9


def test_a_mib_of_nested_vectors_that_do_walk():
    """The most items 1 MiB can hold inside a walk: a reply header quoting a message whose
    media has 26 alt documents of 10,000 attributes each (260,000 items). It walks (each item
    is read once, never twice) in about 0.12 s."""
    def doc(n: int) -> bytes:
        return (struct.pack("<IIqq", 0x8FD4C4D8, 0, 1, 2) + tls("r") + struct.pack("<i", 1) + tls("m")
                + struct.pack("<q", 1) + struct.pack("<i", 2) + vec([struct.pack("<I", 0x9801D2F7)] * n))
    d = doc(10_000)
    count = (MAX_BLOB - 400) // len(d)
    media = struct.pack("<II", 0x52D8CCD9, 1 | 1 << 5) + d + vec([d] * (count - 1))     # alt_documents
    reply = struct.pack("<IIi", 0x6917560B, 1 << 4 | 1 << 8, 9) + media                  # reply_media
    blob = message(L206, 70, DATE, "q", sender=peer_user(777), peer=P1, flags2=True, reply=reply)
    assert len(blob) <= MAX_BLOB and count >= 20
    start = time.perf_counter()
    got, walk = decode_full(blob, 70, DATE)
    assert time.perf_counter() - start < 1.5
    assert walk is not None and walk["reply_to"] == 9 and got["text"] == "q"
