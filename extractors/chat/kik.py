"""Kik Messenger: Android ``kikDatabase.db`` (``<core id>.kikDatabase.db``) and iOS
``kik.sqlite`` (Core Data).

Schemas learned from ALEAPP ``scripts/artifacts/kikMessenger.py`` (Android), iLEAPP
``kikMessages`` (iOS) and the plaso test database ``kik.sqlite`` (iOS, Kik 2015 builds, Core
Data model version of that file). Supported: the Android layout with ``messagesTable`` and
``KIKcontactsTable``; the iOS layout with ``ZKIKMESSAGE`` and ``ZKIKUSER``.

Android:

* ``messagesTable``: ``body``, ``partner_jid`` (the other party; in a group, the sender),
  ``bin_id`` (the conversation: the partner's or the group's jid), ``was_me`` (1 sent),
  ``timestamp`` (Unix ms, UTC), ``read_state``, ``content_id`` (an attachment's id in
  ``KIKContentTable``: one row per property, ``content_name`` = ``content_string``),
  ``sys_msg``/``stat_msg`` (system and status text), ``uid``;
* ``KIKcontactsTable``: ``jid``, ``display_name``, ``user_name``, ``is_group``.

iOS:

* ``ZKIKMESSAGE``: ``ZBODY``, ``ZTYPE`` (1 received, 2 sent, 3 group admin, 4 group
  message, as iLEAPP reads it), ``ZUSER`` (a ``ZKIKUSER`` row: the other party; in a group,
  the sender of a received message), ``ZTIMESTAMP``/``ZRECEIVEDTIMESTAMP`` (Core Data seconds
  since 2001, UTC), ``ZSTATE``;
* ``ZKIKCHAT`` (``ZUSER``: the conversation's person or group) and the join table
  ``Z_3MESSAGES`` (``Z_3CHAT``, ``Z_5MESSAGES``): the conversation of each message (the
  plaso sample shows received group messages whose ``ZUSER`` is the member who wrote them);
* ``ZKIKUSER``: ``ZDISPLAYNAME``, ``ZUSERNAME``, ``ZJID`` (a group's ends ``@groups.kik.com``);
  ``Z_6MEMBERS`` (``Z_6MEMBERSINVERSE`` group, ``Z_6MEMBERS`` member);
* ``ZKIKATTACHMENT``: ``ZMESSAGE``, ``ZCONTENT`` (the attachment's id, also the message body).
"""
from __future__ import annotations

import re
from forensic.extractors.chat.app_db import apple_seconds, missing_columns, party, text_of
from forensic.extractors.chat.common import attachment, message_record
from forensic.extractors.chat.sqlite_chat import OWNER, SqliteChatExtractor, lookup, rows, source, unix_ms
from forensic.extractors.records import ArtifactRecord

_ANDROID = ("body", "partner_jid", "bin_id", "was_me", "timestamp", "read_state", "content_id", "sys_msg",
            "stat_msg", "uid", "app_id")
_IOS = ("ZBODY", "ZTYPE", "ZUSER", "ZTIMESTAMP", "ZRECEIVEDTIMESTAMP", "ZSTATE")
_IOS_TYPES = {1: "received", 2: "sent", 3: "group_admin", 4: "group_message"}


