"""A WhatsApp iOS ChatStorage.sqlite built with the app's own CREATE TABLE statements (the
columns of WhatsApp 2.22 on iOS 15, as in Josh Hickman's public iOS 15 image): a one-to-one
chat with a text, a reply, an image (its file's SHA-256 recorded as WhatsApp records it), a
location message and a contact card; a group with three members (the owner one of them), a
group event, two messages whose sender only ZGROUPMEMBER names, and a message revoked for
everyone. For the extractor and CLI tests."""
from __future__ import annotations

import base64
import hashlib
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from builders import tiny_jpeg

OWNER_JID = "34600000001@s.whatsapp.net"
BOB = "34600111222@s.whatsapp.net"
GROUP = "120363000000000001@g.us"
ANA = "34600333444@s.whatsapp.net"
CARL = "34600555666@s.whatsapp.net"
APPLE = datetime(2001, 1, 1, tzinfo=timezone.utc)
T0 = 700000000.25                   # 2023-03-08T20:26:40.25Z
PHOTO = tiny_jpeg(b"Apple", b"iPhone 13")
PHOTO_SHA = hashlib.sha256(PHOTO).hexdigest()
MEDIA = "Media/34600111222@s.whatsapp.net/a/b/5e1f0c2a-0000-4000-8000-000000000001.jpg"

# the app's own statements (WhatsApp 2.22, iOS 15), as in the device's ChatStorage.sqlite
SCHEMA = """
CREATE TABLE ZWACHATSESSION ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZARCHIVED INTEGER,
 ZCONTACTABID INTEGER, ZFLAGS INTEGER, ZHIDDEN INTEGER, ZIDENTITYVERIFICATIONEPOCH INTEGER,
 ZIDENTITYVERIFICATIONSTATE INTEGER, ZMESSAGECOUNTER INTEGER, ZREMOVED INTEGER, ZSESSIONTYPE INTEGER,
 ZSPOTLIGHTSTATUS INTEGER, ZUNREADCOUNT INTEGER, ZGROUPINFO INTEGER, ZLASTMESSAGE INTEGER, ZPROPERTIES INTEGER,
 ZLASTMESSAGEDATE TIMESTAMP, ZLOCATIONSHARINGENDDATE TIMESTAMP, ZCONTACTIDENTIFIER VARCHAR, ZCONTACTJID VARCHAR,
 ZETAG VARCHAR, ZLASTMESSAGETEXT VARCHAR, ZPARTNERNAME VARCHAR, ZSAVEDINPUT VARCHAR );
CREATE TABLE ZWAGROUPMEMBER ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCONTACTABID INTEGER,
 ZISACTIVE INTEGER, ZISADMIN INTEGER, ZSENDERKEYSENT INTEGER, ZCHATSESSION INTEGER, ZRECENTGROUPCHAT INTEGER,
 ZCONTACTIDENTIFIER VARCHAR, ZCONTACTNAME VARCHAR, ZFIRSTNAME VARCHAR, ZMEMBERJID VARCHAR );
CREATE TABLE ZWAMEDIAITEM ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCLOUDSTATUS INTEGER,
 ZFILESIZE INTEGER, ZMEDIAORIGIN INTEGER, ZMOVIEDURATION INTEGER, ZMESSAGE INTEGER, ZASPECTRATIO FLOAT,
 ZHACCURACY FLOAT, ZLATITUDE FLOAT, ZLONGITUDE FLOAT, ZMEDIAURLDATE TIMESTAMP, ZAUTHORNAME VARCHAR,
 ZCOLLECTIONNAME VARCHAR, ZMEDIALOCALPATH VARCHAR, ZMEDIAURL VARCHAR, ZTHUMBNAILLOCALPATH VARCHAR, ZTITLE VARCHAR,
 ZVCARDNAME VARCHAR, ZVCARDSTRING VARCHAR, ZXMPPTHUMBPATH VARCHAR, ZMEDIAKEY BLOB, ZMETADATA BLOB );
CREATE TABLE ZWAMESSAGE ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
 ZCHILDMESSAGESDELIVEREDCOUNT INTEGER, ZCHILDMESSAGESPLAYEDCOUNT INTEGER, ZCHILDMESSAGESREADCOUNT INTEGER,
 ZDATAITEMVERSION INTEGER, ZDOCID INTEGER, ZENCRETRYCOUNT INTEGER, ZFILTEREDRECIPIENTCOUNT INTEGER, ZFLAGS INTEGER,
 ZGROUPEVENTTYPE INTEGER, ZISFROMME INTEGER, ZMESSAGEERRORSTATUS INTEGER, ZMESSAGESTATUS INTEGER,
 ZMESSAGETYPE INTEGER, ZSORT INTEGER, ZSPOTLIGHTSTATUS INTEGER, ZSTARRED INTEGER, ZCHATSESSION INTEGER,
 ZGROUPMEMBER INTEGER, ZLASTSESSION INTEGER, ZMEDIAITEM INTEGER, ZMESSAGEINFO INTEGER, ZPARENTMESSAGE INTEGER,
 ZMESSAGEDATE TIMESTAMP, ZSENTDATE TIMESTAMP, ZFROMJID VARCHAR, ZMEDIASECTIONID VARCHAR, ZPHASH VARCHAR,
 ZPUSHNAME VARCHAR, ZSTANZAID VARCHAR, ZTEXT VARCHAR, ZTOJID VARCHAR );
CREATE TABLE ZWAPROFILEPUSHNAME ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZJID VARCHAR,
 ZPUSHNAME VARCHAR );
"""


