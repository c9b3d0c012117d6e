"""Phone message databases read a batch at a time (``ExtractorInput.batches``, what the triage
asks for) store exactly what the one-record-at-a-time path stores: the same fields JSON, byte
for byte, the same ``record_sha256``, timestamp rows, warnings and order, on a database of a
few thousand varied messages (NULLs, text that is not UTF-8, values of types the app never
writes, times out of range, deleted rows recovered from free space, MMS beside SMS)."""
from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from conftest import BACKEND
from hypothesis import given, settings, strategies as st
from forensic import pipeline
from forensic.case import Case
from forensic.extractors.base import ExtractorInput
from forensic.extractors.chat.android_sms import AndroidSmsExtractor
from forensic.extractors.chat.sqlite_chat import HEADS_BUDGET as _HEADS_BUDGET
from forensic.extractors.chat.ios_sms import IosSmsExtractor
from forensic.extractors.chat.common import tables_of
from forensic.extractors.chat.sqlite_chat import ROW_ERRORS, row_batches
from forensic.extractors.chat.whatsapp_db import WhatsAppDbExtractor
from forensic.intake import add_evidence
from forensic.pipeline import TriageOptions
from forensic.store import triage as store_triage
from forensic.store.records import fields_json, json_string

from tests.extractors.chat.test_phone_dbs import (ANDROID_SCHEMA, IOS_SCHEMA, WA_CURRENT, android_rows, build,
                                                   ios_rows, wa_current_rows)

SMS_PATH = "/data/data/com.android.providers.telephony/databases/mmssms.db"

ADDRESSES = ["+34600111222", "+447700900000", None, "", "Ünïcødé ☎", b"\x00\xffblob", 12345, "+31 6 1234 5678"]
TIMES = [1615755960123, 1615756020000, 1615756080999, 0, None, -1000, 10 ** 16, 2 ** 41 + 5, 253402300799999,
         "1615756080000", "yesterday", 1615756080000.5, b"123", 1]
BOXES = [1, 1, 1, 2, 2, 3, 4, 5, 6, 0, 99, None, "2"]
BODIES = ["Привет, где ты?", "ok", "", None, "emoji 😀 and \u200e mark", "a\x00b", 42, b"bytes", "x" * 300,
          "quote \" and \\ backslash", "tab\tnewline\n"]


def varied_sms(rng: random.Random, n: int) -> list[tuple]:
    out = []
    for i in range(1, n + 1):
        out.append((i, rng.choice([1, 2, 3, 4, 99, None, "7", 2.5]), rng.choice(ADDRESSES), None,
                    rng.choice(TIMES), rng.choice(TIMES + [0, 0, 0]), 0, rng.choice([0, 1, None, 2, "yes"]), -1,
                    rng.choice(BOXES), 0, rng.choice([None, "Re: 😀", ""]), rng.choice(BODIES),
                    rng.choice([None, "+34600000000"]), 0, 0, rng.choice([0, 1])))
    return out


def varied_database(path: Path, n: int = 3000) -> bytes:
    rng = random.Random(15)
    rows = android_rows()
    rows["sms"] = varied_sms(rng, n)
    rows["threads"] = [(1, 0, 0, "1", None, 0, 1, 0, 0, 0), (2, 0, 0, "2", None, 0, 1, 0, 0, 0),
                       (3, 0, 0, "1 2", None, 0, 1, 0, 0, 1), (4, 0, 0, "x 9", None, 0, 1, 0, 0, 0)]
    rows["pdu"] = [(i, rng.choice([1, 3, 99]), rng.choice([1615757000, None, "soon", 0]), 0, rng.choice([1, 2]), 0,
                    f"mid{i}", rng.choice(["Photo", None]), 106, "application/vnd.wap.multipart.related", 132, 0)
                   for i in range(1, 201)]
    build(path, ANDROID_SCHEMA, rows, page_size=4096)
    db = sqlite3.connect(path)
    db.execute("PRAGMA secure_delete=OFF")
    # text that is not valid UTF-8 (read with U+FFFD from there on), and deleted rows left in free space
    db.execute("UPDATE sms SET body = CAST(X'C328E282' AS TEXT) WHERE _id % 251 = 0")
    db.execute("DELETE FROM sms WHERE _id % 37 = 0")
    db.execute("DELETE FROM pdu WHERE _id % 50 = 0")
    db.commit()
    db.close()
    return path.read_bytes()


