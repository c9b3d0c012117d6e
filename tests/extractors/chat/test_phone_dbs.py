"""Phone message databases built here with the apps' schemas (minimal but faithful columns):
Android mmssms.db, iOS sms.db, WhatsApp msgstore.db (legacy + current) and wa.db; damaged
variants (a corrupt page, a missing table); the corpus databases behind the corpus marker."""
from __future__ import annotations

import dataclasses
import hashlib
import sqlite3
from pathlib import Path

import pytest
from appdb import stored

from forensic.extractors.base import ExtractorInput
from forensic.extractors.chat.android_sms import AndroidSmsExtractor
from forensic.extractors.chat.ios_sms import IosSmsExtractor, attributed_text
from forensic.extractors.chat.whatsapp_db import WhatsAppDbExtractor
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from forensic.training.formats import IOS_SMS_SCHEMA

ANDROID, IOS, WA = AndroidSmsExtractor(), IosSmsExtractor(), WhatsAppDbExtractor()


def build(path: Path, script: str, rows: dict[str, list[tuple]] | None = None, page_size: int = 1024) -> bytes:
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA page_size={page_size}")
    db.executescript(script)
    for table, values in (rows or {}).items():
        if values:
            db.executemany(f"INSERT INTO {table} VALUES ({','.join('?' * len(values[0]))})", values)
    db.commit()
    db.close()
    return path.read_bytes()


def run(ex, data: bytes, path: str):
    item = ExtractorInput(path=path, name=path.rsplit("/", 1)[-1], mime="application/vnd.sqlite3", size=len(data),
                          data=data)
    assert ex.accepts(path, "application/vnd.sqlite3", data[:8192])
    out = list(ex.extract(item))
    assert stored(ex, dataclasses.replace(item, batches=True)) == stored(ex, item)    # as the triage reads it
    return ([r for r in out if isinstance(r, ArtifactRecord)],
            [w.message for w in out if isinstance(w, ExtractionWarning)])


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


def android_rows(n: int = 3):
    sms = [(1, 1, "+34600111222", None, 1615755960123, 1615755958000, 0, 1, -1, 1, 0, None, "Привет, где ты?", None,
            0, 0, 1),
           (2, 1, "+34600111222", None, 1615756020456, 0, 0, 1, -1, 2, 0, None, "On my way", None, 0, 0, 1),
           (3, 1, "+34600111222", None, 1615756080000, 0, 0, 0, -1, 1, 0, None, "no sender time", None, 0, 0, 0)]
    for i in range(4, n + 1):
        sms.append((i, 2, "+447700900000", None, 1615756080000 + i * 1000, 0, 0, 0, -1, 1, 0, None,
                    f"filler message number {i:04d} " + "x" * 80, None, 0, 0, 0))
    return {
        "sms": sms,
        "threads": [(1, 0, 0, "1", None, 0, 1, 0, 0, 0), (2, 0, 0, "2", None, 0, 1, 0, 0, 0),
                    (3, 0, 0, "1 2", None, 0, 1, 0, 0, 1)],
        "canonical_addresses": [(1, "+34600111222"), (2, "+447700900000")],
        "pdu": [(1, 3, 1615757000, 0, 1, 0, "mid1", "Photo", 106, "application/vnd.wap.multipart.related", 132, 0)],
        "part": [(1, 1, 0, "application/smil", None, None, None, None, None, None, None, None, None, "<smil/>"),
                 (2, 1, 0, "image/jpeg", "IMG_1.jpg", None, None, None, None, None, None, None,
                  "/data/user/0/com.android.providers.telephony/app_parts/PART_1_IMG_1.jpg", None),
                 (3, 1, 1, "text/plain", None, 106, None, None, None, None, None, None, None, "look at this")],
        "addr": [(1, 1, None, "+34600111222", 137, 106), (2, 1, None, "insert-address-token", 151, 106)],
    }


