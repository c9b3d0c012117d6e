"""WhatsApp ``msgstore.db`` (current schema) read a batch at a time, as the triage asks for it,
stores exactly what the one-record-at-a-time path stores: the batch path writes a usual
message's fields JSON itself (``WhatsAppDbExtractor._message_batch``), and must write the very
bytes ``fields_json`` writes of the dict ``_current`` makes, for every value a row can hold.
On a varied database (groups, LID chats mapped through ``jid_map``, media, places, replies,
system and deleted messages, odd types, deleted rows recovered), and by a property test."""
from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from hypothesis import given, settings, strategies as st

from forensic.extractors.base import ExtractorInput
from forensic.extractors.chat.sqlite_chat import ROW_ERRORS, FoundRow
from forensic.extractors.chat.whatsapp_db import _CURRENT_ROW, WhatsAppDbExtractor

from tests.extractors.chat.test_phone_dbs import WA_CURRENT
from tests.extractors.chat.test_record_batches import assert_batch_is, kinds, stored

PATH = "/data/data/com.whatsapp/databases/msgstore.db"
EXTRA = """
CREATE TABLE jid_map (lid_row_id INTEGER PRIMARY KEY NOT NULL, jid_row_id INTEGER NOT NULL, sort_id INTEGER);
CREATE TABLE message_location (message_row_id INTEGER PRIMARY KEY, chat_row_id INTEGER, latitude REAL,
  longitude REAL, place_name TEXT);
"""
TEXTS = ["¿Dónde estás?", "ok", "", None, 'quote " \\ and\nnewline', "emoji 😀 \u2028", 7, b"\x00blob", "x" * 400]
TIMES = [1615755960123, 1615756020000, 0, None, -5000, 10 ** 17, "1615756080000", 1.5, 2 ** 41 + 3]


def varied_msgstore(path: Path, n: int = 3000) -> bytes:
    rng = random.Random(21)
    db = sqlite3.connect(path)
    db.executescript("PRAGMA page_size=4096; PRAGMA secure_delete=OFF;" + WA_CURRENT + EXTRA)
    jids = [(i, f"34600{i:06d}", "s.whatsapp.net", 0, 0, 0, f"34600{i:06d}@s.whatsapp.net") for i in range(1, 9)]
    jids += [(9, "1203-1", "g.us", 0, 0, 1, "1203-1@g.us"), (10, "77", "lid", 0, 0, 0, "77@lid"),
             (11, "88", "lid", 0, 0, 0, "88@lid"), (12, "x", "y", 0, 0, 0, None), (13, "5", "s", 0, 0, 0, 5)]
    db.executemany("INSERT INTO jid VALUES (?,?,?,?,?,?,?)", jids)
    db.executemany("INSERT INTO jid_map VALUES (?,?,0)", [(10, 1), (11, 2)])
    db.executemany("INSERT INTO chat VALUES (?,?,0,?,0)", [(1, 1, None), (2, 2, None), (3, 9, 'Trabajo "🚚"'),
                                                            (4, 10, None), (5, 12, None), (6, 13, None)])
    rows = []
    for i in range(1, n + 1):
        chat = rng.choice([1, 1, 2, 3, 3, 3, 4, 5, 6, 99, "3", 3.0])     # NOT NULL in the schema
        me = rng.choice([0, 0, 1, 1, 2, "1"])
        sender = rng.choice([None, 0, 1, 2, 3, 11, 12, 99, "x"]) if chat in (3, "3", 3.0) else rng.choice([None, 0])
        rows.append((i, chat, me, rng.choice([f"K{i}", f"K{i}", 5]), sender, 0, 0, 0, 0, rng.choice(TIMES),
                     rng.choice(TIMES), 0, rng.choice([0, 0, 0, 1, 7, 15, 64, 99, None, "0", 0.0]), rng.choice(TEXTS),
                     rng.choice([0, 1, None, 2]), 0, i))
    db.executemany(f"INSERT INTO message VALUES ({','.join('?' * 17)})", rows)
    db.executemany("INSERT INTO message_media VALUES (?,?,?,?,?,?,?)",
                   [(i, 1, f"Media/IMG-{i}.jpg", 10, "image/jpeg", None, rng.choice([None, "caption"]))
                    for i in range(5, n, 97)])
    db.executemany("INSERT INTO message_quoted VALUES (?,?,?,0,0)",
                   [(i, 1, rng.choice(["K1", 5, None, "K\u2028"])) for i in range(3, n, 31)])
    db.executemany("INSERT INTO message_location VALUES (?,?,?,?,?)",
                   [(i, 1, 41.38, 2.17, "Plaça") for i in range(7, n, 113)])
    db.commit()
    db.execute("DELETE FROM message WHERE _id % 41 = 0")
    db.commit()
    db.close()
    return path.read_bytes()


