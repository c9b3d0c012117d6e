"""Snapchat for Android (com.snapchat.android): chat messages in ``arroyo.db``.

Schema learned from ALEAPP ``scripts/artifacts/snapchat.py`` (its ``conversation_message`` and
``conversation`` readers and their notes on the protobuf fields, derived there from observed
data, not a published schema). Supported: ``arroyo.db`` as written by Snapchat Android 11.x
to 12.x (2020-2024).

* ``conversation_message``: ``client_conversation_id``, ``client_message_id``,
  ``server_message_id``, ``sender_id`` (a user UUID), ``creation_timestamp`` and
  ``read_timestamp`` (Unix ms, UTC), ``content_type`` (kept as stored: ALEAPP found text only
  where it is 1), ``message_content`` (protobuf), ``is_saved``, ``created_on_device``;
* ``conversation``: ``client_conversation_id``, ``conversation_metadata`` (protobuf: its
  repeated field 3 holds the participants, each a 16-byte UUID at 1 > 1).

Text is decoded from ``message_content`` at protobuf path 4 > 4 > 2 > 1 (ALEAPP's finding)
for ``content_type`` 1 only, and only when it is strict UTF-8; anything else is kept as
``content: "encoded, not decoded"`` with the raw size, never guessed. The device's account is
the single sender of the messages flagged ``created_on_device`` (ALEAPP's last-resort rule);
where that is not one sender the direction is left unknown. Names are not in this database
(they are in ``main.db``'s ``Friend`` table): parties are given by their UUID.
"""
from __future__ import annotations

import uuid
from forensic.extractors.chat.app_db import missing_columns, unix_millis
from forensic.extractors.chat.common import message_record
from forensic.extractors.chat.sqlite_chat import OWNER, SqliteChatExtractor, rows, source
from forensic.extractors.records import ArtifactRecord

_COLS = ("client_conversation_id", "client_message_id", "server_message_id", "sender_id", "creation_timestamp",
         "read_timestamp", "content_type", "message_content", "is_saved", "created_on_device")
TEXT_PATH = (4, 4, 2, 1)


