"""Telegram Android cache4.db built with the client's tables and TL-serialised message blobs
laid out as TLRPC's TL_message writes them (flags, [flags2,] id, from_id, peer_id, date,
message, ...): a private chat, a group with a sender peer, a layer-179 blob with flags2, a
media flag, a service message not decoded, and the TL string forms."""
from __future__ import annotations

import struct

from appdb import build, delete_rows, recovered, run
from forensic.extractors.chat.sqlite_chat import OWNER
from forensic.extractors.chat.telegram_android import MAX_BLOB, TelegramAndroidExtractor
from forensic.extractors.chat.telegram_tl import decode_message, media_attachment, tl_string, walk_message

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
    # a layer 181-195 message has flags2; one without is of layers 136-169 (64-bit peers too):
    # each blob of the layout its constructor names, so each walks to its date
    out = struct.pack("<II", 0x94345242 if flags2 else 0x38116EE0, flags) + (struct.pack("<I", 0) if flags2 else b"")
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
    assert got == {"constructor": "0x38116ee0", "text": "yo", "from": ("user", 9), "media": False, "location": None}


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


# -- replies, forwards and media: blobs laid out field by field as api.tl gives each layer ------

VEC = struct.pack("<I", 0x1CB5C415)


def vec(items: list[bytes]) -> bytes:
    return VEC + struct.pack("<i", len(items)) + b"".join(items)


def peer32(uid: int) -> bytes:
    """peerUser before layer 133: a 32-bit id."""
    return struct.pack("<Ii", 0x9DB1BC6D, uid)


def message(ctor: int, mid: int, date: int, text: str, *, sender: bytes = b"", peer: bytes = b"", fwd: bytes = b"",
            reply: bytes = b"", media: bytes = b"", flags2: bool = False, tail: bytes = b"") -> bytes:
    """A TL_message: flags, [flags2], id, from_id?, peer_id, fwd_from?, reply_to?, date, message,
    media?; ``sender``/``reply`` as the layer writes them (an int before 119, a Peer/header on)."""
    flags = (1 << 8 if sender else 0) | (1 << 2 if fwd else 0) | (1 << 3 if reply else 0) | (1 << 9 if media else 0)
    out = struct.pack("<II", ctor, flags) + (struct.pack("<I", 0) if flags2 else b"") + struct.pack("<i", mid)
    return out + sender + peer + fwd + reply + struct.pack("<i", date) + tls(text) + media + tail


def doc_attrs(name: str | None = None, voice: int | None = None) -> list[bytes]:
    attrs = [struct.pack("<Iii", 0x6C37C15C, 640, 480)]                     # documentAttributeImageSize
    if voice is not None:                                                     # documentAttributeAudio, voice
        attrs.append(struct.pack("<IIi", 0x9852F9C6, 1 << 10 | 1 << 2, voice) + tls("\x01\x02\x03"))
    if name:
        attrs.append(struct.pack("<I", 0x15590068) + tls(name))               # documentAttributeFilename
    return attrs


def document_143(mime: str, size: int, attrs: list[bytes]) -> bytes:
    """document#8fd4c4d8 (layer 143 on): flags, id, access_hash, file_reference, date, mime_type,
    size:long, thumbs (flags.0), dc_id, attributes."""
    thumbs = vec([struct.pack("<I", 0x75C78E60) + tls("m") + struct.pack("<iii", 90, 90, 1234),   # photoSize
                  struct.pack("<I", 0xE0B0BC2E) + tls("i") + tls("\x01" * 30)])                    # photoStrippedSize
    return (struct.pack("<IIqq", 0x8FD4C4D8, 1, 111, 222) + tls("ref") + struct.pack("<i", 1650000000) + tls(mime)
            + struct.pack("<q", size) + thumbs + struct.pack("<i", 4) + vec(attrs))


def document_93(mime: str, size: int, attrs: list[bytes]) -> bytes:
    """document#9ba29cc1 (layers 93-113): flags, id, access_hash, file_reference, date, mime_type,
    size:int, thumbs (flags.0: a photoSize with a FileLocation then), dc_id, attributes."""
    thumb = struct.pack("<I", 0x77BFB61B) + tls("s") + struct.pack("<Iqi", 0xBC7FC6CD, 5, 6) + \
        struct.pack("<iii", 90, 90, 500)
    return (struct.pack("<IIqq", 0x9BA29CC1, 1, 111, 222) + tls("ref") + struct.pack("<i", 1500000000) + tls(mime)
            + struct.pack("<i", size) + vec([thumb]) + struct.pack("<i", 2) + vec(attrs))


