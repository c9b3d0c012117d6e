"""Telegram for Android (org.telegram.messenger): ``cache4.db``.

Schema learned from ALEAPP ``scripts/artifacts/telegramAndroid.py`` and the Telegram Android
client's TL layouts (``TLRPC.java``: ``TL_message``, ``Peer``). Supported: ``messages_v2``
(Telegram Android 7.x on; 2020+) and the earlier ``messages`` table with the same columns.

Columns read: ``mid`` (message id), ``uid`` (the dialog: a user id when positive, minus a
group's or channel's id when negative), ``date`` (Unix seconds, UTC), ``out`` (1 sent from
this device's account), ``read_state``, ``send_state``, ``data`` (the message as a
TL-serialised object). Names come from ``users`` (``uid``, ``name``: the app's lower-cased
search form ``first last;;;username``) and ``chats`` (``uid``, ``name``).

What is decoded from ``data``, without a full TL parser:

* the text: in every ``TL_message`` layout the ``message`` string immediately follows the
  ``date`` field, so the row's own ``date`` is looked for in the blob and the TL string
  after it is taken when it is well-formed (length-prefixed, padded to 4 bytes) strict UTF-8;
* the sender in a group: the blob's ``id`` field (the row's ``mid``) is found at offset 8
  (one flags word) or 12 (``flags2`` too, layer 179 on); when ``flags`` bit 8 is set the
  ``from_id`` Peer follows it: ``peerUser`` (layer 133 on, 64-bit id, 0x59511722; earlier
  32-bit, 0x9db1bc6d), ``peerChat``, ``peerChannel``;
* ``flags`` bit 9 says the message has media, which follows the text: a shared position
  (``messageMediaGeo``, ``messageMediaVenue`` with its title, ``messageMediaGeoLive``) is
  read into ``location``; other media are noted on the record, not decoded.

A blob where none of this is found (a service message, another layout) keeps the row's id,
time, dialog and direction, with ``content_decoded: false``; one warning per database counts
them with their constructor ids.
"""
from __future__ import annotations

import struct
from forensic.extractors.chat.app_db import location, missing_columns, party, unix_seconds
from forensic.extractors.chat.common import attachment, message_record
from forensic.extractors.chat.sqlite_chat import OWNER, SqliteChatExtractor, rows, source
from forensic.extractors.records import ArtifactRecord

_COLS = ("mid", "uid", "date", "out", "read_state", "send_state", "data")
PEERS = {0x59511722: ("user", 8), 0x9DB1BC6D: ("user", 4), 0x36C6019A: ("chat", 8), 0xBAD0E5BB: ("chat", 4),
         0xA2A5371E: ("channel", 8), 0xBDDDE532: ("channel", 4)}
FLAG_FROM, FLAG_MEDIA = 1 << 8, 1 << 9
# TL constructors of a shared position (Telegram's api.tl): messageMediaGeo, messageMediaVenue,
# messageMediaGeoLive (layer 119 on; before it without flags), and GeoPoint (layer 119 on:
# flags, long, lat, access_hash, [accuracy_radius]; layers 77-118: long, lat, access_hash;
# earlier: long, lat)
MEDIA_GEO, MEDIA_VENUE, MEDIA_GEO_LIVE, MEDIA_GEO_LIVE_OLD = 0x56E0D474, 0x2EC0533F, 0xB940C666, 0x7C3C2609
GEO_POINT, GEO_POINT_V2, GEO_POINT_V1 = 0xB2A2F663, 0x0296F104, 0x2049D70C
MAX_BLOB = 1 << 20


def tl_string(blob: bytes, pos: int) -> str | None:
    """The TL string at ``pos`` (1-byte length below 254, else 0xFE and a 3-byte length;
    padded to a multiple of 4), decoded as strict UTF-8; None if it is not one."""
    got = tl_string_end(blob, pos)
    return got[0] if got else None


def tl_string_end(blob: bytes, pos: int) -> tuple[str, int] | None:
    """(the TL string at ``pos``, the offset after it and its padding), or None."""
    if pos >= len(blob):
        return None
    n = blob[pos]
    if n < 254:
        start, head = pos + 1, 1
    elif n == 254 and pos + 4 <= len(blob):
        n = int.from_bytes(blob[pos + 1:pos + 4], "little")
        start, head = pos + 4, 4
    else:
        return None
    end = start + n
    after = end + (-(head + n) % 4)
    if after > len(blob):
        return None
    try:
        return blob[start:end].decode("utf-8"), after
    except UnicodeDecodeError:
        return None