class KikExtractor(SqliteChatExtractor):
    NAME = "kik_db"
    VERSION = "1"
    DESCRIPTION = "Kik Messenger databases (Android kikDatabase.db, iOS kik.sqlite)"
    FILE_NAMES = ("kikdatabase.db", "kik.sqlite")
    MARKERS = (b"CREATE TABLE messagesTable", b"CREATE TABLE ZKIKMESSAGE", b"KIKcontactsTable")
    REQUIRED = ("messagesTable", "ZKIKMESSAGE")

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        name = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
        return super().accepts(path, mime, head) or (head.startswith(b"SQLite format 3\x00")
                                                     and name.endswith(".kikdatabase.db"))

    # live rows and deleted ones recovered from free space
    MESSAGE_TABLES = {"messagesTable": _ANDROID, "ZKIKMESSAGE": _IOS}

    def context(self, conn, tables, item, problems) -> dict:
        ctx: dict = {}
        if "messagesTable" in tables:
            ctx["android"] = self._android(conn, tables, problems)
        if "ZKIKMESSAGE" in tables:
            ctx["ios"] = self._ios(conn, tables, problems)
        return ctx

    def row_record(self, table, row, ctx, item) -> ArtifactRecord:
        if table == "messagesTable":
            return self._android_row(row, ctx["android"], item)
        return self._ios_row(row, ctx["ios"], item)

    # -- Android ----------------------------------------------------------------------------------
    def _android(self, conn, tables, problems) -> dict:
        missing_columns(tables, "messagesTable", ("body", "partner_jid", "was_me", "timestamp"), "Kik", problems)
        contacts = lookup(conn, "KIKcontactsTable", tables["KIKcontactsTable"], "jid",
                          ("display_name", "user_name", "is_group"), problems) if "KIKcontactsTable" in tables else {}
        if "KIKcontactsTable" not in tables:
            problems.append("Kik: table KIKcontactsTable missing: names cannot be read")
        content: dict[str, dict] = {}
        if "KIKContentTable" in tables:
            for r in rows(conn, "KIKContentTable", tables["KIKContentTable"],
                          ("content_id", "content_name", "content_string"), problems):
                content.setdefault(r["content_id"], {})[r["content_name"]] = r["content_string"]
        ctx = {"contacts": contacts, "content": content, "members": {}}
        members: dict[str, list[str]] = ctx["members"]
        for r in rows(conn, "messagesTable", tables["messagesTable"], ("bin_id", "partner_jid", "was_me"), problems):
            conv = r["bin_id"] or r["partner_jid"]
            who = _name(contacts, r["partner_jid"])
            if conv and who and who not in members.setdefault(conv, []):
                members[conv].append(who)
        return ctx

    def _android_row(self, r, ctx, item) -> ArtifactRecord:
        problems: list[str] = []
        contacts = ctx["contacts"]
        conv = r["bin_id"] or r["partner_jid"]
        c = contacts.get(conv)
        group = bool(c is not None and c["is_group"]) or (bool(conv) and "_g@groups.kik.com" in str(conv))
        outgoing = bool(r["was_me"])
        atts = []
        if r["content_id"]:
            props = ctx["content"].get(r["content_id"], {})
            atts.append(attachment(props.get("file-name") or props.get("title") or r["content_id"],
                                   content_id=r["content_id"], app_id=r["app_id"], properties=props))
        system = bool(r["sys_msg"] or r["stat_msg"])
        return message_record(
            platform="kik", conversation={"id": conv, "title": _name(contacts, conv)},
            participants=[OWNER] + ctx["members"].get(conv, []),
            sender=OWNER if outgoing else _name(contacts, r["partner_jid"]),
            sent=unix_ms(r["timestamp"], "sent", problems),
            body=text_of(r["body"]) or text_of(r["sys_msg"]) or text_of(r["stat_msg"]), attachments=atts,
            system=system, problems=problems, source=source(item, "messagesTable", r["_rowid"]),
            source_ref=f"messagesTable:{r['_rowid']}",
            extra={"direction": "outgoing" if outgoing else "incoming", "group": group, "message_uid": r["uid"],
                   "read_state": r["read_state"]})

    # -- iOS --------------------------------------------------------------------------------------
    def _ios(self, conn, tables, problems) -> dict:
        missing_columns(tables, "ZKIKMESSAGE", ("ZBODY", "ZTYPE", "ZUSER", "ZTIMESTAMP"), "Kik", problems)
        users = lookup(conn, "ZKIKUSER", tables["ZKIKUSER"], "Z_PK", ("ZDISPLAYNAME", "ZUSERNAME", "ZJID"),
                       problems) if "ZKIKUSER" in tables else {}
        if "ZKIKUSER" not in tables:
            problems.append("Kik: table ZKIKUSER missing: names cannot be read")
        label = {k: party(u["ZDISPLAYNAME"] or u["ZUSERNAME"], u["ZJID"]) for k, u in users.items()}
        # Core Data names its join tables by entity number (Z_6MEMBERS, Z_3MESSAGES in the 2015 model):
        # found by shape, not by number
        members: dict[int, list[str]] = {}
        join = _join_table(tables, "MEMBERS", "MEMBERSINVERSE", "MEMBERS")
        if join:
            table, group_col, member_col = join
            for r in rows(conn, table, tables[table], (group_col, member_col), problems):
                who = label.get(r[member_col])
                if who:
                    members.setdefault(r[group_col], []).append(who)
        chats: dict[int, list[int]] = {}          # message -> the conversations' users it is in
        chat_user = {}
        if "ZKIKCHAT" in tables:
            chat_user = {k: r["ZUSER"] for k, r in lookup(conn, "ZKIKCHAT", tables["ZKIKCHAT"], "Z_PK", ("ZUSER",),
                                                          problems).items()}
        join = _join_table(tables, "MESSAGES", "CHAT", "MESSAGES")
        if join:
            table, chat_col, msg_col = join
            for r in rows(conn, table, tables[table], (chat_col, msg_col), problems):
                if r[chat_col] in chat_user:
                    chats.setdefault(r[msg_col], []).append(chat_user[r[chat_col]])
        atts: dict[int, list] = {}
        if "ZKIKATTACHMENT" in tables:
            for r in rows(conn, "ZKIKATTACHMENT", tables["ZKIKATTACHMENT"], ("ZMESSAGE", "ZCONTENT", "ZTYPE"),
                          problems):
                atts.setdefault(r["ZMESSAGE"], []).append((r["ZCONTENT"], r["ZTYPE"]))
        return {"users": users, "label": label, "members": members, "atts": atts, "chats": chats}

    def _ios_row(self, r, ctx, item) -> ArtifactRecord:
        problems: list[str] = []
        users, label, members = ctx["users"], ctx["label"], ctx["members"]
        kind = _IOS_TYPES.get(r["ZTYPE"], r["ZTYPE"])
        user = r["ZUSER"]                 # the other party; in a group, the sender of a received message
        # the conversation: the chat the message belongs to (Z_3MESSAGES), the one of ZUSER when it is in several
        convs = ctx["chats"].get(r["_rowid"], []) if r["_rowid"] is not None else []
        conv_user = user if user in convs or not convs else convs[0]
        jid = users[conv_user]["ZJID"] if conv_user in users else None
        group = conv_user in members or (bool(jid) and "@groups.kik.com" in str(jid))
        outgoing = kind == "sent"
        if outgoing:
            sender = OWNER
        elif kind == "group_admin" or (group and user == conv_user):
            sender = None                 # an event of the group, or a row that names the group only
        else:
            sender = label.get(user)
        others = members.get(conv_user, []) if group else ([label[conv_user]] if conv_user in label else [])
        if sender and sender != OWNER and sender not in others:
            others = others + [sender]
        received = apple_seconds(r["ZRECEIVEDTIMESTAMP"], "received", problems)
        found = ctx["atts"].get(r["_rowid"], []) if r["_rowid"] is not None else []
        return message_record(
            platform="kik", conversation={"id": jid or (f"user:{conv_user}" if conv_user is not None else None),
                                          "title": label.get(conv_user)},
            participants=[OWNER] + others, sender=sender,
            recipients=None if sender else [],
            sent=apple_seconds(r["ZTIMESTAMP"], "sent", problems), body=text_of(r["ZBODY"]),
            attachments=[attachment(c, content_id=c, attachment_type=t) for c, t in found],
            system=kind == "group_admin", problems=problems,
            source=source(item, "ZKIKMESSAGE", r["_rowid"]), source_ref=f"ZKIKMESSAGE:{r['_rowid']}",
            extra={"direction": "outgoing" if outgoing else ("incoming" if kind in ("received", "group_message")
                                                             else None),
                   "message_type": kind, "group": group, "state": r["ZSTATE"],
                   "received_at": received.iso_utc() if received is not None else None})


def _join_table(tables: dict[str, set[str]], suffix: str, left: str, right: str) -> tuple[str, str, str] | None:
    """A Core Data many-to-many table ``Z_<n><suffix>`` with columns ``Z_<n><left>`` and
    ``Z_<m><right>``: (table, left column, right column), or None."""
    for name, cols in tables.items():
        if re.fullmatch(rf"Z_\d+{suffix}", name):
            lcol = next((c for c in cols if re.fullmatch(rf"Z_\d+{left}", c)), None)
            rcol = next((c for c in cols if re.fullmatch(rf"Z_\d+{right}", c) and c != lcol), None)
            if lcol and rcol:
                return name, lcol, rcol
    return None


def _name(contacts: dict, jid) -> str | None:
    c = contacts.get(jid)
    return party((c["display_name"] or c["user_name"]) if c is not None else None, jid) if jid else None