def photo_116() -> bytes:
    """photo#fb197a65: flags, id, access_hash, file_reference, date, sizes, dc_id."""
    return (struct.pack("<IIqq", 0xFB197A65, 0, 7, 8) + tls("fr") + struct.pack("<i", 1650000000)
            + vec([struct.pack("<I", 0x75C78E60) + tls("x") + struct.pack("<iii", 1280, 960, 99999)])
            + struct.pack("<i", 2))


MEDIA_PHOTO = struct.pack("<II", 0x695150D7, 1) + photo_116()                # messageMediaPhoto, flags.0 photo
# layer 133-135 (64-bit peers): forwarded from a known user (messageFwdHeader#5f777dce, from_id Peer)
FWD_USER = struct.pack("<II", 0x5F777DCE, 1) + peer_user(777) + struct.pack("<i", 1680000000)
# ... from a user who hides the account (from_name only) and also keeps psa_type
FWD_HIDDEN = struct.pack("<II", 0x5F777DCE, 1 << 5 | 1 << 6) + tls("Recruiter Max") + \
    struct.pack("<i", 1680000500) + tls("ad")
REPLY_133 = struct.pack("<IIi", 0xA6D57763, 0, 21)                           # messageReplyHeader, layers 119-160
L133, L118, L181, L206 = 0x85D6CBE2, 0x452C0E65, 0x94345242, 0x9815CEC8
P1 = peer_user(1)
MEDIA_ROWS = [
    # (mid, uid, date, blob)
    (21, 777, 1690001000, message(L133, 21, 1690001000, "meet at the depot", sender=peer_user(777), peer=P1)),
    (22, 777, 1690001060, message(L133, 22, 1690001060, "don't be late", sender=peer_user(777), peer=P1,
                                  reply=REPLY_133)),
    (23, -4242, 1690001120, message(L133, 23, 1690001120, "work abroad, good pay", sender=peer_user(888),
                                    peer=GROUP_PEER, fwd=FWD_USER, media=MEDIA_PHOTO)),
    (24, -4242, 1690001180, message(L133, 24, 1690001180, "call this number", sender=peer_user(888), peer=GROUP_PEER,
                                    fwd=FWD_HIDDEN)),
    # layer 105-118: 32-bit from_id and reply_to_msg_id ints, messageFwdHeader#ec338270 with from_name
    (25, 777, 1500000100, message(L118, 25, 1500000100, "old times", sender=struct.pack("<i", 777), peer=peer32(1),
                                  fwd=struct.pack("<IIi", 0xEC338270, 1, 888) + struct.pack("<i", 1499990000),
                                  reply=struct.pack("<i", 21),
                                  media=struct.pack("<II", 0x9CB070D7, 1)
                                  + document_93("application/pdf", 52000, doc_attrs("contract.pdf"))),
     ),
    # layer 181-195 with flags2: a voice note (messageMediaDocument#4cf4d72d, flags.8 voice)
    (26, 777, 1720000000, message(L181, 26, 1720000000, "", sender=peer_user(777), peer=P1, flags2=True,
                                  media=struct.pack("<II", 0x4CF4D72D, 1 | 1 << 8)
                                  + document_143("audio/ogg", 8123, doc_attrs(voice=7)))),
    # layer 206 on: messageMediaDocument#52d8ccd9 with a file name; reply header#6917560b quoting
    # a message of another chat whose media (a photo) is inside the header
    (27, 777, 1750000000, message(L206, 27, 1750000000, "see attached", sender=peer_user(777), peer=P1, flags2=True,
                                  reply=struct.pack("<IIi", 0x6917560B, 1 << 4 | 1 | 1 << 8 | 1 << 6, 5)
                                  + GROUP_PEER + MEDIA_PHOTO + tls("the quote"),
                                  media=struct.pack("<II", 0x52D8CCD9, 1)
                                  + document_143("application/vnd.ms-excel", 2_000_000_000_000,
                                                 doc_attrs("payments.xls")))),
    # an unknown media constructor
    (28, 777, 1750000100, message(L206, 28, 1750000100, "what is this", sender=peer_user(777), peer=P1, flags2=True,
                                  media=struct.pack("<I", 0xDEADBEEF) + b"\x00" * 8)),
    # damaged: the forward header's constructor overwritten (the text is still found by its date)
    (29, 777, 1750000200, message(L206, 29, 1750000200, "still readable", sender=peer_user(777), peer=P1,
                                  flags2=True, fwd=b"\xff\xff\xff\xff" + FWD_USER[4:])),
    # cut short inside the document of a voice note: the walk reached the text, the media is partial
    (30, 777, 1750000300, message(L181, 30, 1750000300, "listen", sender=peer_user(777), peer=P1, flags2=True,
                                  media=struct.pack("<II", 0x4CF4D72D, 1 | 1 << 8)
                                  + document_143("audio/ogg", 8123, doc_attrs(voice=7)))[:-30]),
    # cut short before its date: nothing but the row's own columns
    (31, 777, 1750000400, message(L133, 31, 1750000400, "gone", sender=peer_user(777), peer=P1,
                                  fwd=FWD_USER)[:30]),
]