def test_android_sms_and_mms(tmp_path):
    data = build(tmp_path / "mmssms.db", ANDROID_SCHEMA, android_rows())
    records, warnings = run(ANDROID, data, "/data/data/com.android.providers.telephony/databases/mmssms.db")
    assert warnings == []
    assert not any(r.corrupted for r in records)
    s1, s2, s3, mms = (r.fields for r in records)
    assert s1["platform"] == "sms" and s1["sender"] == "+34600111222" and s1["recipients"] == ["(device owner)"]
    assert s1["sent_at_utc"] == "2021-03-14T21:05:58Z" and s1["time_basis"] == "date_sent"
    assert s1["received_at"] == "2021-03-14T21:06:00.123000Z"
    assert s1["conversation"] == {"id": "thread:1", "title": "+34600111222"}
    assert s1["source"] == {"path": "/data/data/com.android.providers.telephony/databases/mmssms.db",
                            "table": "sms", "row_id": 1}
    assert records[0].source_ref == "sms:1"
    assert s2["sender"] == "(device owner)" and s2["recipients"] == ["+34600111222"] and s2["direction"] == "outgoing"
    assert s2["sent_at"] == "2021-03-14T21:07:00.456000Z" and s2["time_basis"] == "date"
    assert s3["time_basis"] == "date"
    assert mms["kind"] == "mms" and mms["body"] == "look at this" and mms["sender"] == "+34600111222"
    assert mms["sent_at"] == "2021-03-14T21:23:20Z"
    assert mms["conversation"]["title"] == "+34600111222, +447700900000"
    assert mms["attachments"] == [{"name": "IMG_1.jpg", "sha256": None, "locator": None, "missing": None,
                                   "content_type": "image/jpeg", "part_id": 2,
                                   "path": "/data/user/0/com.android.providers.telephony/app_parts/PART_1_IMG_1.jpg"}]
    assert mms["source"]["table"] == "pdu"


def _corrupt_page_holding(data: bytes, marker: bytes, page_size: int = 1024) -> tuple[bytes, int]:
    at = data.index(marker)
    page = at // page_size
    bad = bytearray(data)
    bad[page * page_size:(page + 1) * page_size] = b"\xff" * page_size
    return bytes(bad), page


def test_android_corrupt_page_is_skipped_and_the_rest_read(tmp_path):
    data = build(tmp_path / "mmssms.db", ANDROID_SCHEMA, android_rows(400))
    bad, _ = _corrupt_page_holding(data, b"filler message number 0200")
    records, warnings = run(ANDROID, bad, "/x/mmssms.db")
    ids = [r.fields["source"]["row_id"] for r in records if r.fields["source"]["table"] == "sms"]
    assert 200 not in ids                            # the damaged page's rows are lost...
    assert 1 in ids and 400 in ids and 350 < len(ids) < 400    # ...and only those
    assert any(w.startswith("table sms: rows after rowid") and "reading resumed at rowid" in w for w in warnings)
    assert any(r.fields["source"]["table"] == "pdu" for r in records)


def test_android_missing_table(tmp_path):
    data = build(tmp_path / "mmssms.db", ANDROID_SCHEMA.replace("CREATE TABLE pdu", "CREATE TABLE pdu_gone"),
                 {k: v for k, v in android_rows().items() if k not in ("pdu",)})
    records, warnings = run(ANDROID, data, "/x/mmssms.db")
    assert len(records) == 3
    assert warnings == ["table pdu missing: its messages cannot be read"]


def test_not_a_message_database(tmp_path):
    data = build(tmp_path / "other.db", "CREATE TABLE t (a); INSERT INTO t VALUES (1);")
    for ex in (ANDROID, IOS, WA):
        assert not ex.accepts("/x/other.db", "application/vnd.sqlite3", data[:8192])
    # named like one but holding none of its tables: said so
    assert run(ANDROID, data, "/x/mmssms.db") == ([], ["/x/mmssms.db: none of the tables sms, pdu is present; "
                                                       "nothing read"])
    assert run(ANDROID, b"SQLite format 3\x00" + b"\x00" * 200, "/x/mmssms.db")[0] == []