def tl_geo(blob: bytes, pos: int) -> tuple[float, float] | None:
    """(latitude, longitude) of the GeoPoint at ``pos`` (it stores longitude first)."""
    if pos + 4 > len(blob):
        return None
    ctor = struct.unpack_from("<I", blob, pos)[0]
    at = {GEO_POINT: pos + 8, GEO_POINT_V2: pos + 4, GEO_POINT_V1: pos + 4}.get(ctor)
    if at is None or at + 16 > len(blob):
        return None
    lon, lat = struct.unpack_from("<dd", blob, at)
    return lat, lon


def tl_media_location(blob: bytes, pos: int) -> tuple[str, float, float, str | None] | None:
    """(kind, latitude, longitude, venue title) of the MessageMedia at ``pos`` when it is a
    position (messageMediaGeo, messageMediaVenue, messageMediaGeoLive); else None."""
    if pos + 4 > len(blob):
        return None
    ctor = struct.unpack_from("<I", blob, pos)[0]
    if ctor == MEDIA_GEO:
        got, kind, title = tl_geo(blob, pos + 4), "geo", None
    elif ctor == MEDIA_VENUE:
        got, kind = tl_geo(blob, pos + 4), "venue"
        title = None
        if got is not None:
            g = struct.unpack_from("<I", blob, pos + 4)[0]
            after = pos + 4 + {GEO_POINT: 32, GEO_POINT_V2: 28, GEO_POINT_V1: 20}[g]
            if g == GEO_POINT and struct.unpack_from("<I", blob, pos + 8)[0] & 1:
                after += 4                                   # accuracy_radius
            t = tl_string_end(blob, after)
            title = t[0] if t else None
    elif ctor in (MEDIA_GEO_LIVE, MEDIA_GEO_LIVE_OLD):
        got, kind, title = tl_geo(blob, pos + 8 if ctor == MEDIA_GEO_LIVE else pos + 4), "live", None
    else:
        return None
    return (kind, got[0], got[1], title) if got else None


def decode_message(blob: bytes, mid: int | None, date: int | None) -> dict:
    """What can be read of a TL message blob: constructor, text, from peer, has media."""
    out: dict = {"constructor": None, "text": None, "from": None, "media": None, "location": None}
    if not isinstance(blob, bytes) or len(blob) < 12:
        return out
    out["constructor"] = f"0x{struct.unpack_from('<I', blob, 0)[0]:08x}"
    flags = struct.unpack_from("<I", blob, 4)[0]
    if mid is not None:
        for at in (8, 12):
            if at + 4 <= len(blob) and struct.unpack_from("<i", blob, at)[0] == mid:
                out["media"] = bool(flags & FLAG_MEDIA)
                if flags & FLAG_FROM and at + 8 <= len(blob):
                    ctor = struct.unpack_from("<I", blob, at + 4)[0]
                    kind = PEERS.get(ctor)
                    if kind and at + 8 + kind[1] <= len(blob):
                        fmt = "<q" if kind[1] == 8 else "<i"
                        out["from"] = (kind[0], struct.unpack_from(fmt, blob, at + 8)[0])
                break
    if date:
        needle = struct.pack("<I", int(date) & 0xFFFFFFFF)
        pos = blob.find(needle, 8)
        while pos != -1:
            got = tl_string_end(blob, pos + 4)
            if got is not None:
                out["text"] = got[0]
                if flags & FLAG_MEDIA:          # the media object follows the text
                    out["location"] = tl_media_location(blob, got[1])
                break
            pos = blob.find(needle, pos + 1)
    return out