def stored(ex, data: bytes, path: str, batches: bool) -> list[tuple]:
    """What the triage stores of one file: each record's stored row (StoredRecord), each
    warning, in order; batches opened into their records."""
    item = ExtractorInput(path=path, name=path.rsplit("/", 1)[-1], mime="application/vnd.sqlite3", size=len(data),
                          data=data, batches=batches)
    out: list[tuple] = []
    for stage, res in pipeline._extract([ex], item):
        if stage is not None:
            out.append(("warning", stage, res))
        elif isinstance(res, store_triage.StoredBatch):
            out.extend(("record", *r) for r in res)
        else:
            out.append(("record", *res))
    return out


def assert_batch_is(batch, expected: list) -> None:
    """``batch`` stores what the records ``expected`` (made one by one) store: the fields JSON
    byte for byte (fields written as text taken as they are), the time rows, flags, warnings
    and refs, in order."""
    assert [f if isinstance(f, str) else fields_json(f) for f in batch.fields] == \
        [fields_json(rec.fields) for rec in expected]
    assert batch.times == [tuple(ts.row() for ts in rec.timestamps) for rec in expected]
    assert batch.corrupted == [rec.corrupted for rec in expected]
    assert batch.warnings == [rec.warnings for rec in expected]
    assert batch.source_refs == [rec.source_ref for rec in expected]


def kinds(ex, data: bytes, path: str) -> dict[str, int]:
    item = ExtractorInput(path=path, name=path.rsplit("/", 1)[-1], mime="application/vnd.sqlite3", size=len(data),
                          data=data, batches=True)
    counts: dict[str, int] = {}
    for res in ex.extract(item):
        counts[type(res).__name__] = counts.get(type(res).__name__, 0) + 1
    return counts


def test_sms_batches_store_what_one_by_one_stores(tmp_path):
    data = varied_database(tmp_path / "mmssms.db")
    one = stored(AndroidSmsExtractor(), data, SMS_PATH, batches=False)
    batched = stored(AndroidSmsExtractor(), data, SMS_PATH, batches=True)
    assert batched == one
    records = [r for r in one if r[0] == "record"]
    warnings = [r[2] for r in one if r[0] == "warning"]
    # the database holds what the batch path must get right, and what it leaves to the per-row path
    assert len(records) > 2900
    fields = [r[4] for r in records]
    assert sum('"recovered": "deleted"' in f for f in fields) >= 30
    assert sum('"kind": "mms"' in f for f in fields) >= 150
    assert any('"sent_at": null' in f for f in fields)                 # no readable time: corrupted
    assert any(r[5] == 1 for r in records) and any(r[5] == 0 for r in records)
    assert any("is not a Unix time in milliseconds" in r[6] for r in records)     # a record's own warning
    assert any("\ufffd" in f for f in fields)
    assert any("not valid UTF-8" in w for w in warnings)
    assert any("not readable as a message" in w for w in warnings)
    assert any(f.count('"time_basis": "date_sent"') for f in fields)
    # and the batch path made batches
    assert kinds(AndroidSmsExtractor(), data, SMS_PATH)["RecordBatch"] >= 2


def test_a_bad_row_in_a_batch_costs_that_row_only(tmp_path):
    rows = android_rows(50)
    rows["sms"][20] = (21, 99, b"\x00blob", None, 1615756080000, 0, 0, 0, -1, 1, 0, None, "lost", None, 0, 0, 0)
    data = build(tmp_path / "mmssms.db", ANDROID_SCHEMA, rows)
    batched = stored(AndroidSmsExtractor(), data, SMS_PATH, batches=True)
    assert batched == stored(AndroidSmsExtractor(), data, SMS_PATH, batches=False)
    refs = [r[3] for r in batched if r[0] == "record"]
    assert "sms:21" not in refs and "sms:20" in refs and "sms:22" in refs and len(refs) == 49 + 1   # + the MMS
    assert [w[2] for w in batched if w[0] == "warning"] == [
        "table sms: row 21 not readable as a message (sequence item 0: expected str instance, bytes found)"]


