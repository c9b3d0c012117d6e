"""forensic contacts, forensic calls

Contacts of every app (the device's address book, WhatsApp) and call logs (cellular,
FaceTime, WhatsApp), each person resolved to one identity across apps by number
(:mod:`forensic.store.people`): a call whose log has no name shows the contact's, saying
where it came from.
"""
from __future__ import annotations

from contextlib import closing

import click

from forensic.case import Case
from forensic.cli.commands.files import ListingScope, filter_words
from forensic.cli.common import json_option, table_time, time_bound, with_case
from forensic.cli.console import listing, safe
from forensic.errors import UsageError
from forensic.extractors.phone.common import CALL_FIELDS, CONTACT_FIELDS
from forensic.store import people as store_people
from forensic.store.people import People, PersonRecord

CONTACTS_LEGEND = ("Flags: x deleted (awaiting sync) · ! corrupted (damaged in its source) · R recovered: a deleted "
                   "row found in a database's free space (not a live contact)")
CALLS_LEGEND = ("Flags: ! corrupted (no readable time, or damaged) · Name: (c) from the contacts, not the call log · "
                "Direction: in, out; the outcome after a slash")


def _source(rec: PersonRecord) -> dict:
    source = {"item": rec.item}
    source.update(rec.fields.get("source") or {})
    if rec.locator is not None:
        source.setdefault("locator", rec.locator)
    return source


def contact_json(rec: PersonRecord, people: People) -> dict:
    """A contact as ``forensic contacts --json`` prints it (a public contract): ``item``, the
    shared fields (:data:`CONTACT_FIELDS`), the record's other fields, ``numbers_read`` (each
    number as found and as compared), ``identity`` (the person across apps), then whether it is
    corrupted and its warnings."""
    fields = dict(rec.fields)
    out: dict = {"item": rec.item}
    for k in CONTACT_FIELDS:
        out[k] = fields.pop(k, None)
    for k in ("numbers", "emails", "user_ids"):
        out[k] = out[k] or []
    out["source"] = _source(rec)
    out.update(fields)
    out["numbers_read"] = [{"number": r.value, "normalized": r.key, "how": r.how} for r in people.readings(rec)
                           if r.value in out["numbers"]]
    ident = people.identity_of(rec)
    out["identity"] = None if ident is None else ident.summary(item=rec.item)
    out["record_id"] = rec.id
    out["corrupted"] = rec.corrupted
    out["warnings"] = rec.warnings
    return out


def call_json(rec: PersonRecord, people: People) -> dict:
    """A call as ``forensic calls --json`` prints it (a public contract): ``item``, the shared
    fields (:data:`CALL_FIELDS`), the record's other fields, then ``name_source`` (``call log``,
    ``contacts`` or null), ``contact`` (the identity of the number, or null), whether it is
    corrupted and its warnings. Where the call log gave no name, ``name`` is the contact's."""
    fields = dict(rec.fields)
    out: dict = {"item": rec.item}
    for k in CALL_FIELDS:
        out[k] = fields.pop(k, None)
    out["source"] = _source(rec)
    out.update(fields)
    contact = people.resolve(rec.item, out["number"])
    if contact is None and isinstance(fields.get("jid"), str):
        contact = people.resolve(rec.item, fields["jid"])
    if out["name"]:
        out["name_source"] = "call log"
    elif contact is not None and contact["name"]:
        out["name"] = contact["name"]
        out["name_source"] = "contacts"
    else:
        out["name_source"] = None
    out["contact"] = contact
    out["record_id"] = rec.id
    out["corrupted"] = rec.corrupted
    out["warnings"] = rec.warnings
    return out


def _plain(text: str, item: str) -> str:
    """A compact line: ``text`` with every control and bidi character shown as an escape (a
    tab in evidence too), then a tab and the item."""
    return safe(text) + "\t" + safe(item)


def _contact_flags(c: dict) -> str:
    return ("!" if c["corrupted"] else "") + ("x" if c.get("deleted") else "") \
        + ("R" if c.get("recovered") == "deleted" else "")


def _contact_cells(c: dict) -> tuple:
    ident = c["identity"] or {}
    others = len({(s["item"], s["app"], s["path"], s["row_id"]) for s in ident.get("sources", [])}) - 1
    return (_contact_flags(c), c["app"], c["name"] or "-", ", ".join(c["numbers"]) or "-",
            ", ".join(c["emails"] + c["user_ids"]) or "-",
            f"{ident.get('id')} (+{others} other record(s))" if others > 0 else (ident.get("id") or "-"),
            f"{(c['source'] or {}).get('path')}#{(c['source'] or {}).get('row_id')}", c["item"])


