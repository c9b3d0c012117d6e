"""Google Messages bugle_db built with the app's tables (columns as ALEAPP's googleMessages
and the AOSP Messaging DatabaseHelper define them): a one-to-one SMS thread, a group MMS with
a photo, and a newer schema."""
from __future__ import annotations

from appdb import build, delete_rows, recovered, run
from forensic.extractors.chat.google_messages import GoogleMessagesExtractor
from forensic.extractors.chat.sqlite_chat import OWNER

EX = GoogleMessagesExtractor()
SCHEMA = """
CREATE TABLE conversations (_id INTEGER PRIMARY KEY AUTOINCREMENT, sms_thread_id INT DEFAULT(0), name TEXT,
  latest_message_id INT, snippet_text TEXT, archive_status INT DEFAULT(0));
CREATE TABLE participants (_id INTEGER PRIMARY KEY AUTOINCREMENT, sub_id INT DEFAULT(-2), sim_slot_id INT DEFAULT(-1),
  normalized_destination TEXT, send_destination TEXT, display_destination TEXT, full_name TEXT, first_name TEXT,
  profile_photo_uri TEXT, contact_id INT DEFAULT(-1), lookup_key STRING, blocked INT DEFAULT(0));
CREATE TABLE conversation_participants (_id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id INT,
  participant_id INT);
CREATE TABLE messages (_id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id INT, sender_id INT,
  sent_timestamp INT DEFAULT(0), received_timestamp INT DEFAULT(0), message_protocol INT DEFAULT(0),
  message_status INT DEFAULT(0), seen INT DEFAULT(0), read INT DEFAULT(0), sms_message_uri TEXT);
CREATE TABLE parts (_id INTEGER PRIMARY KEY AUTOINCREMENT, message_id INT, text TEXT, uri TEXT, content_type TEXT,
  width INT DEFAULT(-1), height INT DEFAULT(-1), timestamp INT, conversation_id INT, file_size_bytes INT DEFAULT(-1));
"""
ROWS = {
    "conversations": [(1, 3, "Nina", 2, "ok", 0), (2, 4, "Cargo group", 3, None, 0)],
    "participants": [(1, 1, 0, "+15550000001", "+15550000001", "(555) 000-0001", None, None, None, -1, None, 0),
                     (2, -2, -1, "+15550000002", "+15550000002", "(555) 000-0002", "Nina", "Nina", None, 5, None, 0),
                     (3, -2, -1, "+15550000003", "+15550000003", "(555) 000-0003", None, None, None, -1, None, 0)],
    "conversation_participants": [(1, 1, 2), (2, 2, 2), (3, 2, 3)],
    "messages": [(1, 1, 2, 1700000000000, 1700000001000, 0, 100, 1, 1, "content://sms/1"),
                 (2, 1, 1, 1700000050000, 1700000050000, 0, 1, 1, 1, "content://sms/2"),
                 (3, 2, 3, 1700000100000, 1700000101000, 1, 100, 0, 0, "content://mms/3")],
    "parts": [(1, 1, "are you there?", None, "text/plain", -1, -1, 1700000001000, 1, -1),
              (2, 2, "ok", None, "text/plain", -1, -1, 1700000050000, 1, -1),
              (3, 3, None, "content://mms/part/31", "image/jpeg", 640, 480, 1700000101000, 2, 20480),
              (4, 3, "the boxes", None, "text/plain", -1, -1, 1700000101000, 2, -1)],
}


def test_bugle_db(tmp_path):
    data = build(tmp_path / "bugle_db", SCHEMA, ROWS)
    recs, warns = run(EX, data, "/data/data/com.google.android.apps.messaging/databases/bugle_db")
    assert warns == []
    a, b, c = (r.fields for r in recs)
    assert a["platform"] == "google-messages" and a["sender"] == "Nina ((555) 000-0002)"
    assert a["direction"] == "incoming" and a["sent_at_utc"] == "2023-11-14T22:13:20Z"
    assert a["received_at"] == "2023-11-14T22:13:21Z" and a["body"] == "are you there?"
    assert a["conversation"] == {"id": "conversation:1", "title": "Nina"}
    assert b["sender"] == OWNER and b["recipients"] == ["Nina ((555) 000-0002)"] and b["direction"] == "outgoing"
    assert c["protocol"] == "mms" and c["body"] == "the boxes" and c["sender"] == "(555) 000-0003"
    assert c["conversation"]["title"] == "Cargo group"
    assert c["participants"] == [OWNER, "Nina ((555) 000-0002)", "(555) 000-0003"]
    assert c["attachments"][0]["uri"] == "content://mms/part/31" and c["attachments"][0]["size"] == 20480


def test_newer_schema_named(tmp_path):
    data = build(tmp_path / "bugle_db", SCHEMA.replace("sender_id INT,", "sender_participant INT,"), ROWS)
    recs, warns = run(EX, data, "/x/bugle_db")
    assert len(recs) == 3 and all(r.fields["sender"] is None or r.fields["sender"] == OWNER for r in recs)
    assert warns == ["Google Messages: table messages lacks column(s) sender_id (unknown schema version); "
                     "those values are not read"]


def test_deleted_message_and_its_part(tmp_path):
    """A deleted message row is recovered; its text lives in 'parts': a part whose message is
    gone is listed on its own (here live, then deleted too and recovered)."""
    build(tmp_path / "bugle_db", SCHEMA, ROWS)
    data = delete_rows(tmp_path / "bugle_db", "DELETE FROM messages WHERE _id = 1")
    recs, _ = run(EX, data, "/x/bugle_db")
    [gone] = recovered(recs)
    assert gone["sender"] == "Nina ((555) 000-0002)" and gone["sent_at_utc"] == "2023-11-14T22:13:20Z"
    orphan = [r.fields for r in recs if r.fields.get("kind") == "part without its message"]
    assert [(o["body"], o["conversation"]["title"], o["recovered"] if "recovered" in o else None)
            for o in orphan] == [("are you there?", "Nina", None)]
    data = delete_rows(tmp_path / "bugle_db", "DELETE FROM parts WHERE message_id = 1")
    recs, _ = run(EX, data, "/x/bugle_db")
    texts = {f["body"] for f in recovered(recs)}
    assert "are you there?" in texts
