"""Telegram for Android (org.telegram.messenger): ``cache4.db``.

Schema learned from ALEAPP ``scripts/artifacts/telegramAndroid.py`` and the Telegram Android
client's TL layouts (``TLRPC.java``: ``TL_message``, ``Peer``). Supported: ``messages_v2``
(Telegram Android 7.x on; 2020+) and the earlier ``messages`` table with the same columns.

Columns read: ``mid`` (message id), ``uid`` (the dialog: a user id when positive, minus a
group's or channel's id when negative), ``date`` (Unix seconds, UTC), ``out`` (1 sent from
this device's account), ``read_state``, ``send_state``, ``data`` (the message as a
TL-serialised object). Names come from ``users`` (``uid``, ``name``: the app's lower-cased
search form ``first last;;;username``) and ``chats`` (``uid``, ``name``).

``data`` is read by ``telegram_tl`` (its text found after the row's date, the sender in a
group, a shared position; then its fields walked in order for layers 51-214). Only a walk that
lands exactly on the row's own ``date`` (and starts on its ``mid``) is trusted; it then gives
the record:

* ``reply_to``: the replied-to message id (the row's ``mid`` of that message, as
  ``message_id`` holds it), ``reply_to_peer`` when it is in another chat (the reply header's
  ``reply_to_peer_id``), ``reply_to_story`` for a reply to a story;
* ``forwarded`` (true), ``forwarded_from`` (the header's ``from_id`` peer named through
  ``users``/``chats`` as senders are, or before layer 119 its channel id, else its user id; else the
  ``from_name`` of a sender who hides the account), ``forwarded_at`` (the header's date, UTC),
  ``forwarded_from_author`` for a signed channel post (its ``post_author`` signature, or before
  layer 119 the author's user named through ``users``);
* ``attachments``: one per media, with its ``kind`` (photo; document, voice, audio, video,
  video_message, animation, sticker; contact with phone and names; poll with its question and
  answers; webpage with its url; dice, game, invoice, story, giveaway, paid_media, todo,
  unsupported), ``tl_constructor``, and for a document its file name
  (``documentAttributeFilename``), ``mime_type`` and ``size``. A media constructor not
  known gives kind ``unknown`` with its id in hex; media whose details do not parse keep
  their kind with a note;
* ``tl_layers``: the layers of the layout walked.

A blob of a known layout that does not walk to its date (damaged, cut short, a field this
reader does not know) keeps the text found by the date and nothing more (no ``tl_layers``);
one warning per database counts such blobs by layout (a warning on each record was noise where
a whole kind of message does not walk); the media of a blob not walked keeps today's note
"media in the TL blob, not decoded".

A blob where none of this is found (a service message, another layout) keeps the row's id,
time, dialog and direction, with ``content_decoded: false``; one warning per database counts
them with their constructor ids.
"""
from __future__ import annotations

from forensic.extractors.chat.app_db import location, missing_columns, party, text_of, unix_seconds
from forensic.extractors.chat.common import attachment, message_record
from forensic.extractors.chat.sqlite_chat import OWNER, SqliteChatExtractor, rows, source
from forensic.extractors.chat.telegram_tl import (MEDIA_KINDS, MESSAGE_LAYOUTS, date_word, decode_full,
                                                  media_attachment, u32)
from forensic.extractors.records import ArtifactRecord

_COLS = ("mid", "uid", "date", "out", "read_state", "send_state", "data")
MAX_BLOB = 1 << 20