def _contact_line(c: dict) -> str:
    text = (f"{_contact_flags(c) or '-':2} {c['app']:<9} [{c['name'] or '-'}] {', '.join(c['numbers']) or '-'}"
            f" {', '.join(c['emails'] + c['user_ids'])}".rstrip())
    return _plain(text, c["item"])


def _direction(c: dict) -> str:
    short = {"incoming": "in", "outgoing": "out"}.get(c["direction"], c["direction"] or "?")
    return short + (f"/{c['outcome']}" if c.get("outcome") else "")


def _name(c: dict) -> str:
    if not c["name"]:
        return "-"
    return c["name"] + (" (c)" if c["name_source"] == "contacts" else "")


def _call_cells(c: dict) -> tuple:
    return ("!" if c["corrupted"] else "", table_time(c["started_at"]), c["app"], _direction(c),
            c["number"] or "(none)", _name(c), "" if c["duration_s"] is None else f"{c['duration_s']}s", c["item"])


def _call_line(c: dict) -> str:
    text = (f"{'!' if c['corrupted'] else '-'} {c['started_at'] or '?':25} {c['app']:<9} {_direction(c):<14} "
            f"{c['number'] or '(none)'} [{_name(c)}] {'' if c['duration_s'] is None else c['duration_s']}s")
    return _plain(text, c["item"])


@click.command()
@click.option("--item", default=None, help="Only this evidence item.")
@click.option("--search", default=None, metavar="TEXT",
              help="Only contacts whose name, number, e-mail or user id contains TEXT (case ignored; a number "
                   "also matches written another way: 0612345678 finds +31 6 12345678).")
@json_option
@with_case
def contacts(case: Case, item: str | None, search: str | None, as_json: bool) -> int:
    """List contacts from every app's address book (Android contacts2.db, iOS
    AddressBook.sqlitedb, WhatsApp wa.db), one line per contact record.

    Records that share a number (compared in international form; a national number read with
    the country of the item's call log), an e-mail address or a user id are one person: each
    record names that identity and every record it was found in.

    On a terminal: a table. In a pipe: one compact line per contact, the evidence item last
    (after a tab). With --json: JSON Lines (item, app, name, numbers, emails, user_ids,
    source, ...).
    """
    scope = ListingScope(case, item)
    people = store_people.people(case.db, scope.items)
    if search is not None and not search.strip():
        raise UsageError("--search needs a text to look for")
    rows = (contact_json(r, people) for r in people.records if search is None or people.matches(r, search))
    with closing(rows):
        n = listing(rows, as_json=as_json,
                    columns=("Flags", "App", "Name", "Numbers", "E-mails / user ids", "Identity", "Source", "Item"),
                    cells=_contact_cells, line=_contact_line, legend=CONTACTS_LEGEND, no_wrap=("Flags",))
    scope.report("contacts", n, filter_words(("--search", search)))
    return 0


@click.command()
@click.option("--item", default=None, help="Only this evidence item.")
@click.option("--since", default=None, metavar="T",
              help="Started at or after T (ISO date or date-time; no offset = UTC).")
@click.option("--until", default=None, metavar="T",
              help="Started at or before T (a date alone: up to the end of that day).")
@json_option
@with_case
def calls(case: Case, item: str | None, since: str | None, until: str | None, as_json: bool) -> int:
    """List calls from every call log (Android calllog.db, iOS CallHistory.storedata, WhatsApp
    msgstore.db), in time order.

    A call whose log has no name for the number shows the name of the contact that number
    belongs to, marked (c), with that contact's records in ``contact`` and ``name_source``
    "contacts" in JSON. Calls without a readable time come last (and are left out by
    --since/--until).

    On a terminal: a table. In a pipe: one compact line per call, the evidence item last
    (after a tab). With --json: JSON Lines (item, app, direction, number, name, started_at,
    duration_s, source, ...).
    """
    scope = ListingScope(case, item)
    lo, hi = time_bound(since, False, "--since"), time_bound(until, True, "--until")
    if lo and hi and lo > hi:
        raise UsageError("--since is after --until")
    people = store_people.people(case.db, scope.items)
    found = store_people.calls(case.db, scope.items, lo, hi)
    n = listing((call_json(r, people) for r in found), as_json=as_json,
                columns=("Flags", "Started", "App", "Direction", "Number", "Name", "Duration", "Item"),
                cells=_call_cells, line=_call_line, legend=CALLS_LEGEND, no_wrap=("Flags", "Duration"))
    scope.report("calls", n, filter_words(("--since", since), ("--until", until)))
    return 0


COMMANDS = [contacts, calls]
