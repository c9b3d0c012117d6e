"""Skype: a legacy main.db built with the app's tables (columns of the plaso test database),
a group conversation with a file transfer and an edited message; an s4l-*.db with its JSON
rows; a newer legacy schema; and the plaso corpus main.db compared with what sqlite3 shows."""
from __future__ import annotations

import json

import pytest

from appdb import build, delete_rows, recovered, run, sqlite3_cli
from forensic.extractors.chat.skype import SkypeExtractor
from forensic.extractors.chat.sqlite_chat import OWNER

EX = SkypeExtractor()
LEGACY = """
CREATE TABLE Accounts (id INTEGER NOT NULL PRIMARY KEY, is_permanent INTEGER, skypename TEXT, fullname TEXT);
CREATE TABLE Contacts (id INTEGER NOT NULL PRIMARY KEY, is_permanent INTEGER, skypename TEXT, fullname TEXT,
  displayname TEXT);
CREATE TABLE Conversations (id INTEGER NOT NULL PRIMARY KEY, is_permanent INTEGER, identity TEXT, type INTEGER,
  displayname TEXT, given_displayname TEXT, meta_topic TEXT);
CREATE TABLE Participants (id INTEGER NOT NULL PRIMARY KEY, is_permanent INTEGER, convo_id INTEGER, identity TEXT);
CREATE TABLE Messages (id INTEGER NOT NULL PRIMARY KEY, is_permanent INTEGER, convo_id INTEGER, chatname TEXT,
  author TEXT, from_dispname TEXT, guid BLOB, dialog_partner TEXT, timestamp INTEGER, type INTEGER,
  sending_status INTEGER, edited_by TEXT, edited_timestamp INTEGER, body_xml TEXT, chatmsg_type INTEGER);
CREATE TABLE Transfers (id INTEGER NOT NULL PRIMARY KEY, is_permanent INTEGER, type INTEGER, partner_handle TEXT,
  partner_dispname TEXT, status INTEGER, starttime INTEGER, filepath TEXT, filename TEXT, filesize TEXT,
  convo_id INTEGER);
"""
ROWS = {
    "Accounts": [(1, 1, "me.sky", "Me Sky")],
    "Contacts": [(1, 1, "ann.k", "Ann Kay", "Ann K")],
    "Conversations": [(10, 1, "#me.sky/$abc", 2, "Shipping", None, "Shipping crew")],
    "Participants": [(1, 1, 10, "me.sky"), (2, 1, 10, "ann.k"), (3, 1, 10, "lu.p")],
    "Messages": [(1, 1, 10, "#me.sky/$abc", "ann.k", "Ann K", None, None, 1400000000, 61, None, None, None,
                  "it&apos;s <b>ready</b>", 3),
                 (2, 1, 10, "#me.sky/$abc", "me.sky", "Me Sky", None, None, 1400000100, 61, 2, "me.sky",
                  1400000200, "fixed", 3),
                 (3, 1, 10, "#me.sky/$abc", "lu.p", "Lu", None, None, 1400000300, 13, None, None, None, None, 4)],
    "Transfers": [(1, 1, 2, "ann.k", "Ann K", 8, 1400000400, "C:\\Users\\me\\manifest.pdf", "manifest.pdf", "999",
                   10)],
}


def test_legacy_main_db(tmp_path):
    data = build(tmp_path / "main.db", LEGACY, ROWS)
    recs, warns = run(EX, data, "/Users/me/Library/Application Support/Skype/me.sky/main.db")
    assert warns == []
    a, edited, left, transfer = (r.fields for r in recs)
    assert a["platform"] == "skype" and a["sender"] == "Ann K (ann.k)" and a["body"] == "it's ready"
    assert a["body_xml"] == "it&apos;s <b>ready</b>" and a["sent_at_utc"] == "2014-05-13T16:53:20Z"
    assert a["conversation"] == {"id": "#me.sky/$abc", "title": "Shipping crew"} and a["group"] is True
    assert a["participants"] == [OWNER, "Ann K (ann.k)", "lu.p"]
    assert edited["sender"] == OWNER and edited["edited"] is True and edited["edited_at"] == "2014-05-13T16:56:40Z"
    assert left["system"] is True and left["message_type"] == "member_left"
    assert transfer["attachments"][0]["name"] == "manifest.pdf" and transfer["sender"] == OWNER
    assert transfer["attachments"][0]["path"] == "C:\\Users\\me\\manifest.pdf"