def test_other_phone_databases_batch_the_same(tmp_path):
    for ex, script, rows, path in ((IosSmsExtractor(), IOS_SCHEMA, ios_rows(), "/private/var/mobile/sms.db"),
                                   (WhatsAppDbExtractor(), WA_CURRENT, wa_current_rows(),
                                    "/data/data/com.whatsapp/databases/msgstore.db")):
        data = build(tmp_path / path.rsplit("/", 1)[-1], script, rows)
        batched = stored(ex, data, path, batches=True)
        assert batched == stored(ex, data, path, batches=False)
        assert sum(r[0] == "record" for r in batched) >= 3
        assert kinds(ex, data, path).get("RecordBatch")


def test_texts_from_many_addresses_in_a_large_thread_do_not_fill_memory(tmp_path):
    """A thread's parties (``threads.recipient_ids``) are written into the head of each of its
    texts, and heads are kept per thread, address and direction: 1,200 texts in a thread of
    1,000 parties, each from an address of its own (a hostile file), made 1,200 heads of
    ~30,000 characters each (the party list twice: participants and title), all kept. The
    heads kept stay within a budget, the thread's conversation is worked out once (not once
    per address), and the records are the same either way."""
    parties = 1000
    rows = android_rows(0)
    rows["canonical_addresses"] = [(i, f"+3460{i:07d}") for i in range(1, parties + 1)]
    rows["threads"] = [(1, 0, 0, " ".join(str(i) for i in range(1, parties + 1)), None, 0, 1, 0, 0, 0)]
    rows["sms"] = [(i, 1, f"+1555{i:07d}", None, 1615755960000 + i, 0, 0, 1, -1, 1, 0, None, f"text {i}", None,
                    0, 0, 1) for i in range(1, 1201)]
    rows["pdu"] = rows["part"] = rows["addr"] = []
    path = tmp_path / "mmssms.db"
    data = build(path, ANDROID_SCHEMA, rows, page_size=4096)
    ex = AndroidSmsExtractor()
    item = ExtractorInput(path=SMS_PATH, name="mmssms.db", mime="", size=len(data), data=data, batches=True)
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row                 # as the reader opens it
    tables, problem = tables_of(conn)
    problems: list[str] = []
    ctx = ex.context(conn, tables, item, problems)
    kept, written = 0, 0
    for got in row_batches(conn, "sms", tables["sms"], ex.MESSAGE_TABLES["sms"], problems, tuples=True):
        batch = ex._sms_batch(got, item, ctx, problems)
        written += sum(isinstance(f, str) for f in batch.fields)
        kept = max(kept, sum(map(len, ctx["heads"].values())))
    conn.close()
    assert problem is None and problems == [] and written == 1200
    assert kept <= _HEADS_BUDGET < 1200 * 30_000
    assert len(ctx["seen"]) == 1
    batched = stored(ex, data, SMS_PATH, batches=True)
    assert batched == stored(ex, data, SMS_PATH, batches=False)
    assert sum(r[0] == "record" for r in batched) == 1200


def _triage(tmp: Path, name: str, src: Path) -> tuple[list, list, list]:
    # (on a PostgreSQL run both cases are made in the test's database: a schema each)
    case = Case.init(tmp / name, "C1", "Examiner", store_schema=f"case_c1_{name}" if BACKEND == "postgresql" else None)
    add_evidence(case, src, "x", None, None)
    leaves: list = []
    pipeline.Triage(case, "x", TriageOptions(workers=2), on_batch=leaves.extend).run()
    artifacts = [tuple(r) for r in case.db.execute(
        "SELECT id, record_type, extractor, source_ref, fields, corrupted, warnings FROM artifacts "
        "WHERE extractor LIKE 'android_sms@%' ORDER BY id")]
    times = [tuple(r) for r in case.db.execute(
        "SELECT t.artifact_id, t.label, t.utc, t.local, t.tz_known, t.tz_source, t.raw FROM timestamps t "
        "JOIN artifacts a ON a.id = t.artifact_id WHERE a.extractor LIKE 'android_sms@%' ORDER BY t.rowid")]
    case.close()
    return artifacts, times, [leaf for leaf in leaves if leaf.get("kind") == "artifact"]


