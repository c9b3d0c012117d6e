"""Records of phone message databases in their stored form, for the golden file
``tests/golden/phone_db_records.json``: a byte-for-byte check that a change to how records are
built (timestamps, the shared message shape, the SQLite readers) changes no record.

The databases are built here, seeded, with values the apps write and values they never do
(text in time columns, floats, negative and out-of-range times, NULLs, unknown boxes and
threads), and with deleted rows left in free space to be recovered. Each record is kept as
its ``source_ref``, ``record_sha256`` and the SHA-256 of the rest of its stored form
(timestamp rows, warnings, corrupted flag); each warning as its text.

Regenerate only when a record is meant to change (an extractor version bump), from the code
whose output is the reference::

    .venv/bin/python tests/extractors/chat/record_golden.py
"""
from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from forensic.extractors.base import ExtractorInput  # noqa: E402
from forensic.extractors.chat.android_sms import AndroidSmsExtractor  # noqa: E402
from forensic.extractors.chat.common import message_record  # noqa: E402
from forensic.extractors.chat.whatsapp_db import WhatsAppDbExtractor  # noqa: E402
from forensic.extractors.records import ArtifactRecord, ExtractionWarning  # noqa: E402
from forensic.pipeline import _artifact_rows  # noqa: E402
from forensic.timestamps import Timestamp  # noqa: E402

GOLDEN = ROOT / "tests" / "golden" / "phone_db_records.json"

# the apps' schemas (the columns the readers use, declared as the apps declare them), kept here
# so that the golden records do not move with the other tests' databases
ANDROID_SCHEMA = """
CREATE TABLE sms (_id INTEGER PRIMARY KEY, thread_id INTEGER, address TEXT, person INTEGER, date INTEGER,
  date_sent INTEGER DEFAULT 0, protocol INTEGER, read INTEGER DEFAULT 0, status INTEGER DEFAULT -1, type INTEGER,
  reply_path_present INTEGER, subject TEXT, body TEXT, service_center TEXT, locked INTEGER DEFAULT 0,
  error_code INTEGER DEFAULT 0, seen INTEGER DEFAULT 0);
CREATE TABLE threads (_id INTEGER PRIMARY KEY AUTOINCREMENT, date INTEGER DEFAULT 0, message_count INTEGER DEFAULT 0,
  recipient_ids TEXT, snippet TEXT, snippet_cs INTEGER DEFAULT 0, read INTEGER DEFAULT 1, type INTEGER DEFAULT 0,
  error INTEGER DEFAULT 0, has_attachment INTEGER DEFAULT 0);
CREATE TABLE canonical_addresses (_id INTEGER PRIMARY KEY AUTOINCREMENT, address TEXT);
CREATE TABLE pdu (_id INTEGER PRIMARY KEY AUTOINCREMENT, thread_id INTEGER, date INTEGER, date_sent INTEGER DEFAULT 0,
  msg_box INTEGER, read INTEGER DEFAULT 0, m_id TEXT, sub TEXT, sub_cs INTEGER, ct_t TEXT, m_type INTEGER,
  text_only INTEGER DEFAULT 0);
CREATE TABLE part (_id INTEGER PRIMARY KEY AUTOINCREMENT, mid INTEGER, seq INTEGER DEFAULT 0, ct TEXT, name TEXT,
  chset INTEGER, cd TEXT, fn TEXT, cid TEXT, cl TEXT, ctt_s INTEGER, ctt_t TEXT, _data TEXT, text TEXT);
CREATE TABLE addr (_id INTEGER PRIMARY KEY, msg_id INTEGER, contact_id INTEGER, address TEXT, type INTEGER,
  charset INTEGER);
"""

WA_CURRENT = """
CREATE TABLE jid (_id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, server TEXT NOT NULL,
  agent INTEGER, device INTEGER, type INTEGER, raw_string TEXT);
CREATE TABLE chat (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid_row_id INTEGER UNIQUE, hidden INTEGER,
  subject TEXT, created_timestamp INTEGER);
CREATE TABLE message (_id INTEGER PRIMARY KEY AUTOINCREMENT, chat_row_id INTEGER NOT NULL, from_me INTEGER NOT NULL,
  key_id TEXT NOT NULL, sender_jid_row_id INTEGER, status INTEGER, broadcast INTEGER, recipient_count INTEGER,
  origination_flags INTEGER, timestamp INTEGER, received_timestamp INTEGER, receipt_server_timestamp INTEGER,
  message_type INTEGER, text_data TEXT, starred INTEGER, lookup_tables INTEGER, sort_id INTEGER);
CREATE TABLE message_media (message_row_id INTEGER PRIMARY KEY, chat_row_id INTEGER, file_path TEXT,
  file_size INTEGER, mime_type TEXT, media_name TEXT, media_caption TEXT);
CREATE TABLE message_quoted (message_row_id INTEGER PRIMARY KEY, chat_row_id INTEGER, key_id TEXT,
  from_me INTEGER, sender_jid_row_id INTEGER);
"""