def media_db(tmp_path):
    rows = dict(ROWS)
    rows["messages_v2"] = [(mid, uid, 1, 0, date, blob, 0, 0, 0, None, 0, 0, 0, None, 0, 0, 0, None, 0, 0)
                           for mid, uid, date, blob in MEDIA_ROWS] + ROWS["messages_v2"]
    return build(tmp_path / "cache4.db", SCHEMA, rows)


def test_replies_forwards_media(tmp_path):
    recs, warns = run(EX, media_db(tmp_path), "/data/data/org.telegram.messenger/files/cache4.db")
    by_id = {r.fields["message_id"]: r.fields for r in recs}
    assert len(recs) == len(MEDIA_ROWS) + 5
    plain, reply, fwd, hidden = by_id[21], by_id[22], by_id[23], by_id[24]
    assert plain["reply_to"] is None and "forwarded" not in plain and plain["tl_layers"] == "133-135"
    assert reply["reply_to"] == 21 and reply["body"] == "don't be late"
    # a recruitment ad forwarded into the group: the original sender's name resolved through users
    assert fwd["forwarded"] is True and fwd["forwarded_from"] == "oleg p @olegp (777)"
    assert fwd["forwarded_at"] == "2023-03-28T10:40:00Z" and fwd["sender"] == "ira (888)"
    assert fwd["body"] == "work abroad, good pay"
    assert [(a["kind"], a["name"], a["tl_constructor"]) for a in fwd["attachments"]] == \
        [("photo", None, "0x695150d7")]
    assert hidden["forwarded_from"] == "Recruiter Max" and hidden["forwarded_at"] == "2023-03-28T10:48:20Z"
    assert hidden["attachments"] == []
    # layer 105-118: 32-bit ids, reply id as an int, forward from a user id, a PDF
    old = by_id[25]
    assert old["tl_layers"] == "105-118" and old["sender"] == "oleg p @olegp (777)" and old["reply_to"] == 21
    assert old["forwarded_from"] == "ira (888)" and old["forwarded_at"] == "2017-07-13T23:53:20Z"
    [pdf] = old["attachments"]
    assert (pdf["kind"], pdf["name"], pdf["mime_type"], pdf["size"]) == \
        ("document", "contract.pdf", "application/pdf", 52000)
    [voice] = by_id[26]["attachments"]
    assert (voice["kind"], voice["mime_type"], voice["duration"], voice["name"]) == ("voice", "audio/ogg", 7, None)
    assert by_id[26]["tl_layers"] == "181-195"
    doc = by_id[27]
    assert doc["reply_to"] == 5 and doc["reply_to_peer"] == "border crew (chat:4242)"
    assert [(a["kind"], a["name"], a["mime_type"], a["size"]) for a in doc["attachments"]] == \
        [("document", "payments.xls", "application/vnd.ms-excel", 2_000_000_000_000)]
    [unknown] = by_id[28]["attachments"]
    assert unknown["kind"] == "unknown" and unknown["tl_constructor"] == "0xdeadbeef"
    assert by_id[28]["body"] == "what is this"


