"""Facebook Messenger for Android (com.facebook.orca): ``threads_db2``.

Schema learned from ALEAPP ``scripts/artifacts/FacebookMessenger.py`` (its ``threads_db2``
chat and call queries); supported: the ``threads_db2`` schema of Messenger Android before the
move to ``msys_database_*`` (2020 and earlier builds; a device may still hold it beside the
newer file, which is listed by ``known_apps`` as not read).

* ``messages``: ``msg_id``, ``thread_key``, ``text``, ``sender`` (JSON: ``user_key`` as
  ``FACEBOOK:<id>``, ``name``), ``timestamp_ms`` (Unix ms, UTC), ``msg_type``,
  ``attachments`` (JSON list: ``filename``, ``mime_type``, ``file_size``, ``id``), ``shares``
  (JSON list: ``name``, ``href``), ``coordinates`` (JSON: ``latitude``, ``longitude``),
  ``generic_admin_message_extensible_data`` (set on admin/system rows such as calls),
  ``snippet``;
* ``threads``: ``thread_key``, ``name`` (a group's title); ``thread_key`` begins
  ``ONE_TO_ONE:`` or ``GROUP:``;
* ``thread_users``: ``user_key``, ``name``, ``username``; ``thread_participants``:
  ``thread_key``, ``user_key``.

The database does not say which participant is the device's account (that id is in the
``threads_db2-uid`` file beside it): messages carry the sender as stored, with no direction.
"""
from __future__ import annotations

from forensic.extractors.chat.app_db import json_value, location, missing_columns, party, text_of
from forensic.extractors.chat.common import attachment, message_record
from forensic.extractors.chat.sqlite_chat import SqliteChatExtractor, lookup, rows, source, unix_ms
from forensic.extractors.records import ArtifactRecord

_MSG = ("msg_id", "thread_key", "text", "sender", "timestamp_ms", "timestamp_sent_ms", "msg_type", "attachments",
        "shares", "coordinates", "generic_admin_message_extensible_data", "snippet", "sticker_id")


class MessengerExtractor(SqliteChatExtractor):
    NAME = "messenger_db"
    VERSION = "1"
    DESCRIPTION = "Facebook Messenger Android database (threads_db2)"
    FILE_NAMES = ("threads_db2",)
    MARKERS = (b"CREATE TABLE thread_users",)
    REQUIRED = ("messages",)

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        return super().accepts(path, mime, head) and (
            path.replace("\\", "/").rsplit("/", 1)[-1].lower() in self.FILE_NAMES or b"thread_key" in head)

    MESSAGE_TABLES = {"messages": _MSG}      # live rows and deleted ones recovered from free space

    def context(self, conn, tables, item, problems) -> dict:
        missing_columns(tables, "messages", ("thread_key", "sender", "timestamp_ms", "text"), "Messenger", problems)
        users = {}
        if "thread_users" in tables:
            users = lookup(conn, "thread_users", tables["thread_users"], "user_key", ("name", "username"), problems)
        threads = {}
        if "threads" in tables:
            threads = lookup(conn, "threads", tables["threads"], "thread_key", ("name",), problems)
        members: dict[str, list[str]] = {}
        if "thread_participants" in tables:
            for r in rows(conn, "thread_participants", tables["thread_participants"], ("thread_key", "user_key"),
                          problems):
                label = _who(r["user_key"], None, users)
                if label and label not in members.setdefault(r["thread_key"], []):
                    members[r["thread_key"]].append(label)
        else:                                   # the conversation's senders, as far as the messages show
            for r in rows(conn, "messages", tables["messages"], ("thread_key", "sender"), problems):
                s = json_value(r["sender"], "sender", [])
                if isinstance(s, dict):
                    label = _who(s.get("user_key"), s.get("name"), users)
                    if label and label not in members.setdefault(r["thread_key"], []):
                        members[r["thread_key"]].append(label)
        return {"users": users, "threads": threads, "members": members}

    def row_record(self, table, row, ctx, item) -> ArtifactRecord:
        return self._message(row, item, ctx["users"], ctx["threads"], ctx["members"])

    def _message(self, r, item, users, threads, members) -> ArtifactRecord:
        problems: list[str] = []
        key = r["thread_key"]
        sent = unix_ms(r["timestamp_ms"], "sent", problems)
        who = json_value(r["sender"], "sender", problems)
        sender = _who(who.get("user_key"), who.get("name"), users) if isinstance(who, dict) else None
        th = threads.get(key)
        parties = members.get(key, [])
        title = (th["name"] if th is not None and th["name"] else None) or ", ".join(parties) or None
        atts = []
        found = json_value(r["attachments"], "attachments", problems)
        for a in found if isinstance(found, list) else []:
            if isinstance(a, dict):
                atts.append(attachment(a.get("filename") or a.get("id"), mime_type=a.get("mime_type"),
                                       size=a.get("file_size"), attachment_id=a.get("id") or a.get("fbid")))
        shares = json_value(r["shares"], "shares", problems)
        extra = {"message_id": r["msg_id"], "msg_type": r["msg_type"], "thread_key": key,
                 "group": bool(key) and str(key).startswith("GROUP:"), "sticker_id": r["sticker_id"],
                 "shares": [{"name": s.get("name"), "description": s.get("description"), "href": s.get("href")}
                            for s in shares if isinstance(s, dict)] if isinstance(shares, list) else [],
                 "sender_id": (str(who.get("user_key") or "").removeprefix("FACEBOOK:") or None)
                 if isinstance(who, dict) else None}
        coords = json_value(r["coordinates"], "coordinates", problems)
        if isinstance(coords, dict):
            loc = location(coords.get("latitude", coords.get("lat")), coords.get("longitude", coords.get("lng")),
                           "messenger messages.coordinates")
            if loc:
                extra["location"] = loc
        admin = r["generic_admin_message_extensible_data"]
        if admin:
            extra["admin_data"] = json_value(admin, "generic_admin_message_extensible_data", problems)
        body = text_of(r["text"]) or (text_of(r["snippet"]) if admin else "")
        return message_record(
            platform="messenger", conversation={"id": key, "title": title}, participants=parties, sender=sender,
            sent=sent, body=body, attachments=atts, system=bool(admin), problems=problems,
            source=source(item, "messages", r["_rowid"]), source_ref=f"messages:{r['_rowid']}", extra=extra)


def _who(user_key, name, users) -> str | None:
    u = users.get(user_key) if user_key else None
    ident = str(user_key).removeprefix("FACEBOOK:") if user_key else None
    return party((u["name"] if u is not None and u["name"] else None) or name, ident)