class TelegramAndroidExtractor(SqliteChatExtractor):
    NAME = "telegram_android"
    VERSION = "2"
    DESCRIPTION = "Telegram Android cache (cache4.db: messages_v2, users, chats)"
    FILE_NAMES = ("cache4.db",)
    MARKERS = (b"CREATE TABLE messages_v2",)
    REQUIRED = ("messages_v2", "messages")

    # live rows and deleted ones recovered from free space
    MESSAGE_TABLES = {"messages_v2": _COLS, "messages": _COLS}

    def context(self, conn, tables, item, problems) -> dict:
        users: dict[int, str | None] = {}
        chats: dict[int, str] = {}
        if "users" in tables:
            for r in rows(conn, "users", tables["users"], ("uid", "name"), problems):
                users[r["uid"]] = _user_name(r["name"])
        if "chats" in tables:
            for r in rows(conn, "chats", tables["chats"], ("uid", "name"), problems):
                chats[r["uid"]] = text_of(r["name"])    # a name stored as a BLOB read as its text
        for table in ("messages_v2", "messages"):
            if table not in tables:
                continue
            missing_columns(tables, table, ("mid", "uid", "date", "out", "data"), "Telegram", problems)
            # one warning counts the live blobs not decoded (each record says so too: content_decoded)
            undecoded: dict[str, int] = {}
            # and one the blobs of a known TL_message layout whose fields did not lead to the row's
            # date (damaged, cut short, a field this reader does not know, an id the row keeps
            # otherwise): a warning on each record would be noise where a whole kind of message
            # does not walk; such a record has no tl_layers
            unwalked: dict[str, int] = {}
            for r in rows(conn, table, tables[table], ("mid", "date", "data"), problems):
                blob = r["data"] if isinstance(r["data"], bytes) and len(r["data"]) <= MAX_BLOB else None
                got, walk = decode_full(blob, r["mid"], r["date"])
                if got["text"] is None:
                    key = got["constructor"] or ("no data" if r["data"] is None else "unreadable data")
                    undecoded[key] = undecoded.get(key, 0) + 1
                layout = MESSAGE_LAYOUTS.get(u32(blob, 0) or 0) if blob and walk is None else None
                if layout and date_word(r["date"]) is not None and r["mid"] is not None:
                    unwalked[layout[0]] = unwalked.get(layout[0], 0) + 1
            if undecoded:
                n = sum(undecoded.values())
                kinds = ", ".join(f"{k} ×{v}" for k, v in sorted(undecoded.items(), key=lambda kv: -kv[1])[:8])
                problems.append(f"Telegram: {n} message blob(s) in {table}.data not decoded (no text found; "
                                f"constructors {kinds}): their id, time, dialog and direction are kept")
            if unwalked:
                n = sum(unwalked.values())
                kinds = ", ".join(f"{k} ×{v}" for k, v in sorted(unwalked.items(), key=lambda kv: -kv[1])[:8])
                problems.append(f"Telegram: {n} message blob(s) in {table}.data of a known TL_message layout did not "
                                f"walk field by field to their date (layers {kinds}): their reply, forward and media "
                                "kind are not decoded, the text found by the date is kept")
        return {"users": users, "chats": chats}

    def row_record(self, table, row, ctx, item) -> ArtifactRecord:
        return self._message(row, table, item, ctx["users"], ctx["chats"])

    def _message(self, r, table, item, users, chats) -> ArtifactRecord:
        problems: list[str] = []
        blob = r["data"] if isinstance(r["data"], bytes) and len(r["data"]) <= MAX_BLOB else None
        got, walk = decode_full(blob, r["mid"], r["date"])     # no blob: nothing decoded, no walk
        decoded = got["text"] is not None
        uid = r["uid"]
        outgoing = bool(r["out"])
        if isinstance(uid, (int, float)) and uid > 0:     # a text uid (hostile) is no user's: the row is kept
            title = party(users.get(uid), uid)
            group = False
        else:
            gid = -uid if isinstance(uid, int) else None
            title = party(chats.get(gid), uid)
            group = True
        sender: str | None
        if outgoing:
            sender = OWNER
        elif got["from"]:
            sender = _peer_name(got["from"], users, chats)
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
        reply_to = None
        if walk is None:
            # not walked (a known TL_message layout whose fields did not lead to the row's date
            # is counted by one warning per database: ``context``): only the search by date
            atts = [attachment(None, note="media in the TL blob, not decoded")] \
                if got["media"] and not got["location"] else []
        else:
            extra["tl_layers"] = walk["layers"]
            reply_to = walk["reply_to"]
            if walk["reply_peer"]:              # the replied-to message is in another chat
                extra["reply_to_peer"] = _peer_name(walk["reply_peer"], users, chats)
            if walk["reply_story"]:
                story_peer, story_id = walk["reply_story"]
                extra["reply_to_story"] = {"peer": _peer_name(story_peer, users, chats), "story_id": story_id}
            fwd = walk["fwd"]
            if fwd is not None:
                # the channel first: before layer 119 a signed channel post's header gives the channel
                # (channel_id) and its author's user id (from_id) both, and the post is the channel's,
                # as Telegram's own clients show it (tdesktop: peerIdOriginal); the author is kept beside
                origin = fwd["channel"] or fwd["from"]
                extra["forwarded"] = True
                extra["forwarded_from"] = _peer_name(origin, users, chats) if origin else fwd["from_name"]
                if origin and fwd["from_name"]:
                    extra["forwarded_from_name"] = fwd["from_name"]
                author = _peer_name(fwd["from"], users, chats) if fwd["channel"] and fwd["from"] else None
                if author or fwd["post_author"]:
                    extra["forwarded_from_author"] = fwd["post_author"] or author
                when = unix_seconds(fwd["date"], "forwarded", problems)
                extra["forwarded_at"] = when.iso_utc() if when else None
            atts = []
            if walk["media_at"] is not None:
                att = media_attachment(blob or b"", walk["media_at"])
                if att is not None:
                    atts = [att]
                elif not got["location"] and MEDIA_KINDS.get(u32(blob or b"", walk["media_at"]) or 0) == "location":
                    atts = [attachment(None, kind="location", note="media in the TL blob: a position not decoded")]
        return message_record(
            platform="telegram", conversation={"id": str(uid), "title": title},
            participants=[OWNER] + ([title] if not group and title else []), sender=sender,
            sent=unix_seconds(r["date"], "sent", problems), body=got["text"] or "", attachments=atts,
            reply_to=reply_to,
            problems=problems, source=source(item, table, r["_rowid"]), source_ref=f"{table}:{r['_rowid']}",
            extra=extra | {"message_id": r["mid"], "dialog_id": uid, "group": group,
                   "direction": "outgoing" if outgoing else "incoming", "read_state": r["read_state"],
                   "send_state": r["send_state"], "content_decoded": decoded, "tl_constructor": got["constructor"]})


def _user_name(name) -> str | None:
    """``first last;;;username`` (the app's search form) as ``first last @username``."""
    if not name:
        return None
    person, _, user = text_of(name).partition(";;;")
    person, user = person.strip(), user.strip()
    return f"{person} @{user}" if person and user else (person or (f"@{user}" if user else None))


def _peer_name(peer: tuple[str, int], users: dict, chats: dict) -> str | None:
    """A Peer as senders are shown: a user by its ``users`` name, a chat or channel by its
    ``chats`` name (else ``kind:id``)."""
    kind, ident = peer
    if kind == "user":
        return party(users.get(ident), ident)
    return party(chats.get(ident), f"{kind}:{ident}")
