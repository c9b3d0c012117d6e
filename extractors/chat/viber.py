"""Viber for Android (com.viber.voip): ``viber_messages`` (messages) and ``viber_data``
(contacts).

Schema learned from ALEAPP ``scripts/artifacts/Viber.py`` (its message and contact queries)
and the plaso test database ``viber_data``; supported: the Viber Android schema those describe
(app versions 10 to 20+, where the tables below are unchanged in the columns read here).

``viber_messages``:

* ``messages``: ``msg_date`` (Unix ms, UTC), ``conversation_id``, ``participant_id`` (a row
  of ``participants``), ``send_type`` (0 received, 1 sent), ``body``, ``unread``,
  ``extra_uri`` (the media file on the device), ``extra_mime`` (the media type code, kept
  raw), ``location_lat``/``location_lng`` (a shared position; where stored scaled as
  integer micro-degrees, divided by 10^6), ``deleted``;
* ``participants`` (``conversation_id``, ``participant_info_id``) and ``participants_info``
  (``number``, ``display_name``, ``contact_name``, ``viber_name``, ``member_id``,
  ``participant_type``: 0 for the device's own account);
* ``conversations``: ``group_name`` (a group's title), ``conversation_type``, ``group_id``.

``viber_data``: ``phonebookcontact`` (``display_name``) with its numbers in ``phonebookdata``
(``data2``/``data1``), and ``vibernumbers`` (numbers known to be on Viber, ``viber_name``)
give ``contact/entry`` records (the shared contact shape, ``app`` ``viber``).
"""
from __future__ import annotations

from forensic.extractors.chat.app_db import location, missing_columns, party, text_of
from forensic.extractors.chat.common import attachment, message_record
from forensic.extractors.chat.sqlite_chat import OWNER, SqliteChatExtractor, lookup, rows, source, unix_ms
from forensic.extractors.records import ArtifactRecord

_MSG = ("msg_date", "conversation_id", "participant_id", "send_type", "body", "unread", "extra_uri", "extra_mime",
        "location_lat", "location_lng", "deleted", "token")
_CONTACT = ("display_name", "starred", "viber", "deleted")
_INFO = ("number", "display_name", "contact_name", "viber_name", "member_id", "participant_type")