# iOS sms.db: the sample image plants the same message tables (one copy, in the package)
IOS_SCHEMA = IOS_SMS_SCHEMA + """
CREATE TABLE attachment (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
  created_date INTEGER DEFAULT 0, filename TEXT, uti TEXT, mime_type TEXT, transfer_name TEXT,
  total_bytes INTEGER DEFAULT 0);
CREATE TABLE message_attachment_join (message_id INTEGER, attachment_id INTEGER, UNIQUE(message_id, attachment_id));
"""

# typedstream of an NSAttributedString, as iOS 16 writes it when 'text' is NULL
_ATTR = (b"\x04\x0bstreamtyped\x81\xe8\x03\x84\x01@\x84\x84\x84\x12NSAttributedString\x00\x84\x84\x08NSObject\x00"
         b"\x85\x92\x84\x84\x84\x08NSString\x01\x94\x84\x01+" + bytes([len("Käse um 8?".encode())])
         + "Käse um 8?".encode() + b"\x86\x84\x02iI\x01\x0a\x92\x84")


def ios_rows():
    return {
        "message": [
            (1, "G1", "Hola, ¿mañana?", 0, 1, None, None, "iMessage", 637_000_000, 0, 0, 0, 1, 0, None, 0, None, 0, 0),
            (2, "G2", "Sí \ufffc", 0, 1, None, None, "iMessage", 637_000_060_000_000_000, 0, 0, 1, 1, 0, None, 1,
             None, 0, 637_000_120_000_000_000),
            (3, "G3", None, 0, 2, None, _ATTR, "SMS", 700_000_000_000_000_000, 0, 0, 0, 0, 0, None, 0, None, 0, 0),
            (4, "G4", None, 0, 0, None, None, "iMessage", 700_000_100_000_000_000, 0, 0, 1, 1, 2, "Crew", 0, None,
             0, 0),
        ],
        "handle": [(1, "+34600111222", "ES", "iMessage", None), (2, "bob@example.org", "US", "SMS", None)],
        "chat": [(1, "iMessage;-;+34600111222", 45, "+34600111222", "iMessage", None),
                 (2, "SMS;+;chat123", 43, "chat123", "SMS", "Crew")],
        "chat_message_join": [(1, 1), (1, 2), (2, 3), (2, 4)],
        "chat_handle_join": [(1, 1), (2, 1), (2, 2)],
        "attachment": [(1, "A1", 0, "~/Library/SMS/Attachments/ab/11/A1/IMG_0001.HEIC", "public.heic", "image/heic",
                        "IMG_0001.HEIC", 2048)],
        "message_attachment_join": [(2, 1)],
    }


def test_attributed_body():
    assert attributed_text(_ATTR) == "Käse um 8?"
    assert attributed_text(b"no string here") is None


def test_ios_sms_db(tmp_path):
    data = build(tmp_path / "sms.db", IOS_SCHEMA, ios_rows())
    records, warnings = run(IOS, data, "/private/var/mobile/Library/SMS/sms.db")
    assert warnings == [] and not any(r.corrupted for r in records)
    m1, m2, m3, m4 = (r.fields for r in records)
    assert m1["platform"] == "imessage" and m1["sender"] == "+34600111222"
    assert m1["sent_at"] == "2021-03-09T16:26:40Z"                # 637,000,000 s after 2001-01-01
    assert m1["conversation"] == {"id": "iMessage;-;+34600111222", "title": "+34600111222", "service": "iMessage"}
    assert m2["sent_at"] == "2021-03-09T16:27:40Z"                # nanoseconds, decided by magnitude
    assert m2["sender"] == "(device owner)" and m2["recipients"] == ["+34600111222"]
    assert m2["body"] == "Sí" and m2["edited"] and m2["edited_at"] == "2021-03-09T16:28:40Z"
    assert m2["attachments"][0]["path"] == "~/Library/SMS/Attachments/ab/11/A1/IMG_0001.HEIC"
    assert m3["platform"] == "sms" and m3["body"] == "Käse um 8?" and m3["body_source"] == "attributedBody"
    assert m3["sender"] == "bob@example.org" and m3["conversation"]["title"] == "Crew"
    assert m3["participants"] == ["(device owner)", "+34600111222", "bob@example.org"]
    assert m4["system"] and m4["group_title"] == "Crew" and m4["sender"] is None
    assert records[2].source_ref == "message:3" and m3["source"]["row_id"] == 3