def test_a_triage_stores_each_batched_record_as_its_record(tmp_path, monkeypatch):
    src = tmp_path / "src" / "data" / "data" / "com.android.providers.telephony" / "databases"
    src.mkdir(parents=True)
    data = varied_database(src / "mmssms.db", 600)
    expected = [r for r in stored(AndroidSmsExtractor(), data, SMS_PATH, batches=False) if r[0] == "record"]
    fast, fast_times, fast_leaves = _triage(tmp_path, "fast", tmp_path / "src")
    # (an MMS's fields as stored gain what finalize found of its attachments; its hash as first stored is logged)
    assert [a[1:] for a in fast if a[3].startswith("sms:")] == \
        [(r[2], r[1], r[3], r[4], r[5], r[6]) for r in expected if r[3].startswith("sms:")]
    ids = [a[0] for a in fast]
    assert fast_times == [(aid, *t) for aid, r in zip(ids, expected, strict=True) for t in r[8]]
    assert [leaf["record_sha256"] for leaf in fast_leaves if leaf["record_type"] == "chat/message"] == \
        [r[7] for r in expected]
    # the row-by-row store (taken when a location repeats in a batch) stores the same
    monkeypatch.setattr(store_triage, "_at_once", lambda db, item, entries, now: None)
    assert _triage(tmp_path, "rows", tmp_path / "src") == (fast, fast_times, fast_leaves)


# Any value a row can hold where the batch path writes JSON text itself: text of every kind
# (quotes, backslashes, control characters, U+2028, astral planes), NULL, and the types an app
# never writes there (these rows are made one by one: the same bytes either way).
TEXT = st.one_of(st.none(), st.text(max_size=40), st.sampled_from(["", "0", "\u2028\u2029", "\x00\x1f\x7f", '"\\/'] ),
                 st.integers(-2, 3), st.binary(max_size=4), st.floats(allow_nan=True))
SMS_ROW = st.tuples(st.integers(1, 2 ** 62), st.one_of(st.none(), st.integers(-1, 5)), TEXT,
                    st.one_of(st.none(), st.integers(-10 ** 15, 10 ** 14), TEXT),
                    st.one_of(st.none(), st.integers(-10 ** 15, 10 ** 14), TEXT),
                    st.one_of(st.none(), st.integers(-1, 7), TEXT), st.one_of(st.none(), st.integers(-1, 2), TEXT),
                    st.just(1), TEXT, TEXT, TEXT, st.just(-1), st.just(0), st.just(0))


@settings(max_examples=400, deadline=None)
@given(st.lists(SMS_ROW, min_size=1, max_size=6))
def test_sms_json_written_piece_by_piece_is_the_encoders(got):
    """The batch path's fields JSON, written without a dict, is byte for byte what the store's
    encoder writes of the dict ``_sms`` makes of the same row (or the row is ``_sms``'s own)."""
    ex = AndroidSmsExtractor()
    item = ExtractorInput(path='/data/"odd" päth\\mmssms.db', name="mmssms.db", mime="", size=0, data=None,
                          batches=True)
    threads = {1: ["+34600111222"], 2: ["+34600111222", "Ünï \"q\""], 3: []}
    ctx = {"threads": threads, "seen": {}, "heads": {}}
    problems: list[str] = []
    batch = ex._sms_batch(got, item, ctx, problems)
    expected, why = [], []
    for r in got:
        try:
            expected.append(ex._sms(r, item, threads, {}))
        except ROW_ERRORS as exc:
            why.append(f"table sms: row {r[0]} not readable as a message ({exc})")
    assert problems == why
    assert_batch_is(batch, expected)


def test_usual_sms_rows_are_written_as_json_text():
    """The usual rows take the written path (else the property above would hold vacuously);
    only a row with a value of a type the app never writes is made by ``_sms``."""
    ex = AndroidSmsExtractor()
    item = ExtractorInput(path=SMS_PATH, name="mmssms.db", mime="", size=0, data=None, batches=True)
    got = [(1, 1, "+34600111222", 1615755960123, 1615755960000, 1, 1, 1, None, "hola", None, -1, 0, 0),
           (2, 1, "+34600111222", 1615755960123, 0, 2, 0, 1, "Re", "", "+3460", -1, 0, 0),
           (3, None, None, None, None, None, None, 1, None, None, None, -1, 0, 0),
           (4, 1, b"\x00blob", 1615755960123, 0, 1, 1, 1, None, "x", None, -1, 0, 0)]
    batch = ex._sms_batch(got, item, {"threads": {1: ["+34600111222"]}, "seen": {}, "heads": {}}, [])
    assert [type(f) for f in batch.fields] == [str, str, str, dict]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_json_string_is_the_encoders(text):
    assert json_string(text) == fields_json(text)
