"""Signal Desktop db.sqlite, built with the app's tables (columns as Signal Desktop's migrations
create them, message and conversation objects in the json column): a one-to-one chat with an
attachment, a quote and a reaction, a group, an event; the same database encrypted with SQLCipher
4 and read with its config.json key; an encrypted one without a key; another app's db.sqlite."""
from __future__ import annotations

import json

import pytest

from appdb import build, run
from forensic.extractors.base import ExtractorInput
from forensic.extractors.chat.signal_desktop import KEY_OPTION, SignalDesktopExtractor
from forensic.extractors.chat.sqlite_chat import OWNER
from forensic.extractors.records import ArtifactRecord, ExtractionWarning

EX = SignalDesktopExtractor()
PATH = "/Users/kim/Library/Application Support/Signal/sql/db.sqlite"
SCHEMA = """
CREATE TABLE conversations(id STRING PRIMARY KEY ASC, json TEXT, active_at INTEGER, type STRING, members TEXT,
  name TEXT, profileName TEXT, profileFamilyName TEXT, profileFullName TEXT, e164 TEXT, serviceId TEXT,
  groupId TEXT, profileLastFetchedAt INTEGER);
CREATE TABLE messages(rowid INTEGER PRIMARY KEY ASC, id STRING UNIQUE, json TEXT, readStatus INTEGER,
  expires_at INTEGER, sent_at INTEGER, schemaVersion INTEGER, conversationId STRING, received_at INTEGER,
  source STRING, hasAttachments INTEGER, hasFileAttachments INTEGER, hasVisualMediaAttachments INTEGER,
  expireTimer INTEGER, expirationStartTimestamp INTEGER, type STRING, body TEXT, sourceServiceId TEXT);
CREATE TABLE sticker_packs(id TEXT PRIMARY KEY, key TEXT NOT NULL);
"""
LENA = {"id": "c1", "type": "private", "name": "Lena", "e164": "+4915100000002", "serviceId": "aaaa-1"}
KAI = {"id": "c2", "type": "private", "profileName": "Kai", "e164": "+4915100000003", "serviceId": "bbbb-2"}
GROUP = {"id": "c3", "type": "group", "name": "Night shift", "groupId": "g64",
         "membersV2": [{"aci": "aaaa-1"}, {"aci": "bbbb-2"}]}


def conv(c):
    return (c["id"], json.dumps(c), 0, c["type"], None, c.get("name"), c.get("profileName"), None, None,
            c.get("e164"), c.get("serviceId"), c.get("groupId"), None)


def msg(rowid, m):
    return (rowid, f"m{rowid}", json.dumps(m), 0, None, m.get("sent_at"), 10, m["conversationId"],
            m.get("received_at"), m.get("source"), 0, 0, 0, None, None, m["type"], m.get("body"),
            m.get("sourceServiceId"))


MESSAGES = [
    msg(1, {"type": "incoming", "body": "ready?", "sent_at": 1680000000000, "received_at": 7001,
            "received_at_ms": 1680000001000, "conversationId": "c1", "sourceServiceId": "aaaa-1",
            "attachments": [{"fileName": "IMG_77.jpg", "contentType": "image/jpeg", "size": 5000,
                             "path": "ab/abcdef"}],
            "reactions": [{"emoji": "👍", "fromId": "c1"}]}),
    msg(2, {"type": "outgoing", "body": "yes", "sent_at": 1680000060000, "received_at": 1680000060000,
            "conversationId": "c1", "quote": {"id": 1680000000000, "text": "ready?", "authorAci": "aaaa-1"}}),
    msg(3, {"type": "incoming", "body": "all here", "sent_at": 1680000120000, "conversationId": "c3",
            "source": "+4915100000003"}),
    msg(4, {"type": "keychange", "sent_at": 1680000180000, "conversationId": "c1", "key_changed": "aaaa-1"}),
]


def plain_db(tmp_path):
    return build(tmp_path / "db.sqlite", SCHEMA, {"conversations": [conv(LENA), conv(KAI), conv(GROUP)],
                                                    "messages": MESSAGES + [(5, "m5", "not json", 0, None, 1, 1,
                                                                             "c1", 1, None, 0, 0, 0, None, None,
                                                                             "incoming", None, None)]})


def check(recs, warns):
    a, b, c, d = (r.fields for r in recs)
    assert a["platform"] == "signal" and a["sender"] == "Lena (+4915100000002)" and a["direction"] == "incoming"
    assert a["conversation"] == {"id": "conversation:c1", "title": "Lena"}
    assert a["sent_at_utc"] == "2023-03-28T10:40:00Z" and a["received_at"] == "2023-03-28T10:40:01Z"
    assert a["attachments"][0]["name"] == "IMG_77.jpg" and a["attachments"][0]["path"] == "ab/abcdef"
    assert a["reactions"] == [{"emoji": "👍", "from": "Lena (+4915100000002)"}]
    assert b["sender"] == OWNER and b["recipients"] == ["Lena (+4915100000002)"] and b["reply_to"] == 1680000000000
    assert b["quote"]["author"] == "Lena (+4915100000002)" and b["received_at"] == "2023-03-28T10:41:00Z"
    assert c["group"] is True and c["conversation"]["title"] == "Night shift"
    assert c["sender"] == "Kai (+4915100000003)" and "Lena (+4915100000002)" in c["participants"]
    assert d["system"] is True and d["type"] == "keychange"
    assert any("row 5" in w and "JSON" in w for w in warns)


