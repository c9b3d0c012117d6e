"""People: the contacts and calls of the case store, and one identity per person.

Contacts (``contact/entry`` records) come from several apps' address books: the device's,
WhatsApp's. Each keeps a person's numbers the way it found them ("06 12 34 56 78",
"+31 6 12345678", a WhatsApp jid "31612345678@s.whatsapp.net"). :class:`People` reads them
all and resolves a number, an e-mail address or a WhatsApp jid to the one identity it belongs
to, with every record that names it (app, file, table, row and the number as that record
holds it).

Numbers are compared in E.164 form (``+31612345678``) through the ``phonenumbers`` library
(Google's libphonenumber data). A number written in national form ("0612345678") can only be
read with its country: that country is taken from the evidence item's own call log (Android
``countryiso``, iOS ``ZISO_COUNTRY_CODE``: the country the phone was in), and the reading says
so (``how``). Without a country, a national number is compared as its digits only, never
guessed into a country; and the number as found is always kept beside the normalised one.

Contacts that share a number, e-mail address or user id are one identity (union of their
records): the identity's name is the device address book's (an app's own name for the person
otherwise), its other names listed.
"""
from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from forensic.store.db import dialect

try:                                  # a dependency (pyproject); without it, numbers compare as digits
    import phonenumbers
    HAVE_PHONENUMBERS = True
except ImportError:                   # pragma: no cover - installed with the package
    HAVE_PHONENUMBERS = False

CONTACT = "contact/entry"
CALL = "call/entry"
PERSON_SERVERS = ("s.whatsapp.net", "c.us")
WHATSAPP_SERVERS = PERSON_SERVERS + ("g.us", "broadcast", "lid", "newsletter")    # never e-mail domains
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DIALLABLE = re.compile(r"^[+\d][\d\s().\-/]*$")


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A contact or call record as the people listings give it: its fields and the file it came
    from."""
    id: int
    item: str
    record_type: str
    extractor: str
    fields: dict
    corrupted: bool
    warnings: list
    path: str | None
    locator: str | None

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> "PersonRecord":
        return cls(r["id"], r["item"], r["record_type"], r["extractor"], json.loads(r["fields"]), bool(r["corrupted"]),
                   json.loads(r["warnings"]) if r["warnings"] else [], r["path"], r["locator"])


@dataclass(frozen=True, slots=True)
class Reading:
    """How one value (a number, an e-mail address, a jid) was read: ``key`` the form it is
    compared in (``+31612345678``, ``email:ana@example.org``, ``digits:0612345678``) and
    ``how`` in words."""
    value: str
    key: str
    how: str


@dataclass(slots=True)
class Identity:
    """One person: the contact records that name them (each as a source)."""
    id: str                                  # the first key met (an E.164 number where there is one)
    keys: set[str] = field(default_factory=set)
    names: list[str] = field(default_factory=list)
    preferred: str | None = None             # the device address book's name
    sources: list[dict] = field(default_factory=list)

    @property
    def name(self) -> str | None:
        return self.preferred or (self.names[0] if self.names else None)

    def name_in(self, item: str, key: str | None = None) -> str | None:
        """The name ``item``'s own records give this person, those that hold ``key`` (the
        number matched) first, then its address book's before an app's; else :attr:`name`.
        A phone's calls and messages are named by that phone's contacts, never by another
        seized phone's (whose owner chose its names), and a number by the contact that holds
        it, not by another one merged with it through a third contact listing both."""
        own = [s for s in self.sources if s["item"] == item and s["name"]]
        for s in sorted(own, key=lambda s: (all(n["normalized"] != key for n in s["numbers"]),
                                            s["app"] != "contacts")):
            return str(s["name"])
        return self.name

    def summary(self, reading: Reading | None = None, item: str | None = None) -> dict:
        """As listings show it: ``{name, number, sources}`` (``number``: the compared form of
        the value that matched, ``matched`` how it was read; without one, the identity's first
        E.164 number; ``name``: as ``item`` names the person when given), other names when
        there are."""
        number: str | None
        if reading is not None:
            number = reading.key if reading.key[:1] == "+" else reading.value
        else:
            number = self.id if self.id[:1] == "+" else None
        name = self.name if item is None else self.name_in(item, reading.key if reading is not None else None)
        out: dict[str, Any] = {"name": name, "number": number, "sources": self.sources}
        if reading is not None:
            out["matched"] = reading.how
        others = [n for n in self.names if n != name]
        if others:
            out["other_names"] = others
        out["id"] = self.id
        return out


def _records(db: sqlite3.Connection, items: list[str], record_type: str) -> list[PersonRecord]:
    if not items:
        return []
    index = "INDEXED BY artifacts_type " if dialect(db) == "sqlite" else ""
    sql = ("SELECT a.id, a.item, a.record_type, a.extractor, a.fields, a.corrupted, a.warnings, f.path, f.locator "
           f"FROM artifacts a {index}LEFT JOIN files f ON f.id = a.file_id "
           f"WHERE a.record_type = ? AND a.item IN ({','.join('?' * len(items))}) ORDER BY a.item, a.id")
    return [PersonRecord.from_row(r) for r in db.execute(sql, (record_type, *items))]


def contacts(db: sqlite3.Connection, items: list[str]) -> list[PersonRecord]:
    """The ``contact/entry`` records of ``items``, by item, in the order stored."""
    return _records(db, items, CONTACT)


def calls(db: sqlite3.Connection, items: list[str], since: datetime | None = None,
          until: datetime | None = None) -> list[PersonRecord]:
    """The ``call/entry`` records of ``items`` in time order (those without a readable time
    last), started within ``since`` .. ``until`` (inclusive; aware datetimes) when given: a
    call without a time is left out by a bound."""
    out = []
    for rec in _records(db, items, CALL):
        when = _utc(rec.fields.get("started_at"))
        if (since is not None or until is not None) and when is None:
            continue
        if since is not None and when is not None and when < since:
            continue
        if until is not None and when is not None and when > until:
            continue
        out.append((when is None, when or _EARLIEST, rec.id, rec))
    out.sort(key=lambda t: t[:3])
    return [t[3] for t in out]


_EARLIEST = datetime.min.replace(tzinfo=timezone.utc)


def _utc(text: str | None) -> datetime | None:
    """An ISO 8601 time with its offset -> aware datetime; None for none, or one without a zone."""
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else None


def country_hints(db: sqlite3.Connection, items: list[str]) -> dict[str, tuple[str, str]]:
    """item -> (ISO country code, where it comes from): the most frequent country of the
    item's call logs (the phone's country when each call was made)."""
    out: dict[str, tuple[str, str]] = {}
    for item in items:
        seen: Counter[str] = Counter()
        for rec in _records(db, [item], CALL):
            code = rec.fields.get("country_iso")
            if isinstance(code, str) and len(code.strip()) == 2:
                seen[code.strip().upper()] += 1
        if seen:
            code, n = seen.most_common(1)[0]
            total = sum(seen.values())
            out[item] = (code, f"country {code} from the item's call log ({n} of {total} calls)")
    return out


def jid_number(jid: str) -> str | None:
    """A WhatsApp person's jid -> ``+<number>`` (their number in international form)."""
    user, _, server = jid.partition("@")
    user = user.split(":", 1)[0]
    return "+" + user if server in PERSON_SERVERS and user.isdigit() else None