def test_ios_missing_handle_table(tmp_path):
    r = ios_rows()
    del r["handle"]
    data = build(tmp_path / "sms.db", IOS_SCHEMA.replace("CREATE TABLE handle", "CREATE TABLE handle_x"), r)
    records, warnings = run(IOS, data, "/x/sms.db")
    assert len(records) == 4
    assert warnings == ["table handle missing: senders are given as handle row ids"]
    assert records[0].fields["sender"] == "handle:1"


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

WA_LEGACY = """
CREATE TABLE messages (_id INTEGER PRIMARY KEY AUTOINCREMENT, key_remote_jid TEXT NOT NULL, key_from_me INTEGER,
  key_id TEXT NOT NULL, status INTEGER, needs_push INTEGER, data TEXT, timestamp INTEGER, media_url TEXT,
  media_mime_type TEXT, media_wa_type TEXT, media_size INTEGER, media_name TEXT, media_caption TEXT,
  media_hash TEXT, media_duration INTEGER, origin INTEGER, latitude REAL, longitude REAL, thumb_image TEXT,
  remote_resource TEXT, received_timestamp INTEGER, send_timestamp INTEGER, receipt_server_timestamp INTEGER,
  receipt_device_timestamp INTEGER, raw_data BLOB, recipient_count INTEGER, starred INTEGER, quoted_row_id INTEGER);
CREATE TABLE chat_list (_id INTEGER PRIMARY KEY AUTOINCREMENT, key_remote_jid TEXT UNIQUE, message_table_id INTEGER,
  subject TEXT, creation INTEGER);
"""

WA_CONTACTS = """
CREATE TABLE wa_contacts (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid TEXT NOT NULL, is_whatsapp_user BOOLEAN,
  status TEXT, number TEXT, display_name TEXT, wa_name TEXT);
"""


def wa_current_rows():
    return {
        "jid": [(1, "34600111222", "s.whatsapp.net", 0, 0, 0, "34600111222@s.whatsapp.net"),
                (2, "123-456", "g.us", 0, 0, 1, "123-456@g.us"),
                (3, "447700900000", "s.whatsapp.net", 0, 0, 0, "447700900000@s.whatsapp.net")],
        "chat": [(1, 1, 0, None, 0), (2, 2, 0, "Работа 🚚", 0)],
        "message": [
            (1, 1, 0, "K1", None, 0, 0, 0, 0, 1615755960000, 1615755961000, 0, 0, "¿Dónde estás?", 0, 0, 1),
            (2, 1, 1, "K2", None, 13, 0, 0, 0, 1615756020000, 0, 0, 1, "", 1, 0, 2),
            (3, 2, 0, "K3", 3, 0, 0, 0, 0, 1615756080000, 0, 0, 0, "в 8", 0, 0, 3),
            (4, 2, 0, "K4", 3, 0, 0, 0, 0, 1615756140000, 0, 0, 15, None, 0, 0, 4),
        ],
        "message_media": [(2, 1, "Media/WhatsApp Images/IMG-20210314-WA0001.jpg", 1000, "image/jpeg", None,
                           "the van")],
        "message_quoted": [(3, 2, "K1", 0, 1)],
    }


