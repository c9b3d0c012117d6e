"""Skype: the legacy ``main.db`` (Skype 3 to 7, desktop and mobile) and the newer
``s4l-<account>.db`` (Skype 8+, Android and desktop), whose tables hold one JSON document
per row.

Schemas learned from the plaso Skype parser and its test database ``skype_main.db`` (legacy),
and from ALEAPP ``scripts/artifacts/skype.py`` and the published s4l layout (``messagesv<N>``
tables with ``nsp_pk``/``nsp_data``). Supported: legacy ``Messages``/``Conversations``/
``Participants``/``Accounts``/``Transfers``; s4l tables ``messagesv<N>`` (any N) whose
``nsp_data`` JSON carries ``conversationId``, ``creator``, ``createdTime`` (Unix ms),
``content``, ``messagetype``, ``_isMyMessage``, ``cuid``.

Legacy ``Messages``: ``convo_id``, ``author`` (Skype name), ``from_dispname``, ``timestamp``
(Unix seconds, UTC), ``type`` (61 message, 60 emote, 68 file, 201 picture; 10/12/13 members
added/removed/left, 30/39 call start/end, 50/51 contact request/granted, 110 birthday: those
are kept, flagged ``system``), ``body_xml`` (XML-escaped text with markup: kept raw as
``body_xml``, shown unescaped without tags), ``edited_timestamp``, ``chatmsg_type``.
``Conversations``: ``identity``, ``type`` (1 one-to-one, 2 group), ``displayname``,
``meta_topic``; ``Participants``: ``convo_id``, ``identity``; ``Accounts.skypename``: the
device's account; ``Transfers``: files sent in a conversation (``filename``, ``filepath``,
``convo_id``, ``starttime``/``accepttime``/``finishtime``, ``status`` 2 offered or 8
completed as plaso reads it, ``type`` 2 sending; an offer's row has the account as its
partner, each recipient's row points to it by ``parent_id``), recorded as their own
``chat/message`` records (type ``file_transfer``).
"""
from __future__ import annotations

import html
import re
from forensic.extractors.chat.app_db import json_value, missing_columns, party, text_of, unix_millis, unix_seconds
from forensic.extractors.chat.common import attachment, message_record
from forensic.extractors.chat.sqlite_chat import OWNER, SqliteChatExtractor, lookup, rows, source
from forensic.extractors.records import ArtifactRecord

_MSG = ("convo_id", "author", "from_dispname", "timestamp", "type", "body_xml", "edited_timestamp", "chatmsg_type",
        "dialog_partner", "sending_status", "guid")
_SYSTEM = {4, 10, 12, 13, 30, 39, 50, 51, 53, 100, 110}
_TYPES = {61: "text", 60: "emote", 68: "file", 201: "picture", 30: "call_started", 39: "call_ended",
          10: "members_added", 12: "member_removed", 13: "member_left", 50: "contact_request",
          51: "contact_request_granted", 110: "birthday", 64: "sms"}
_TRANSFER = ("convo_id", "partner_handle", "partner_dispname", "type", "status", "starttime", "accepttime",
             "finishtime", "filename", "filepath", "filesize", "pk_id", "parent_id")
# Transfers.status as plaso reads it: 2 offered (not yet accepted), 8 completed
_TRANSFER_STATUS = {2: "offered", 8: "completed"}
_TAG = re.compile(r"<[^>]{0,2000}>")
_S4L = re.compile(r"^messagesv\d+$")


def plain(body_xml: str) -> str:
    """``body_xml`` as text: markup removed, XML entities unescaped (a link keeps its text)."""
    return html.unescape(_TAG.sub("", body_xml))


