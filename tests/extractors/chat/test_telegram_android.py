"""Telegram Android cache4.db built with the client's tables and TL-serialised message blobs
laid out as TLRPC's TL_message writes them (flags, [flags2,] id, from_id, peer_id, date,
message, ...): a private chat, a group with a sender peer, a layer-179 blob with flags2, a
media flag, a service message not decoded, and the TL string forms."""
from __future__ import annotations

import struct

from appdb import build, delete_rows, recovered, run
from forensic.extractors.chat.sqlite_chat import OWNER
from forensic.extractors.chat.telegram_android import TelegramAndroidExtractor, decode_message, tl_string

EX = TelegramAndroidExtractor()
SCHEMA = """
CREATE TABLE users (uid INTEGER PRIMARY KEY, name TEXT, status INTEGER, data BLOB);
CREATE TABLE chats (uid INTEGER PRIMARY KEY, name TEXT, data BLOB);
CREATE TABLE messages_v2 (mid INTEGER, uid INTEGER, read_state INTEGER, send_state INTEGER, date INTEGER, data BLOB,
  out INTEGER, ttl INTEGER, media INTEGER, replydata BLOB, imp INTEGER, mention INTEGER, forwards INTEGER,
  replies_data BLOB, thread_reply_id INTEGER, is_channel INTEGER, reply_to_message_id INTEGER, custom_params BLOB,
  group_id INTEGER, reply_to_story_id INTEGER, PRIMARY KEY(mid, uid));
"""


def tls(text: str) -> bytes:
    raw = text.encode()
    head = bytes([len(raw)]) if len(raw) < 254 else b"\xfe" + len(raw).to_bytes(3, "little")
    body = head + raw
    return body + b"\x00" * (-len(body) % 4)


def peer_user(uid: int) -> bytes:
    return struct.pack("<Iq", 0x59511722, uid)


def tl_message(mid: int, date: int, text: str, sender: int | None, peer: bytes, flags2: bool = False,
               media: bool = False) -> bytes:
    flags = (1 << 8 if sender else 0) | (1 << 9 if media else 0)
    out = struct.pack("<II", 0x94345242, flags) + (struct.pack("<I", 0) if flags2 else b"")
    out += struct.pack("<i", mid) + (peer_user(sender) if sender else b"") + peer + struct.pack("<i", date)
    return out + tls(text) + struct.pack("<I", 0x1CB5C415) + b"\x00" * 8


def geo_point(lat: float, lon: float, radius: bool = False) -> bytes:
    return struct.pack("<IIdd q", 0xB2A2F663, 1 if radius else 0, lon, lat, 77) + (struct.pack("<i", 20) if radius
                                                                                   else b"")


GROUP_PEER = struct.pack("<Iq", 0x36C6019A, 4242)
ROWS = {
    "users": [(777, "oleg p;;;olegp", 0, None), (888, "ira;;;", 0, None)],
    "chats": [(4242, "border crew", None)],
    "messages_v2": [
        (10, 777, 1, 0, 1690000000, tl_message(10, 1690000000, "when?", 777, peer_user(1)), 0, 0, 0, None, 0, 0,
         0, None, 0, 0, 0, None, 0, 0),
        (11, 777, 1, 0, 1690000060, tl_message(11, 1690000060, "tonight", None, peer_user(777), media=True), 1,
         0, 1, None, 0, 0, 0, None, 0, 0, 0, None, 0, 0),
        (12, -4242, 1, 0, 1690000120, tl_message(12, 1690000120, "Привет " * 50, 888, GROUP_PEER, flags2=True), 0,
         0, 0, None, 0, 0, 0, None, 0, 0, 0, None, 0, 0),
        (14, -4242, 1, 0, 1690000240, tl_message(14, 1690000240, "", 888, GROUP_PEER, media=True)[:-12]
         + struct.pack("<I", 0x56E0D474) + geo_point(50.45, 30.5234), 0, 0, 1, None, 0, 0, 0, None, 0, 0, 0, None,
         0, 0),
        (13, -4242, 1, 0, 1690000180, struct.pack("<IIi", 0x2B085862, 0, 13) + b"\x01\x02\x03\x04", 0, 0, 0, None,
         0, 0, 0, None, 0, 0, 0, None, 0, 0),
    ],
}