def test_decrypted_copy(tmp_path):
    recs, warns = run(EX, plain_db(tmp_path), PATH)
    check(recs, warns)


def test_other_apps_db_sqlite_gives_nothing(tmp_path):
    data = build(tmp_path / "db.sqlite", "CREATE TABLE messages(id INTEGER PRIMARY KEY, text TEXT);",
                 {"messages": [(1, "hi")]})
    recs, warns = run(EX, data, "/data/app/db.sqlite")
    assert recs == [] and warns == []


def item(data, options=None):
    return ExtractorInput(path=PATH, name="db.sqlite", mime="application/octet-stream", size=len(data), data=data,
                          options=options)


def split(gen):
    out = list(gen)
    return ([r for r in out if isinstance(r, ArtifactRecord)], [w.message for w in out
                                                                if isinstance(w, ExtractionWarning)])


def test_encrypted_with_config_key(tmp_path):
    sqlcipher3 = pytest.importorskip("sqlcipher3")
    plain = tmp_path / "plain"
    plain.mkdir()
    plain_db(plain)
    key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
    enc = tmp_path / "enc.sqlite"
    conn = sqlcipher3.connect(str(plain / "db.sqlite"))
    conn.execute("ATTACH DATABASE ? AS enc KEY \"x'" + key + "'\"", (str(enc),))
    conn.execute("SELECT sqlcipher_export('enc')").fetchone()
    conn.execute("DETACH DATABASE enc")
    conn.close()
    data = enc.read_bytes()
    assert not data.startswith(b"SQLite format 3") and EX.accepts(PATH, "application/octet-stream", data[:8192])
    recs, warns = split(EX.extract(item(data, {KEY_OPTION: key})))
    check(recs, warns)
    assert any("decrypted" in w for w in warns)
    assert enc.read_bytes() == data                        # the evidence bytes untouched
    # a wrong key: a warning, no crash
    recs, warns = split(EX.extract(item(data, {KEY_OPTION: "11" * 32})))
    assert recs == [] and any("not decrypted" in w for w in warns)
    recs, warns = split(EX.extract(item(data, {KEY_OPTION: "zz"})))
    assert recs == [] and any("not hexadecimal" in w for w in warns)


def test_encrypted_without_key_names_what_is_needed():
    data = bytes(range(256)) * 16
    assert EX.accepts(PATH, "application/octet-stream", data[:8192])
    assert not EX.accepts("/tmp/other/db.sqlite", "application/octet-stream", data[:8192])
    recs, warns = split(EX.extract(item(data)))
    assert recs == [] and len(warns) == 1
    assert "config.json" in warns[0] and "encryptedKey" in warns[0] and KEY_OPTION in warns[0]


def test_hostile_json_values_warn_and_go_on(tmp_path):
    odd = {"id": "c9", "type": "group", "name": ["x"], "membersV2": 7}
    odd_row = ("c9", json.dumps(odd), 0, "group", None, None, None, None, None, None, None, None, None)
    third = msg(3, {"type": "outgoing", "body": "ok", "sent_at": 1680000000000, "conversationId": "c1"})
    third = third[:2] + (third[2].replace('"c1"', '["c1"]'),) + third[3:]       # a list where an id belongs
    data = build(tmp_path / "db.sqlite", SCHEMA, {"conversations": [conv(LENA), odd_row], "messages": [
        msg(1, {"type": "incoming", "body": 5, "sent_at": "soon", "conversationId": "c1", "attachments": "x",
                "reactions": 3}),
        msg(2, {"type": "incoming", "body": "[b]bold[/b]", "sent_at": 10**17, "conversationId": "c9"}),
        third,
        msg(4, {"type": "incoming", "body": "still read", "sent_at": 1680000000000, "conversationId": "c1"})]})
    recs, warns = run(EX, data, PATH)
    one, two, three, four = (r.fields for r in recs)        # every row kept: odd values read as none
    assert one["body"] == "5" and one["attachments"] == [] and one["reactions"] is None and recs[0].corrupted
    assert two["conversation"]["title"] == "['x']" and two["participants"] == ["(device owner)"]
    assert three["conversation"]["id"] == 'conversation:["c1"]' and four["body"] == "still read"
    assert four["sent_at_utc"] == "2023-03-28T10:40:00Z"
    assert any("soon" in w for w in recs[0].warnings) and warns == []
