"""forensic messages, forensic conversations"""
from __future__ import annotations

import difflib
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime

import click

from forensic.cli.commands.files import ListingScope, filter_words
from forensic.cli.common import json_option, table_time, time_bound, with_case
from forensic.cli.console import emit_jsonl, listing, safe, stdout_is_terminal, table_pages, warn
from forensic.store import chats as store_chats, people as store_people, similar as store_similar
from forensic.store.chats import ensure_index, fts_query
from forensic.store.people import People
from forensic.store.records import Message
from forensic.store.timeline import to_us
from forensic.case import Case
from forensic.extractors.chat.common import MESSAGE_FIELDS
from forensic.errors import UsageError

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
# every platform the chat extractors write (a case may hold others, from newer extractors)
# (tests/cli/test_messages_recovered.py checks every platform="..." of extractors/chat/ is here)
PLATFORMS = ("whatsapp", "telegram", "signal", "messenger", "instagram", "discord", "sms", "imessage",
             "google-messages", "viber", "kik", "skype", "line", "snapchat")
PLATFORM_HELP = ", ".join(PLATFORMS)
MESSAGES_LEGEND = ("Flags: ? time zone unknown (the device's clock, placed as if it were UTC) · x deleted · "
                   "! corrupted (damaged in its source) · U uncommitted: found only in a phone database's "
                   "unfinished transaction, not in the database as committed (not an ordinary message) · "
                   "R recovered: a deleted row found in a phone database's free space (not a live message)")
CONVERSATIONS_LEGEND = ("Uncommitted: of its messages, those found only in a phone database's unfinished transaction, "
                        "not in the database as committed (forensic messages --uncommitted lists them)")


def _platform(db: sqlite3.Connection | None, platform: str | None) -> str | None:
    """``--platform`` as stored (lower case); a usage error naming the valid ones when it is
    none of :data:`PLATFORMS` nor a platform in the case's index (``db``, once indexed)."""
    if platform is None:
        return None
    name = platform.strip().lower()
    known = set(PLATFORMS)
    if name not in known and db is not None:
        known |= store_chats.platforms(db)
    if name not in known:
        close = difflib.get_close_matches(name, sorted(known), n=1)
        raise UsageError(f"unknown platform {platform!r}" + (f"; did you mean {close[0]!r}?" if close else ""),
                         hint="platforms: " + ", ".join(sorted(known)))
    return name


def message_json(m: Message, people: People | None = None, originals: dict | None = None) -> dict:
    """A message as ``forensic messages --json`` prints it: item and record id, the shared
    fields (:data:`MESSAGE_FIELDS`) in their order, the record's other fields,
    ``sender_contact`` (the contact the sender's number, jid or address belongs to, from
    ``people``: name, number, sources; else null), then whether it is corrupted and its
    warnings. ``originals`` (:func:`forensic.store.similar.camera_originals`): an attachment
    whose photo is near a camera original gets ``camera_original`` (the nearest, with the other
    originals within the distance in ``other_originals``; joined now, the stored record unchanged)."""
    fields = dict(m.fields)             # a copy: the shared fields are taken out of it
    out = {"item": m.item, "record_id": m.id}
    for k in MESSAGE_FIELDS:
        out[k] = fields.pop(k, None)
    if originals and out["attachments"]:
        out["attachments"] = [{**a, "camera_original": store_similar.original_of(originals[a["sha256"]])}
                              if isinstance(a, dict) and isinstance(a.get("sha256"), str) and a["sha256"] in originals
                              else a
                              for a in out["attachments"]]
    source = {"item": m.item}
    source.update(out["source"] or {})
    if m.locator is not None:
        source.setdefault("locator", m.locator)
    out["source"] = source
    out.update(fields)
    out["sender_contact"] = people.resolve(m.item, out["sender"]) if people is not None else None
    out["corrupted"] = m.corrupted
    out["warnings"] = m.warnings
    return out


def uncommitted(m: dict) -> bool:
    """The message was found only in a phone database's unfinished transaction."""
    return m.get("db_state") == "uncommitted"


def recovered(m: dict) -> bool:
    """The message is a deleted row recovered from a phone database's free space or log."""
    return m.get("recovered") == "deleted"


def _who_and_body(m: dict) -> tuple[str, str]:
    """Who sent a message, and its text on one line, cut at 200 characters."""
    who = m["sender"] or m.get("actor") or ("(system)" if m["system"] else "-")
    body = (m["body"] or "").replace("\r", "").replace("\n", " ⏎ ")
    return who, (body[:199] + "…" if len(body) > 200 else body)