def read_value(value: str, country: tuple[str, str] | None = None) -> Reading | None:
    """How ``value`` (as found) is compared: a WhatsApp jid or a number in international form
    as E.164; a national number with ``country`` (code, its source) as E.164, saying so;
    without one, as its digits; an e-mail address in lower case. None for anything else
    (a name, an empty value)."""
    value = (value or "").strip()
    if not value:
        return None
    if "@" in value:
        number = jid_number(value)
        if number is not None:
            return Reading(value, number, "WhatsApp jid: the number in international form")
        if _EMAIL.match(value) and value.rsplit("@", 1)[1].lower() not in WHATSAPP_SERVERS:
            return Reading(value, "email:" + value.lower(), "e-mail address")
        return None
    found = value
    if value.lower().startswith("tel:"):
        value = value[4:].strip()
    if not _DIALLABLE.match(value):
        return None
    digits = re.sub(r"\D", "", value)
    if len(digits) < 3:
        return None
    international = value.startswith("+") or digits.startswith("00")
    text = "+" + digits[2:] if digits.startswith("00") and not value.startswith("+") else value
    if HAVE_PHONENUMBERS:
        try:
            if international:
                parsed = phonenumbers.parse(text, None)
                how = "international form"
            elif country is not None:
                parsed = phonenumbers.parse(text, country[0])
                how = f"national form read with {country[1]}"
            else:
                parsed = None
                how = ""
            if parsed is not None and phonenumbers.is_possible_number(parsed):
                return Reading(found, phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), how)
        except phonenumbers.NumberParseException:
            pass
    elif international:
        return Reading(found, "+" + (digits[2:] if digits.startswith("00") else digits), "international form")
    why = "no country known for a national number" if not international and country is None else \
        "not a possible number"
    return Reading(found, "digits:" + digits, f"digits only ({why})")


def user_id(value: str) -> Reading | None:
    """An app's id for a person that is no number or e-mail address (a WhatsApp ``@lid``, an
    IM handle): compared as written, case ignored."""
    value = (value or "").strip()
    return Reading(value, "id:" + value.lower(), "user id") if value else None


