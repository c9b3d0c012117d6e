"""Phone message database parsing speed: a message database reader over a database of
1,000,000 messages, against a bare ``sqlite3`` SELECT of the same rows in the same run.

    .venv/bin/python bench/bench_chat_db.py [--app sms|whatsapp] [--messages 1000000] [--deleted 0]
                                            [--profile | --breakdown]

``--app sms`` (the default): the android_sms reader over an ``mmssms.db`` (the app's real
``sms``/``threads``/``canonical_addresses`` schema); ``--app whatsapp``: the whatsapp_db reader
over a current-schema ``msgstore.db`` (``jid``, ``chat``, ``message``, ``message_media``,
``message_quoted``; one-to-one chats and groups, 1 in 50 messages a photo, 1 in 100 a reply).
Builds the database (page size 4096, ``secure_delete`` off) in a temporary folder, then times:

* the floor: a SELECT of the columns the reader reads from its message table, read to the
  end (tuples);
* the extractor's ``extract()`` consumed to the end (deleted-row recovery included: with
  ``--deleted N``, N rows spread over the table are deleted first, leaving freeblocks, and
  recovered), two ways: one ArtifactRecord per message (what a library caller gets), and
  batches (``ExtractorInput.batches``: RecordBatch objects, what the triage asks for, the
  usual message's fields written as the JSON text they are stored as);
* each of those as the triage reads a file (``forensic.pipeline._extract``): its records put in
  their stored form (fields JSON, its SHA-256, the timestamp rows) and kept for the insert.

Issue 15's target (>= 200,000 messages/s, at most 3x the bare SELECT's time) is the parsing:
the extractor as the triage runs it (batches). The stored form is printed beside it because it
is what a triage pays on top, in the same process, before a row is inserted.

Times are CPU seconds of this process (``time.process_time``: the machine may be shared),
the fastest of ``--repeat`` runs each. Prints messages/s for each and its ratio to the SELECT,
and (sms) the cost of building the records alone (the shared message shape from values in
hand, one ArtifactRecord each). ``--profile`` runs the extractor under cProfile and prints the
top 25 functions by own time. ``--breakdown`` prints what the parts of one message cost
(microseconds, fastest of ``--repeat``, over the first 200,000 rows): reading a row, the
objects every message record is made of, and its stored form, each against the bare
SELECT's row, to show where a floor lies that no reader can go under.
"""
from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forensic.extractors.base import ExtractorInput  # noqa: E402
from forensic.extractors.chat.android_sms import AndroidSmsExtractor  # noqa: E402
from forensic.extractors.chat.whatsapp_db import WhatsAppDbExtractor  # noqa: E402
from forensic.extractors.records import ArtifactRecord, RecordBatch  # noqa: E402
from forensic.training.formats import MSGSTORE_SCHEMA  # noqa: E402

SCHEMA = """
CREATE TABLE sms (_id INTEGER PRIMARY KEY, thread_id INTEGER, address TEXT, person INTEGER, date INTEGER,
  date_sent INTEGER DEFAULT 0, protocol INTEGER, read INTEGER DEFAULT 0, status INTEGER DEFAULT -1, type INTEGER,
  reply_path_present INTEGER, subject TEXT, body TEXT, service_center TEXT, locked INTEGER DEFAULT 0,
  error_code INTEGER DEFAULT 0, seen INTEGER DEFAULT 0);
CREATE TABLE threads (_id INTEGER PRIMARY KEY AUTOINCREMENT, date INTEGER DEFAULT 0, message_count INTEGER DEFAULT 0,
  recipient_ids TEXT, snippet TEXT, snippet_cs INTEGER DEFAULT 0, read INTEGER DEFAULT 1, type INTEGER DEFAULT 0,
  error INTEGER DEFAULT 0, has_attachment INTEGER DEFAULT 0);
CREATE TABLE canonical_addresses (_id INTEGER PRIMARY KEY AUTOINCREMENT, address TEXT);
"""
# WhatsApp Android msgstore.db, current schema (2022 on): the tables its reader uses (the
# training sample's, and the media and reply tables)
WA_SCHEMA = MSGSTORE_SCHEMA + """
CREATE TABLE message_media (message_row_id INTEGER PRIMARY KEY, chat_row_id INTEGER, file_path TEXT,
  file_size INTEGER, mime_type TEXT, media_name TEXT, media_caption TEXT);
CREATE TABLE message_quoted (message_row_id INTEGER PRIMARY KEY, chat_row_id INTEGER, key_id TEXT,
  from_me INTEGER, sender_jid_row_id INTEGER);
"""
WORDS = "ok the shift starts at nine tomorrow bring passport money café mañana señor trabajo".split()