# time column values: what phones write, and what damage or a hostile file may hold
_TIMES = [0, None, 1, -1, 999, 1000, -1615752360123, 1615752360000, 10 ** 15, 253402300799999, 253402300800000,
          2 ** 62, 1615752360123.0, 1615752360123.7, "1615752360123", "yesterday", "", b"\x01\x02", -(2 ** 62)]


def _time(rng: random.Random, t: int):
    return rng.choice(_TIMES) if rng.random() < 0.08 else t


def android_db(path: Path, n: int = 2500, deleted: int = 150) -> None:
    rng = random.Random(15)
    db = sqlite3.connect(path)
    db.executescript("PRAGMA page_size=4096; PRAGMA secure_delete=OFF;" + ANDROID_SCHEMA)
    people = ["+34600111222", "+447700900000", "", None, "Café ☕", "+31612345678"]
    db.executemany("INSERT INTO canonical_addresses VALUES (?, ?)", [(i + 1, a) for i, a in enumerate(people)])
    db.executemany("INSERT INTO threads (_id, recipient_ids) VALUES (?, ?)",
                   [(1, "1"), (2, "2"), (3, "1 2"), (4, "6 x 9"), (5, ""), (6, None)])
    t = 1615752360000
    sms = []
    for i in range(1, n + 1):
        t += rng.randint(0, 400_000)
        box = rng.choice([1, 1, 1, 2, 2, 3, 4, 5, 6, 7, None])
        sent = t - rng.randint(0, 5000) if box == 1 and rng.random() < 0.7 else 0
        sms.append((i, rng.choice([1, 2, 3, 4, 5, 6, 99, None]), rng.choice(people), None, _time(rng, t),
                    _time(rng, sent), 0, rng.choice([0, 1, None, 7]), -1, box, 0, rng.choice([None, "", "Re: ok"]),
                    rng.choice([None, "", "ok", "Привет", "a\nb", "x" * 300]), rng.choice([None, "+3460000000"]),
                    0, 0, rng.choice([0, 1])))
    db.executemany(f"INSERT INTO sms VALUES ({','.join('?' * 17)})", sms)
    pdu, part, addr = [], [], []
    for i in range(1, 201):
        pdu.append((i, rng.choice([1, 3, None]), _time(rng, 1615757000 + i * 60), 0, rng.choice([1, 2, 4, None]),
                    rng.choice([0, 1, None]), f"mid{i}", rng.choice([None, "Photo"]), 106,
                    "application/vnd.wap.multipart.related", 132, 0))
        part.append((None, i, 0, "application/smil", None, None, None, None, None, None, None, None, None, "<smil/>"))
        if i % 3:
            part.append((None, i, 1, "text/plain", None, 106, None, None, None, None, None, None, None, f"text {i}"))
        if i % 4 == 0:
            part.append((None, i, 2, "image/jpeg", f"IMG_{i}.jpg", None, None, None, None, None, None, None,
                         f"/data/user/0/com.android.providers.telephony/app_parts/PART_{i}.jpg", None))
        addr.append((None, i, None, rng.choice(people[:2]), 137, 106))
        addr.append((None, i, None, "insert-address-token", 151, 106))
    db.executemany(f"INSERT INTO pdu VALUES ({','.join('?' * 12)})", pdu)
    db.executemany(f"INSERT INTO part VALUES ({','.join('?' * 14)})", part)
    db.executemany(f"INSERT INTO addr VALUES ({','.join('?' * 6)})", addr)
    db.commit()
    db.executemany("DELETE FROM sms WHERE _id = ?", [(i,) for i in rng.sample(range(1, n + 1), deleted)])
    db.commit()
    db.close()


