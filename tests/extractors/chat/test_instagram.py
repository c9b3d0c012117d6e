"""Instagram Android direct.db built with the app's tables (columns as ALEAPP's instagram
artifact reads them): a one-to-one and a group thread, a photo, a location, a link, bad JSON,
and a newer schema."""
from __future__ import annotations

import json

from appdb import build, delete_rows, recovered, run
from forensic.extractors.chat.instagram import InstagramExtractor
from forensic.extractors.chat.sqlite_chat import OWNER

EX = InstagramExtractor()
SCHEMA = """
CREATE TABLE session (user_id TEXT PRIMARY KEY);
CREATE TABLE threads (_id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, thread_id TEXT NOT NULL,
  thread_info TEXT NOT NULL, last_activity_time INTEGER);
CREATE TABLE messages (_id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, server_item_id TEXT, client_item_id TEXT,
  thread_id TEXT, recipient_ids TEXT, timestamp INTEGER NOT NULL, message_type TEXT NOT NULL, text TEXT,
  message TEXT NOT NULL);
"""
ME = "111"


def _info(title, users):
    return json.dumps({"thread_title": title, "viewer_id": ME,
                       "users": [{"pk": pk, "username": u, "full_name": f} for pk, u, f in users],
                       "inviter": {"pk": ME, "username": "me.acct", "full_name": "Me"}})


def _msg(uid, item_id, kind, **kw):
    return json.dumps(dict({"user_id": uid, "item_id": item_id, "item_type": kind, "timestamp": "0"}, **kw))


ROWS = {
    "session": [(ME,)],
    "threads": [(1, ME, "t1", _info("", [("222", "kat_v", "Kat V")]), 0),
                (2, ME, "t2", _info("Drop team", [("222", "kat_v", "Kat V"), ("333", "jo", None)]), 0)],
    "messages": [
        (1, ME, "i1", "c1", "t1", None, 1650000000000000, "text", "call me", _msg("222", "i1", "text", text="call me")),
        (2, ME, "i2", "c2", "t1", None, 1650000001000000, "media", None,
         _msg(ME, "i2", "media", media={"id": "m9", "media_type": 1, "image_versions2": {
             "candidates": [{"url": "https://cdn.example/v/t51/abc_n.jpg?x=1"}]}})),
        (3, ME, "i3", "c3", "t2", None, 1650000002000000, "location", None,
         _msg("333", "i3", "location", location={"lat": 40.7128, "lng": -74.006, "name": "Pier 17"})),
        (4, ME, "i4", "c4", "t2", None, 1650000003000000, "link", "look", "{not json"),
    ],
}


def test_direct_messages(tmp_path):
    data = build(tmp_path / "direct.db", SCHEMA, ROWS)
    recs, warns = run(EX, data, "/data/data/com.instagram.android/databases/direct.db")
    assert warns == []
    a, photo, loc, bad = (r.fields for r in recs)
    assert a["platform"] == "instagram" and a["sender"] == "Kat V @kat_v (222)" and a["direction"] == "incoming"
    assert a["conversation"] == {"id": "t1", "title": "Kat V @kat_v (222)"}
    assert a["sent_at_utc"] == "2022-04-15T05:20:00Z" and a["body"] == "call me"
    assert photo["sender"] == OWNER and photo["direction"] == "outgoing"
    assert photo["attachments"][0]["name"] == "abc_n.jpg"
    assert photo["attachments"][0]["url"] == "https://cdn.example/v/t51/abc_n.jpg?x=1"
    assert loc["conversation"]["title"] == "Drop team" and loc["sender"] == "jo (333)"
    assert loc["participants"] == [OWNER, "Kat V @kat_v (222)", "jo (333)"]
    assert loc["location"] == {"latitude": 40.7128, "longitude": -74.006,
                               "source": "instagram messages.message location", "name": "Pier 17"}
    assert loc["place_name"] == "Pier 17"
    assert bad["body"] == "look" and bad["sender"] is None
    assert "message JSON is not readable JSON" in recs[3].warnings[0]


def test_newer_schema_named(tmp_path):
    data = build(tmp_path / "direct.db", SCHEMA.replace("message TEXT NOT NULL", "payload BLOB"), ROWS)
    recs, warns = run(EX, data, "/x/direct.db")
    assert len(recs) == 4
    assert warns == ["Instagram: table messages lacks column(s) message (unknown schema version); "
                     "those values are not read"]


def test_deleted_message_recovered(tmp_path):
    build(tmp_path / "direct.db", SCHEMA, ROWS)
    data = delete_rows(tmp_path / "direct.db", "DELETE FROM messages WHERE _id = 1")
    recs, warns = run(EX, data, "/x/direct.db")
    [gone] = recovered(recs)
    assert gone["body"] == "call me" and gone["sender"] == "Kat V @kat_v (222)"
    assert "1 deleted rows recovered" in warns[0]
