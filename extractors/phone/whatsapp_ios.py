"""WhatsApp for iOS calls (``CallHistory.sqlite``) and contacts (``ContactsV2.sqlite``), both in
the app group container (``/private/var/mobile/Containers/Shared/AppGroup/<UUID>/``), as
``call/entry`` and ``contact/entry`` records.

Schemas read (WhatsApp for iOS 2.21 to 2.24, Core Data stores; the tables iLEAPP's
``whatsApp.py`` queries):

* ``CallHistory.sqlite``: ``ZWACDCALLEVENT`` (``Z_PK``, ``Z1CALLEVENTS`` -> its
  ``ZWAAGGREGATECALLEVENT``, ``ZCALLIDSTRING``, ``ZDATE`` Core Data seconds since 2001-01-01
  UTC, ``ZDURATION`` seconds, ``ZOUTCOME``: 0 ended, 1 missed, 4 rejected as iLEAPP reads it,
  other values kept as stored, ``ZGROUPCALLCREATORUSERJIDSTRING``),
  ``ZWACDCALLEVENTPARTICIPANT`` (``Z1PARTICIPANTS`` -> the call event, ``ZJIDSTRING``),
  ``ZWAAGGREGATECALLEVENT`` (``ZINCOMING``, ``ZMISSED``, ``ZVIDEO``): the direction is read
  from there only (``unknown`` without it).
* ``ContactsV2.sqlite``: ``ZWAADDRESSBOOKCONTACT`` (``ZFULLNAME``, ``ZGIVENNAME``,
  ``ZPHONENUMBER`` as in the address book, ``ZWHATSAPPID`` the jid, ``ZLID``, ``ZABOUTTEXT``).
"""
from __future__ import annotations

from typing import Iterator

from forensic.extractors.chat.sqlite_chat import lookup, rows
from forensic.extractors.phone.common import (CALL, CONTACT, PhoneDbExtractor, call_record, contact_record,
                                              core_data_time, seconds, source, text, unique)
from forensic.extractors.phone.whatsapp import jid_number
from forensic.extractors.records import ArtifactRecord

OUTCOMES = {0: "ended", 1: "missed", 4: "rejected"}
_EVENT = ("Z1CALLEVENTS", "ZCALLIDSTRING", "ZDATE", "ZDURATION", "ZOUTCOME", "ZGROUPCALLCREATORUSERJIDSTRING")
_CONTACT = ("ZFULLNAME", "ZGIVENNAME", "ZLASTNAME", "ZPHONENUMBER", "ZWHATSAPPID", "ZLID", "ZABOUTTEXT")


class WhatsAppIosPeopleExtractor(PhoneDbExtractor):
    NAME = "whatsapp_ios_people"
    VERSION = "1"
    DESCRIPTION = "WhatsApp iOS calls (CallHistory.sqlite) and contacts (ContactsV2.sqlite)"
    FILE_NAMES = ("callhistory.sqlite", "contactsv2.sqlite")
    MARKERS = (b"CREATE TABLE ZWACDCALLEVENT", b"CREATE TABLE ZWAADDRESSBOOKCONTACT")
    REQUIRED = ("ZWACDCALLEVENT", "ZWAADDRESSBOOKCONTACT")
    RECORD_TYPES = (CALL, CONTACT)

    def read(self, conn, tables, item, problems) -> Iterator[ArtifactRecord]:
        if "ZWAADDRESSBOOKCONTACT" in tables:
            for r in rows(conn, "ZWAADDRESSBOOKCONTACT", tables["ZWAADDRESSBOOKCONTACT"], _CONTACT, problems):
                yield self._contact(item, r)
        if "ZWACDCALLEVENT" not in tables:
            return
        parties: dict[int, list[str]] = {}
        if "ZWACDCALLEVENTPARTICIPANT" in tables:
            for r in rows(conn, "ZWACDCALLEVENTPARTICIPANT", tables["ZWACDCALLEVENTPARTICIPANT"],
                          ("Z1PARTICIPANTS", "ZJIDSTRING"), problems):
                jid = text(r["ZJIDSTRING"])
                if jid:
                    parties.setdefault(r["Z1PARTICIPANTS"], []).append(jid)
        else:
            problems.append(f"{item.path}: table ZWACDCALLEVENTPARTICIPANT missing: calls are read without the "
                            "other party")
        aggregates = lookup(conn, "ZWAAGGREGATECALLEVENT", tables["ZWAAGGREGATECALLEVENT"], "ROWID",
                            ("ZINCOMING", "ZMISSED", "ZVIDEO"), problems) if "ZWAAGGREGATECALLEVENT" in tables else {}
        for r in rows(conn, "ZWACDCALLEVENT", tables["ZWACDCALLEVENT"], _EVENT, problems):
            yield self._call(item, r, parties.get(r["_rowid"], []), aggregates.get(r["Z1CALLEVENTS"]))

    def _contact(self, item, r) -> ArtifactRecord:
        jid = text(r["ZWHATSAPPID"])
        number = text(r["ZPHONENUMBER"])
        from_jid = jid_number(jid) if jid else None
        numbers = unique([number, from_jid])
        extra = {"number_details": [{"number": n, "type": None, "label": "jid" if n == from_jid and n != number
                                     else None, "e164": from_jid if n == from_jid else None} for n in numbers],
                 "about": text(r["ZABOUTTEXT"]), "deleted": False}
        return contact_record(app="whatsapp", os="ios", name=text(r["ZFULLNAME"]) or text(r["ZGIVENNAME"]),
                              numbers=numbers, emails=[], user_ids=unique([jid, r["ZLID"]]),
                              source=source(item.path, "ZWAADDRESSBOOKCONTACT", r["_rowid"]),
                              source_ref=f"ZWAADDRESSBOOKCONTACT:{r['_rowid']}", extra=extra)

    def _call(self, item, r, parties, aggregate) -> ArtifactRecord:
        problems: list[str] = []
        started = core_data_time(r["ZDATE"], "started", problems)
        if started is None and not problems:
            problems.append("call without a start time")
        duration = seconds(r["ZDURATION"], problems)
        direction, video, outcome = "unknown", None, None
        if aggregate is not None:
            if aggregate["ZINCOMING"] is not None:
                direction = "incoming" if aggregate["ZINCOMING"] else "outgoing"
            video = bool(aggregate["ZVIDEO"]) if aggregate["ZVIDEO"] is not None else None
            if aggregate["ZMISSED"]:
                outcome = "missed"
        code = r["ZOUTCOME"]
        if outcome is None:
            outcome = {1: "missed", 4: "rejected"}.get(code) or ("answered" if duration else None)
        jid = parties[0] if len(parties) == 1 else None
        extra = {"jid": jid, "participants": parties, "call_id": text(r["ZCALLIDSTRING"]),
                 "outcome_code": code, "outcome_as_stored": OUTCOMES.get(code, code), "video": video,
                 "group_call": len(parties) > 1 or bool(text(r["ZGROUPCALLCREATORUSERJIDSTRING"]))}
        return call_record(app="whatsapp", os="ios", direction=direction, outcome=outcome,
                           number=(jid_number(jid) or jid) if jid else None, name=None, started=started,
                           duration_s=duration, source=source(item.path, "ZWACDCALLEVENT", r["_rowid"]),
                           source_ref=f"ZWACDCALLEVENT:{r['_rowid']}", extra=extra, problems=problems)
