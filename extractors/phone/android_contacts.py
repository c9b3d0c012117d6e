"""Android contacts provider database ``contacts2.db`` (``com.android.providers.contacts``).

Schema read (Android 4.3 / API 18 to Android 14 / API 34; the columns ALEAPP's
``contacts.py`` queries): ``raw_contacts`` (``_id``, ``contact_id``, ``account_id``,
``sourceid``, ``deleted``, ``display_name``, ``starred``, ``times_contacted``,
``last_time_contacted`` Unix ms), ``accounts`` (``_id``, ``account_name``, ``account_type``),
``data`` (``raw_contact_id``, ``mimetype_id``, ``data1``..``data4``), ``mimetypes``
(``_id``, ``mimetype``). Before API 18 ``raw_contacts`` held ``account_name``/``account_type``
itself: read from there when ``accounts`` is missing.

Mimetypes read from ``data``: ``vnd.android.cursor.item/name`` (``data1`` display name),
``phone_v2`` (``data1`` number as entered, ``data2`` type, ``data3`` custom label, ``data4``
the number normalised to E.164 by the phone itself), ``email_v2`` (``data1``),
``organization`` (``data1``), ``im`` (``data1`` handle) and the app profiles other apps add
(``vnd.com.whatsapp.profile``, Telegram, Signal, ...: ``data1``, the user id), kept as
``user_ids``.

One ``contact/entry`` per raw contact (one account's view of a person; ``contact_id`` names the
aggregate contact the phone shows), deleted ones (``deleted`` = 1, awaiting sync) included and
flagged. ``app`` is ``contacts``; ``account`` names the account (``com.google``,
``com.whatsapp``, ...).
"""
from __future__ import annotations

from typing import Iterator

from forensic.extractors.chat.sqlite_chat import lookup, rows
from forensic.extractors.phone.common import (CONTACT, PhoneDbExtractor, contact_record, source, text, unique,
                                              unix_ms_time)
from forensic.extractors.records import ArtifactRecord

_PHONE = "vnd.android.cursor.item/phone_v2"
_EMAIL = "vnd.android.cursor.item/email_v2"
_NAME = "vnd.android.cursor.item/name"
_ORG = "vnd.android.cursor.item/organization"
_IM = "vnd.android.cursor.item/im"
# ContactsContract.CommonDataKinds.Phone TYPE_*
PHONE_TYPES = {0: "custom", 1: "home", 2: "mobile", 3: "work", 4: "fax_work", 5: "fax_home", 6: "pager", 7: "other",
               8: "callback", 9: "car", 10: "company_main", 11: "isdn", 12: "main", 13: "other_fax", 14: "radio",
               15: "telex", 16: "tty_tdd", 17: "work_mobile", 18: "work_pager", 19: "assistant", 20: "mms"}
_RAW = ("contact_id", "account_id", "account_name", "account_type", "sourceid", "deleted", "display_name", "starred",
        "times_contacted", "last_time_contacted")


def _profile(mimetype: str) -> bool:
    """An app's profile row (WhatsApp, Telegram, Signal ...): its data1 is the user's id there."""
    return mimetype.startswith("vnd.android.cursor.item/vnd.") and "profile" in mimetype


def _phone_type(value) -> str | None:
    """``data2`` of a phone row (stored as TEXT: '2') -> its name; an unknown value as stored."""
    try:
        return PHONE_TYPES.get(int(value), text(value))
    except (TypeError, ValueError):
        return text(value)


class AndroidContactsExtractor(PhoneDbExtractor):
    NAME = "android_contacts"
    VERSION = "1"
    DESCRIPTION = "Android contacts (contacts2.db: raw contacts, numbers, e-mails, app user ids)"
    FILE_NAMES = ("contacts2.db",)
    MARKERS = (b"CREATE TABLE raw_contacts",)
    REQUIRED = ("raw_contacts",)
    RECORD_TYPES = (CONTACT,)

    def read(self, conn, tables, item, problems) -> Iterator[ArtifactRecord]:
        for needed in ("data", "mimetypes"):
            if needed not in tables:
                problems.append(f"{item.path}: table {needed} missing: contacts are read without their "
                                "numbers, e-mails and user ids")
        mimetypes = {k: r["mimetype"] for k, r in lookup(conn, "mimetypes", tables["mimetypes"], "ROWID",
                                                          ("mimetype",), problems).items()} \
            if "mimetypes" in tables else {}
        accounts = lookup(conn, "accounts", tables["accounts"], "ROWID", ("account_name", "account_type"),
                          problems) if "accounts" in tables else {}
        data: dict[int, list] = {}
        if "data" in tables and mimetypes:
            for r in rows(conn, "data", tables["data"], ("raw_contact_id", "mimetype_id", "data1", "data2", "data3",
                                                         "data4"), problems):
                data.setdefault(r["raw_contact_id"], []).append(r)
        for r in rows(conn, "raw_contacts", tables["raw_contacts"], _RAW, problems):
            yield self._contact(item, r, data.get(r["_rowid"], []), mimetypes, accounts)

    def _contact(self, item, r, data, mimetypes, accounts) -> ArtifactRecord:
        problems: list[str] = []
        name = text(r["display_name"])
        numbers, details, emails, user_ids, orgs = [], [], [], [], []
        for d in data:
            kind = mimetypes.get(d["mimetype_id"])
            value = text(d["data1"])
            if kind is None or value is None:
                continue
            if kind == _PHONE:
                numbers.append(value)
                details.append({"number": value, "type": _phone_type(d["data2"]), "label": text(d["data3"]),
                                "e164": text(d["data4"])})
            elif kind == _EMAIL:
                emails.append(value)
            elif kind == _NAME:
                name = name or value
            elif kind == _ORG:
                orgs.append(value)
            elif kind == _IM or _profile(kind):
                user_ids.append(value)
        account = accounts.get(r["account_id"]) if r["account_id"] is not None else None
        acc_name = text(account["account_name"]) if account is not None else text(r["account_name"])
        acc_type = text(account["account_type"]) if account is not None else text(r["account_type"])
        last = unix_ms_time(r["last_time_contacted"], "last_contacted", problems)
        extra = {"number_details": details, "organization": orgs[0] if orgs else None,
                 "deleted": bool(r["deleted"]), "contact_id": r["contact_id"],
                 "account": {"name": acc_name, "type": acc_type} if (acc_name or acc_type) else None,
                 "starred": bool(r["starred"]) if r["starred"] is not None else None,
                 "times_contacted": r["times_contacted"],
                 "last_contacted_at": last.iso_utc() if last else None}
        return contact_record(app="contacts", os="android", name=name, numbers=unique(numbers),
                              emails=unique(emails), user_ids=unique(user_ids),
                              source=source(item.path, "raw_contacts", r["_rowid"]),
                              source_ref=f"raw_contacts:{r['_rowid']}", extra=extra,
                              stamps=(last,) if last else (), problems=problems)