def whatsapp_db(path: Path, n: int = 1500) -> None:
    rng = random.Random(16)
    db = sqlite3.connect(path)
    db.executescript("PRAGMA page_size=4096; PRAGMA secure_delete=OFF;" + WA_CURRENT)
    db.executemany("INSERT INTO jid VALUES (?,?,?,?,?,?,?)",
                   [(1, "34600111222", "s.whatsapp.net", 0, 0, 0, "34600111222@s.whatsapp.net"),
                    (2, "123-456", "g.us", 0, 0, 1, "123-456@g.us"),
                    (3, "447700900000", "s.whatsapp.net", 0, 0, 0, "447700900000@s.whatsapp.net")])
    db.executemany("INSERT INTO chat VALUES (?,?,?,?,?)", [(1, 1, 0, None, 0), (2, 2, 0, "Работа 🚚", 0)])
    t = 1615755960000
    rows = []
    for i in range(1, n + 1):
        t += rng.randint(0, 300_000)
        chat = rng.choice([1, 2, 7])
        rows.append((i, chat, rng.choice([0, 1]), f"K{i}", 3 if chat == 2 else None, rng.choice([0, 13, 5]), 0, 0, 0,
                     _time(rng, t), _time(rng, t + 900), 0, rng.choice([0, 0, 1, 15, 7]),
                     rng.choice([None, "", "¿Dónde estás?", "в 8"]), 0, 0, i))
    db.executemany(f"INSERT INTO message VALUES ({','.join('?' * 17)})", rows)
    db.executemany("INSERT INTO message_media VALUES (?,?,?,?,?,?,?)",
                   [(i, 1, f"Media/WhatsApp Images/IMG-{i}.jpg", 1000, "image/jpeg", None, "the van")
                    for i in range(2, n + 1, 7)])
    db.executemany("INSERT INTO message_quoted VALUES (?,?,?,?,?)",
                   [(i, 1, f"K{i - 1}", 0, 1) for i in range(3, n + 1, 11)])
    db.commit()
    db.executemany("DELETE FROM message WHERE _id = ?", [(i,) for i in range(5, n + 1, 37)])
    db.commit()
    db.close()


def shaped_records() -> list[ArtifactRecord]:
    """``message_record`` directly, with every kind of time."""
    local = datetime(2021, 3, 14, 21, 6, 0, 123456)
    stamps = [None, Timestamp.from_unix_ms("sent", 1615752360123), Timestamp.from_unix_ms("sent", 1615752360000),
              Timestamp.from_unix("sent", 1615752360.5), Timestamp.local_unknown("sent", local, "14/03/2021 21:06"),
              Timestamp.local_with_offset("sent", local, 60, "offset_tag", "21:06 +01:00")]
    out = []
    for i, sent in enumerate(stamps):
        for edited in (None, Timestamp.from_unix_ms("edited", 1615752999999)):
            out.append(message_record(platform="test", conversation={"id": "c", "title": None},
                                      participants=["a", "b", "c"], sender="a" if i % 2 else None, sent=sent,
                                      body="hi", source={"path": "/x", "line": i}, source_ref=f"line {i}",
                                      edited=edited is not None, edited_ts=edited, problems=[f"p{i}"] if i else (),
                                      extra={"platform": "overridden?", "message_id": i}))
    return out


def _stored(ident: str, records) -> list[str]:
    out = []
    for r in records:
        if isinstance(r, ExtractionWarning):
            out.append(f"warning {r.message}")
            continue
        s = _artifact_rows(ident, r)
        rest = json.dumps([s.record_type, s.corrupted, s.warnings_json, s.timestamps], ensure_ascii=False)
        out.append(f"{s.source_ref} {s.record_sha256} {hashlib.sha256(rest.encode()).hexdigest()}")
    return out


def _extract(ex, path: Path, device_path: str) -> list:
    data = path.read_bytes()
    item = ExtractorInput(path=device_path, name=path.name, mime="application/vnd.sqlite3", size=len(data), data=data)
    return list(ex.extract(item))


def current() -> dict[str, list[str] | str]:
    """Each case's records and warnings in their stored form, as the code now makes them."""
    with tempfile.TemporaryDirectory(prefix="record-golden-") as tmp:
        sms, wa = Path(tmp) / "mmssms.db", Path(tmp) / "msgstore.db"
        android_db(sms)
        whatsapp_db(wa)
        return {
            "sqlite_version": sqlite3.sqlite_version,
            "android_sms": _stored("android_sms@2", _extract(
                AndroidSmsExtractor(), sms, "/data/data/com.android.providers.telephony/databases/mmssms.db")),
            "whatsapp_db": _stored("whatsapp_db@1", _extract(
                WhatsAppDbExtractor(), wa, "/data/data/com.whatsapp/databases/msgstore.db")),
            "message_record": _stored("test@1", shaped_records()),
        }


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(current(), indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN}")
