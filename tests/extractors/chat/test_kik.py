"""Kik: an Android kikDatabase.db built with the app's tables (columns as ALEAPP's
kikMessenger reads them) with a group chat and an attachment, a newer schema; and the plaso
corpus iOS kik.sqlite compared with what sqlite3 shows."""
from __future__ import annotations

import pytest

from appdb import build, delete_rows, recovered, run, sqlite3_cli
from forensic.extractors.chat.kik import KikExtractor
from forensic.extractors.chat.sqlite_chat import OWNER

EX = KikExtractor()
SCHEMA = """
CREATE TABLE KIKcontactsTable (_id INTEGER PRIMARY KEY, jid VARCHAR UNIQUE, display_name VARCHAR,
  user_name VARCHAR, in_roster INT, is_blocked INT, is_group INT, group_topic VARCHAR, is_ignored INT);
CREATE TABLE messagesTable (_id INTEGER PRIMARY KEY, body VARCHAR, partner_jid VARCHAR, was_me INT,
  read_state INT, uid VARCHAR, length INT, timestamp LONG, bin_id VARCHAR, sys_msg VARCHAR, stat_msg VARCHAR,
  stat_user_jid VARCHAR, req_read_reciept BOOLEAN, content_id VARCHAR, app_id VARCHAR, message_retry_count INT,
  encryption_failure INT, encryption_key VARCHAR);
CREATE TABLE KIKContentTable (_id INTEGER PRIMARY KEY, content_id VARCHAR, content_name VARCHAR,
  content_string VARCHAR);
"""
A, G, B = "ana_x1@talk.kik.com", "1100999_g@groups.kik.com", "bo_z9@talk.kik.com"
ROWS = {
    "KIKcontactsTable": [(1, A, "Ana", "ana", 1, 0, 0, None, 0), (2, G, "Runners", None, 1, 0, 1, "runs", 0),
                         (3, B, "Bo", "bo", 1, 0, 0, None, 0)],
    "messagesTable": [
        (1, "hey", A, 0, 500, "u1", 3, 1500000000000, A, None, None, None, 0, None, None, 0, 0, None),
        (2, "photo", A, 1, 400, "u2", 5, 1500000060000, A, None, None, None, 0, "c-77", "com.kik.ext.camera", 0, 0,
         None),
        (3, "in the group", B, 0, 500, "u3", 12, 1500000120000, G, None, None, None, 0, None, None, 0, 0, None),
    ],
    "KIKContentTable": [(1, "c-77", "file-name", "IMG_2001.jpg"), (2, "c-77", "file-size", "2048")],
}


def test_android(tmp_path):
    data = build(tmp_path / "4b2f.kikDatabase.db", SCHEMA, ROWS)
    recs, warns = run(EX, data, "/data/data/kik.android/databases/4b2f.kikDatabase.db")
    assert warns == []
    a, photo, grp = (r.fields for r in recs)
    assert a["platform"] == "kik" and a["sender"] == f"Ana ({A})" and a["sent_at_utc"] == "2017-07-14T02:40:00Z"
    assert photo["sender"] == OWNER and photo["attachments"][0]["name"] == "IMG_2001.jpg"
    assert photo["attachments"][0]["properties"] == {"file-name": "IMG_2001.jpg", "file-size": "2048"}
    assert grp["group"] is True and grp["conversation"] == {"id": G, "title": f"Runners ({G})"}
    assert grp["sender"] == f"Bo ({B})" and grp["participants"] == [OWNER, f"Bo ({B})"]


def test_newer_schema_named(tmp_path):
    data = build(tmp_path / "kikDatabase.db", SCHEMA.replace("was_me INT", "is_mine INT"), ROWS)
    recs, warns = run(EX, data, "/x/kikDatabase.db")
    assert len(recs) == 3
    assert warns == ["Kik: table messagesTable lacks column(s) was_me (unknown schema version); "
                     "those values are not read"]


@pytest.mark.corpus
def test_corpus_ios_matches_sqlite3(corpus):
    path = corpus / "chats/plaso/ios/kik.sqlite"
    recs, warns = run(EX, path.read_bytes(), "/private/var/mobile/Containers/Data/Application/X/Documents/kik.sqlite")
    assert warns == []
    want = sqlite3_cli(path, "SELECT m.Z_PK, m.ZBODY, m.ZTYPE, u.ZDISPLAYNAME, "
                             "strftime('%Y-%m-%dT%H:%M:%S', m.ZTIMESTAMP + 978307200, 'unixepoch') AS t "
                             "FROM ZKIKMESSAGE m LEFT JOIN ZKIKUSER u ON u.Z_PK = m.ZUSER ORDER BY m.Z_PK")
    assert len(recs) == len(want) == 60
    for rec, w in zip(recs, want, strict=True):
        f = rec.fields
        assert f["source"]["row_id"] == w["Z_PK"] and f["body"] == (w["ZBODY"] or "")
        assert f["sent_at_utc"][:19] == w["t"]
        assert (f["sender"] == OWNER) == (w["ZTYPE"] == 2)
    first = recs[0].fields
    assert first["sender"] == "Kik Team (kikteam@talk.kik.com)" and first["direction"] == "incoming"
    att = next(r.fields for r in recs if r.fields["source"]["row_id"] == 20)
    assert att["attachments"][0]["content_id"] == "a7160843-c595-4afb-a359-4151dcd79157"
    grp = next(r.fields for r in recs if r.fields["source"]["row_id"] == 10)
    assert grp["group"] is True and grp["conversation"]["id"] == "1100024090445_g@groups.kik.com"
    assert len(grp["participants"]) == 5
    # a received group message: ZUSER is its author, the chat (Z_3MESSAGES -> ZKIKCHAT) the group
    sql = ("SELECT j.Z_5MESSAGES AS m, c.ZUSER AS u FROM Z_3MESSAGES j JOIN ZKIKCHAT c ON c.Z_PK = j.Z_3CHAT "
           "WHERE j.Z_5MESSAGES = 11")
    chats = {w["m"]: w["u"] for w in sqlite3_cli(path, sql)}
    assert chats == {11: 24}
    hi = next(r.fields for r in recs if r.fields["source"]["row_id"] == 11)
    assert hi["conversation"]["id"] == "1100024090445_g@groups.kik.com" and hi["body"] == "Hi there"
    assert hi["sender"] == "Sina Babadi (sbabadi61_jet@talk.kik.com)" and hi["group"] is True
    # a one-to-one message in two chats' lists goes to the chat of its party (Ken Doh, ZKIKUSER 8)
    two = next(r.fields for r in recs if r.fields["source"]["row_id"] == 2)
    assert two["conversation"]["id"] == "ken.doh_khv@talk.kik.com" and two["sender"] == OWNER


def test_deleted_message_recovered(tmp_path):
    build(tmp_path / "kikDatabase.db", SCHEMA, ROWS)
    data = delete_rows(tmp_path / "kikDatabase.db", "DELETE FROM messagesTable WHERE _id = 3")
    recs, warns = run(EX, data, "/x/kikDatabase.db")
    [gone] = recovered(recs)
    assert gone["body"] == "in the group" and gone["sender"] == f"Bo ({B})" and gone["group"] is True
    assert "1 deleted rows recovered" in warns[0]