class People:
    """Contacts of a set of evidence items, resolved into identities. ``resolve(item, value)``
    gives the identity of a number/jid/e-mail address found in ``item``."""

    def __init__(self, records: Iterable[PersonRecord], hints: dict[str, tuple[str, str]]) -> None:
        self.hints = hints
        self.records = list(records)
        self._cache: dict[tuple[str, str], Reading | None] = {}
        parent: dict[str, str] = {}

        def find(k: str) -> str:
            while parent.setdefault(k, k) != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        per_record: list[tuple[PersonRecord, list[Reading]]] = []
        for rec in self.records:
            readings = self.readings(rec)
            per_record.append((rec, readings))
            keys = [r.key for r in readings]
            for k in keys[1:]:
                a, b = find(keys[0]), find(k)
                if a != b:
                    parent[b] = a
            if keys:
                find(keys[0])
        self._by_key: dict[str, Identity] = {}
        groups: dict[str, Identity] = {}
        for rec, readings in per_record:
            if not readings:
                continue
            root = find(readings[0].key)
            ident = groups.get(root)
            if ident is None:
                ident = groups[root] = Identity(next((r.key for r in readings if r.key[:1] == "+"), readings[0].key))
            f = rec.fields
            name = f.get("name")
            if isinstance(name, str) and name:
                if name not in ident.names:
                    ident.names.append(name)
                if f.get("app") == "contacts" and ident.preferred is None:
                    ident.preferred = name
            src = f.get("source") or {}
            for r in readings:
                ident.keys.add(r.key)
            ident.sources.append({"item": rec.item, "app": f.get("app"), "name": name,
                                  "numbers": [{"number": r.value, "normalized": r.key, "how": r.how}
                                              for r in readings],
                                  "path": src.get("path", rec.path), "table": src.get("table"),
                                  "row_id": src.get("row_id"), "record_id": rec.id})
        for ident in groups.values():
            for k in ident.keys:
                self._by_key[k] = ident

    def readings(self, rec: PersonRecord) -> list[Reading]:
        """The readings of a contact record's numbers, e-mail addresses and user ids."""
        out: list[Reading] = []
        f = rec.fields
        values = [v for key in ("numbers", "emails") for v in (f.get(key) or []) if isinstance(v, str)]
        for detail in f.get("number_details") or []:     # the phone's own E.164 form (Android data4)
            if isinstance(detail, dict) and isinstance(detail.get("e164"), str):
                values.append(detail["e164"])
        ids = [v for v in (f.get("user_ids") or []) if isinstance(v, str)]
        seen = set()
        for v in values + ids:
            r = self.read(rec.item, v)
            if r is None and v in ids:
                r = user_id(v)
            if r is not None and (r.value, r.key) not in seen:
                seen.add((r.value, r.key))
                out.append(r)
        return out

    def read(self, item: str, value: str) -> Reading | None:
        key = (item, value)
        if key not in self._cache:
            self._cache[key] = read_value(value, self.hints.get(item))
        return self._cache[key]

    def resolve(self, item: str, value: Any) -> dict | None:
        """The identity (:meth:`Identity.summary`) of ``value`` as found in ``item``, or None."""
        if not isinstance(value, str) or not self._by_key:
            return None
        reading = self.read(item, value) or user_id(value)
        if reading is None:
            return None
        ident = self._by_key.get(reading.key)
        return None if ident is None else ident.summary(reading, item)

    def identity(self, key: str) -> Identity | None:
        """The identity that holds ``key`` (a compared form: ``+31612345678``, ``email:...``)."""
        return self._by_key.get(key)

    def identity_of(self, rec: PersonRecord) -> Identity | None:
        for r in self.readings(rec):
            if r.key in self._by_key:
                return self._by_key[r.key]
        return None

    def matches(self, rec: PersonRecord, text: str) -> bool:
        """``--search``: ``text`` in the record's name, numbers, e-mails or user ids (case
        ignored), its digits in a number's digits, or the same number in another form."""
        f = rec.fields
        needle = text.strip().lower()
        hay = [f.get("name"), f.get("organization"), *(f.get("numbers") or []), *(f.get("emails") or []),
               *(f.get("user_ids") or [])]
        if any(isinstance(h, str) and needle in h.lower() for h in hay):
            return True
        readings = self.readings(rec)
        digits = re.sub(r"\D", "", needle)
        if len(digits) >= 4 and any(digits in re.sub(r"\D", "", r.key) for r in readings):
            return True
        mine = self.read(rec.item, text)
        return mine is not None and any(r.key == mine.key for r in readings)


def people(db: sqlite3.Connection, items: list[str]) -> People:
    """The contacts of ``items`` resolved into identities (see :class:`People`)."""
    return People(contacts(db, items), country_hints(db, items))