def test_s4l(tmp_path):
    rows = [(f"k{i}", json.dumps(d)) for i, d in enumerate([
        {"conversationId": "8:live:ann", "creator": "8:live:ann", "createdTime": 1600000000000, "content": "hi",
         "messagetype": "Text", "_isMyMessage": 0, "cuid": "c1"},
        {"conversationId": "8:live:ann", "creator": "8:live:me", "createdTime": 1600000001000,
         "content": '<URIObject type="File.1"><OriginalName v="list.xlsx"></OriginalName></URIObject>',
         "messagetype": "RichText/Media_GenericFile", "_isMyMessage": 1, "cuid": "c2"}])]
    data = build(tmp_path / "s4l-live_me.db", "CREATE TABLE messagesv12 (nsp_pk TEXT PRIMARY KEY, nsp_data TEXT);",
                 {"messagesv12": rows})
    recs, warns = run(EX, data, "/data/data/com.skype.raider/databases/s4l-live_me.db")
    assert warns == []
    a, f = (r.fields for r in recs)
    assert a["sender"] == "8:live:ann" and a["body"] == "hi" and a["sent_at_utc"] == "2020-09-13T12:26:40Z"
    assert f["sender"] == OWNER and f["attachments"][0]["name"] == "list.xlsx"


def test_newer_schema_named(tmp_path):
    data = build(tmp_path / "main.db", LEGACY.replace("body_xml TEXT", "body_text TEXT"), ROWS)
    recs, warns = run(EX, data, "/x/Skype/main.db")
    assert len(recs) == 4
    assert warns == ["Skype: table Messages lacks column(s) body_xml (unknown schema version); "
                     "those values are not read"]


@pytest.mark.corpus
def test_corpus_main_db_matches_sqlite3(corpus):
    path = corpus / "chats/plaso/sqlite/skype_main.db"
    recs, warns = run(EX, path.read_bytes(), "/Users/gberinger/Library/Application Support/Skype/main.db")
    assert warns == []
    want = sqlite3_cli(path, "SELECT id, author, timestamp, body_xml FROM Messages ORDER BY id")
    msgs = [r.fields for r in recs if r.fields["source"]["table"] == "Messages"]
    assert [(f["source"]["row_id"], f["author"], f["body_xml"]) for f in msgs] == \
        [(w["id"], w["author"], w["body_xml"]) for w in want]
    first = msgs[0]
    assert first["sent_at_utc"] == "2013-07-30T21:26:28Z" and first["body"] == "yt?"
    assert first["sender"] == OWNER                      # gen.beringer is the account in Accounts
    n_transfers = sqlite3_cli(path, "SELECT count(*) AS n FROM Transfers")[0]["n"]
    transfers = [r.fields for r in recs if r.fields["source"]["table"] == "Transfers"]
    assert len(transfers) == n_transfers == 2
    offer, sent = transfers                     # the offer (partner: the account) and its recipient's row
    assert offer["recipients"] == [] and offer["transfer_status"] == "offered"
    assert sent["recipients"] == ["European BBQ (european.bbq.competitor)"] and sent["transfer_status"] == "completed"
    assert sent["finished_at"] == "2013-10-24T21:49:37Z" and sent["attachments"][0]["name"] == "secret-project.pdf"


def test_deleted_message_recovered(tmp_path):
    build(tmp_path / "main.db", LEGACY, ROWS)
    data = delete_rows(tmp_path / "main.db", "DELETE FROM Messages WHERE id = 1")
    recs, warns = run(EX, data, "/x/Skype/me/main.db")
    [gone] = recovered(recs)
    assert gone["body"] == "it's ready" and gone["sender"] == "Ann K (ann.k)"
    assert "1 deleted rows recovered" in warns[0]