class SkypeExtractor(SqliteChatExtractor):
    NAME = "skype_db"
    VERSION = "1"
    DESCRIPTION = "Skype databases (legacy main.db; s4l-*.db JSON tables)"
    FILE_NAMES = ("main.db",)
    MARKERS = (b"CREATE TABLE Messages (id INTEGER NOT NULL PRIMARY KEY, is_permanent", b"nsp_data")
    # the s4l message table is named by its version: messagesv12 in Skype 8 builds; later ones accepted
    REQUIRED = ("Messages",) + tuple(f"messagesv{n}" for n in range(1, 64))

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        if not head.startswith(b"SQLite format 3\x00"):
            return False
        name = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
        if name.startswith("s4l-") and name.endswith(".db"):
            return True
        # main.db is a common name: Skype's has its Messages table with is_permanent, or the path says so
        return any(m in head for m in self.MARKERS) or (name == "main.db" and "skype" in path.lower())

    # live rows and deleted ones recovered from free space (s4l message tables by their version)
    MESSAGE_TABLES = {"Messages": _MSG, "Transfers": _TRANSFER,
                      **{f"messagesv{n}": ("nsp_pk", "nsp_data") for n in range(1, 64)}}

    def context(self, conn, tables, item, problems) -> dict:
        ctx: dict = {"me": None, "convs": {}, "names": {}, "members": {}}
        if "Messages" not in tables and "Transfers" not in tables:
            return ctx
        if "Messages" in tables:
            missing_columns(tables, "Messages", ("convo_id", "author", "timestamp", "body_xml"), "Skype", problems)
        if "Accounts" in tables:
            for r in rows(conn, "Accounts", tables["Accounts"], ("skypename", "fullname"), problems):
                ctx["me"] = ctx["me"] or r["skypename"]
        if "Conversations" in tables:
            ctx["convs"] = lookup(conn, "Conversations", tables["Conversations"], "id",
                                  ("identity", "type", "displayname", "given_displayname", "meta_topic"), problems)
        names: dict[str, str] = ctx["names"]
        if "Contacts" in tables:
            for r in rows(conn, "Contacts", tables["Contacts"], ("skypename", "fullname", "displayname"), problems):
                if r["skypename"]:
                    names[r["skypename"]] = r["displayname"] or r["fullname"]
        if "Participants" in tables:
            for r in rows(conn, "Participants", tables["Participants"], ("convo_id", "identity"), problems):
                if r["identity"] and r["identity"] != ctx["me"]:
                    ctx["members"].setdefault(r["convo_id"], []).append(party(names.get(r["identity"]),
                                                                              r["identity"]))
        return ctx

    def row_record(self, table, row, ctx, item) -> ArtifactRecord:
        if table == "Messages":
            return self._message(row, ctx, item)
        if table == "Transfers":
            return self._transfer(row, ctx, item)
        return self._s4l(table, row, item)

    # -- legacy main.db ---------------------------------------------------------------------------
    def _conversation(self, cid, ctx) -> tuple[dict, list[str], bool]:
        c = ctx["convs"].get(cid)
        names = ctx["names"]
        title = None
        if c is not None:
            title = c["meta_topic"] or c["given_displayname"] or c["displayname"] or c["identity"]
        others = ctx["members"].get(cid) or ([party(names.get(c["identity"]), c["identity"])]
                                             if c is not None and c["identity"] and c["type"] == 1 else [])
        return ({"id": c["identity"] if c is not None and c["identity"] else f"convo:{cid}", "title": title},
                others, c is not None and c["type"] == 2)

    def _message(self, r, ctx, item) -> ArtifactRecord:
        p: list[str] = []
        me = ctx["me"]
        conv, others, group = self._conversation(r["convo_id"], ctx)
        author = r["author"]
        outgoing = bool(me) and author == me
        raw = text_of(r["body_xml"])
        edited = unix_seconds(r["edited_timestamp"], "edited", p)
        return message_record(
            platform="skype", conversation=conv, participants=[OWNER] + others,
            sender=OWNER if outgoing else party(r["from_dispname"] or ctx["names"].get(author), author),
            sent=unix_seconds(r["timestamp"], "sent", p), body=plain(raw), system=r["type"] in _SYSTEM,
            edited=edited is not None, edited_ts=edited, problems=p,
            source=source(item, "Messages", r["_rowid"]), source_ref=f"Messages:{r['_rowid']}",
            extra={"message_type": _TYPES.get(r["type"], r["type"]), "body_xml": raw or None, "group": group,
                   "direction": "outgoing" if outgoing else "incoming", "author": author, "account": me})

    def _transfer(self, r, ctx, item) -> ArtifactRecord:
        p: list[str] = []
        conv, others, group = self._conversation(r["convo_id"], ctx)
        sending = r["type"] == 2            # 2 sending, 1 receiving (the plaso sample's sent file: type 2)
        extra_att = {"size": r["filesize"]}
        if r["filepath"]:
            extra_att["path"] = r["filepath"]
        # an offer's own row names the account as its partner; the row per recipient (parent_id set) names them
        partner = None if r["partner_handle"] == ctx["me"] else party(r["partner_dispname"], r["partner_handle"])
        accepted = unix_seconds(r["accepttime"], "accepted", p)
        finished = unix_seconds(r["finishtime"], "finished", p)
        return message_record(
            platform="skype", conversation=conv, participants=[OWNER] + others,
            sender=OWNER if sending else partner, recipients=([partner] if partner else []) if sending else [OWNER],
            sent=unix_seconds(r["starttime"], "sent", p), body="",
            attachments=[attachment(r["filename"], **extra_att)], problems=p,
            source=source(item, "Transfers", r["_rowid"]), source_ref=f"Transfers:{r['_rowid']}",
            extra={"message_type": "file_transfer", "group": group,
                   "transfer_status": _TRANSFER_STATUS.get(r["status"], r["status"]),
                   "accepted_at": accepted.iso_utc() if accepted else None,
                   "finished_at": finished.iso_utc() if finished else None,
                   "transfer_id": r["pk_id"], "offer_id": r["parent_id"],
                   "direction": "outgoing" if sending else "incoming"})

    # -- s4l-*.db ---------------------------------------------------------------------------------
    def _s4l(self, table, r, item) -> ArtifactRecord:
        p: list[str] = []
        doc = json_value(r["nsp_data"], f"{table} row {r['_rowid']} nsp_data", p)
        doc = doc if isinstance(doc, dict) else {}
        mine = bool(doc.get("_isMyMessage"))
        creator = doc.get("creator")
        kind = doc.get("messagetype")
        content = text_of(doc.get("content"))
        conv_id = doc.get("conversationId")
        atts = []
        if isinstance(kind, str) and kind.startswith("RichText/") and "URIObject" in content:
            m = re.search(r'<OriginalName v="([^"]{0,500})"', content)
            atts.append(attachment(html.unescape(m.group(1)) if m else None, kind=kind))
        return message_record(
            platform="skype", conversation={"id": conv_id, "title": None}, participants=[OWNER],
            sender=OWNER if mine else (str(creator) if creator else None),
            sent=unix_millis(doc.get("createdTime") or doc.get("originalarrivaltime"), "sent", p),
            body=plain(content), attachments=atts,
            system=isinstance(kind, str) and (kind.startswith("Event/") or kind.startswith("ThreadActivity/")),
            problems=p, source=source(item, table, r["_rowid"]), source_ref=f"{table}:{r['_rowid']}",
            extra={"message_type": kind, "content_raw": content or None, "message_id": doc.get("cuid"),
                   "direction": "outgoing" if mine else "incoming"})
