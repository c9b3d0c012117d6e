"""WhatsApp Android contacts (``wa.db``) and calls (``msgstore.db``), as ``contact/entry`` and
``call/entry`` records beside the chat extractor's messages (``whatsapp_db``).

Schemas read (WhatsApp for Android 2.12 to 2.24; the tables ALEAPP's ``whatsApp.py``
queries):

* ``wa.db`` ``wa_contacts`` (``_id``, ``jid`` ``<number>@s.whatsapp.net`` / ``<id>@g.us`` for
  a group / ``<id>@lid``, ``number`` as the phone's address book has it (often national),
  ``display_name`` (the address book's name), ``wa_name`` (the name the user gave WhatsApp),
  ``given_name``, ``family_name``, ``status``, ``is_whatsapp_user``). Groups and broadcast
  lists (no person) are left out.
* ``msgstore.db`` ``call_log`` (WhatsApp 2.21+: ``_id``, ``jid_row_id`` -> ``jid``
  (``raw_string``), ``from_me``, ``call_id``, ``timestamp`` Unix ms UTC, ``video_call``,
  ``duration`` seconds, ``call_result``, ``group_call_row_id``); ``call_result`` is kept as
  stored (its codes are not documented: no outcome is read from it, except that a call with a
  duration was answered).
"""
from __future__ import annotations

from typing import Iterator

from forensic.extractors.chat.sqlite_chat import lookup, rows
from forensic.extractors.phone.common import (CALL, CONTACT, PhoneDbExtractor, call_record, contact_record, seconds,
                                              source, text, unique, unix_ms_time)
from forensic.extractors.records import ArtifactRecord

PERSON_SERVERS = ("s.whatsapp.net", "c.us")
_CONTACT = ("jid", "number", "display_name", "wa_name", "given_name", "family_name", "status", "is_whatsapp_user")
_CALL = ("jid_row_id", "from_me", "call_id", "timestamp", "video_call", "duration", "call_result",
         "group_call_row_id")


def jid_number(jid: str | None) -> str | None:
    """``31612345678@s.whatsapp.net`` -> ``+31612345678``: a person's jid is their number in
    international form without the plus; None for groups, broadcasts and ``@lid`` ids."""
    if not jid or "@" not in jid:
        return None
    user, server = jid.split("@", 1)
    user = user.split(":", 1)[0]                 # a device suffix (user:device@server)
    return "+" + user if server in PERSON_SERVERS and user.isdigit() else None


class WhatsAppPeopleExtractor(PhoneDbExtractor):
    NAME = "whatsapp_people"
    VERSION = "1"
    DESCRIPTION = "WhatsApp Android contacts (wa.db) and calls (msgstore.db call_log)"
    FILE_NAMES = ("wa.db",)
    OTHER_NAMES = ("msgstore.db",)
    MARKERS = (b"CREATE TABLE wa_contacts",)
    REQUIRED = ("wa_contacts", "call_log")
    RECORD_TYPES = (CONTACT, CALL)

    def read(self, conn, tables, item, problems) -> Iterator[ArtifactRecord]:
        if "wa_contacts" in tables:
            for r in rows(conn, "wa_contacts", tables["wa_contacts"], _CONTACT, problems):
                jid = text(r["jid"])
                if jid and not jid_number(jid) and not jid.endswith("@lid"):
                    continue                     # a group or broadcast list, not a person
                yield self._contact(item, r, jid)
        if "call_log" in tables:
            jids = {k: text(r["raw_string"]) or (f"{r['user']}@{r['server']}" if r["user"] else None)
                    for k, r in lookup(conn, "jid", tables["jid"], "ROWID", ("raw_string", "user", "server"),
                                       problems).items()} if "jid" in tables else {}
            if "jid" not in tables:
                problems.append(f"{item.path}: table jid missing: calls are read without the other party")
            for r in rows(conn, "call_log", tables["call_log"], _CALL, problems):
                yield self._call(item, r, jids.get(r["jid_row_id"]))

    def _contact(self, item, r, jid) -> ArtifactRecord:
        number = text(r["number"])
        from_jid = jid_number(jid)
        numbers = unique([number, from_jid])
        name = text(r["display_name"]) or text(r["wa_name"])
        extra = {"number_details": [{"number": n, "type": None, "label": "jid" if n == from_jid and n != number
                                     else None, "e164": from_jid if n == from_jid else None} for n in numbers],
                 "wa_name": text(r["wa_name"]), "display_name": text(r["display_name"]),
                 "status": text(r["status"]), "deleted": False,
                 "whatsapp_user": bool(r["is_whatsapp_user"]) if r["is_whatsapp_user"] is not None else None}
        return contact_record(app="whatsapp", os="android", name=name, numbers=numbers, emails=[],
                              user_ids=unique([jid]), source=source(item.path, "wa_contacts", r["_rowid"]),
                              source_ref=f"wa_contacts:{r['_rowid']}", extra=extra)

    def _call(self, item, r, jid) -> ArtifactRecord:
        problems: list[str] = []
        started = unix_ms_time(r["timestamp"], "started", problems)
        if started is None and not problems:
            problems.append("call without a start time")
        duration = seconds(r["duration"], problems)
        from_me = r["from_me"]
        direction = "outgoing" if from_me == 1 else "incoming" if from_me == 0 else "unknown"
        outcome = "answered" if duration else None
        extra = {"jid": jid, "call_id": text(r["call_id"]), "call_result": r["call_result"],
                 "video": bool(r["video_call"]) if r["video_call"] is not None else None,
                 "group_call": r["group_call_row_id"] not in (None, 0)}
        return call_record(app="whatsapp", os="android", direction=direction, outcome=outcome,
                           number=jid_number(jid) or jid, name=None, started=started, duration_s=duration,
                           source=source(item.path, "call_log", r["_rowid"]), source_ref=f"call_log:{r['_rowid']}",
                           extra=extra, problems=problems)
