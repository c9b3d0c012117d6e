"""WhatsApp Android message database ``msgstore.db`` (decrypted) and contacts ``wa.db``.

Two schemas:

* legacy (before 2022): one ``messages`` table — ``key_remote_jid`` (the chat), ``key_from_me``,
  ``remote_resource`` (the sender in a group), ``data`` (text), ``timestamp`` (Unix ms),
  ``media_wa_type``, ``media_name``, ``media_caption``, ``media_mime_type``, ``latitude``/
  ``longitude``; system rows have ``status`` 6;
* current: ``message`` (``chat_row_id``, ``from_me``, ``sender_jid_row_id``, ``text_data``,
  ``timestamp`` ms, ``message_type``), ``chat`` (``jid_row_id``, ``subject``), ``jid``
  (``raw_string``), ``message_media`` (``file_path``, ``mime_type``, ``media_caption``),
  ``message_quoted`` (``key_id`` of the message replied to), ``message_location``
  (``latitude``, ``longitude``, ``place_name`` of a location message).

``jid_map`` (current schema, 2023 on: ``lid_row_id`` -> ``jid_row_id``) maps a LID, the
privacy id ``NNN@lid`` a chat or group sender may be keyed by, to the phone-number jid: the
record then names the phone-number jid (``conversation.id``, ``chat_jid``, ``sender``,
``participants``) and keeps the LID in ``chat_lid``/``sender_lid``. A LID with no mapping
stays as it is. Only a ``@lid`` jid is mapped, only to a ``@s.whatsapp.net`` jid, and a LID
mapped to two numbers keeps its first: other rows (forged) are left unused, with a warning.

Deleted rows of ``message``/``messages`` (and ``wa_contacts``) are recovered from free space
by the base (``MESSAGE_TABLES``, :mod:`forensic.extractors.chat.sqlite_chat`), marked
``recovered: "deleted"``.

For the triage (batches), the usual ``message`` row (no media or place row, a chat keyed by its
phone-number jid, not a system message) is written straight to the JSON text it is stored as,
byte for byte what the one-by-one record gives; any other row is made one by one
(:mod:`forensic.extractors.chat.sqlite_chat`, Batches).

A location message (legacy ``latitude``/``longitude``, current ``message_location``) carries
``location`` = {``latitude``, ``longitude``, ``source``} (and ``name``, the place's), the shape
every chat location has: ``forensic geo``, the timeline and a bundle's map show it. A
position out of range, or 0/0 (no fix), is not one.

``message_type``/``media_wa_type``: 0 text, 1 image, 2 audio, 3 video, 4 contact, 5 location,
7 system, 9 document, 13 GIF, 15 deleted for everyone, 20 sticker, ...

``wa.db`` (``wa_contacts``: jid, display_name, wa_name, number) gives ``contact/whatsapp``
records; ``finalize`` puts the names on the messages of a ``msgstore.db`` in the same folder
(``sender_name``, and the title of one-to-one conversations).
"""
from __future__ import annotations

import posixpath
from typing import Iterable, Iterator

from forensic.extractors.chat.common import RECORD_TYPE, Edits, attachment, link_by_suffix, message_record
from forensic.store.records import Link, fields_json, json_string
from forensic.store.view import StoreView
from forensic.extractors.chat.sqlite_chat import (EMPTY_JSON, FLAG_JSON, MS_TYPES, NO_TIME_JSON, NULL_JSON, OWNER,
                                                  ROW_ERRORS, FoundRow, SqliteChatExtractor, keep_head, lookup, rows,
                                                  source, unix_ms)
from forensic.extractors.records import ArtifactRecord, ExtractionWarning, RecordBatch
from forensic.timestamps import ms_iso_utc, utc_row

LEGACY_LOCATION = "whatsapp_db location message (messages.latitude/longitude)"
CURRENT_LOCATION = "whatsapp_db location message (message_location)"

_TYPES = {0: "text", 1: "image", 2: "audio", 3: "video", 4: "contact", 5: "location", 7: "system", 8: "call",
          9: "document", 10: "missed_call", 11: "waiting", 13: "gif", 15: "deleted", 16: "live_location",
          20: "sticker", 42: "view_once_image", 43: "view_once_video", 64: "deleted_by_admin"}