def test_shared_positions():
    geo = tl_message(6, 1600000000, "", 9, peer_user(1), media=True)
    at = geo.index(struct.pack("<i", 1600000000)) + 8            # after the date and the empty text
    msg = geo[:at] + struct.pack("<I", 0x56E0D474) + geo_point(41.0082, 28.9784)
    assert decode_message(msg, 6, 1600000000)["location"] == ("geo", 41.0082, 28.9784, None)
    venue = geo[:at] + struct.pack("<I", 0x2EC0533F) + geo_point(41.0, 29.0, radius=True) + tls("Pier 3") + \
        tls("Quay St")
    assert decode_message(venue, 6, 1600000000)["location"] == ("venue", 41.0, 29.0, "Pier 3")
    old = geo[:at] + struct.pack("<I", 0x56E0D474) + struct.pack("<Idd", 0x2049D70C, 2.35, 48.85)
    assert decode_message(old, 6, 1600000000)["location"] == ("geo", 48.85, 2.35, None)


def test_tl_strings():
    assert tl_string(tls("hi"), 0) == "hi"
    long = "x" * 300
    assert tl_string(tls(long), 0) == long
    assert tl_string(b"\x05ab", 0) is None                       # runs past the end
    assert tl_string(b"\x02\xff\xfe\x00", 0) is None             # not UTF-8
    got = decode_message(tl_message(5, 1600000000, "yo", 9, peer_user(1)), 5, 1600000000)
    assert got == {"constructor": "0x94345242", "text": "yo", "from": ("user", 9), "media": False, "location": None}


def test_cache4(tmp_path):
    data = build(tmp_path / "cache4.db", SCHEMA, ROWS)
    recs, warns = run(EX, data, "/data/data/org.telegram.messenger/files/cache4.db")
    a, b, g, loc, svc = (r.fields for r in recs)
    assert loc["location"] == {"latitude": 50.45, "longitude": 30.5234,
                               "source": "telegram messages_v2.data messageMedia (geo)"}
    assert loc["attachments"] == [] and loc["sender"] == "ira (888)"
    assert a["platform"] == "telegram" and a["body"] == "when?" and a["sender"] == "oleg p @olegp (777)"
    assert a["conversation"] == {"id": "777", "title": "oleg p @olegp (777)"} and a["sent_at_utc"] == \
        "2023-07-22T04:26:40Z"
    assert b["sender"] == OWNER and b["body"] == "tonight" and b["attachments"][0]["note"].startswith("media")
    assert g["body"] == "Привет " * 50 and g["sender"] == "ira (888)"
    assert g["conversation"] == {"id": "-4242", "title": "border crew (-4242)"} and g["group"] is True
    assert svc["content_decoded"] is False and svc["body"] == "" and svc["sender"] is None
    assert svc["tl_constructor"] == "0x2b085862"
    assert warns == ["Telegram: 1 message blob(s) in messages_v2.data not decoded (no text found; constructors "
                     "0x2b085862 ×1): their id, time, dialog and direction are kept"]


def test_newer_schema_named(tmp_path):
    data = build(tmp_path / "cache4.db", SCHEMA.replace("data BLOB,\n  out", "payload BLOB,\n  out"), ROWS)
    recs, warns = run(EX, data, "/x/cache4.db")
    assert len(recs) == 5 and all(r.fields["content_decoded"] is False for r in recs)
    assert warns[0] == "Telegram: table messages_v2 lacks column(s) data (unknown schema version); " \
                       "those values are not read"


def test_deleted_message_recovered(tmp_path):
    build(tmp_path / "cache4.db", SCHEMA, ROWS)
    data = delete_rows(tmp_path / "cache4.db", "DELETE FROM messages_v2 WHERE mid = 12")
    recs, warns = run(EX, data, "/x/cache4.db")
    [gone] = recovered(recs)
    assert gone["body"] == "Привет " * 50 and gone["sender"] == "ira (888)" and gone["message_id"] == 12
    assert any("1 deleted rows recovered" in w for w in warns)