def proto_fields(buf: bytes) -> list[tuple[int, int, object]] | None:
    """The (field, wire type, value) list of one protobuf message; None if ``buf`` is not one.
    Length-delimited values stay bytes (a nested message is parsed when asked for)."""
    out: list[tuple[int, int, object]] = []
    i, n = 0, len(buf)

    def varint() -> int:
        nonlocal i
        shift = value = 0
        while True:
            if i >= n or shift > 63:
                raise ValueError
            b = buf[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value

    try:
        while i < n:
            key = varint()
            field, wire = key >> 3, key & 7
            if field == 0:
                return None
            if wire == 0:
                out.append((field, 0, varint()))
            elif wire == 1:
                if i + 8 > n:
                    return None
                out.append((field, 1, buf[i:i + 8]))
                i += 8
            elif wire == 2:
                size = varint()
                if i + size > n:
                    return None
                out.append((field, 2, buf[i:i + size]))
                i += size
            elif wire == 5:
                if i + 4 > n:
                    return None
                out.append((field, 5, buf[i:i + 4]))
                i += 4
            else:
                return None
    except ValueError:
        return None
    return out


def proto_get(buf: bytes, path: tuple[int, ...]) -> bytes | None:
    """The bytes at ``path`` (first occurrence of each field), or None."""
    cur = buf
    for step in path:
        fields = proto_fields(cur)
        if fields is None:
            return None
        found = next((v for f, w, v in fields if f == step and w == 2), None)
        if not isinstance(found, bytes):
            return None
        cur = found
    return cur


def _text(blob) -> str | None:
    """The text of a message_content protobuf (4>4>2>1, strict UTF-8), or None."""
    raw = proto_get(blob, TEXT_PATH) if isinstance(blob, bytes) else None
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def participants_of(metadata: bytes) -> list[str]:
    fields = proto_fields(metadata) or []
    out = []
    for f, w, v in fields:
        if f == 3 and w == 2 and isinstance(v, bytes):
            raw = proto_get(v, (1, 1))
            if raw is not None and len(raw) == 16:
                out.append(str(uuid.UUID(bytes=raw)))
    return out


class SnapchatExtractor(SqliteChatExtractor):
    NAME = "snapchat_arroyo"
    VERSION = "1"
    DESCRIPTION = "Snapchat Android chat messages (arroyo.db)"
    FILE_NAMES = ("arroyo.db",)
    MARKERS = (b"CREATE TABLE conversation_message",)
    REQUIRED = ("conversation_message",)

    # live rows and deleted ones recovered from free space
    MESSAGE_TABLES = {"conversation_message": _COLS}

    def context(self, conn, tables, item, problems) -> tuple:
        cols = tables["conversation_message"]
        missing_columns(tables, "conversation_message", ("client_conversation_id", "sender_id", "creation_timestamp",
                                                         "content_type", "message_content"), "Snapchat", problems)
        members: dict[str, list[str]] = {}
        if "conversation" in tables:
            for r in rows(conn, "conversation", tables["conversation"], ("client_conversation_id",
                                                                         "conversation_metadata"), problems):
                if isinstance(r["conversation_metadata"], bytes):
                    members[r["client_conversation_id"]] = participants_of(r["conversation_metadata"])
        own: set[str] = set()
        encoded = 0
        for r in rows(conn, "conversation_message", cols, ("sender_id", "created_on_device", "content_type",
                                                           "message_content"), problems):
            if r["created_on_device"] and r["sender_id"]:
                own.add(r["sender_id"])
            if r["content_type"] == 1 and _text(r["message_content"]) is None:
                encoded += 1
        me = next(iter(own)) if len(own) == 1 else None
        if len(own) > 1:
            problems.append(f"Snapchat: {len(own)} senders of messages created on this device; the account is not "
                            "known and directions are left unknown")
        if encoded:       # text was expected (content_type 1) but not found where ALEAPP found it
            problems.append(f"Snapchat: {encoded} text message(s) (content_type 1) whose content did not decode at "
                            "protobuf path 4>4>2>1: kept with content 'encoded, not decoded'")
        return members, me

    def row_record(self, table, row, ctx, item) -> ArtifactRecord:
        return self._message(row, item, *ctx)

    def _message(self, r, item, members, me) -> ArtifactRecord:
        problems: list[str] = []
        blob = r["message_content"] if isinstance(r["message_content"], bytes) else None
        text = _text(blob) if r["content_type"] == 1 else None
        conv = r["client_conversation_id"]
        people = members.get(conv, [])
        sender_id = r["sender_id"]
        outgoing = None if me is None else sender_id == me
        sender = OWNER if outgoing else sender_id
        read = unix_millis(r["read_timestamp"], "read", problems)
        return message_record(
            platform="snapchat", conversation={"id": conv, "title": None},
            participants=[OWNER if p == me else p for p in people] or [p for p in (OWNER if me else None, sender)
                                                                      if p],
            sender=sender, sent=unix_millis(r["creation_timestamp"], "sent", problems), body=text or "",
            problems=problems, source=source(item, "conversation_message", r["_rowid"]),
            source_ref=f"conversation_message:{r['_rowid']}",
            extra={"content": "text" if text is not None else "encoded, not decoded",
                   "content_type": r["content_type"], "content_size": len(blob) if blob is not None else None,
                   "message_id": r["client_message_id"], "server_message_id": r["server_message_id"],
                   "sender_id": sender_id, "saved": bool(r["is_saved"]) if r["is_saved"] is not None else None,
                   "read_at": read.iso_utc() if read is not None else None,
                   "direction": None if outgoing is None else ("outgoing" if outgoing else "incoming"),
                   "group": len(people) > 2})