def build(path: str, n: int, deleted: int) -> None:
    rng = random.Random(1)
    db = sqlite3.connect(path)
    db.executescript("PRAGMA page_size=4096; PRAGMA secure_delete=OFF; PRAGMA auto_vacuum=NONE;"
                     "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA)
    people = [f"+3460{i:07d}" for i in range(200)]
    db.executemany("INSERT INTO canonical_addresses VALUES (?, ?)", [(i + 1, a) for i, a in enumerate(people)])
    db.executemany("INSERT INTO threads (_id, recipient_ids) VALUES (?, ?)", [(i + 1, str(i + 1)) for i in range(200)])
    t = 1615752360000

    def rows():
        nonlocal t
        for i in range(1, n + 1):
            t += rng.randint(5_000, 400_000)
            who = rng.randrange(200)
            box = 1 if rng.random() < 0.6 else 2
            body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 14)))
            yield (i, who + 1, people[who], None, t, t - 2000 if box == 1 else 0, 0, 1, -1, box, 0, None, body,
                   None, 0, 0, 1)

    db.executemany(f"INSERT INTO sms VALUES ({','.join('?' * 17)})", rows())
    db.commit()
    if deleted:
        step = max(1, n // deleted)
        db.executemany("DELETE FROM sms WHERE _id = ?", [(i,) for i in range(1, n + 1, step)][:deleted])
        db.commit()
    db.close()


def build_whatsapp(path: str, n: int, deleted: int) -> None:
    """A msgstore.db of ``n`` messages in 200 one-to-one chats and 20 groups of 30 members,
    4 in 10 sent from the device, 1 in 50 a photo (a message_media row), 1 in 100 a reply."""
    rng = random.Random(1)
    db = sqlite3.connect(path)
    db.executescript("PRAGMA page_size=4096; PRAGMA secure_delete=OFF; PRAGMA auto_vacuum=NONE;"
                     "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + WA_SCHEMA)
    jids = [(i, f"3460{i:07d}", "s.whatsapp.net", 0, 0, 0, f"3460{i:07d}@s.whatsapp.net") for i in range(1, 201)]
    jids += [(200 + g, f"120363{g:06d}", "g.us", 0, 0, 1, f"120363{g:06d}@g.us") for g in range(1, 21)]
    db.executemany("INSERT INTO jid VALUES (?, ?, ?, ?, ?, ?, ?)", jids)
    db.executemany("INSERT INTO chat VALUES (?, ?, 0, ?, 0)", [(j[0], j[0], f"Group {j[0] - 200}" if j[0] > 200
                                                                else None) for j in jids])
    t = 1615752360000

    def rows():
        nonlocal t
        for i in range(1, n + 1):
            t += rng.randint(5_000, 400_000)
            chat = rng.randrange(1, 221)
            me = rng.random() < 0.4
            sender = None if me or chat <= 200 else rng.randrange(1, 31) + 5 * (chat - 201)
            body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 14)))
            yield (i, chat, int(me), f"3EB0{i:016X}", sender, 13 if me else 0, 0, 0, 0, t, t + rng.randint(0, 5000),
                   0, 1 if i % 50 == 0 else 0, body, 0, 0, i)

    db.executemany(f"INSERT INTO message VALUES ({','.join('?' * 17)})", rows())
    db.executemany("INSERT INTO message_media VALUES (?, ?, ?, ?, 'image/jpeg', NULL, NULL)",
                   [(i, 1, f"Media/WhatsApp Images/IMG-{i}.jpg", 1000) for i in range(50, n + 1, 50)])
    db.executemany("INSERT INTO message_quoted VALUES (?, 1, ?, 0, NULL)",
                   [(i, f"3EB0{i - 1:016X}") for i in range(100, n + 1, 100)])
    db.commit()
    if deleted:
        step = max(1, n // deleted)
        db.executemany("DELETE FROM message WHERE _id = ?", [(i,) for i in range(1, n + 1, step)][:deleted])
        db.commit()
    db.close()


# app -> (builder, extractor, its path on the phone, the columns its reader reads from its message table)
APPS = {
    "sms": (build, AndroidSmsExtractor, "/data/data/com.android.providers.telephony/databases/mmssms.db",
            "SELECT _id, thread_id, address, date, date_sent, type, read, seen, subject, body, service_center, "
            "status, locked, error_code FROM sms"),
    "whatsapp": (build_whatsapp, WhatsAppDbExtractor, "/data/data/com.whatsapp/databases/msgstore.db",
                 "SELECT _id, chat_row_id, from_me, key_id, sender_jid_row_id, status, timestamp, received_timestamp, "
                 "message_type, text_data, starred FROM message"),
}
APP = "sms"


def bare_select(path: str) -> tuple[int, float]:
    t0 = time.process_time()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    n = 0
    for _ in db.execute(APPS[APP][3]):
        n += 1
    db.close()
    return n, time.process_time() - t0


def extract(path: str, stored: bool = False, batches: bool = True) -> tuple[int, int, float]:
    """Messages of the database: with ``batches``, as the triage asks for them (RecordBatch
    objects, ``ExtractorInput.batches``), else one ArtifactRecord each (as any other caller
    gets them); with ``stored``, exactly as the triage reads a file: ``forensic.pipeline._extract``,
    each record put in its stored form (fields JSON, its SHA-256, the timestamp rows) and kept
    for the insert."""
    from forensic.pipeline import _extract
    from forensic.store.triage import StoredBatch
    size = os.path.getsize(path)
    _, extractor, phone_path, _ = APPS[APP]
    item = ExtractorInput(path=phone_path, name=phone_path.rsplit("/", 1)[-1],
                          mime="application/vnd.sqlite3", size=size, data=None,
                          reopen=lambda: open(path, "rb"), batches=batches)
    live = recovered = 0
    t0 = time.process_time()
    if stored:
        kept = _extract([extractor()], item)
        took = time.process_time() - t0
        for stage, r in kept:
            if stage is None:
                refs = r.source_refs if isinstance(r, StoredBatch) else [r.source_ref]
                n = sum(1 for ref in refs if "(recovered" in ref)
                recovered += n
                live += len(refs) - n
        return live, recovered, took
    for r in extractor().extract(item):
        if isinstance(r, RecordBatch):          # live rows (recovered ones come one by one)
            live += len(r)
        elif isinstance(r, ArtifactRecord):
            if r.fields.get("recovered"):
                recovered += 1
            else:
                live += 1
    return live, recovered, time.process_time() - t0


def record_floor(n: int) -> float:
    """CPU seconds to build ``n`` records of the shared message shape from values already in
    hand (one time, the fields an SMS carries): what any reader pays per message whatever
    it reads, the floor under the extractor's time."""
    from forensic.extractors.chat.common import message_record
    from forensic.extractors.chat.sqlite_chat import unix_ms
    t0 = time.process_time()
    for i in range(n):
        message_record(platform="sms", conversation={"id": "thread:1", "title": "+34600000001"},
                       participants=["(device owner)", "+34600000001"], sender="+34600000001",
                       recipients=["(device owner)"], sent=unix_ms(1615752360123 + i), body="text", problems=(),
                       source={"path": "/x/mmssms.db", "table": "sms", "row_id": i}, source_ref=f"sms:{i}",
                       extra={"kind": "sms", "direction": "incoming", "box": "inbox", "time_basis": "date",
                              "received_at": None, "read": True, "subject": None, "service_center": None,
                              "address": "+34600000001"})
    return time.process_time() - t0


def breakdown(path: str, repeat: int) -> None:
    """Per-message cost of each part of the triage's path (batches), measured alone on the
    first 200,000 rows of ``path``: what the extractor's time is made of, and so how far
    under it a reader could go while it still makes the records' fields."""
    from forensic.extractors.chat.android_sms import _SMS_COLS, _sms_times
    from forensic.extractors.chat.common import message_record, read_batches, tables_of
    from forensic.extractors.chat.sqlite_chat import BATCH_ROWS, table_shapes
    from forensic.extractors.sqlite_recover import recover
    from forensic.store.records import fields_json, record_sha256
    from forensic.timestamps import Timestamp
    limit = 200_000
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    cols = ", ".join(_SMS_COLS)
    sql = f"SELECT ROWID AS _rowid, {cols} FROM sms WHERE {{after}} AND ROWID <= {limit} ORDER BY ROWID LIMIT ?"
    got = [rows for rows in read_batches(db, "sms", sql, [], batch=BATCH_ROWS, tuples=True)]
    n = sum(len(rows) for rows in got)
    dates = [r[3] for rows in got for r in rows]
    ex = AndroidSmsExtractor()
    item = ExtractorInput(path="/data/mmssms.db", name="mmssms.db", mime="", size=0, data=None, batches=True)
    db.row_factory = sqlite3.Row                  # as the extractor opens a database (its side tables by name)
    ctx = ex.context(db, tables_of(db)[0], item, [])
    texts = [f if isinstance(f, str) else fields_json(f)
             for rows in got for f in ex._sms_batch(rows, item, ctx, []).fields]
    fields = [ex._sms(r, item, ctx["threads"], ctx["seen"]).fields for rows in got for r in rows]
    shapes, _ = table_shapes(db, ["sms", "threads", "canonical_addresses"])

    def select() -> None:
        for _ in sqlite3.connect(f"file:{path}?mode=ro", uri=True).execute(
                f"SELECT ROWID, {cols} FROM sms WHERE ROWID <= {limit}"):
            pass

    def read() -> None:
        for _ in read_batches(db, "sms", sql, [], batch=BATCH_ROWS, tuples=True):
            pass

    def scan() -> None:           # the whole file's, spread over the rows measured
        recover(path, shapes, None, 0, {"sms"})

    def build() -> None:
        for rows in got:
            ex._sms_batch(rows, item, ctx, [])

    def times() -> None:
        for d in dates:
            _sms_times(d, 0, True)

    def records() -> None:
        for d in dates:
            message_record(platform="sms", conversation={"id": "thread:1", "title": "+34600000001"},
                           participants=["(device owner)", "+34600000001"], sender="+34600000001",
                           recipients=["(device owner)"], sent=Timestamp.from_unix_ms("sent", d), body="text",
                           problems=(), source={"path": path, "table": "sms", "row_id": d}, source_ref="sms:1",
                           extra={"kind": "sms", "direction": "incoming", "box": "inbox", "time_basis": "date",
                                  "received_at": None, "read": True, "subject": None, "service_center": None,
                                  "address": "+34600000001"})

    def to_json() -> None:
        for f in fields:
            fields_json(f)

    def sha() -> None:
        for t in texts:
            record_sha256(t)

    scale = db.execute("SELECT COUNT(*) FROM sms").fetchone()[0] / n      # the scan covers every row
    parts = [("bare SELECT, one row (tuple)", select, 1),
             ("read_batches: a row as the extractor reads it", read, 1),
             ("deleted-row scan (the file's, per row)", scan, scale),
             ("_sms_batch: a message's JSON, rows in hand", build, 1),
             ("  its time (_sms_times: JSON, row; one time)", times, 1),
             ("one record each: message_record + Timestamp", records, 1),
             ("  its fields dict as JSON (fields_json)", to_json, 1),
             ("stored form: SHA-256 of the JSON", sha, 1)]
    floor = None
    for label, fn, over in parts:
        took = min(_cpu(fn) for _ in range(repeat)) / n / over * 1e6
        floor = floor or took
        print(f"{label:<46} {took:6.2f} us/msg {took / floor:6.2f}x the SELECT's row", flush=True)


def _cpu(fn) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--deleted", type=int, default=0, help="rows deleted before the run (recovered by the extractor)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each; the fastest counts")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--breakdown", action="store_true", help="per-message cost of each part of a record (sms)")
    ap.add_argument("--app", choices=sorted(APPS), default="sms", help="the database: Android SMS (mmssms.db) or "
                                                                       "WhatsApp (msgstore.db)")
    args = ap.parse_args()
    global APP
    APP = args.app
    if args.breakdown and APP != "sms":
        ap.error("--breakdown measures the Android SMS reader's parts")
    with tempfile.TemporaryDirectory(prefix="bench-chat-db-") as tmp:
        builder, extractor, phone_path, _ = APPS[APP]
        path = os.path.join(tmp, phone_path.rsplit("/", 1)[-1])
        t0 = time.perf_counter()
        builder(path, args.messages, args.deleted)
        print(f"built {args.messages:,} messages ({os.path.getsize(path) / 1e6:,.0f} MB, {args.deleted:,} deleted) "
              f"in {time.perf_counter() - t0:.1f} s", flush=True)
        if args.profile:
            import cProfile
            import pstats
            prof = cProfile.Profile()
            prof.runcall(extract, path)
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
            return
        if args.breakdown:
            breakdown(path, args.repeat)
            return
        n, floor = min((bare_select(path) for _ in range(args.repeat)), key=lambda r: r[1])
        print(f"{'bare sqlite3 SELECT':<40} {n:>9,} rows {floor:7.2f} s {n / floor:>10,.0f} rows/s", flush=True)
        results = {}
        name = extractor.NAME
        for label, stored, batches in ((f"{name}, one record each", False, False),
                                       (f"{name}, batches (the triage's)", False, True),
                                       ("  + stored form, one record each", True, False),
                                       ("  + stored form, batches (triage)", True, True)):
            live, recovered, took = min((extract(path, stored, batches) for _ in range(args.repeat)),
                                        key=lambda r: r[2])
            results[label] = live / took
            print(f"{label:<40} {live:>9,} msgs {took:7.2f} s {live / took:>10,.0f} msg/s "
                  f"{took / floor:5.2f}x the SELECT (+{recovered:,} recovered)", flush=True)
        if APP == "sms":
            shape = min(record_floor(n) for _ in range(args.repeat))
            print(f"{'records alone (message_record)':<40} {n:>9,} msgs {shape:7.2f} s {n / shape:>10,.0f} msg/s "
                  f"{shape / floor:5.2f}x the SELECT", flush=True)
        rate = results[f"{name}, batches (the triage's)"]
        ratio = n / floor / rate
        print(f"issue 15's target is the parsing (the extractor as the triage runs it, batches): {rate:,.0f} msg/s, "
              f"{ratio:.2f}x the bare SELECT (targets: >= 200,000 msg/s {'met' if rate >= 200_000 else 'NOT met'}, "
              f"<= 3x {'met' if ratio <= 3 else 'NOT met'}); the stored form (JSON, SHA-256) is the triage's "
              f"next step, shown for its whole cost", flush=True)

if __name__ == "__main__":
    main()