def _line(m: dict) -> str:
    conv = m["conversation"] or {}
    who, body = _who_and_body(m)
    flags = ("!" if m["corrupted"] else "-") + ("?" if not m["tz_known"] else "-") + ("x" if m["deleted"] else "-")
    if uncommitted(m):          # added later: ordinary messages' lines are as they always were
        flags += "U"
    if recovered(m):
        flags += "R"
    text = (f"{flags} {m['sent_at'] or '?':25} {m['platform']:<10} [{conv.get('title') or conv.get('id')}] "
            f"{who}: {body}")
    if m["attachments"]:
        text += f"  (+{len(m['attachments'])} attachment(s))"
    # the evidence item is the last field, after a tab (added later: earlier fields unchanged)
    return _plain(text) + "\t" + m["item"]


def _plain(text: str) -> str:
    """A compact line's text: terminal controls and bidi overrides removed (as ever), any
    other control or bidi character shown as an escape; tabs kept."""
    return "\t".join(safe(part) for part in _CONTROL.sub("", text).split("\t"))


def _cells(m: dict) -> tuple:
    conv = m["conversation"] or {}
    who, body = _who_and_body(m)
    if m["attachments"]:
        body += f"  (+{len(m['attachments'])} attachment(s))"
    flags = (("!" if m["corrupted"] else "") + ("?" if not m["tz_known"] else "") + ("x" if m["deleted"] else "")
             + ("U" if uncommitted(m) else "") + ("R" if recovered(m) else ""))
    contact = m.get("sender_contact")
    if contact and contact.get("name"):     # the contact's name, then the sender as the message gives it
        who = f"{contact['name']} ({who})"
    return (flags, table_time(m["sent_at"]), m["platform"], conv.get("title") or conv.get("id"), who, body, m["item"])


def message_rows(db: sqlite3.Connection, items: list[str], platform: str | None = None,
                 conversation: str | None = None, lo: datetime | None = None, hi: datetime | None = None,
                 fts: str | None = None, limit: int | None = None, state: bool | None = None,
                 deleted_rows: bool | None = None) -> Iterator[Message]:
    """The messages of a listing, in time order, streamed (see
    :func:`forensic.store.chats.messages`); ``lo``/``hi``: the ``--from``/``--to`` bounds;
    ``state``: ``--uncommitted``/``--no-uncommitted``; ``deleted_rows``:
    ``--recovered``/``--no-recovered``."""
    return store_chats.messages(db, items, platform=platform, conversation=conversation,
                                start_us=None if lo is None else to_us(lo), end_us=None if hi is None else to_us(hi),
                                fts=fts, limit=limit, state=state, recovered=deleted_rows)


@click.command()
@click.option("--item", default=None, help="Only this evidence item.")
@click.option("--platform", default=None, help=f"Only this platform ({PLATFORM_HELP}).")
@click.option("--conversation", "conversation", default=None, help="Only this conversation id (see 'forensic "
                                                                   "conversations').")
@click.option("--from", "from_", default=None, metavar="T",
              help="Sent at or after T (ISO date or date-time; no offset = UTC).")
@click.option("--to", "to", default=None, metavar="T",
              help="Sent at or before T (a date alone: up to the end of that day).")
@click.option("--search", default=None, metavar="TEXT",
              help="Only messages whose body, sender or conversation title contain every word of TEXT "
                   "(case and diacritics ignored; 'word*' for a prefix).")
@click.option("--uncommitted/--no-uncommitted", "state", default=None,
              help="Only the messages found only in a phone database's unfinished transaction (db_state "
                   "uncommitted; flag U), or none of them. Default: all, flagged.")
@click.option("--recovered/--no-recovered", "deleted_rows", default=None,
              help="Only the deleted rows recovered from a phone database's free space or log (recovered "
                   "deleted; flag R), or none of them. Default: all, flagged.")