_LEGACY = ("key_remote_jid", "key_from_me", "key_id", "status", "data", "timestamp", "remote_resource",
           "media_wa_type", "media_name", "media_caption", "media_mime_type", "media_size", "latitude", "longitude",
           "received_timestamp", "starred", "quoted_row_id")
_CURRENT = ("chat_row_id", "from_me", "key_id", "sender_jid_row_id", "status", "timestamp", "received_timestamp",
            "message_type", "text_data", "starred")
_CURRENT_ROW = ("_rowid", *_CURRENT)
# JSON texts of the values _message_batch writes (fields_json's): a type or state not here is
# made by _current (a system message names its actor)
_KIND_JSON = {mt: (fields_json(kind), "true" if kind in ("deleted", "deleted_by_admin") else "false")
              for mt, kind in {None: None, **_TYPES}.items() if kind != "system"}
_FROM_ME = {0: False, 1: True}
_CONTACT = ("jid", "display_name", "wa_name", "number", "is_whatsapp_user")


class WhatsAppDbExtractor(SqliteChatExtractor):
    NAME = "whatsapp_db"
    VERSION = "4"
    DESCRIPTION = "WhatsApp Android databases (decrypted msgstore.db, legacy and current schemas; wa.db contacts)"
    FILE_NAMES = ("msgstore.db", "wa.db")
    MARKERS = (b"key_remote_jid", b"CREATE TABLE wa_contacts", b"CREATE TABLE message_media")
    REQUIRED = ("messages", "message", "wa_contacts")
    RECORD_TYPES = ("chat/message", "contact/whatsapp")

    MESSAGE_TABLES = {"messages": _LEGACY, "message": _CURRENT, "wa_contacts": _CONTACT}
    TUPLE_TABLES = ("message",)

    def context(self, conn, tables, item, problems) -> dict:
        """The side tables of the schema found, read once: which of the message tables holds
        the messages (``mode``), and the jids, chats, media, replies and places they point to."""
        if "wa_contacts" in tables and "messages" not in tables and "message" not in tables:
            return {"mode": "wa_contacts"}
        if "message" in tables and "jid" in tables and "chat" in tables:
            return self._current_context(conn, tables, problems)
        if "messages" in tables:
            return self._legacy_context(conn, tables, problems)
        missing = [t for t in ("jid", "chat") if t not in tables]
        problems.append(f"table(s) {', '.join(missing)} missing beside 'message': reading messages without "
                        "chat or sender identities")
        return self._current_context(conn, tables, problems)

    def row_record(self, table, row, ctx, item) -> ArtifactRecord | None:
        if table != ctx["mode"]:
            return None                      # a table of the other schema (left over by a migration)
        if table == "wa_contacts":
            return ArtifactRecord("contact/whatsapp", {
                "jid": row["jid"], "display_name": row["display_name"], "wa_name": row["wa_name"],
                "number": row["number"], "source": source(item, "wa_contacts", row["_rowid"])},
                source_ref=f"wa_contacts:{row['_rowid']}")
        if table == "messages":
            return self._legacy(row, ctx, item)
        if type(row) is tuple:                  # a live row, read as a plain tuple (TUPLE_TABLES)
            row = FoundRow(_CURRENT_ROW, row)
        return self._current(row, ctx, item)

    def row_batches(self, table, got, ctx, item, problems) -> Iterator[RecordBatch]:
        if table == "message" and ctx["mode"] == "message":
            yield self._message_batch(got, item, ctx, problems)
        else:
            yield from super().row_batches(table, got, ctx, item, problems)

    def _message_batch(self, got, item, ctx: dict, problems: list[str]) -> RecordBatch:
        """The records of a read's ``message`` rows, the same as ``_current`` makes them,
        written straight to the text they are stored as (as ``android_sms`` writes its texts:
        no Timestamp, record object or fields dict each; the tests compare both paths byte for
        byte). A chat's fields before the time, for one direction and sender, are written once.
        This is for the usual row: a message with no media or place row, in a chat keyed by
        its phone-number jid, not a system message, times as Unix milliseconds (integers),
        texts as text; any other row is made by ``_current`` itself."""
        batch = RecordBatch(RECORD_TYPE)
        fields, times, corrupted, warnings, refs = (batch.fields.append, batch.times.append, batch.corrupted.append,
                                                    batch.warnings.append, batch.source_refs.append)
        media, places, quoted, heads, jids = ctx["media"], ctx["places"], ctx["quoted"], ctx["heads"], ctx["jids"]
        middle = f'"system": false, "source": {{"path": {json_string(item.path)}, "table": "message", "row_id": '
        for r in got:
            (rowid, chat_row_id, from_me, key_id, sender_row, _status, timestamp, received, message_type, text,
             starred) = r
            try:
                if rowid in media or rowid in places or type(chat_row_id) is not int \
                        or type(timestamp) not in MS_TYPES or type(received) not in MS_TYPES:
                    raise TypeError("not the usual row")
                who = jids.get(sender_row)        # a group sender's jid: what the head depends on
                head, tail = heads.get((chat_row_id, from_me, who)) or self._heads(chat_row_id, from_me, who, ctx)
                kind, deleted = _KIND_JSON[message_type]
                if timestamp:
                    sent = ms_iso_utc(timestamp)
                    when = f'"sent_at": "{sent}", "sent_at_utc": "{sent}", "tz_known": true, "tz_source": "utc", '
                    stamps: tuple = (utc_row("sent", sent, str(timestamp)),)
                else:
                    when, stamps = NO_TIME_JSON, ()
                received_at = f'"{ms_iso_utc(received)}"' if received else NULL_JSON    # nothing to escape
                reply = quoted.get(rowid)
                # a value of another type raises (json_string: TypeError; the tables: KeyError)
                text_json = (f'{head}{when}"body": {json_string(text) if text else EMPTY_JSON}, "attachments": [], '
                             f'"reply_to": {NULL_JSON if reply is None else fields_json(reply)}, "edited": false, '
                             f'"edited_at": null, "deleted": {deleted}, {middle}{rowid}}}, "message_type": {kind}, '
                             f'"key_id": {json_string(key_id)}{tail}{FLAG_JSON[starred]}, '
                             f'"received_at": {received_at}}}')
            except ROW_ERRORS:                  # made one by one: _current's record, or its words for the row
                try:
                    rec = self._current(FoundRow(_CURRENT_ROW, r), ctx, item)
                except ROW_ERRORS as exc:
                    problems.append(f"table message: row {rowid} not readable as a message ({exc})")
                    continue
                batch.add(rec)
                continue
            fields(text_json)
            times(stamps)
            corrupted(not stamps)
            warnings(())
            refs(f"message:{rowid}")
        return batch

    def _heads(self, chat_row_id, from_me, who, ctx) -> tuple[str, str]:
        """The JSON text of a usual message's fields before its time (platform, conversation,
        participants, sender, recipients, with the ", " after), and of those between its
        ``key_id`` and ``starred`` (direction, chat_jid), as ``_current`` makes them for a
        message of this chat and direction whose sender row names the jid ``who`` (the sender,
        in a group): kept in ``ctx["heads"]``. KeyError where the chat or sender is keyed by a
        LID or the chat's jid is not text (``_current``'s)."""
        jid, subject, lid, group, others = self._chat(chat_row_id, ctx)
        out = _FROM_ME[from_me]
        if out:
            sender = OWNER
        elif group:
            sender = who
        else:
            sender = jid
        if lid is not None or sender in ctx["phone"] or type(jid) is not str:
            raise KeyError("a LID, or a chat jid that is not text")
        head = fields_json({"platform": "whatsapp", "conversation": {"id": jid, "title": subject or jid,
                                                                     "group": jid.endswith("@g.us")},
                            "participants": [OWNER, *others], "sender": sender,
                            "recipients": others if out else [OWNER, *(o for o in others if o != sender)]})
        tail = f', "direction": "{"outgoing" if out else "incoming"}", "chat_jid": {fields_json(jid)}, "starred": '
        # one per chat, direction and sender jid: sender ids naming no jid share one (a hostile
        # file's, one per message in a 1,000-member group, made 1.3 GB of them when keyed by the
        # id); a large group's many real senders are bounded by keep_head's budget
        return keep_head(ctx, (chat_row_id, from_me, who), (head[:-1] + ", ", tail), len(head) + 1 + len(tail))

    # -- legacy 'messages' -------------------------------------------------------------------------
    def _legacy_context(self, conn, tables, problems) -> dict:
        subjects = {}
        if "chat_list" in tables and "subject" in tables["chat_list"]:
            subjects = {k: r["subject"] for k, r in lookup(conn, "chat_list", tables["chat_list"], "key_remote_jid",
                                                            ("subject",), problems).items()}
        by_jid: dict[str, set] = {}
        key_ids: dict[int, str] = {}
        for r in rows(conn, "messages", tables["messages"], ("key_remote_jid", "remote_resource", "key_id"),
                      problems):
            key_ids[r["_rowid"]] = r["key_id"]
            if r["key_remote_jid"] and r["key_remote_jid"] != "-1":
                s = by_jid.setdefault(r["key_remote_jid"], set())
                if r["remote_resource"]:
                    s.add(r["remote_resource"])
        return {"mode": "messages", "subjects": subjects, "by_jid": by_jid, "key_ids": key_ids}

    def _legacy(self, r, ctx, item) -> ArtifactRecord | None:
        jid = r["key_remote_jid"]
        if jid == "-1" or r["key_id"] == "-1":
            return None                        # the database's own placeholder row
        group = isinstance(jid, str) and jid.endswith("@g.us")
        others = _sorted_members(ctx["by_jid"].get(jid, ())) if group else ([jid] if jid else [])
        from_me = bool(r["key_from_me"])
        sender = OWNER if from_me else (r["remote_resource"] if group else jid)
        kind = _TYPES.get(r["media_wa_type"], r["media_wa_type"]) if r["media_wa_type"] else "text"
        system = r["status"] == 6
        body = r["data"] or r["media_caption"] or ""
        return self._record(item, "messages", r, jid, ctx["subjects"].get(jid), others, sender, from_me, system,
                            kind, body, r["media_name"], r["media_mime_type"], None,
                            ctx["key_ids"].get(r["quoted_row_id"]) if r["quoted_row_id"] else None)

    # -- current 'message' -------------------------------------------------------------------------
    def _current_context(self, conn, tables, problems) -> dict:
        jids = {k: r["raw_string"] or (f"{r['user']}@{r['server']}" if r["user"] else None)
                for k, r in lookup(conn, "jid", tables["jid"], "ROWID", ("raw_string", "user", "server"),
                                   problems).items()} if "jid" in tables else {}
        # jid_map (2023 on): a LID (privacy id, "...@lid") row -> the phone-number jid row it stands for
        phone: dict[str, str] = {}
        if "jid_map" in tables and {"lid_row_id", "jid_row_id"} <= tables["jid_map"]:
            refused: list[str] = []
            for r in rows(conn, "jid_map", tables["jid_map"], ("lid_row_id", "jid_row_id"), problems):
                lid, pn = jids.get(r["lid_row_id"]), jids.get(r["jid_row_id"])
                if not (isinstance(lid, str) and isinstance(pn, str)) or lid == pn:
                    continue
                # a forged row must not rename a phone number, nor pick one of two numbers silently
                if not lid.endswith("@lid") or not pn.endswith("@s.whatsapp.net"):
                    refused.append(f"{lid} -> {pn} (not a LID to a phone-number jid)")
                elif phone.setdefault(lid, pn) != pn:
                    refused.append(f"{lid} -> {pn} (mapped to two numbers: {phone[lid]} kept)")
            if refused:
                problems.append(f"jid_map: {len(refused)} row(s) not used: " + "; ".join(refused[:5])
                                + ("; ..." if len(refused) > 5 else ""))
        chats = {k: (jids.get(r["jid_row_id"]), r["subject"])
                 for k, r in lookup(conn, "chat", tables["chat"], "ROWID", ("jid_row_id", "subject"),
                                    problems).items()} if "chat" in tables else {}
        media = {}
        if "message_media" in tables:
            media = lookup(conn, "message_media", tables["message_media"], "message_row_id",
                           ("file_path", "mime_type", "media_caption", "media_name", "file_size"), problems)
        quoted = {}
        if "message_quoted" in tables:
            quoted = {k: r["key_id"] for k, r in lookup(conn, "message_quoted", tables["message_quoted"],
                                                         "message_row_id", ("key_id",), problems).items()}
        places = {}
        if "message_location" in tables:
            places = lookup(conn, "message_location", tables["message_location"], "message_row_id",
                            ("latitude", "longitude", "place_name"), problems)
        members: dict[int, set] = {}
        if "message" in tables and "sender_jid_row_id" in tables["message"]:
            # only a group's messages name their sender: SQLite leaves the others out. A read
            # that meets damage (or text that is not UTF-8) on the way is done again over every
            # row, as the messages are read: it then meets that damage after the same rowid and
            # reports it in the same words (once), where the filtered read's last rowid differs
            factory, trouble = conn.text_factory, []
            members = self._members(conn, tables, jids, phone, trouble,
                                    "sender_jid_row_id IS NOT NULL AND sender_jid_row_id != 0")
            if trouble:
                conn.text_factory = factory
                members = self._members(conn, tables, jids, phone, problems, "")
        return {"mode": "message", "jids": jids, "phone": phone, "chats": chats, "media": media, "quoted": quoted,
                "places": places, "members": members, "chat_of": {}, "heads": {}}

    @staticmethod
    def _members(conn, tables, jids: dict, phone: dict, problems: list[str], where: str) -> dict[int, set]:
        """chat row id -> the jids its messages name as sender (a mapped LID as its number)."""
        members: dict[int, set] = {}
        for r in rows(conn, "message", tables["message"], ("chat_row_id", "sender_jid_row_id"), problems,
                      where=where):
            if r["sender_jid_row_id"]:
                who = jids.get(r["sender_jid_row_id"])
                members.setdefault(r["chat_row_id"], set()).add(phone.get(who, who) if who else who)
        return members

    def _chat(self, chat_row_id, ctx) -> tuple:
        """(jid, subject, the chat's LID or None, group, the other members) of a chat row, as
        its messages name them: the phone-number jid for a mapped LID, a group's members
        sorted. Worked out once per chat (kept in ``ctx["chat_of"]``) where the row id is an
        integer, as the app writes it."""
        if type(chat_row_id) is int and chat_row_id in ctx["chat_of"]:
            return ctx["chat_of"][chat_row_id]
        phone = ctx["phone"]
        jid, subject = ctx["chats"].get(chat_row_id, (None, None))
        if jid is None and chat_row_id is not None:
            jid = f"chat:{chat_row_id}"
        lid = None
        if jid in phone:
            lid, jid = jid, phone[jid]
        group = isinstance(jid, str) and jid.endswith("@g.us")
        others = _sorted_members(ctx["members"].get(chat_row_id, ())) if group else ((jid,) if jid else ())
        got = (jid, subject, lid, group, others)
        if type(chat_row_id) is int:
            ctx["chat_of"][chat_row_id] = got
        return got

    def _current(self, r, ctx, item) -> ArtifactRecord:
        phone = ctx["phone"]
        jid, subject, lid, group, others = self._chat(r["chat_row_id"], ctx)
        lids = {"chat_lid": lid} if lid is not None else {}
        from_me = bool(r["from_me"])
        if from_me:
            sender = OWNER
        elif group:
            sender = ctx["jids"].get(r["sender_jid_row_id"])
            if sender in phone:
                lids["sender_lid"], sender = sender, phone[sender]
        else:
            sender = jid
            if "chat_lid" in lids:
                lids["sender_lid"] = lids["chat_lid"]
        kind = _TYPES.get(r["message_type"], r["message_type"])
        m = ctx["media"].get(r["_rowid"]) if r["_rowid"] is not None else None
        body = r["text_data"] or (m["media_caption"] if m is not None else None) or ""
        place = ctx["places"].get(r["_rowid"]) if r["_rowid"] is not None else None
        return self._record(item, "message", r, jid, subject, others, sender, from_me, kind == "system", kind,
                            body, m["media_name"] if m is not None else None,
                            m["mime_type"] if m is not None else None, m["file_path"] if m is not None else None,
                            ctx["quoted"].get(r["_rowid"]) if r["_rowid"] is not None else None, place, lids)

    def _record(self, item, table, r, jid, subject, others, sender, from_me, system, kind, body, media_name,
                mime, file_path, reply_to, place=None, lids=None) -> ArtifactRecord:
        problems: list[str] = []
        sent = unix_ms(r["timestamp"], "sent", problems)
        attachments = []
        if media_name or file_path:
            extra = {"mime_type": mime, "kind": kind}
            if file_path:
                extra["path"] = file_path
            attachments.append(attachment(media_name or posixpath.basename(file_path), **extra))
        extra = {"message_type": kind, "key_id": r["key_id"], "direction": "outgoing" if from_me else "incoming",
                 "chat_jid": jid, "starred": bool(r["starred"]) if r["starred"] is not None else None,
                 "received_at": _iso(unix_ms(r["received_timestamp"], "received"))}
        if table == "messages":
            loc = chat_location(r["latitude"], r["longitude"], LEGACY_LOCATION)
        else:
            loc = chat_location(place["latitude"], place["longitude"], CURRENT_LOCATION,
                                place["place_name"]) if place is not None else None
        if loc is not None:
            extra["location"] = loc
        if lids:
            extra.update(lids)               # the LID the database keyed the chat/sender by
        if system:
            extra["actor"] = sender
        return message_record(
            platform="whatsapp", conversation={"id": jid, "title": subject or jid,
                                               "group": isinstance(jid, str) and jid.endswith("@g.us")},
            participants=[OWNER] + list(others), sender=None if system else sender,
            recipients=list(others) if from_me else [OWNER] + [o for o in others if o != sender],
            sent=sent, body=body, attachments=attachments, reply_to=reply_to,
            deleted=kind in ("deleted", "deleted_by_admin"), system=system, problems=problems,
            source=source(item, table, r["_rowid"]), source_ref=f"{table}:{r['_rowid']}", extra=extra)

    # -- names from wa.db ------------------------------------------------------------------------------
    def finalize(self, store: StoreView, item: str) -> Iterable[ExtractionWarning | Link]:
        """Names from wa.db beside msgstore.db, then attachments: one link per message."""
        names: dict[str, dict[str, str]] = {}    # folder -> jid -> name
        # a contact recovered from wa.db's free space names a jid only where no live contact does
        contacts = sorted(store.records(item, "contact/whatsapp", self.NAME),
                          key=lambda r: not r.fields.get("recovered"))
        for contact in contacts:
            c = contact.fields
            name = c.get("display_name") or c.get("wa_name")
            if c.get("jid") and name and contact.path is not None:
                names.setdefault(posixpath.dirname(contact.path), {})[c["jid"]] = name
        edits = Edits()
        if names:
            for rec in store.records(item, "chat/message", self.NAME):
                book = names.get(posixpath.dirname(rec.path)) if rec.path is not None else None
                if not book:
                    continue
                fields = rec.fields
                fields["sender_name"] = book.get(fields.get("sender") or "")
                conv = fields.get("conversation") or {}
                if not conv.get("group") and conv.get("id") in book and conv.get("title") == conv.get("id"):
                    conv["title"] = book[conv["id"]]
                fields["participant_names"] = {p: book[p] for p in fields.get("participants", []) if p in book}
                edits.changed(rec, fields, "contact names from wa.db")
        warnings = link_by_suffix(store, item, self.NAME, edits)
        return warnings + edits.links()


def _sorted_members(members) -> tuple:
    """A group's other members (those that are something), sorted. A jid row whose raw_string
    is a blob or a number (forged, or damaged) beside text ones does not sort: the members of
    other types than text then come after the texts, by their text (str(), as a record's JSON
    writes them), and the group keeps its messages."""
    got = [x for x in members if x]
    try:
        return tuple(sorted(got))
    except TypeError:
        return tuple(sorted(got, key=lambda x: (type(x) is not str, type(x).__name__, str(x))))


def chat_location(lat, lon, source: str, name=None) -> dict | None:
    """A chat message's position in the shared shape, or None: both numbers, in range, not 0/0."""
    if isinstance(lat, bool) or isinstance(lon, bool) or not isinstance(lat, (int, float)) \
            or not isinstance(lon, (int, float)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    out = {"latitude": float(lat), "longitude": float(lon), "source": source}
    if isinstance(name, str) and name:
        out["name"] = name
    return out


def _iso(ts) -> str | None:
    return ts.iso_utc() if ts is not None else None
