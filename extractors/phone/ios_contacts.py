"""iOS address book ``AddressBook.sqlitedb`` (``/private/var/mobile/Library/AddressBook/``).

Schema read (iOS 6 to iOS 17; the tables iLEAPP's ``addressBook.py`` queries): ``ABPerson``
(``ROWID``, ``First``, ``Middle``, ``Last``, ``Organization``, ``Nickname``, ``Note``,
``CreationDate``/``ModificationDate`` Core Data seconds since 2001-01-01 UTC),
``ABMultiValue`` (``record_id`` -> ``ABPerson.ROWID``, ``property``: 3 phone number, 4 e-mail
address, 46 social/app profile; ``label`` -> ``ABMultiValueLabel.ROWID``, ``value``),
``ABMultiValueLabel`` (``value``: ``_$!<Mobile>!$_``, ``iPhone``, ... shown without the
``_$!<`` ``>!$_`` wrapping), ``ABStore`` (the account a person belongs to).

One ``contact/entry`` per ``ABPerson`` row; ``app`` is ``contacts``.
"""
from __future__ import annotations

from typing import Iterator

from forensic.extractors.chat.sqlite_chat import lookup, rows
from forensic.extractors.phone.common import (CONTACT, PhoneDbExtractor, contact_record, core_data_time, source, text,
                                              unique)
from forensic.extractors.records import ArtifactRecord

PHONE, EMAIL, PROFILE = 3, 4, 46
_PERSON = ("First", "Middle", "Last", "Organization", "Department", "Nickname", "Note", "CreationDate",
           "ModificationDate", "StoreID")


def label(value: str | None) -> str | None:
    """``_$!<Mobile>!$_`` -> ``Mobile`` (Apple's built-in labels); a custom label as stored."""
    if value and value.startswith("_$!<") and value.endswith(">!$_"):
        return value[4:-4]
    return value


class IosContactsExtractor(PhoneDbExtractor):
    NAME = "ios_contacts"
    VERSION = "1"
    DESCRIPTION = "iOS address book (AddressBook.sqlitedb: people, numbers, e-mails)"
    FILE_NAMES = ("addressbook.sqlitedb",)
    MARKERS = (b"CREATE TABLE ABPerson",)
    REQUIRED = ("ABPerson",)
    RECORD_TYPES = (CONTACT,)

    def read(self, conn, tables, item, problems) -> Iterator[ArtifactRecord]:
        if "ABMultiValue" not in tables:
            problems.append(f"{item.path}: table ABMultiValue missing: people are read without their numbers "
                            "and e-mails")
        labels = {k: text(r["value"]) for k, r in lookup(conn, "ABMultiValueLabel", tables["ABMultiValueLabel"],
                                                          "ROWID", ("value",), problems).items()} \
            if "ABMultiValueLabel" in tables else {}
        values: dict[int, list] = {}
        if "ABMultiValue" in tables:
            for r in rows(conn, "ABMultiValue", tables["ABMultiValue"], ("record_id", "property", "label", "value"),
                          problems):
                values.setdefault(r["record_id"], []).append(r)
        for r in rows(conn, "ABPerson", tables["ABPerson"], _PERSON, problems):
            yield self._person(item, r, values.get(r["_rowid"], []), labels)

    def _person(self, item, r, values, labels) -> ArtifactRecord:
        problems: list[str] = []
        parts = [text(r[k]) for k in ("First", "Middle", "Last")]
        name = " ".join(p for p in parts if p) or text(r["Organization"]) or text(r["Nickname"])
        numbers, details, emails, user_ids = [], [], [], []
        for v in values:
            value = text(v["value"])
            if value is None:
                continue
            if v["property"] == PHONE:
                numbers.append(value)
                details.append({"number": value, "type": None, "label": label(labels.get(v["label"])), "e164": None})
            elif v["property"] == EMAIL:
                emails.append(value)
            elif v["property"] == PROFILE:
                user_ids.append(value)
        created = core_data_time(r["CreationDate"], "created", problems)
        modified = core_data_time(r["ModificationDate"], "modified", problems)
        extra = {"number_details": details, "organization": text(r["Organization"]),
                 "nickname": text(r["Nickname"]), "note": text(r["Note"]), "deleted": False,
                 "created_at": created.iso_utc() if created else None,
                 "modified_at": modified.iso_utc() if modified else None}
        return contact_record(app="contacts", os="ios", name=name, numbers=unique(numbers), emails=unique(emails),
                              user_ids=unique(user_ids), source=source(item.path, "ABPerson", r["_rowid"]),
                              source_ref=f"ABPerson:{r['_rowid']}", extra=extra,
                              stamps=tuple(t for t in (created, modified) if t), problems=problems)