@click.option("--limit", type=click.IntRange(min=1, max=2**63 - 1), default=None, help="At most this many messages.")
@json_option
@with_case
def messages(case: Case, item: str | None, platform: str | None, conversation: str | None, from_: str | None,
             to: str | None, search: str | None, state: bool | None, deleted_rows: bool | None, limit: int | None,
             as_json: bool) -> int:
    """List chat messages found by triage (every platform, one shape), in time order.

    Messages whose time zone is unknown (WhatsApp text exports without --assume-tz, Telegram
    exports without Unix times) are placed and filtered by their wall clock read as UTC, and a
    time filter keeps them when they could be in range (wall clock within FROM-12h .. TO+14h);
    they are shown with tz_known false.

    A phone database found with a hot journal or a write-ahead log is read in its committed
    state; the messages only its unfinished transaction holds are listed too, flagged U
    (db_state "uncommitted"): evidence, but not ordinary messages of that database. Deleted
    rows recovered from such a database's free pages, free space and log are listed flagged R
    (recovered "deleted", with the page and offset they were found at).

    On a terminal: a table (flags explained under it). In a pipe: one compact line per
    message, the evidence item last (after a tab). With --json: JSON Lines.
    """
    scope = ListingScope(case, item)
    items = scope.items
    lo, hi = time_bound(from_, False, "--from"), time_bound(to, True, "--to")
    if lo and hi and lo > hi:
        raise UsageError("--from is after --to")
    if not items:                       # no evidence: no index either
        _platform(None, platform)
        scope.report("messages", 0)
        return 0
    ensure_index(case, items)
    platform = _platform(case.db, platform)
    q = None
    if search is not None:
        q = fts_query(search)
        if q is None:
            warn("the search text has no word to look for; nothing matches")
            return 0
    # closed here, while the case is open (a pipe closed early ends the listing mid-way)
    with closing(message_rows(case.db, items, platform=platform, conversation=conversation, lo=lo, hi=hi,
                              fts=q, limit=limit, state=state, deleted_rows=deleted_rows)) as found:
        # contacts name senders in JSON and in a terminal's table (compact lines stay as they were)
        book = store_people.people(case.db, items) if as_json or stdout_is_terminal() else None
        # in JSON, a photo attachment links to the camera original it was made from (any item)
        originals = store_similar.camera_originals(store_similar.photos(case.db)) if as_json else None
        n = listing((message_json(r, book, originals) for r in found), as_json=as_json,
                    columns=("Flags", "Sent", "Platform", "Conversation", "Sender", "Message", "Item"),
                    cells=_cells, line=_line, legend=MESSAGES_LEGEND, no_wrap=("Flags",))
    scope.report("messages", n, filter_words(("--platform", platform), ("--conversation", conversation),
                                             ("--from", from_), ("--to", to), ("--search", search),
                                             ("--uncommitted", state is True), ("--no-uncommitted", state is False),
                                             ("--recovered", deleted_rows is True),
                                             ("--no-recovered", deleted_rows is False)),
                 hint="`forensic conversations` lists the conversation ids" if conversation else None)
    return 0


@click.command()
@click.option("--item", default=None, help="Only this evidence item.")
@click.option("--platform", default=None, help=f"Only this platform ({PLATFORM_HELP}).")
@json_option
@with_case
def conversations(case: Case, item: str | None, platform: str | None, as_json: bool) -> int:
    """List conversations: platform, id, title, participants, message count, first and last message.

    A conversation read from a phone database found inside a transaction also gives how many
    of its messages only the unfinished transaction holds (uncommitted).

    On a terminal: a table. In a pipe: one compact line per conversation. With --json: JSON Lines."""
    scope = ListingScope(case, item)
    items = scope.items
    if not items:                       # no evidence: no index either
        _platform(None, platform)
        scope.report("conversations", 0)
        return 0
    ensure_index(case, items)
    platform = _platform(case.db, platform)
    found = store_chats.conversations(case.db, items, platform)
    out = [{"item": c.item, "platform": c.platform, "conversation": c.conversation, "title": c.title,
            "participants": c.participants, "messages": c.messages, "first_at": c.first_at, "last_at": c.last_at,
            "source": [{"item": c.item, "path": path, "locator": locator} for path, locator in c.sources],
            "uncommitted": c.uncommitted} for c in found]
    if as_json:                         # the contact each participant's number belongs to
        book = store_people.people(case.db, items)
        for c in out:
            c["participant_contacts"] = {p: who for p in c["participants"] if isinstance(p, str)
                                         and (who := book.resolve(c["item"], p)) is not None}
    pending = any(c.uncommitted for c in found)
    if as_json:
        emit_jsonl(out)
    elif stdout_is_terminal():
        # the Uncommitted column only in a case that has such messages
        columns = ("Platform", "Messages") + (("Uncommitted",) if pending else ()) + \
            ("First", "Last", "Title", "Conversation", "Item")
        table_pages(columns, ((c["platform"], f"{c['messages']:,}")
                              + ((f"{c['uncommitted']:,}" if c["uncommitted"] else "",) if pending else ())
                              + (table_time(c["first_at"]), table_time(c["last_at"]), c["title"] or "-",
                                 c["conversation"], c["item"]) for c in out),
                    legend=CONVERSATIONS_LEGEND if pending else None, no_wrap=("Messages", "Uncommitted"))
    else:
        for c in out:
            line = (f"{c['platform']:<10} {c['messages']:>7} {c['first_at'] or '?':25} "
                    f"{c['last_at'] or '?':25} [{c['title'] or '-'}] {c['conversation']}")
            if c["uncommitted"]:        # added later, after a tab: other lines are as they always were
                line += f"\t{c['uncommitted']} uncommitted"
            click.echo(_plain(line))
    scope.report("conversations", len(out), filter_words(("--platform", platform)))
    return 0


COMMANDS = [messages, conversations]
