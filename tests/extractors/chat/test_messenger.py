"""Facebook Messenger Android threads_db2 built with the app's tables (columns as ALEAPP's
threads_db2 queries read them): a one-to-one and a group thread, a photo, a location, an
admin (call) row, bad JSON, and a newer schema."""
from __future__ import annotations

import json

from appdb import build, delete_rows, recovered, run
from forensic.extractors.chat.messenger import MessengerExtractor

EX = MessengerExtractor()
SCHEMA = """
CREATE TABLE threads (thread_key TEXT PRIMARY KEY, thread_fbid TEXT, action_id INTEGER, name TEXT, senders TEXT,
  snippet TEXT, timestamp_ms INTEGER, unread_message_count INTEGER);
CREATE TABLE thread_users (user_key TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, name TEXT, username TEXT,
  is_messenger_user INTEGER, is_friend INTEGER);
CREATE TABLE thread_participants (thread_key TEXT, user_key TEXT, type TEXT, is_admin INTEGER);
CREATE TABLE messages (msg_id TEXT PRIMARY KEY, thread_key TEXT, action_id INTEGER, text TEXT, sender TEXT,
  is_not_forwardable INTEGER, timestamp_ms INTEGER, timestamp_sent_ms INTEGER, msg_type INTEGER, affected_users TEXT,
  attachments TEXT, shares TEXT, sticker_id TEXT, coordinates TEXT, offline_threading_id TEXT, source TEXT,
  generic_admin_message_extensible_data TEXT, snippet TEXT);
"""


def _sender(uid, name):
    return json.dumps({"email": f"{uid}@facebook.com", "user_key": f"FACEBOOK:{uid}", "name": name})


ONE, GROUP = "ONE_TO_ONE:100:200", "GROUP:9001"
ROWS = {
    "threads": [(ONE, "200", 1, None, None, None, 0, 0), (GROUP, "9001", 2, "Weekend plans", None, None, 0, 0)],
    "thread_users": [("FACEBOOK:100", "Sam", "Lee", "Sam Lee", "sam.lee", 1, 1),
                     ("FACEBOOK:200", "Ria", "Das", "Ria Das", "ria.d", 1, 1),
                     ("FACEBOOK:300", "Tom", "Ng", "Tom Ng", None, 1, 0)],
    "thread_participants": [(ONE, "FACEBOOK:100", "p", 0), (ONE, "FACEBOOK:200", "p", 0),
                            (GROUP, "FACEBOOK:100", "p", 1), (GROUP, "FACEBOOK:200", "p", 0),
                            (GROUP, "FACEBOOK:300", "p", 0)],
    "messages": [
        ("m.1", ONE, 1, "got the package?", _sender(200, "Ria Das"), 0, 1600000000000, 1600000000000, 0, None,
         None, None, None, None, None, None, None, None),
        ("m.2", ONE, 2, None, _sender(100, "Sam Lee"), 0, 1600000010000, None, 0, None,
         json.dumps([{"id": "att1", "mime_type": "image/jpeg", "filename": "image-77.jpg", "file_size": 1234}]),
         None, None, json.dumps({"latitude": 48.8584, "longitude": 2.2945}), None, None, None, None),
        ("m.3", GROUP, 3, "see you", _sender(300, "Tom Ng"), 0, 1600000020000, None, 0, None, "{broken", None, None,
         None, None, None, None, None),
        ("m.4", GROUP, 4, None, _sender(100, "Sam Lee"), 0, 1600000030000, None, 3, None, None, None, None, None,
         None, None, json.dumps({"call_duration": 42, "caller_id": "100", "video": False}), "Sam called the group"),
    ],
}


def test_threads_group_attachment_location_admin(tmp_path):
    data = build(tmp_path / "threads_db2", SCHEMA, ROWS)
    recs, warns = run(EX, data, "/data/data/com.facebook.orca/databases/threads_db2")
    assert warns == []
    one, photo, grp, call = (r.fields for r in recs)
    assert one["platform"] == "messenger" and one["sender"] == "Ria Das (200)" and one["sender_id"] == "200"
    assert one["conversation"] == {"id": ONE, "title": "Sam Lee (100), Ria Das (200)"}
    assert one["sent_at_utc"] == "2020-09-13T12:26:40Z" and one["group"] is False
    assert photo["attachments"][0]["name"] == "image-77.jpg" and photo["attachments"][0]["mime_type"] == "image/jpeg"
    assert photo["location"] == {"latitude": 48.8584, "longitude": 2.2945, "source": "messenger messages.coordinates"}
    assert grp["conversation"]["title"] == "Weekend plans" and grp["group"] is True
    assert grp["participants"] == ["Sam Lee (100)", "Ria Das (200)", "Tom Ng (300)"]
    assert grp["recipients"] == ["Sam Lee (100)", "Ria Das (200)"]
    assert recs[2].warnings and "attachments is not readable JSON" in recs[2].warnings[0]
    assert call["system"] is True and call["body"] == "Sam called the group"
    assert call["admin_data"]["call_duration"] == 42


def test_newer_schema_named(tmp_path):
    data = build(tmp_path / "threads_db2", SCHEMA.replace("sender TEXT,", "sender_key TEXT,"), ROWS)
    recs, warns = run(EX, data, "/x/threads_db2")
    assert len(recs) == 4 and all(r.fields["sender"] is None for r in recs)
    assert warns == ["Messenger: table messages lacks column(s) sender (unknown schema version); "
                     "those values are not read"]


def test_deleted_message_recovered(tmp_path):
    build(tmp_path / "threads_db2", SCHEMA, ROWS)
    data = delete_rows(tmp_path / "threads_db2", "DELETE FROM messages WHERE msg_id = 'm.1'")
    recs, warns = run(EX, data, "/x/threads_db2")
    [gone] = recovered(recs)
    assert gone["body"] == "got the package?" and gone["sender"] == "Ria Das (200)"
    assert "1 deleted rows recovered" in warns[0]
