"""Google Messages for Android (com.google.android.apps.messaging): ``bugle_db``.

Schema learned from ALEAPP ``scripts/artifacts/googleMessages.py`` and the AOSP Messaging
app (``DatabaseHelper``), whose schema Google Messages grew from; supported: the ``bugle_db``
layout with the five tables below (Google Messages 3.x to 2024 builds).

* ``messages``: ``conversation_id``, ``sender_id`` (a row of ``participants``),
  ``sent_timestamp`` and ``received_timestamp`` (Unix ms, UTC), ``message_protocol``
  (0 SMS, 1 MMS, 2+ RCS/chat), ``message_status`` (AOSP: below 100 outgoing, 100 and above
  incoming), ``read``, ``seen``;
* ``parts``: ``message_id``, ``text``, ``content_type``, ``uri`` (the media file),
  ``file_size_bytes``: one message's text and media;
* ``participants``: ``sub_id`` (-2 for everyone but the device's own SIM identities, as
  AOSP and ALEAPP read it), ``normalized_destination``, ``display_destination``,
  ``full_name``;
* ``conversations``: ``name``; ``conversation_participants``: ``conversation_id``,
  ``participant_id``.
"""
from __future__ import annotations

from forensic.extractors.chat.app_db import missing_columns, party, text_of
from forensic.extractors.chat.common import attachment, message_record
from forensic.extractors.chat.sqlite_chat import OWNER, SqliteChatExtractor, lookup, rows, source, unix_ms
from forensic.extractors.records import ArtifactRecord

_MSG = ("conversation_id", "sender_id", "sent_timestamp", "received_timestamp", "message_protocol",
        "message_status", "read", "seen")
_PART = ("message_id", "text", "content_type", "uri", "file_size_bytes")
_PEOPLE = ("sub_id", "normalized_destination", "display_destination", "full_name")
_PROTOCOL = {0: "sms", 1: "mms"}


