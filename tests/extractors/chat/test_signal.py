"""Signal Android, decrypted signal.db, built with the app's tables (columns as ALEAPP's
signalAndroid reads them): the current 'message' schema with a one-to-one chat, a group with
members, an attachment and a call; the earlier sms/mms schema; a database with no message
table."""
from __future__ import annotations

from appdb import build, delete_rows, recovered, run
from forensic.extractors.chat.signal import SignalExtractor
from forensic.extractors.chat.sqlite_chat import OWNER

EX = SignalExtractor()
COMMON = """
CREATE TABLE recipient (_id INTEGER PRIMARY KEY AUTOINCREMENT, type INTEGER DEFAULT 0, e164 TEXT UNIQUE DEFAULT NULL,
  aci TEXT UNIQUE DEFAULT NULL, username TEXT UNIQUE DEFAULT NULL, group_id TEXT UNIQUE DEFAULT NULL,
  system_joined_name TEXT DEFAULT NULL, profile_joined_name TEXT DEFAULT NULL);
CREATE TABLE thread (_id INTEGER PRIMARY KEY AUTOINCREMENT, date INTEGER DEFAULT 0, recipient_id INTEGER,
  snippet TEXT);
CREATE TABLE groups (_id INTEGER PRIMARY KEY, group_id TEXT, recipient_id INTEGER, title TEXT, avatar_id INTEGER);
"""
CURRENT = COMMON + """
CREATE TABLE group_membership (_id INTEGER PRIMARY KEY, group_id TEXT NOT NULL, recipient_id INTEGER NOT NULL);
CREATE TABLE message (_id INTEGER PRIMARY KEY AUTOINCREMENT, date_sent INTEGER NOT NULL, date_received INTEGER NOT NULL,
  date_server INTEGER DEFAULT -1, thread_id INTEGER NOT NULL, from_recipient_id INTEGER NOT NULL,
  from_device_id INTEGER, to_recipient_id INTEGER NOT NULL, type INTEGER NOT NULL, body TEXT, read INTEGER DEFAULT 0,
  quote_id INTEGER DEFAULT 0, quote_author INTEGER DEFAULT 0, remote_deleted INTEGER DEFAULT 0);
CREATE TABLE attachment (_id INTEGER PRIMARY KEY AUTOINCREMENT, message_id INTEGER, content_type TEXT,
  file_name TEXT, data_file TEXT, data_size INTEGER);
"""
PEOPLE = [(1, 0, "+4915100000001", "a1", None, None, None, "Me"),
          (2, 0, "+4915100000002", "a2", None, None, "Lena", "lena"),
          (3, 0, "+4915100000003", "a3", None, None, None, "Kai"),
          (4, 3, None, None, None, "__signal_group__v2__!ab", None, None)]
ROWS = {
    "recipient": PEOPLE,
    "thread": [(1, 0, 2, None), (2, 0, 4, None)],
    "groups": [(1, "__signal_group__v2__!ab", 4, "Night shift", None)],
    "group_membership": [(1, "__signal_group__v2__!ab", 1), (2, "__signal_group__v2__!ab", 2),
                         (3, "__signal_group__v2__!ab", 3)],
    "message": [
        (1, 1680000000000, 1680000001000, -1, 1, 2, 1, 1, 10485780, "ready?", 1, 0, 0, 0),   # 0xA00014: inbox
        (2, 1680000060000, 1680000060000, -1, 1, 1, 1, 2, 10485783, "yes", 1, 0, 0, 0),      # 0xA00017: sent
        (3, 1680000120000, 1680000121000, -1, 2, 3, 1, 4, 10485780, None, 0, 0, 0, 0),
        (4, 1680000180000, 1680000180000, -1, 1, 2, 1, 1, 1, None, 1, 0, 0, 0),              # incoming call
    ],
    "attachment": [(1, 3, "image/jpeg", "IMG_77.jpg",
                    "/data/user/0/org.thoughtcrime.securesms/app_parts/part123.mms", 5000)],
}