def test_whatsapp_current_schema(tmp_path):
    data = build(tmp_path / "msgstore.db", WA_CURRENT, wa_current_rows())
    records, warnings = run(WA, data, "/data/data/com.whatsapp/databases/msgstore.db")
    assert warnings == []
    m1, m2, m3, m4 = (r.fields for r in records)
    assert m1["platform"] == "whatsapp" and m1["sender"] == "34600111222@s.whatsapp.net"
    assert m1["sent_at"] == "2021-03-14T21:06:00Z" and m1["tz_known"] and m1["received_at"] == "2021-03-14T21:06:01Z"
    assert m1["conversation"] == {"id": "34600111222@s.whatsapp.net", "title": "34600111222@s.whatsapp.net",
                                  "group": False}
    assert m2["sender"] == "(device owner)" and m2["message_type"] == "image" and m2["body"] == "the van"
    assert m2["attachments"][0]["name"] == "IMG-20210314-WA0001.jpg"
    assert m2["attachments"][0]["path"] == "Media/WhatsApp Images/IMG-20210314-WA0001.jpg"
    assert m3["conversation"]["title"] == "Работа 🚚" and m3["conversation"]["group"]
    assert m3["sender"] == "447700900000@s.whatsapp.net" and m3["reply_to"] == "K1"
    assert m4["deleted"] and m4["message_type"] == "deleted"
    assert m4["source"] == {"path": "/data/data/com.whatsapp/databases/msgstore.db", "table": "message", "row_id": 4}


def test_whatsapp_legacy_schema(tmp_path):
    legacy = [
        (1, "-1", 0, "-1", -1, 0, None, 0, None, None, None, 0, None, None, None, 0, 0, 0, 0, None, None, 0, 0, 0, 0,
         None, 0, 0, None),
        (2, "34600111222@s.whatsapp.net", 0, "L1", 0, 0, "Hola", 1415755960000, None, None, "0", 0, None, None, None,
         0, 0, 0, 0, None, None, 1415755961000, 0, 0, 0, None, 0, 0, None),
        (3, "34600111222@s.whatsapp.net", 1, "L2", 13, 0, None, 1415756000000, None, None, "5", 0, None, None, None,
         0, 0, 40.4168, -3.7038, None, None, 0, 0, 0, 0, None, 0, 1, 2),
        (4, "9-9@g.us", 0, "L3", 6, 0, None, 1415756100000, None, None, "0", 0, None, None, None, 0, 0, 0, 0, None,
         "34600111222@s.whatsapp.net", 0, 0, 0, 0, None, 0, 0, None),
    ]
    data = build(tmp_path / "msgstore.db", WA_LEGACY, {"messages": legacy,
                                                       "chat_list": [(1, "9-9@g.us", 4, "Family", 0)]})
    records, warnings = run(WA, data, "/x/msgstore.db")
    assert warnings == [] and len(records) == 3           # the '-1' placeholder row is not a message
    a, b, c = (r.fields for r in records)
    assert a["body"] == "Hola" and a["sent_at"] == "2014-11-12T01:32:40Z" and a["source"]["table"] == "messages"
    assert b["location"] == {"latitude": 40.4168, "longitude": -3.7038,
                             "source": "whatsapp_db location message (messages.latitude/longitude)"}
    assert b["reply_to"] == "L1" and b["starred"]
    assert c["system"] and c["conversation"]["title"] == "Family" and c["actor"] == "34600111222@s.whatsapp.net"