def test_message_batches_store_what_one_by_one_stores(tmp_path):
    data = varied_msgstore(tmp_path / "msgstore.db")
    one = stored(WhatsAppDbExtractor(), data, PATH, batches=False)
    batched = stored(WhatsAppDbExtractor(), data, PATH, batches=True)
    assert batched == one
    records = [r for r in one if r[0] == "record"]
    fields = [r[4] for r in records]
    assert len(records) > 2900
    # what the written path must get right, and what it leaves to _current
    assert sum('"recovered": "deleted"' in f for f in fields) >= 50
    assert any('"chat_lid": "77@lid"' in f for f in fields)
    assert any('"location": {' in f for f in fields) and any('"attachments": [{' in f for f in fields)
    assert any('"actor": ' in f for f in fields) and any('"deleted": true' in f for f in fields)
    assert any('"group": true' in f for f in fields) and any('"reply_to": "K1"' in f for f in fields)
    assert any('"sent_at": null' in f for f in fields)
    assert kinds(WhatsAppDbExtractor(), data, PATH)["RecordBatch"] >= 2


def test_usual_messages_are_written_as_json_text(tmp_path):
    data = varied_msgstore(tmp_path / "msgstore.db", n=400)
    item = ExtractorInput(path=PATH, name="msgstore.db", mime="", size=len(data), data=data, batches=True)
    written = [f for res in WhatsAppDbExtractor().extract(item) if hasattr(res, "fields") and
               isinstance(res.fields, list) for f in res.fields]
    assert sum(isinstance(f, str) for f in written) > 50          # the written path is taken ...
    assert sum(isinstance(f, dict) for f in written) > 50         # ... and so is _current's


def _ctx() -> dict:
    members = {3: {"34600000001@s.whatsapp.net", "34600000002@s.whatsapp.net", None, ""}}
    return {"mode": "message", "members": members, "chat_of": {}, "heads": {},
            "jids": {1: "34600000001@s.whatsapp.net", 2: "34600000002@s.whatsapp.net", 10: "77@lid", 12: None,
                     13: 5, 14: 'we"ird\\jid'},
            "phone": {"77@lid": "34600000001@s.whatsapp.net"},
            "chats": {1: ("34600000001@s.whatsapp.net", None), 3: ("1203-1@g.us", 'Grupo "x" ☎'),
                      4: ("77@lid", None), 5: (None, None), 6: (5, "s"), 7: ('we"ird\\jid', "")},
            "media": {5: {"file_path": "Media/a.jpg", "mime_type": "image/jpeg", "media_caption": "c",
                          "media_name": None, "file_size": 1}},
            "quoted": {3: "K1", 4: 5.5, 6: None, 8: "K\u2028\""},
            "places": {7: {"latitude": 41.0, "longitude": 2.0, "place_name": "P"}}}


VALUE = st.one_of(st.none(), st.text(max_size=12), st.integers(-3, 3), st.binary(max_size=3),
                  st.floats(allow_nan=True))
MS = st.one_of(st.none(), st.integers(-10 ** 15, 10 ** 15), st.sampled_from([0, 2 ** 41 + 1, 10 ** 17]), VALUE)
ROW = st.tuples(st.integers(1, 9), st.one_of(st.integers(0, 8), VALUE), st.one_of(st.integers(0, 1), VALUE),
                st.one_of(st.text(max_size=8), VALUE), st.one_of(st.integers(0, 15), VALUE), st.just(0), MS, MS,
                st.one_of(st.sampled_from([0, 1, 7, 15, 64, 99, None]), VALUE), VALUE,
                st.one_of(st.sampled_from([0, 1, None]), VALUE))


@settings(max_examples=400, deadline=None)
@given(st.lists(ROW, min_size=1, max_size=6))
def test_message_json_written_piece_by_piece_is_the_encoders(got):
    ex = WhatsAppDbExtractor()
    item = ExtractorInput(path='/data/"odd" päth\\msgstore.db', name="msgstore.db", mime="", size=0, data=None,
                          batches=True)
    problems: list[str] = []
    batch = ex._message_batch(got, item, _ctx(), problems)
    expected, why = [], []
    ctx = _ctx()
    for r in got:
        try:
            expected.append(ex._current(FoundRow(_CURRENT_ROW, r), ctx, item))
        except ROW_ERRORS as exc:
            why.append(f"table message: row {r[0]} not readable as a message ({exc})")
    assert problems == why
    assert_batch_is(batch, expected)
