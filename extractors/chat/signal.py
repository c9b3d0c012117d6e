"""Signal for Android (org.thoughtcrime.securesms): a *decrypted* ``signal.db`` (the app keeps
it encrypted with SQLCipher: ``known_apps`` names the key an encrypted one needs; a decrypted
copy comes from a Signal backup or an extraction tool that holds the key).

Schemas learned from ALEAPP ``scripts/artifacts/signalAndroid.py`` and Signal-Android's
``MessageTypes.java`` (type bit layout) and database tables. Supported:

* current (Signal Android 6.x, 2023 on): ``message`` (``thread_id``, ``from_recipient_id``,
  ``to_recipient_id``, ``date_sent``/``date_received`` Unix ms UTC, ``type``, ``body``,
  ``read``, ``quote_id``, ``remote_deleted``), ``attachment`` (``message_id``,
  ``content_type``, ``file_name``, ``data_file``);
* earlier (Signal Android 4.x to 5.x): ``sms`` (``thread_id``, ``address`` or
  ``recipient_id``, ``date_sent``, ``date`` received, ``type``, ``body``) and ``mms``
  (``thread_id``, ``address`` or ``recipient_id``, ``date`` sent, ``date_received``,
  ``msg_box`` as type, ``body``, ``quote_id``), with ``part`` (``mid``, ``ct``,
  ``file_name``, ``_data``);
* both: ``thread`` (``recipient_id`` or ``thread_recipient_id``), ``recipient`` (``e164`` or
  ``phone``, ``system_joined_name`` or ``system_display_name``, ``profile_joined_name``,
  ``username``, ``group_id``), ``groups`` (``title``, ``group_id``, ``recipient_id``).

``type``: the low 5 bits are the base type (20 inbox; 21-26 outgoing: outbox, sending, sent,
failed, SMS fallbacks; 27 draft; 1-3, 8, 10-12 calls, 2 and 11 outgoing; other values below
20 are events such as a profile or number change); bit 0x10000 marks a group update. Events
and group updates are kept, flagged ``system``.
"""
from __future__ import annotations

from forensic.extractors.chat.app_db import party, text_of
from forensic.extractors.chat.common import attachment, message_record
from forensic.extractors.chat.sqlite_chat import OWNER, SqliteChatExtractor, rows, source, unix_ms
from forensic.extractors.records import ArtifactRecord

BASE_MASK = 0x1F
OUTGOING = {2, 11, 21, 22, 23, 24, 25, 26, 27}
CALLS = {1: "incoming_audio_call", 2: "outgoing_audio_call", 3: "missed_audio_call", 8: "missed_video_call",
         10: "incoming_video_call", 11: "outgoing_video_call", 12: "group_call"}
GROUP_UPDATE_BIT = 0x10000
_PEOPLE = ("e164", "phone", "system_joined_name", "system_display_name", "profile_joined_name", "username",
           "group_id")