def test_damaged_blobs_keep_todays_fields(tmp_path):
    recs, warns = run(EX, media_db(tmp_path), "/x/cache4.db")
    by_id = {r.fields["message_id"]: r for r in recs}
    damaged = by_id[29]
    # the forward header is unreadable: the text found by the date, nothing guessed
    assert damaged.fields["body"] == "still readable" and damaged.fields["sender"] == "oleg p @olegp (777)"
    assert "forwarded" not in damaged.fields and damaged.fields["reply_to"] is None
    assert "tl_layers" not in damaged.fields
    # the database's warning counts it (below); the record itself carries no warning for it
    assert not any("walk" in w for w in damaged.warnings)
    cut = by_id[30].fields
    assert cut["body"] == "listen" and cut["tl_layers"] == "181-195"
    [partial] = cut["attachments"]
    assert partial["kind"] == "document" and partial["note"].startswith("media details not decoded")
    gone = by_id[31].fields
    assert gone["content_decoded"] is False and gone["body"] == "" and gone["sent_at_utc"] == "2025-06-15T15:13:20Z"
    # the rest of the database is still read, and the warning counts the blob without text
    assert by_id[10].fields["body"] == "when?" and by_id[26].fields["attachments"][0]["kind"] == "voice"
    assert warns == ["Telegram: 2 message blob(s) in messages_v2.data not decoded (no text found; constructors "
                     "0x85d6cbe2 ×1, 0x2b085862 ×1): their id, time, dialog and direction are kept",
                     "Telegram: 2 message blob(s) in messages_v2.data of a known TL_message layout did not walk "
                     "field by field to their date (layers 206-214 ×1, 133-135 ×1): their reply, forward and media "
                     "kind are not decoded, the text found by the date is kept"]


def test_a_signed_channel_post_is_the_channels(tmp_path):
    """A channel post forwarded with its author's signature: before layer 119 the header holds
    both the channel (channel_id, flags.1) and the author's user id (from_id, flags.0); the post
    is the channel's (as Telegram's clients show it), the author kept beside. From layer 119 the
    channel is the from_id Peer and the signature the post_author string (flags.3)."""
    old_fwd = struct.pack("<IIii", 0xEC338270, 1 | 1 << 1 | 1 << 2, 777, 1499990000) + struct.pack("<ii", 4242, 55)
    new_fwd = struct.pack("<II", 0x5F777DCE, 1 | 1 << 2 | 1 << 3) + struct.pack("<Iq", 0xA2A5371E, 4242) + \
        struct.pack("<ii", 1680000000, 56) + tls("Oleg P.")
    rows = dict(ROWS)
    rows["messages_v2"] = [
        (40, 888, 1, 0, 1500000200, message(L118, 40, 1500000200, "old post", sender=struct.pack("<i", 888),
                                            peer=peer32(1), fwd=old_fwd), 0, 0, 0, None, 0, 0, 0, None, 0, 0, 0,
         None, 0, 0),
        (41, 888, 1, 0, 1690002000, message(L133, 41, 1690002000, "new post", sender=peer_user(888), peer=P1,
                                            fwd=new_fwd), 0, 0, 0, None, 0, 0, 0, None, 0, 0, 0, None, 0, 0)]
    recs, _ = run(EX, build(tmp_path / "cache4.db", SCHEMA, rows), "/data/data/org.telegram.messenger/files/cache4.db")
    by_id = {r.fields["message_id"]: r.fields for r in recs}
    old, new = by_id[40], by_id[41]
    assert (old["forwarded_from"], old["forwarded_from_author"], old["forwarded_at"]) == \
        ("border crew (channel:4242)", "oleg p @olegp (777)", "2017-07-13T23:53:20Z")
    assert (new["forwarded_from"], new["forwarded_from_author"], new["forwarded_at"]) == \
        ("border crew (channel:4242)", "Oleg P.", "2023-03-28T10:40:00Z")


def test_a_text_dialog_id_and_a_blob_chat_name(tmp_path):
    """Hostile columns: a dialog id stored as text keeps its row (comparing it with 0 raised
    TypeError and the row was lost), and a chat's name stored as a BLOB is read as its text
    (it was shown as "b'border crew'")."""
    rows = dict(ROWS)
    rows["chats"] = [(4242, "border crew".encode(), None)]
    rows["messages_v2"] = ROWS["messages_v2"] + [
        (15, "peer777", 1, 0, 1690000300, tl_message(15, 1690000300, "odd", 777, peer_user(1)), 0, 0, 0, None, 0, 0,
         0, None, 0, 0, 0, None, 0, 0)]
    recs, warns = run(EX, build(tmp_path / "cache4.db", SCHEMA, rows), "/x/cache4.db")
    by_id = {r.fields["message_id"]: r.fields for r in recs}
    assert by_id[15]["body"] == "odd" and by_id[15]["dialog_id"] == "peer777"
    assert by_id[15]["conversation"]["title"] == "peer777" and by_id[15]["sender"] == "oleg p @olegp (777)"
    assert by_id[12]["conversation"]["title"] == "border crew (-4242)"
    assert not any("not readable" in w for w in warns)