# -- roles: the persons the examiner marks (table ``person_roles``) ---------------------------------

ROLES = ("victim", "witness", "suspect")


@dataclass(frozen=True, slots=True)
class PersonRole:
    """A person the examiner marked: ``identity`` the key of the identity (as ``forensic
    contacts`` gives its id: ``+31612345678``, ``email:ana@example.org``, ``id:...``),
    ``given`` the ID as the examiner wrote it, ``seq`` the order of first marking (which gives
    its pseudonym's letter, kept when unmarked and marked again), ``role`` None once unmarked."""
    seq: int
    identity: str
    role: str | None
    note: str | None
    given: str
    at: str
    by: str | None

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> "PersonRole":
        return cls(r["id"], r["identity"], r["role"], r["note"], r["given"], r["at"], r["by"])


def mark(db: sqlite3.Connection, identity: str, role: str, note: str | None, given: str, at: str,
         by: str | None) -> PersonRole:
    """Mark ``identity`` with ``role`` (the caller's transaction). Marking it again keeps its
    row (and its place in the order): the new role, time and examiner, the note unless None."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    # PostgreSQL's layout keeps an identity unique by its digest (any length: schema.PG_LONG_TEXT)
    key = "text_sha256(identity)" if dialect(db) == "postgresql" else "identity"
    db.execute("INSERT INTO person_roles(identity, role, note, given, at, by) VALUES (?,?,?,?,?,?) "
               # the old row named by its table: a bare column beside excluded.* is ambiguous on PostgreSQL
               f"ON CONFLICT({key}) DO UPDATE SET role=excluded.role, "
               "note=COALESCE(excluded.note, person_roles.note), given=excluded.given, at=excluded.at, by=excluded.by",
               (identity, role, note, given, at, by))
    row = db.execute("SELECT * FROM person_roles WHERE identity=?", (identity,)).fetchone()
    return PersonRole.from_row(row)


def unmark(db: sqlite3.Connection, identity: str, at: str, by: str | None) -> PersonRole | None:
    """Take the role off ``identity`` (the caller's transaction): its row stays, without a role.
    The row as it was, or None when it had no role."""
    row = db.execute("SELECT * FROM person_roles WHERE identity=? AND role IS NOT NULL", (identity,)).fetchone()
    if row is None:
        return None
    db.execute("UPDATE person_roles SET role=NULL, at=?, by=? WHERE identity=?", (at, by, identity))
    return PersonRole.from_row(row)


def roles(db: sqlite3.Connection, marked_only: bool = True) -> list[PersonRole]:
    """The persons marked (or every one ever marked), in the order of first marking."""
    sql = "SELECT * FROM person_roles" + (" WHERE role IS NOT NULL" if marked_only else "") + " ORDER BY id"
    return [PersonRole.from_row(r) for r in db.execute(sql)]


def sender_known(db: sqlite3.Connection, name: str) -> bool:
    """Whether a chat message of the case has ``name`` as its sender (a chat export names
    people, not numbers)."""
    return db.execute("SELECT 1 FROM artifacts WHERE record_type = 'chat/message' "
                      "AND json_extract(fields, '$.sender') = ? LIMIT 1", (name,)).fetchone() is not None


def identity_key(found: People, value: str, db: sqlite3.Connection | None = None
                 ) -> tuple[str, Identity | None] | None:
    """The identity ``value`` names: an identity id as ``forensic contacts`` shows it, a phone
    number (E.164, or national in an item whose call log gives the country), an e-mail
    address, a WhatsApp jid or a user id. Returns (the identity's id, the identity) when a
    contact holds it; (its compared form, None) for a number in international form or an
    e-mail address no contact holds; a name: the identity whose contacts give that name (case
    ignored; the first), else ``name:NAME`` when a chat message of ``db`` was sent by that name
    (a chat export's participant); None when ``value`` is none of these."""
    value = (value or "").strip()
    if not value:
        return None
    readings = [read_value(value, hint) for hint in [None, *found.hints.values()]]
    for key in [value, *(r.key for r in readings if r is not None), "id:" + value.lower()]:
        ident = found.identity(key)
        if ident is not None:
            return ident.id, ident
    first = readings[0]
    if first is not None and (first.key[:1] == "+" or first.key.startswith("email:")):
        return first.key, None
    if value.startswith(("id:", "email:", "digits:", "name:")):
        return value, None
    folded = value.casefold()
    for ident in sorted({id(i): i for i in found._by_key.values()}.values(), key=lambda i: i.id):
        if any(n.casefold() == folded for n in ident.names):
            return ident.id, ident
    if db is not None and sender_known(db, value):
        return "name:" + value, None
    return None
