"""Snapchat Android arroyo.db built with the app's tables (columns as ALEAPP's snapchat
artifact reads them) and protobuf blobs laid out as ALEAPP describes (text at 4>4>2>1,
participants at 3>1>1): a text, a media message kept encoded, a text blob that does not
decode, the account found from created_on_device, and a newer schema."""
from __future__ import annotations

import uuid

from appdb import build, delete_rows, recovered, run
from forensic.extractors.chat.snapchat import SnapchatExtractor, proto_fields, proto_get
from forensic.extractors.chat.sqlite_chat import OWNER

EX = SnapchatExtractor()
SCHEMA = """
CREATE TABLE conversation (client_conversation_id TEXT PRIMARY KEY, conversation_type INTEGER,
  conversation_metadata BLOB, conversation_version INTEGER);
CREATE TABLE conversation_message (client_conversation_id TEXT NOT NULL, client_message_id INTEGER NOT NULL,
  server_message_id INTEGER, content_type INTEGER, message_content BLOB, message_state_type TEXT,
  creation_timestamp INTEGER, read_timestamp INTEGER, sender_id TEXT, is_saved INTEGER DEFAULT 0,
  is_viewed_by_user INTEGER, created_on_device INTEGER, remote_media_count INTEGER, replies_count INTEGER,
  quoted_server_message_id INTEGER, PRIMARY KEY (client_conversation_id, client_message_id));
"""


def ld(field: int, payload: bytes) -> bytes:
    n, size = bytes([(field << 3) | 2]), len(payload)
    out = b""
    while True:
        b = size & 0x7F
        size >>= 7
        out += bytes([b | (0x80 if size else 0)])
        if not size:
            return n + out + payload


def text_blob(text: str) -> bytes:
    return b"\x08\x01" + ld(4, b"\x10\x01" + ld(4, ld(2, ld(1, text.encode()))))


ME, YOU = uuid.UUID(int=1), uuid.UUID(int=2)
META = b"".join(ld(3, ld(1, ld(1, u.bytes))) for u in (ME, YOU))
CONV = "c0ffee00-0000-0000-0000-000000000001"
ROWS = {
    "conversation": [(CONV, 0, META, 3)],
    "conversation_message": [
        (CONV, 1, 101, 1, text_blob("pick up at 9"), "COMMITTED", 1700000000000, 1700000005000, str(YOU), 0, 1, 0,
         0, 0, None),
        (CONV, 2, 102, 1, text_blob("ok " * 100), "COMMITTED", 1700000010000, None, str(ME), 1, 1, 1, 0, 0, None),
        (CONV, 3, 103, 2, b"\x08\x02" + ld(5, b"\x01\x02\x03"), "COMMITTED", 1700000020000, None, str(YOU), 0, 0, 0,
         1, 0, None),
        (CONV, 4, 104, 1, b"\x08\x01" + ld(4, ld(4, ld(2, ld(1, b"\xff\xfe")))), "COMMITTED", 1700000030000, None,
         str(YOU), 0, 0, 0, 0, 0, None),
    ],
}


def test_protobuf_walk():
    assert proto_get(text_blob("hé"), (4, 4, 2, 1)) == "hé".encode()
    assert proto_fields(b"\x0a\x05ab") is None                 # length runs past the end
    assert proto_get(b"\x08\x01", (4,)) is None


def test_arroyo(tmp_path):
    data = build(tmp_path / "arroyo.db", SCHEMA, ROWS)
    recs, warns = run(EX, data, "/data/data/com.snapchat.android/databases/arroyo.db")
    a, mine, media, bad = (r.fields for r in recs)
    assert a["platform"] == "snapchat" and a["body"] == "pick up at 9" and a["sender"] == str(YOU)
    assert a["participants"] == [OWNER, str(YOU)] and a["direction"] == "incoming"
    assert a["sent_at_utc"] == "2023-11-14T22:13:20Z" and a["read_at"] == "2023-11-14T22:13:25Z"
    assert mine["sender"] == OWNER and mine["saved"] is True and mine["body"] == "ok " * 100
    assert media["content"] == "encoded, not decoded" and media["body"] == "" and media["content_size"] == 7
    assert bad["content"] == "encoded, not decoded"
    assert warns == ["Snapchat: 1 text message(s) (content_type 1) whose content did not decode at protobuf path "
                     "4>4>2>1: kept with content 'encoded, not decoded'"]


def test_newer_schema_named(tmp_path):
    data = build(tmp_path / "arroyo.db", SCHEMA.replace("message_content BLOB", "content_v2 BLOB"), ROWS)
    recs, warns = run(EX, data, "/x/arroyo.db")
    assert len(recs) == 4 and all(r.fields["content"] != "text" for r in recs)
    assert warns[0] == ("Snapchat: table conversation_message lacks column(s) message_content (unknown schema "
                        "version); those values are not read")


def test_deleted_message_recovered(tmp_path):
    build(tmp_path / "arroyo.db", SCHEMA, ROWS)
    data = delete_rows(tmp_path / "arroyo.db", "DELETE FROM conversation_message WHERE client_message_id = 1")
    recs, warns = run(EX, data, "/x/arroyo.db")
    [gone] = recovered(recs)
    assert gone["body"] == "pick up at 9" and gone["sender"] == str(YOU)
    assert any("1 deleted rows recovered" in w for w in warns)