def test_the_older_messages_table_and_data_that_is_no_blob(tmp_path):
    """Before Telegram Android 7.x the messages are in ``messages`` (the same columns, mid its
    key): read as messages_v2 is. A data column that is NULL, text, or a blob over MAX_BLOB
    (hostile: not decoded) keeps its row's id, time and dialog, and one warning counts them."""
    old = SCHEMA.split("CREATE TABLE messages_v2")[0] + (
        "CREATE TABLE messages (mid INTEGER PRIMARY KEY, uid INTEGER, read_state INTEGER, send_state INTEGER, "
        "date INTEGER, data BLOB, out INTEGER, ttl INTEGER, media INTEGER, replydata BLOB, imp INTEGER, "
        "mention INTEGER);")
    big = tl_message(13, 1690000180, "too big", 777, peer_user(1))
    rows = {"users": ROWS["users"], "chats": ROWS["chats"], "messages": [
        (10, 777, 1, 0, 1690000000, tl_message(10, 1690000000, "when?", 777, peer_user(1)), 0, 0, 0, None, 0, 0),
        (11, 777, 1, 0, 1690000060, None, 1, 0, 0, None, 0, 0),
        (12, 777, 1, 0, 1690000120, "not a blob", 0, 0, 0, None, 0, 0),
        (13, 777, 1, 0, 1690000180, big + bytes(MAX_BLOB + 1 - len(big)), 0, 0, 0, None, 0, 0)]}
    recs, warns = run(EX, build(tmp_path / "cache4.db", old, rows), "/x/cache4.db")
    by_id = {r.fields["message_id"]: r.fields for r in recs}
    assert sorted(by_id) == [10, 11, 12, 13]
    assert by_id[10]["body"] == "when?" and by_id[10]["tl_layers"] == "136-169"
    assert by_id[10]["source"]["table"] == "messages"
    for mid in (11, 12, 13):
        f = by_id[mid]
        assert (f["content_decoded"], f["body"], f["tl_constructor"], f["dialog_id"]) == (False, "", None, 777)
        assert f["sent_at_utc"] is not None and "tl_layers" not in f
    assert by_id[11]["sender"] == OWNER and by_id[13]["sender"] == "oleg p @olegp (777)"
    assert warns == ["Telegram: 3 message blob(s) in messages.data not decoded (no text found; constructors "
                     "unreadable data ×2, no data ×1): their id, time, dialog and direction are kept"]


def test_walk_needs_the_rows_date():
    blob = message(L133, 22, 1690001060, "x", sender=peer_user(777), peer=P1, reply=REPLY_133)
    assert walk_message(blob, 22, 1690001060)["reply_to"] == 21
    assert walk_message(blob, 22, 1690001061) is None            # another date: not trusted
    assert walk_message(blob, 23, 1690001060) is None            # another id
    assert walk_message(blob[:20], 22, 1690001060) is None       # cut short


def test_media_kinds():
    contact = struct.pack("<I", 0x70322949) + tls("+380501234567") + tls("Ivan") + tls("K") + tls("BEGIN:VCARD") + \
        struct.pack("<q", 5555)
    got = media_attachment(contact, 0)
    assert (got["kind"], got["phone_number"], got["first_name"], got["contact_user_id"]) == \
        ("contact", "+380501234567", "Ivan", 5555)
    twe = struct.pack("<I", 0x751F3146)                                        # textWithEntities, no entities
    poll = struct.pack("<I", 0x4BD6E798) + struct.pack("<IqI", 0x58747131, 9, 0) + twe + tls("Which day?") + \
        vec([]) + vec([struct.pack("<I", 0xFF16E2CA) + twe + tls(day) + vec([]) + tls("0") for day in ("Mon", "Tue")])
    got = media_attachment(poll, 0)
    assert (got["kind"], got["question"], got["answers"]) == ("poll", "Which day?", ["Mon", "Tue"])
    sticker = [struct.pack("<II", 0x6319D612, 0) + tls("😀") + struct.pack("<Iqq", 0x9DE7A269, 1, 2)]
    got = media_attachment(struct.pack("<II", 0x52D8CCD9, 1) + document_143("image/webp", 900, sticker), 0)
    assert (got["kind"], got["emoji"], got["mime_type"]) == ("sticker", "😀", "image/webp")
    video = [struct.pack("<IIdii", 0x43C57C48, 1, 4.5, 240, 240), struct.pack("<I", 0x15590068) + tls("r.mp4")]
    got = media_attachment(struct.pack("<II", 0x52D8CCD9, 1 | 1 << 7) + document_143("video/mp4", 1, video), 0)
    assert (got["kind"], got["duration"], got["name"]) == ("video_message", 4.5, "r.mp4")
    assert media_attachment(struct.pack("<I", 0x3DED6320), 0) is None          # messageMediaEmpty: no attachment
