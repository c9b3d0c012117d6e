"""iOS / macOS Messages database (``sms.db`` on iOS, ``chat.db`` on macOS): iMessage and SMS.

``message`` rows (``text``; iOS 16+ may leave it NULL and keep the text only in
``attributedBody``, a typedstream NSAttributedString whose NSString is read here),
``handle`` (the other party: phone number or e-mail), ``chat`` + ``chat_message_join``
(conversations), ``chat_handle_join`` (their parties), ``attachment`` +
``message_attachment_join`` (``filename`` = ``~/Library/SMS/Attachments/…``, linked in
``finalize``). Times count from the Apple epoch (2001-01-01 UTC): seconds in older databases,
nanoseconds since iOS 11 / macOS 10.13 — decided per value (beyond 10^11 means nanoseconds).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from forensic.extractors.chat.common import attachment, message_record
from forensic.extractors.chat.sqlite_chat import OWNER, SqliteChatExtractor, lookup, rows, source
from forensic.extractors.records import ArtifactRecord
from forensic.timestamps import Timestamp

APPLE_EPOCH = datetime(2001, 1, 1, tzinfo=timezone.utc)
_MSG_COLS = ("guid", "text", "attributedBody", "handle_id", "other_handle", "service", "account", "date", "date_read",
             "date_delivered", "date_edited", "date_retracted", "is_from_me", "is_read", "is_sent", "is_delivered",
             "item_type", "group_title", "subject", "cache_has_attachments", "associated_message_guid",
             "associated_message_type", "thread_originator_guid", "error")
_TAPBACK = {2000: "loved", 2001: "liked", 2002: "disliked", 2003: "laughed", 2004: "emphasized", 2005: "questioned"}


def apple_time(value, label: str) -> Timestamp | None:
    """Apple epoch seconds or nanoseconds (by magnitude) -> UTC timestamp; 0/None -> None."""
    if value in (None, 0):
        return None
    v = int(value)
    seconds = v / 1e9 if abs(v) > 10**11 else v
    return Timestamp(label, APPLE_EPOCH + timedelta(seconds=seconds), None, True, "utc", str(value), 0)


def attributed_text(blob: bytes | None) -> str | None:
    """The NSString of a typedstream NSAttributedString (``attributedBody``), or None."""
    if not blob:
        return None
    i = blob.find(b"NSString")
    if i < 0:
        return None
    j = blob.find(b"+", i + 8, i + 20)
    if j < 0:
        return None
    p = j + 1
    n = blob[p] if p < len(blob) else 0
    p += 1
    if n == 0x81:
        n, p = int.from_bytes(blob[p:p + 2], "little"), p + 2
    elif n == 0x82:
        n, p = int.from_bytes(blob[p:p + 4], "little"), p + 4
    text = blob[p:p + n]
    return text.decode("utf-8", "replace") if len(text) == n else None


class IosSmsExtractor(SqliteChatExtractor):
    NAME = "ios_sms"
    VERSION = "2"
    DESCRIPTION = "iOS/macOS Messages database (sms.db / chat.db: iMessage and SMS)"
    FILE_NAMES = ("sms.db", "chat.db")
    MARKERS = (b"chat_message_join",)
    REQUIRED = ("message",)

    MESSAGE_TABLES = {"message": _MSG_COLS}

    def context(self, conn, tables, item, problems) -> tuple:
        for needed in ("handle", "chat", "chat_message_join"):
            if needed not in tables:
                problems.append(f"table {needed} missing: " + {
                    "handle": "senders are given as handle row ids",
                    "chat": "conversations are told by handle only",
                    "chat_message_join": "conversations are told by handle only"}[needed])
        handles = {k: r["id"] for k, r in lookup(conn, "handle", tables["handle"], "ROWID", ("id", "service"),
                                                  problems).items()} if "handle" in tables else {}
        chats = lookup(conn, "chat", tables["chat"], "ROWID", ("guid", "chat_identifier", "display_name",
                                                                "service_name"), problems) if "chat" in tables else {}
        msg_chat: dict[int, int] = {}
        if "chat_message_join" in tables and "chat" in tables:
            for r in rows(conn, "chat_message_join", tables["chat_message_join"], ("chat_id", "message_id"), problems):
                msg_chat.setdefault(r["message_id"], r["chat_id"])
        chat_parties: dict[int, list[str]] = {}
        if "chat_handle_join" in tables:
            for r in rows(conn, "chat_handle_join", tables["chat_handle_join"], ("chat_id", "handle_id"), problems):
                party = handles.get(r["handle_id"], f"handle:{r['handle_id']}")
                chat_parties.setdefault(r["chat_id"], []).append(party)
        files: dict[int, list] = {}
        if "attachment" in tables and "message_attachment_join" in tables:
            att = lookup(conn, "attachment", tables["attachment"], "ROWID",
                         ("guid", "filename", "mime_type", "transfer_name", "total_bytes", "created_date"), problems)
            for r in rows(conn, "message_attachment_join", tables["message_attachment_join"],
                          ("message_id", "attachment_id"), problems):
                a = att.get(r["attachment_id"])
                if a is not None:
                    files.setdefault(r["message_id"], []).append(a)
        return handles, chats, msg_chat, chat_parties, files

    def row_record(self, table, row, ctx, item) -> ArtifactRecord:
        handles, chats, msg_chat, chat_parties, files = ctx
        return self._message(row, item, handles, chats, msg_chat, chat_parties, files.get(row["_rowid"], []))

    def _message(self, r, item, handles, chats, msg_chat, chat_parties, files) -> ArtifactRecord:
        problems: list[str] = []
        try:
            sent = apple_time(r["date"], "sent")
        except (TypeError, ValueError, OverflowError):
            sent = None
            problems.append(f"date {r['date']!r} is not an Apple epoch time")
        try:
            edited = apple_time(r["date_edited"], "edited")
        except (TypeError, ValueError, OverflowError):
            edited = None
        other = handles.get(r["handle_id"]) if r["handle_id"] else None
        if r["handle_id"] and other is None:
            other = f"handle:{r['handle_id']}"
        chat_id = msg_chat.get(r["_rowid"])
        chat = None if chat_id is None else chats.get(chat_id)
        if chat is not None:
            parties = chat_parties.get(chat_id) or ([other] if other else [])
            conv = {"id": chat["guid"] or f"chat:{chat_id}",
                    "title": chat["display_name"] or chat["chat_identifier"], "service": chat["service_name"]}
        else:
            parties = [other] if other else []
            conv = {"id": f"handle:{other}" if other else f"message:{r['_rowid']}", "title": other}
        from_me = bool(r["is_from_me"])
        body = r["text"]
        body_source = "text"
        if body is None:
            body = attributed_text(r["attributedBody"])
            body_source = "attributedBody" if body is not None else None
        body = (body or "").replace("\ufffc", "").strip() if body and "\ufffc" in body else (body or "")
        system = bool(r["item_type"])          # 1 participant change, 2 group renamed, 3 left, ...
        tapback = _TAPBACK.get(r["associated_message_type"] or 0)
        attachments = []
        for a in files:
            extra = {"mime_type": a["mime_type"], "size": a["total_bytes"], "guid": a["guid"]}
            if a["filename"]:
                extra["path"] = a["filename"]
            attachments.append(attachment(a["transfer_name"] or (a["filename"] or "").rsplit("/", 1)[-1], **extra))
        sender = OWNER if from_me else other
        extra = {"service": r["service"], "direction": "outgoing" if from_me else "incoming", "guid": r["guid"],
                 "read_at": _iso(r["date_read"]), "delivered_at": _iso(r["date_delivered"]),
                 "body_source": body_source, "subject": r["subject"]}
        if tapback:
            extra["tapback"] = tapback
        if r["group_title"]:
            extra["group_title"] = r["group_title"]
        if system:
            extra["item_type"] = r["item_type"]
            extra["actor"] = sender
        return message_record(
            platform="imessage" if (r["service"] or "").lower() == "imessage" else "sms",
            conversation=conv, participants=[OWNER] + [p for p in parties if p],
            sender=None if system else sender,
            recipients=[p for p in parties if p] if from_me else [OWNER],
            sent=sent, edited_ts=edited, edited=edited is not None, body=body, attachments=attachments,
            reply_to=r["associated_message_guid"] or r["thread_originator_guid"],
            deleted=bool(r["date_retracted"]), system=system, problems=problems,
            source=source(item, "message", r["_rowid"]), source_ref=f"message:{r['_rowid']}", extra=extra)


def _iso(value) -> str | None:
    try:
        t = apple_time(value, "x")
    except (TypeError, ValueError, OverflowError):
        return None
    return t.iso_utc() if t else None
