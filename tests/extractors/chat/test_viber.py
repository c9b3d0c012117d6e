"""Viber Android: a viber_messages database built with the app's tables (columns as ALEAPP's
Viber queries read them), a group chat, a photo, a shared location, a newer schema; and the
plaso corpus viber_data compared with what sqlite3 shows."""
from __future__ import annotations

import sqlite3

import pytest

from appdb import build, run, sqlite3_cli
from forensic.extractors.chat.sqlite_chat import OWNER
from forensic.extractors.chat.viber import ViberExtractor
from forensic.training.formats import VIBER_SCHEMA

EX = ViberExtractor()
SCHEMA = VIBER_SCHEMA    # the app's tables, as the sample image plants them too
ROWS = {
    "conversations": [(1, 0, None, 0, 0, 0), (2, 555, "Crew", 1, 0, 0)],
    "participants_info": [(1, 0, "me", None, "+447700900001", "Me", None, None, 0),
                          (2, 1, "m2", None, "+447700900002", "Ana", "Ana K", None, 0),
                          (3, 1, "m3", None, "+447700900003", None, None, "Bo", 0)],
    "participants": [(1, 1, 1, 1), (2, 1, 2, 1), (3, 2, 1, 1), (4, 2, 2, 1), (5, 2, 3, 1)],
    "messages": [
        (1, 1700000000123, 1, 2, 0, "where are you", 1, None, 0, 0, 0, 0, 11),
        (2, 1700000060000, 1, 1, 1, "here", 0, "file:///storage/emulated/0/viber/media/IMG-1.jpg", 1, 0, 0, 0, 12),
        (3, 1700000120000, 2, 5, 0, "meet at the dock", 0, None, 5, 51507400, -127800, 0, 13),
    ],
}


def test_messages_group_photo_location(tmp_path):
    data = build(tmp_path / "viber_messages", SCHEMA, ROWS)
    recs, warns = run(EX, data, "/data/data/com.viber.voip/databases/viber_messages")
    assert warns == []
    assert [r.fields["body"] for r in recs] == ["where are you", "here", "meet at the dock"]
    first, photo, group = (r.fields for r in recs)
    assert first["platform"] == "viber" and first["sender"] == "Ana K (+447700900002)"
    assert first["sent_at_utc"] == "2023-11-14T22:13:20.123000Z" and first["unread"] is True
    assert first["conversation"] == {"id": "conversation:1", "title": "Ana K (+447700900002)"}
    assert photo["sender"] == OWNER and photo["direction"] == "outgoing"
    assert photo["attachments"][0]["path"] == "/storage/emulated/0/viber/media/IMG-1.jpg"
    assert photo["attachments"][0]["name"] == "IMG-1.jpg"
    assert group["conversation"]["title"] == "Crew" and group["group"] is True
    assert group["sender"] == "Bo (+447700900003)"
    assert set(group["participants"]) == {OWNER, "Ana K (+447700900002)", "Bo (+447700900003)"}
    assert group["location"] == {"latitude": 51.5074, "longitude": -0.1278,
                                 "source": "viber messages.location_lat/location_lng (micro-degrees)"}
    assert group["source"] == {"path": "/data/data/com.viber.voip/databases/viber_messages", "table": "messages",
                               "row_id": 3}


def test_newer_schema_named(tmp_path):
    script = SCHEMA.replace("msg_date LONG", "date_ms LONG")
    rows = dict(ROWS, messages=[tuple(m) for m in ROWS["messages"]])
    data = build(tmp_path / "viber_messages", script, rows)
    recs, warns = run(EX, data, "/x/viber_messages")
    assert len(recs) == 3 and all(r.corrupted for r in recs)
    assert warns == ["Viber: table messages lacks column(s) msg_date (unknown schema version); "
                     "those values are not read"]


def test_no_viber_tables_warned(tmp_path):
    data = build(tmp_path / "viber_messages", "CREATE TABLE chats (id INTEGER);")
    recs, warns = run(EX, data, "/x/viber_messages")
    assert recs == [] and "none of the tables messages, phonebookcontact is present" in warns[0]


@pytest.mark.corpus
def test_corpus_viber_data_matches_sqlite3(corpus):
    path = corpus / "chats/plaso/android/viber_data"
    found, warns = run(EX, path.read_bytes(), "/data/data/com.viber.voip/databases/viber_data")
    # one deleted contact row survives in a freeblock of page 7 ('Liz' at byte 28245: xxd shows it)
    assert warns == ["viber_data: 1 deleted rows recovered from free space (1 from freeblock), marked recovered "
                     "'deleted'; 0 copies of live rows dropped"]
    [gone] = [r.fields for r in found if r.fields.get("recovered")]
    assert gone["name"] == "Liz" and gone["source"]["in"] == "freeblock" and gone["source"]["page"] == 7
    recs = [r for r in found if not r.fields.get("recovered")]
    want = sqlite3_cli(path, "SELECT _id, display_name FROM phonebookcontact ORDER BY _id")
    assert {r.record_type for r in recs} == {"contact/entry"} and recs[0].fields["app"] == "viber"
    assert [(r.fields["source"]["row_id"], r.fields["name"]) for r in recs] == \
        [(w["_id"], w["display_name"]) for w in want]
    nums = sqlite3_cli(path, "SELECT DISTINCT coalesce(data2, data1) AS n FROM phonebookdata WHERE contact_id = 21")
    josh = next(r for r in recs if r.fields["source"]["row_id"] == 21)
    assert sorted(josh.fields["numbers"]) == sorted(n["n"] for n in nums)


def test_deleted_message_recovered(tmp_path):
    path = tmp_path / "viber_messages"
    build(path, SCHEMA, ROWS)
    db = sqlite3.connect(path)
    db.execute("PRAGMA secure_delete = OFF")
    db.execute("DELETE FROM messages WHERE _id = 1")
    db.commit()
    db.close()
    recs, warns = run(EX, path.read_bytes(), "/x/viber_messages")
    live = [r.fields["body"] for r in recs if not r.fields.get("recovered")]
    gone = [r.fields for r in recs if r.fields.get("recovered") == "deleted"]
    assert live == ["here", "meet at the dock"]
    assert [g["body"] for g in gone] == ["where are you"] and gone[0]["sender"] == "Ana K (+447700900002)"
    assert len(warns) == 1 and "1 deleted rows recovered from free space" in warns[0]