def _message(pk, chat, from_me, mtype, when, text=None, from_jid=None, to_jid=None, member=None, media=None,
             pushname=None):
    return {"Z_PK": pk, "ZCHATSESSION": chat, "ZISFROMME": from_me, "ZMESSAGETYPE": mtype, "ZMESSAGEDATE": when,
            "ZSENTDATE": when + 0.5, "ZTEXT": text, "ZFROMJID": from_jid, "ZTOJID": to_jid, "ZGROUPMEMBER": member,
            "ZMEDIAITEM": media, "ZPUSHNAME": pushname, "ZSTANZAID": f"3A{pk:018d}", "ZFLAGS": 16777216}


def build_chatstorage(path: Path, drop: tuple[str, ...] = ()) -> Path:
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    for table in drop:
        db.execute(f"DROP TABLE {table}")

    def put(table: str, row: dict) -> None:
        if table not in drop:
            db.execute(f"INSERT INTO {table} ({','.join(row)}) VALUES ({','.join('?' * len(row))})",
                       tuple(row.values()))
    put("ZWACHATSESSION", {"Z_PK": 1, "ZSESSIONTYPE": 0, "ZCONTACTJID": BOB, "ZPARTNERNAME": "Bob Marín"})
    put("ZWACHATSESSION", {"Z_PK": 2, "ZSESSIONTYPE": 1, "ZCONTACTJID": GROUP, "ZPARTNERNAME": "Obra Calle Mayor"})
    put("ZWAGROUPMEMBER", {"Z_PK": 1, "ZCHATSESSION": 2, "ZMEMBERJID": ANA, "ZCONTACTNAME": "Ana Ruiz"})
    put("ZWAGROUPMEMBER", {"Z_PK": 2, "ZCHATSESSION": 2, "ZMEMBERJID": CARL, "ZFIRSTNAME": "Carl"})
    put("ZWAGROUPMEMBER", {"Z_PK": 3, "ZCHATSESSION": 2, "ZMEMBERJID": OWNER_JID})
    put("ZWAPROFILEPUSHNAME", {"Z_PK": 1, "ZJID": CARL, "ZPUSHNAME": "Carlitos"})
    messages = [
        _message(1, 1, 0, 0, T0, "hola, ¿dónde estás?", from_jid=BOB, pushname="CO/kxKIGIAA="),
        _message(2, 1, 1, 0, T0 + 60, "llego en 10", to_jid=BOB),
        _message(3, 1, 0, 1, T0 + 120, None, from_jid=BOB, media=1),
        _message(4, 1, 1, 5, T0 + 180, None, to_jid=BOB, media=2),
        _message(5, 2, 0, 6, T0 + 200, None, from_jid=GROUP, to_jid=OWNER_JID),
        _message(6, 2, 0, 0, T0 + 240, "the key is under the mat", from_jid=GROUP, to_jid=OWNER_JID, member=1),
        _message(7, 2, 0, 0, T0 + 300, "ok", from_jid=GROUP, to_jid=OWNER_JID, member=2),
        _message(8, 2, 0, 14, T0 + 360, None, from_jid=GROUP, to_jid=OWNER_JID, member=1),
        _message(9, 1, 0, 4, T0 + 420, None, from_jid=BOB, media=3),
    ]
    for m in messages:
        put("ZWAMESSAGE", m)
    put("ZWAMEDIAITEM", {"Z_PK": 1, "ZMESSAGE": 3, "ZMEDIALOCALPATH": MEDIA, "ZTITLE": "la puerta",
                         "ZLATITUDE": 1080.0, "ZLONGITUDE": 1920.0, "ZFILESIZE": len(PHOTO),
                         "ZVCARDNAME": base64.b64encode(bytes.fromhex(PHOTO_SHA)).decode(),
                         "ZVCARDSTRING": "image/jpeg"})
    put("ZWAMEDIAITEM", {"Z_PK": 2, "ZMESSAGE": 4, "ZLATITUDE": 40.4168, "ZLONGITUDE": -3.7038,
                         "ZTITLE": "Puerta del Sol"})
    put("ZWAMEDIAITEM", {"Z_PK": 3, "ZMESSAGE": 9, "ZVCARDNAME": "Dana",
                         "ZVCARDSTRING": "BEGIN:VCARD\nFN:Dana\nEND:VCARD"})
    db.commit()
    db.close()
    return path