def test_current_schema(tmp_path):
    data = build(tmp_path / "signal.db", CURRENT, ROWS)
    recs, warns = run(EX, data, "/data/data/org.thoughtcrime.securesms/databases/signal.db")
    assert warns == []
    a, b, photo, call = (r.fields for r in recs)
    assert a["platform"] == "signal" and a["sender"] == "Lena (+4915100000002)" and a["direction"] == "incoming"
    assert a["conversation"] == {"id": "thread:1", "title": "Lena (+4915100000002)"}
    assert a["sent_at_utc"] == "2023-03-28T10:40:00Z" and a["received_at"] == "2023-03-28T10:40:01Z"
    assert b["sender"] == OWNER and b["recipients"] == ["Lena (+4915100000002)"]
    assert photo["conversation"]["title"] == "Night shift" and photo["group"] is True
    assert photo["sender"] == "Kai (+4915100000003)"
    assert photo["participants"] == [OWNER, "Lena (+4915100000002)", "Kai (+4915100000003)"]
    assert photo["attachments"][0]["name"] == "IMG_77.jpg"
    assert photo["attachments"][0]["path"].endswith("/app_parts/part123.mms")
    assert call["system"] is True and call["message_type"] == "incoming_audio_call"


LEGACY = COMMON.replace("system_joined_name", "system_display_name").replace("e164", "phone") + """
CREATE TABLE sms (_id INTEGER PRIMARY KEY, thread_id INTEGER, address INTEGER, date INTEGER, date_sent INTEGER,
  read INTEGER DEFAULT 0, type INTEGER, body TEXT, remote_deleted INTEGER DEFAULT 0);
CREATE TABLE mms (_id INTEGER PRIMARY KEY, thread_id INTEGER, date INTEGER, date_received INTEGER, msg_box INTEGER,
  read INTEGER DEFAULT 0, body TEXT, address INTEGER, quote_id INTEGER, remote_deleted INTEGER DEFAULT 0);
CREATE TABLE part (_id INTEGER PRIMARY KEY, mid INTEGER, seq INTEGER DEFAULT 0, ct TEXT, name TEXT, file_name TEXT,
  _data TEXT);
"""


def test_earlier_sms_mms_schema(tmp_path):
    rows = {"recipient": PEOPLE, "thread": [(1, 0, 2, None)], "groups": [],
            "sms": [(1, 1, 2, 1500000001000, 1500000000000, 1, 10485780, "old text", 0)],
            "mms": [(1, 1, 1500000100000, 1500000100500, 10485783, 1, "a picture", 2, None, 0)],
            "part": [(1, 1, 0, "image/png", None, "shot.png", "/data/x/app_parts/part1.mms")]}
    data = build(tmp_path / "signal.db", LEGACY.replace("thread (_id", "thread (_id").replace(
        "recipient_id INTEGER,\n  snippet", "thread_recipient_id INTEGER,\n  snippet"), rows)
    recs, warns = run(EX, data, "/x/signal.db")
    assert warns == []
    sms, mms = (r.fields for r in recs)
    assert sms["sender"] == "Lena (+4915100000002)" and sms["sent_at_utc"] == "2017-07-14T02:40:00Z"
    assert sms["source"]["table"] == "sms" and sms["conversation"]["title"] == "Lena (+4915100000002)"
    assert mms["sender"] == OWNER and mms["attachments"][0]["name"] == "shot.png"


def test_no_message_table_warned(tmp_path):
    data = build(tmp_path / "signal.db", COMMON)
    recs, warns = run(EX, data, "/x/signal.db")
    assert recs == [] and "none of the tables message, sms, mms is present" in warns[0]


def test_deleted_message_recovered(tmp_path):
    build(tmp_path / "signal.db", CURRENT, ROWS)
    data = delete_rows(tmp_path / "signal.db", "DELETE FROM message WHERE _id = 1")
    recs, warns = run(EX, data, "/x/signal.db")
    [gone] = recovered(recs)
    assert gone["body"] == "ready?" and gone["sender"] == "Lena (+4915100000002)"
    assert "1 deleted rows recovered" in warns[0]