class GoogleMessagesExtractor(SqliteChatExtractor):
    NAME = "google_messages"
    VERSION = "1"
    DESCRIPTION = "Google Messages Android database (bugle_db)"
    FILE_NAMES = ("bugle_db",)
    MARKERS = (b"CREATE TABLE conversation_participants",)
    REQUIRED = ("messages",)

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        return super().accepts(path, mime, head) and (
            path.replace("\\", "/").rsplit("/", 1)[-1].lower() in self.FILE_NAMES or b"message_protocol" in head)

    # live rows and deleted ones recovered from free space; a part whose message is not among the
    # live messages (the message row deleted) is a record of its own
    MESSAGE_TABLES = {"messages": _MSG, "parts": _PART + ("timestamp", "conversation_id")}

    def context(self, conn, tables, item, problems) -> dict:
        missing_columns(tables, "messages", ("conversation_id", "sender_id", "received_timestamp"),
                        "Google Messages", problems)
        for t in ("parts", "participants", "conversations"):
            if t not in tables:
                problems.append(f"Google Messages: table {t} missing: "
                                + ("message text and media" if t == "parts" else "names") + " cannot be read")
        people = lookup(conn, "participants", tables["participants"], "ROWID", _PEOPLE, problems) \
            if "participants" in tables else {}
        label = {k: (OWNER if _is_self(p) else party(p["full_name"], p["display_destination"]
                                                    or p["normalized_destination"])) for k, p in people.items()}
        convs = lookup(conn, "conversations", tables["conversations"], "ROWID", ("name",), problems) \
            if "conversations" in tables else {}
        members: dict[int, list[str]] = {}
        if "conversation_participants" in tables:
            for r in rows(conn, "conversation_participants", tables["conversation_participants"],
                          ("conversation_id", "participant_id"), problems):
                who = label.get(r["participant_id"])
                if who and who != OWNER and who not in members.setdefault(r["conversation_id"], []):
                    members[r["conversation_id"]].append(who)
        parts: dict[int, list] = {}
        if "parts" in tables:
            for p in rows(conn, "parts", tables["parts"], _PART, problems):
                parts.setdefault(p["message_id"], []).append(p)
        live: set[int] = set()
        if "messages" in tables:
            live = {r["_rowid"] for r in rows(conn, "messages", tables["messages"], ("conversation_id",), problems)}
        return {"people": people, "label": label, "convs": convs, "members": members, "parts": parts, "live": live}

    def row_record(self, table, row, ctx, item) -> ArtifactRecord | None:
        if table == "parts":
            if row["message_id"] in ctx["live"]:
                return None                   # read with its message
            return self._orphan_part(row, item, ctx)
        parts = ctx["parts"].get(row["_rowid"], []) if row["_rowid"] is not None else []
        return self._message(row, item, ctx["people"], ctx["label"], ctx["convs"], ctx["members"], parts)

    def _orphan_part(self, p, item, ctx) -> ArtifactRecord:
        """A part whose message row is gone: its text or media, conversation and time."""
        problems: list[str] = []
        cid = p["conversation_id"]
        others = ctx["members"].get(cid, [])
        conv = ctx["convs"].get(cid)
        title = (conv["name"] if conv is not None and conv["name"] else None) or ", ".join(others) or None
        ct = (p["content_type"] or "").lower()
        is_text = ct.startswith("text/plain") or (p["text"] and not p["uri"])
        atts = [] if is_text else [attachment(text_of(p["uri"]).rstrip("/").rsplit("/", 1)[-1] or None,
                                              content_type=p["content_type"], uri=text_of(p["uri"]) or None,
                                              size=p["file_size_bytes"], part_id=p["_rowid"])]
        return message_record(
            platform="google-messages", conversation={"id": f"conversation:{cid}", "title": title},
            participants=[OWNER] + others, sender=None, recipients=[],
            sent=unix_ms(p["timestamp"], "sent", problems), body=text_of(p["text"]) if is_text else "",
            attachments=atts, problems=problems, source=source(item, "parts", p["_rowid"]),
            source_ref=f"parts:{p['_rowid']}",
            extra={"kind": "part without its message", "message_id": p["message_id"]})

    def _message(self, r, item, people, label, convs, members, parts) -> ArtifactRecord:
        problems: list[str] = []
        sent = unix_ms(r["sent_timestamp"], "sent", problems) or unix_ms(r["received_timestamp"], "sent", problems)
        who = people.get(r["sender_id"])
        if who is not None and who["sub_id"] is not None:
            outgoing = _is_self(who)
        else:
            outgoing = r["message_status"] is not None and r["message_status"] < 100
        sender = OWNER if outgoing else label.get(r["sender_id"])
        cid = r["conversation_id"]
        others = members.get(cid, [])
        conv = convs.get(cid)
        title = (conv["name"] if conv is not None and conv["name"] else None) or ", ".join(others) or None
        texts, atts = [], []
        for p in parts:
            ct = (p["content_type"] or "").lower()
            if ct.startswith("text/plain") or (p["text"] and not p["uri"]):
                texts.append(text_of(p["text"]))
            elif p["uri"] or ct:
                uri = text_of(p["uri"])
                extra = {"content_type": p["content_type"], "size": p["file_size_bytes"], "uri": uri or None,
                         "part_id": p["_rowid"]}
                if uri.startswith("file://"):
                    extra["path"] = uri[len("file://"):]
                atts.append(attachment(uri.rstrip("/").rsplit("/", 1)[-1] or None, **extra))
        received = unix_ms(r["received_timestamp"], "received", problems)
        protocol = r["message_protocol"]
        kind = _PROTOCOL.get(protocol, "rcs" if isinstance(protocol, int) and protocol >= 2 else protocol)
        return message_record(
            platform="google-messages", conversation={"id": f"conversation:{cid}", "title": title},
            participants=[OWNER] + others, sender=sender,
            recipients=[p for p in [OWNER] + others if p != sender] if sender else None,
            sent=sent, body="\n".join(texts), attachments=atts, problems=problems,
            source=source(item, "messages", r["_rowid"]), source_ref=f"messages:{r['_rowid']}",
            extra={"direction": "outgoing" if outgoing else "incoming",
                   "protocol": kind,
                   "message_status": r["message_status"], "read": bool(r["read"]) if r["read"] is not None else None,
                   "received_at": received.iso_utc() if received is not None and not outgoing else None,
                   "sender_id": r["sender_id"]})


def _is_self(p) -> bool:
    return p["sub_id"] is not None and p["sub_id"] != -2
