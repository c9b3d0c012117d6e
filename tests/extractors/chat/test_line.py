"""LINE Android naver_line built with the app's tables (columns as ALEAPP's line artifact
reads them): a one-to-one chat, a group with members, a photo, a location, a call row, and
a newer schema."""
from __future__ import annotations

from appdb import build, delete_rows, recovered, run
from forensic.extractors.chat.line import LineExtractor
from forensic.extractors.chat.sqlite_chat import OWNER

EX = LineExtractor()
SCHEMA = """
CREATE TABLE chat_history (id INTEGER PRIMARY KEY AUTOINCREMENT, server_id TEXT, type INTEGER, chat_id TEXT,
  from_mid TEXT, content TEXT, created_time TEXT, delivered_time TEXT, status INTEGER, sent_count INTEGER,
  read_count INTEGER, location_name TEXT, location_address TEXT, location_phone TEXT, location_latitude INTEGER,
  location_longitude INTEGER, attachement_image INTEGER, attachement_type INTEGER, attachement_local_uri TEXT,
  parameter TEXT, chunks BLOB);
CREATE TABLE contacts (m_id TEXT PRIMARY KEY, contact_id TEXT, contact_key TEXT, name TEXT, phonetic_name TEXT,
  server_name TEXT, addressbook_name TEXT, custom_name TEXT, status_msg TEXT);
CREATE TABLE chat (chat_id TEXT PRIMARY KEY, chat_name TEXT, owner_mid TEXT, last_from_mid TEXT,
  last_message TEXT, last_created_time TEXT);
CREATE TABLE groups (id TEXT PRIMARY KEY, name TEXT, picture_status TEXT, creator TEXT);
CREATE TABLE membership (id TEXT, m_id TEXT, is_accepted INTEGER, created_time INTEGER);
"""
U1, U2, G = "u1111", "u2222", "c9999"
ROWS = {
    "contacts": [(U1, "1", "k1", "Mika", None, "mika_s", None, None, None),
                 (U2, "2", "k2", "Ren", None, None, "Ren (work)", None, None)],
    "chat": [(U1, None, None, U1, "hi", "0"), (G, None, None, U2, "here", "0")],
    "groups": [(G, "Harbour", None, U1)],
    "membership": [(G, U1, 1, 0), (G, U2, 1, 0)],
    "chat_history": [
        (1, "s1", 1, U1, U1, "hi there", "1610000000000", None, 1, 1, 0, None, None, None, None, None, 0, 0, None,
         None, None),
        (2, "s2", 1, U1, None, None, "1610000060000", None, 2, 1, 1, None, None, None, None, None, 1, 1,
         "/storage/emulated/0/Android/data/jp.naver.line.android/storage/mo/s2", None, None),
        (3, "s3", 1, G, U2, "here", "1610000120000", None, 1, 1, 0, "Dock 4", "Harbour Rd 1", None, 35658581,
         139745433, 0, 0, None, None, None),
        (4, "s4", 1, U1, U1, None, "1610000180000", None, 1, 1, 0, None, None, None, None, None, 0, 6, None,
         "DURATION\t12", None),
    ],
}


def test_naver_line(tmp_path):
    data = build(tmp_path / "naver_line", SCHEMA, ROWS)
    recs, warns = run(EX, data, "/data/data/jp.naver.line.android/databases/naver_line")
    assert warns == []
    a, photo, grp, call = (r.fields for r in recs)
    assert a["platform"] == "line" and a["sender"] == f"Mika ({U1})" and a["sent_at_utc"] == "2021-01-07T06:13:20Z"
    assert a["conversation"] == {"id": U1, "title": f"Mika ({U1})"} and a["direction"] == "incoming"
    assert photo["sender"] == OWNER and photo["attachments"][0]["path"].endswith("/storage/mo/s2")
    assert grp["conversation"] == {"id": G, "title": "Harbour"} and grp["group"] is True
    assert grp["sender"] == f"Ren (work) ({U2})" and grp["participants"] == [OWNER, f"Mika ({U1})",
                                                                            f"Ren (work) ({U2})"]
    assert grp["location"] == {"latitude": 35.658581, "longitude": 139.745433,
                               "source": "line chat_history.location_latitude/location_longitude (micro-degrees)",
                               "name": "Dock 4"}
    assert grp["place_name"] == "Dock 4"
    assert call["system"] is True and call["attachment_type"] == 6


def test_newer_schema_named(tmp_path):
    data = build(tmp_path / "naver_line", SCHEMA.replace("from_mid TEXT,", "sender_mid TEXT,"), ROWS)
    recs, warns = run(EX, data, "/x/naver_line")
    assert [r.fields["sender"] == OWNER for r in recs] == [False, True, False, False]
    assert warns == ["LINE: table chat_history lacks column(s) from_mid (unknown schema version); "
                     "those values are not read"]


def test_deleted_message_recovered(tmp_path):
    build(tmp_path / "naver_line", SCHEMA, ROWS)
    data = delete_rows(tmp_path / "naver_line", "DELETE FROM chat_history WHERE id = 3")
    recs, warns = run(EX, data, "/x/naver_line")
    [gone] = recovered(recs)
    assert gone["body"] == "here" and gone["location"]["latitude"] == 35.658581
    assert "1 deleted rows recovered" in warns[0]