def test_whatsapp_names_from_wa_db_and_search(forensic, tmp_path):
    """A folder item: msgstore.db (in WAL mode) + wa.db; names joined in finalize; nothing written
    beside the evidence databases (no -wal/-shm), their bytes unchanged."""
    root = tmp_path / "phone" / "data" / "com.whatsapp" / "databases"
    root.mkdir(parents=True)
    build(root / "msgstore.db", "PRAGMA journal_mode=WAL;" + WA_CURRENT, wa_current_rows())
    build(root / "wa.db", WA_CONTACTS, {"wa_contacts": [
        (1, "34600111222@s.whatsapp.net", 1, None, "+34600111222", "Lucía Gómez", "Lu"),
        (2, "447700900000@s.whatsapp.net", 1, None, "+447700900000", None, "Driver Dave")]})
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.iterdir()}
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C", "--examiner", "E")
    forensic("evidence", "add", tmp_path / "phone", "--case", case, "--id", "phone")
    forensic("triage", "--case", case, expect=None)
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.iterdir()}
    assert after == before
    rows = forensic("messages", "--case", case, "--platform", "whatsapp", "--json").jsonl()
    assert len(rows) == 4
    assert rows[0]["sender_name"] == "Lucía Gómez" and rows[0]["conversation"]["title"] == "Lucía Gómez"
    assert rows[2]["sender_name"] == "Driver Dave" and rows[2]["conversation"]["title"] == "Работа 🚚"
    assert rows[0]["source"]["table"] == "message" and rows[0]["source"]["row_id"] == 1
    found = forensic("messages", "--case", case, "--search", "lucia", "--json").jsonl()
    assert [r["body"] for r in found] == ["¿Dónde estás?", "the van"]       # her name is the chat's title
    found = forensic("messages", "--case", case, "--search", "dave", "--json").jsonl()
    assert [r["body"] for r in found] == ["в 8", ""]                # sender name from wa.db (2nd: deleted)
    assert [r["body"] for r in forensic("messages", "--case", case, "--search", "РАБОТА", "--json").jsonl()] == \
        ["в 8", ""]
    warnings = forensic("warnings", "--case", case, "--json").jsonl()
    assert [w for w in warnings if w["stage"].startswith("extract:whatsapp_db") and "IMG-" not in w["message"]] == []




@pytest.mark.corpus
def test_corpus_android_mmssms(corpus):
    data = (corpus / "chats/plaso/android/mmssms.db").read_bytes()
    records, warnings = run(ANDROID, data, "/data/mmssms.db")
    assert warnings == [] and len(records) == 9 and not any(r.corrupted for r in records)
    first = records[0].fields
    # plaso's android_sms test: 2013-10-29 16:56:28.038, "Yo Fred this is my new number."
    assert first["body"] == "Yo Fred this is my new number." and first["sent_at"] == "2013-10-29T16:56:28.038000Z"
    assert first["sender"] == "(device owner)" and first["recipients"] == ["1 555-521-5554"]
    db = sqlite3.connect(f"file:{corpus / 'chats/plaso/android/mmssms.db'}?mode=ro&immutable=1", uri=True)
    assert [r.fields["body"] for r in records] == [b for (b,) in db.execute("SELECT body FROM sms ORDER BY _id")]


@pytest.mark.corpus
def test_corpus_imessage(corpus):
    path = corpus / "chats/plaso/sqlite/imessage_chat.db"
    records, warnings = run(IOS, path.read_bytes(), "/Users/x/Library/Messages/chat.db")
    assert warnings == [] and len(records) == 10 and not any(r.corrupted for r in records)
    assert records[0].fields["sent_at"] == "2015-11-22T18:09:46Z"         # plaso: 2015-11-22 18:09:46
    assert records[0].fields["body"].startswith("Hey Kenneth, it's Eireanne!")
    assert records[1].fields["sender"] == "(device owner)"
    db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    assert [r.fields["body"] for r in records] == [t for (t,) in db.execute("SELECT text FROM message ORDER BY ROWID")]


@pytest.mark.corpus
def test_corpus_other_databases_are_not_taken(corpus):
    for rel in ("chats/plaso/android/viber_data", "chats/plaso/ios/kik.sqlite", "chats/plaso/sqlite/skype_main.db"):
        data = (corpus / rel).read_bytes()
        for ex in (ANDROID, IOS, WA):
            assert not ex.accepts("/x/" + Path(rel).name, "application/vnd.sqlite3", data[:8192]), (rel, ex.NAME)