class SignalExtractor(SqliteChatExtractor):
    NAME = "signal_db"
    VERSION = "1"
    DESCRIPTION = "Signal Android database, decrypted (signal.db; message or sms/mms schemas)"
    FILE_NAMES = ("signal.db",)
    MARKERS = (b"from_recipient_id",)
    REQUIRED = ("message", "sms", "mms")

    # live rows and deleted ones recovered from free space
    MESSAGE_TABLES = {
        "message": ("thread_id", "from_recipient_id", "to_recipient_id", "date_sent", "date_received", "type", "body",
                    "read", "quote_id", "remote_deleted"),
        "sms": ("thread_id", "recipient_id", "address", "date_sent", "date", "type", "body", "read", "quote_id",
                "remote_deleted"),
        "mms": ("thread_id", "recipient_id", "address", "date", "date_received", "msg_box", "body", "read", "quote_id",
                "remote_deleted"),
    }

    def context(self, conn, tables, item, problems) -> "_Context":
        if "recipient" not in tables:
            problems.append("Signal: table recipient missing: senders and conversations are given by id")
        people = {}
        if "recipient" in tables:
            for r in rows(conn, "recipient", tables["recipient"], _PEOPLE, problems):
                people[r["_rowid"]] = r
        titles: dict = {}
        members: dict[str, list] = {}              # group_id -> member recipient ids
        if "groups" in tables:
            for g in rows(conn, "groups", tables["groups"], ("title", "group_id", "recipient_id", "members"),
                          problems):
                if g["recipient_id"] is not None:
                    titles[("rid", g["recipient_id"])] = g["title"]
                if g["group_id"]:
                    titles[("gid", g["group_id"])] = g["title"]
                    if g["members"]:                # earlier schemas: comma-separated recipient ids
                        members[g["group_id"]] = [int(m) if m.strip().isdigit() else m.strip()
                                                  for m in text_of(g["members"]).split(",") if m.strip()]
        if "group_membership" in tables:            # current schema: one row per member
            for m in rows(conn, "group_membership", tables["group_membership"], ("group_id", "recipient_id"),
                          problems):
                members.setdefault(m["group_id"], []).append(m["recipient_id"])
        threads: dict[int, int] = {}
        if "thread" in tables:
            cols = tables["thread"]
            key = "recipient_id" if "recipient_id" in cols else "thread_recipient_id"
            for t in rows(conn, "thread", cols, (key,), problems):
                threads[t["_rowid"]] = t[key]
        ctx = _Context(people, titles, threads, members)
        if "message" in tables:
            # the account's own recipient row: the author of its outgoing messages (left out of member lists)
            for r in rows(conn, "message", tables["message"], ("from_recipient_id", "type"), problems):
                if isinstance(r["type"], int) and r["type"] & BASE_MASK in OUTGOING:
                    ctx.own.add(r["from_recipient_id"])
        ctx.atts = self._attachments(conn, tables, "attachment", ("message_id", "content_type", "file_name",
                                                                  "data_file"), problems)
        ctx.parts = self._attachments(conn, tables, "part", ("mid", "ct", "file_name", "_data"), problems)
        return ctx

    def row_record(self, table, r, ctx, item) -> ArtifactRecord:
        rowid = r["_rowid"]
        if table == "message":
            return self._record(item, "message", r, ctx, r["from_recipient_id"], r["date_sent"], r["date_received"],
                                r["type"], ctx.atts.get(rowid, []) if rowid is not None else [])
        who = r["recipient_id"] if r["recipient_id"] is not None else r["address"]
        if table == "sms":
            return self._record(item, "sms", r, ctx, who, r["date_sent"], r["date"], r["type"], [])
        return self._record(item, "mms", r, ctx, who, r["date"], r["date_received"], r["msg_box"],
                            ctx.parts.get(rowid, []) if rowid is not None else [])

    def _attachments(self, conn, tables, table, cols, problems) -> dict[int, list]:
        out: dict[int, list] = {}
        if table not in tables:
            return out
        for a in rows(conn, table, tables[table], cols, problems):
            path = a[cols[3]]
            extra = {"content_type": a[cols[1]]}
            if path:
                extra["path"] = text_of(path)
            out.setdefault(a[cols[0]], []).append(
                attachment(a["file_name"] or (text_of(path).rsplit("/", 1)[-1] if path else None), **extra))
        return out

    def _record(self, item, table, r, ctx, author_id, date_sent, date_received, mtype, atts) -> ArtifactRecord:
        problems: list[str] = []
        base = mtype & BASE_MASK if isinstance(mtype, int) else None
        outgoing = base in OUTGOING
        conv_rid = ctx.threads.get(r["thread_id"])
        conv_person = ctx.people.get(conv_rid)
        group_id = conv_person["group_id"] if conv_person is not None else None
        title = ctx.titles.get(("rid", conv_rid)) or (ctx.titles.get(("gid", group_id)) if group_id else None) \
            or ctx.label(conv_rid)
        sender = OWNER if outgoing else ctx.label(author_id)
        kind = CALLS.get(base) if base is not None else None
        update = isinstance(mtype, int) and bool(mtype & GROUP_UPDATE_BIT)
        system = update or (base is not None and base < 20 and base != 0)
        received = unix_ms(date_received, "received", problems)
        if group_id:
            others = [ctx.label(m) for m in ctx.members.get(group_id, []) if m not in ctx.own]
            if sender and sender != OWNER and sender not in others:
                others.append(sender)
        else:
            others = [ctx.label(conv_rid)]
        others = [o for o in dict.fromkeys(others) if o]
        return message_record(
            platform="signal", conversation={"id": f"thread:{r['thread_id']}", "title": title},
            participants=[OWNER] + others, sender=sender,
            sent=unix_ms(date_sent, "sent", problems), body=text_of(r["body"]), attachments=atts,
            deleted=bool(r["remote_deleted"]), system=system, problems=problems,
            source=source(item, table, r["_rowid"]), source_ref=f"{table}:{r['_rowid']}",
            extra={"direction": "outgoing" if outgoing else "incoming", "type": mtype, "base_type": base,
                   "message_type": kind or ("group_update" if update else None), "group": bool(group_id),
                   "received_at": received.iso_utc() if received is not None else None,
                   "read": bool(r["read"]) if r["read"] is not None else None, "quote_id": r["quote_id"] or None})


class _Context:
    def __init__(self, people: dict, titles: dict, threads: dict, members: dict) -> None:
        self.people, self.titles, self.threads, self.members = people, titles, threads, members
        self.own: set = set()
        self.atts: dict[int, list] = {}
        self.parts: dict[int, list] = {}

    def label(self, rid) -> str | None:
        p = self.people.get(rid)
        if p is None:
            return f"recipient:{rid}" if rid is not None else None
        name = p["system_joined_name"] or p["system_display_name"] or p["profile_joined_name"]
        return party(name, p["e164"] or p["phone"] or p["username"]) or f"recipient:{rid}"