class TelegramAndroidExtractor(SqliteChatExtractor):
    NAME = "telegram_android"
    VERSION = "1"
    DESCRIPTION = "Telegram Android cache (cache4.db: messages_v2, users, chats)"
    FILE_NAMES = ("cache4.db",)
    MARKERS = (b"CREATE TABLE messages_v2",)
    REQUIRED = ("messages_v2", "messages")

    # live rows and deleted ones recovered from free space
    MESSAGE_TABLES = {"messages_v2": _COLS, "messages": _COLS}

    def context(self, conn, tables, item, problems) -> dict:
        users: dict[int, str] = {}
        chats: dict[int, str] = {}
        if "users" in tables:
            for r in rows(conn, "users", tables["users"], ("uid", "name"), problems):
                users[r["uid"]] = _user_name(r["name"])
        if "chats" in tables:
            for r in rows(conn, "chats", tables["chats"], ("uid", "name"), problems):
                chats[r["uid"]] = r["name"]
        for table in ("messages_v2", "messages"):
            if table not in tables:
                continue
            missing_columns(tables, table, ("mid", "uid", "date", "out", "data"), "Telegram", problems)
            # one warning counts the live blobs not decoded (each record says so too: content_decoded)
            undecoded: dict[str, int] = {}
            for r in rows(conn, table, tables[table], ("mid", "date", "data"), problems):
                blob = r["data"] if isinstance(r["data"], bytes) and len(r["data"]) <= MAX_BLOB else None
                got = decode_message(blob, r["mid"], r["date"]) if blob else None
                if got is None or got["text"] is None:
                    key = (got or {}).get("constructor") or ("no data" if r["data"] is None else "unreadable data")
                    undecoded[key] = undecoded.get(key, 0) + 1
            if undecoded:
                n = sum(undecoded.values())
                kinds = ", ".join(f"{k} ×{v}" for k, v in sorted(undecoded.items(), key=lambda kv: -kv[1])[:8])
                problems.append(f"Telegram: {n} message blob(s) in {table}.data not decoded (no text found; "
                                f"constructors {kinds}): their id, time, dialog and direction are kept")
        return {"users": users, "chats": chats}

    def row_record(self, table, row, ctx, item) -> ArtifactRecord:
        return self._message(row, table, item, ctx["users"], ctx["chats"])

    def _message(self, r, table, item, users, chats) -> ArtifactRecord:
        problems: list[str] = []
        blob = r["data"] if isinstance(r["data"], bytes) and len(r["data"]) <= MAX_BLOB else None
        got = decode_message(blob, r["mid"], r["date"]) if blob else \
            {"constructor": None, "text": None, "from": None, "media": None, "location": None}
        decoded = got["text"] is not None
        uid = r["uid"]
        outgoing = bool(r["out"])
        if uid is not None and uid > 0:
            title = party(users.get(uid), uid)
            group = False
        else:
            gid = -uid if isinstance(uid, int) else None
            title = party(chats.get(gid), uid)
            group = True
        if outgoing:
            sender = OWNER
        elif got["from"] and got["from"][0] == "user":
            sender = party(users.get(got["from"][1]), got["from"][1])
        elif got["from"]:
            sender = party(chats.get(got["from"][1]), f"{got['from'][0]}:{got['from'][1]}")
        elif not group:
            sender = title
        else:
            sender = None
        extra: dict = {}
        if got["location"]:
            kind, lat, lon, title_v = got["location"]
            loc = location(lat, lon, f"telegram {table}.data messageMedia ({kind})")
            if loc:
                if title_v:
                    loc["name"] = title_v
                extra["location"] = loc
        atts = [attachment(None, note="media in the TL blob, not decoded")] \
            if got["media"] and not got["location"] else []
        return message_record(
            platform="telegram", conversation={"id": str(uid), "title": title},
            participants=[OWNER] + ([title] if not group and title else []), sender=sender,
            sent=unix_seconds(r["date"], "sent", problems), body=got["text"] or "", attachments=atts,
            problems=problems, source=source(item, table, r["_rowid"]), source_ref=f"{table}:{r['_rowid']}",
            extra=extra | {"message_id": r["mid"], "dialog_id": uid, "group": group,
                   "direction": "outgoing" if outgoing else "incoming", "read_state": r["read_state"],
                   "send_state": r["send_state"], "content_decoded": decoded, "tl_constructor": got["constructor"]})


def _user_name(name) -> str | None:
    """``first last;;;username`` (the app's search form) as ``first last @username``."""
    if not name:
        return None
    text = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
    person, _, user = text.partition(";;;")
    person, user = person.strip(), user.strip()
    return f"{person} @{user}" if person and user else (person or (f"@{user}" if user else None))