class ViberExtractor(SqliteChatExtractor):
    NAME = "viber_db"
    VERSION = "1"
    DESCRIPTION = "Viber Android databases (viber_messages: messages; viber_data: contacts)"
    FILE_NAMES = ("viber_messages", "viber_data")
    MARKERS = (b"participants_info", b"CREATE TABLE phonebookcontact")
    REQUIRED = ("messages", "phonebookcontact")
    RECORD_TYPES = ("chat/message", "contact/entry")

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        # 'participants_info' alone names other apps' tables too: with 'messages' it is Viber's
        return super().accepts(path, mime, head) and (
            path.replace("\\", "/").rsplit("/", 1)[-1].lower() in self.FILE_NAMES
            or (b"participants_info" in head and b"send_type" in head) or b"CREATE TABLE phonebookcontact" in head)

    # rows of these tables become records, live ones and deleted ones recovered from free space
    MESSAGE_TABLES = {"messages": _MSG, "phonebookcontact": _CONTACT}

    def context(self, conn, tables, item, problems) -> dict:
        ctx: dict = {"people": {}, "members": {}, "convs": {}, "numbers": {}, "viber": {}}
        if "phonebookcontact" in tables:
            numbers: dict[int, list[str]] = ctx["numbers"]
            if "phonebookdata" in tables:
                for d in rows(conn, "phonebookdata", tables["phonebookdata"], ("contact_id", "data1", "data2"),
                              problems):
                    n = d["data2"] or d["data1"]
                    if n and n not in numbers.setdefault(d["contact_id"], []):
                        numbers[d["contact_id"]].append(str(n))
            if "vibernumbers" in tables:
                ctx["viber"] = lookup(conn, "vibernumbers", tables["vibernumbers"], "canonized_number",
                                      ("viber_name", "member_id"), problems)
        if "messages" not in tables:
            return ctx
        missing_columns(tables, "messages", ("msg_date", "conversation_id", "send_type", "body"), "Viber", problems)
        for t in ("participants", "participants_info", "conversations"):
            if t not in tables:
                problems.append(f"Viber: table {t} missing: senders or conversation titles cannot be read")
        info = lookup(conn, "participants_info", tables["participants_info"], "ROWID", _INFO, problems) \
            if "participants_info" in tables else {}
        people: dict[int, tuple[str | None, bool]] = ctx["people"]     # participants._id -> (label, is the owner)
        members: dict[int, list[str]] = ctx["members"]
        if "participants" in tables:
            for r in rows(conn, "participants", tables["participants"], ("conversation_id", "participant_info_id"),
                          problems):
                pi = info.get(r["participant_info_id"])
                own = pi is not None and pi["participant_type"] == 0
                label = OWNER if own else _label(pi, r["participant_info_id"])
                people[r["_rowid"]] = (label, own)
                if label and label not in members.setdefault(r["conversation_id"], []):
                    members[r["conversation_id"]].append(label)
        if "conversations" in tables:
            ctx["convs"] = lookup(conn, "conversations", tables["conversations"], "ROWID",
                                  ("group_name", "conversation_type", "group_id"), problems)
        return ctx

    def row_record(self, table, row, ctx, item) -> ArtifactRecord:
        if table == "phonebookcontact":
            return self._contact(row, ctx, item)
        return self._message(row, item, ctx["people"], ctx["members"], ctx["convs"])

    def _message(self, r, item, people, members, convs) -> ArtifactRecord:
        problems: list[str] = []
        sent = unix_ms(r["msg_date"], "sent", problems)
        outgoing = r["send_type"] == 1
        conv = convs.get(r["conversation_id"])
        parties = [p for p in members.get(r["conversation_id"], []) if p != OWNER]
        group = conv is not None and bool(conv["group_name"] or conv["group_id"])
        title = (conv["group_name"] if conv is not None and conv["group_name"] else None) or ", ".join(parties) or None
        who = people.get(r["participant_id"], (None, False))
        sender = OWNER if outgoing else who[0]
        atts = []
        if r["extra_uri"]:
            uri = text_of(r["extra_uri"])
            extra = {"media_type": r["extra_mime"]}
            if uri.startswith("file://"):
                extra["path"] = uri[len("file://"):]
            elif "://" not in uri:
                extra["path"] = uri
            else:
                extra["uri"] = uri
            atts.append(attachment(uri.rstrip("/").rsplit("/", 1)[-1] or uri, **extra))
        extra = {"direction": "outgoing" if outgoing else "incoming", "group": group,
                 "unread": bool(r["unread"]) if r["unread"] is not None else None, "media_type": r["extra_mime"],
                 "message_token": r["token"]}
        loc = _viber_location(r["location_lat"], r["location_lng"])
        if loc:
            extra["location"] = loc
        return message_record(
            platform="viber", conversation={"id": f"conversation:{r['conversation_id']}", "title": title},
            participants=[OWNER] + parties, sender=sender, sent=sent, body=text_of(r["body"]), attachments=atts,
            deleted=bool(r["deleted"]), problems=problems, source=source(item, "messages", r["_rowid"]),
            source_ref=f"messages:{r['_rowid']}", extra=extra)

    def _contact(self, r, ctx, item) -> ArtifactRecord:
        nums = ctx["numbers"].get(r["_rowid"], []) if r["_rowid"] is not None else []
        on = [ctx["viber"][n] for n in nums if n in ctx["viber"]]
        # the shared contact shape (forensic contacts): app, name, numbers, emails, user_ids, source
        return ArtifactRecord("contact/entry", {
            "app": "viber", "os": "android", "name": r["display_name"], "numbers": nums, "emails": [],
            "user_ids": [v["member_id"] for v in on if v["member_id"]],
            "source": source(item, "phonebookcontact", r["_rowid"]),
            "viber_user": bool(r["viber"]) if r["viber"] is not None else None,
            "viber_names": [v["viber_name"] for v in on if v["viber_name"]],
            "starred": bool(r["starred"]) if r["starred"] is not None else None,
            "deleted": bool(r["deleted"]) if r["deleted"] is not None else None},
            source_ref=f"phonebookcontact:{r['_rowid']}")


def _label(pi, fallback) -> str | None:
    if pi is None:
        return f"participant:{fallback}" if fallback is not None else None
    return party(pi["contact_name"] or pi["display_name"] or pi["viber_name"], pi["number"] or pi["member_id"])


def _viber_location(lat, lng) -> dict | None:
    if lat in (None, 0) or lng in (None, 0):
        return None
    try:
        la, lo = float(lat), float(lng)
    except (TypeError, ValueError):
        return None
    if isinstance(lat, int) and isinstance(lng, int) and (abs(la) > 180 or abs(lo) > 180):
        return location(la / 1e6, lo / 1e6, "viber messages.location_lat/location_lng (micro-degrees)")
    return location(la, lo, "viber messages.location_lat/location_lng")
