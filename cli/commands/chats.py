"""forensic messages, forensic conversations"""
from __future__ import annotations

import difflib
import heapq
import itertools
import json
import re
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone

import click

from forensic.cli.commands.files import ListingScope, filter_words
from forensic.cli.common import json_option, with_case
from forensic.cli.console import emit_jsonl, listing, safe, stdout_is_terminal, table_pages, warn
from forensic.store.chats import ensure_index, fts_query, search_runs
from forensic.case import Case
from forensic.errors import UsageError

# The shared record shape, in this order; a record's other fields follow.
MESSAGE_FIELDS = ("platform", "conversation", "participants", "sender", "recipients", "sent_at", "sent_at_utc",
                  "tz_known", "tz_source", "body", "attachments", "reply_to", "edited", "deleted", "system",
                  "source")
# An unknown-zone message's true instant lies from 14 h before to 12 h after its wall clock
# read as UTC (offsets run from -12:00 to +14:00): it is kept when it *could* be in range.
_EARLY = timedelta(hours=12)
_LATE = timedelta(hours=14)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
# every platform the chat extractors write (a case may hold others, from newer extractors)
PLATFORMS = ("whatsapp", "telegram", "messenger", "instagram", "discord", "sms", "imessage")
MESSAGES_LEGEND = ("Flags: ? time zone unknown (the device's clock, placed as if it were UTC) · x deleted · "
                   "! corrupted (damaged in its source) · U uncommitted: found only in a phone database's "
                   "unfinished transaction, not in the database as committed (not an ordinary message)")
CONVERSATIONS_LEGEND = ("Uncommitted: of its messages, those found only in a phone database's unfinished transaction, "
                        "not in the database as committed (forensic messages --uncommitted lists them)")
# A phone database's record found only in the uncommitted state (the extractors' ``db_state``)
# also has its ``source_ref`` ending so (docs/formats.md): a cheap test of the artifacts row
# before its fields are read.
_UNCOMMITTED_REF = "% (uncommitted)"
_UNCOMMITTED_SQL = f"(a.source_ref LIKE '{_UNCOMMITTED_REF}' AND json_extract(a.fields, '$.db_state') = 'uncommitted')"


def _bound(text: str | None, end: bool, option: str) -> datetime | None:
    """An ISO date or date-time; naive means UTC. A date alone as ``--to`` means the whole day."""
    if text is None:
        return None
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option} {text!r} is not an ISO 8601 date or date-time",
                         hint="e.g. 2021-03-14, 2021-03-14T21:00, 2021-03-14T21:00:00+01:00") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    if end and len(text.strip()) == 10:
        dt += timedelta(days=1) - timedelta(microseconds=1)
    return dt


def _us(dt: datetime) -> int:
    d = dt - _EPOCH
    return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds


def _platform(db, platform: str | None) -> str | None:
    """``--platform`` as stored (lower case); a usage error naming the valid ones when it is
    none of :data:`PLATFORMS` nor a platform in the case's index (``db``, once indexed)."""
    if platform is None:
        return None
    name = platform.strip().lower()
    known = set(PLATFORMS)
    if name not in known and db is not None:
        known |= {r[0] for r in db.execute("SELECT DISTINCT platform FROM chat_messages WHERE platform IS NOT NULL")}
    if name not in known:
        close = difflib.get_close_matches(name, sorted(known), n=1)
        raise UsageError(f"unknown platform {platform!r}" + (f"; did you mean {close[0]!r}?" if close else ""),
                         hint="platforms: " + ", ".join(sorted(known)))
    return name


def message_json(r) -> dict:
    fields = json.loads(r["fields"])
    out = {"item": r["item"], "record_id": r["id"]}
    for k in MESSAGE_FIELDS:
        out[k] = fields.pop(k, None)
    source = {"item": r["item"]}
    source.update(out["source"] or {})
    if r["locator"] is not None:
        source.setdefault("locator", r["locator"])
    out["source"] = source
    out.update(fields)
    out["corrupted"] = bool(r["corrupted"])
    out["warnings"] = json.loads(r["warnings"] or "[]")
    return out


def uncommitted(m: dict) -> bool:
    """The message was found only in a phone database's unfinished transaction."""
    return m.get("db_state") == "uncommitted"


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


def _when(value: str | None) -> str:
    """An ISO 8601 time for a table: a space instead of the 'T', so it wraps between date
    and time."""
    return value.replace("T", " ", 1) if value else "?"


def _cells(m: dict) -> tuple:
    conv = m["conversation"] or {}
    who, body = _who_and_body(m)
    if m["attachments"]:
        body += f"  (+{len(m['attachments'])} attachment(s))"
    flags = (("!" if m["corrupted"] else "") + ("?" if not m["tz_known"] else "") + ("x" if m["deleted"] else "")
             + ("U" if uncommitted(m) else ""))
    return (flags, _when(m["sent_at"]), m["platform"], conv.get("title") or conv.get("id"), who, body, m["item"])


def message_query(items: list[str], platform: str | None = None, conversation: str | None = None,
                  lo: datetime | None = None, hi: datetime | None = None, fts: str | None = None,
                  limit: int | None = None, run: tuple[int, int] | None = None,
                  state: bool | None = None) -> tuple[str, list]:
    """SQL (and its arguments) of a message listing, in time order (``sort_key, id``).

    Without a search, the ``chat_messages_time`` index gives that order (rows stream, no
    sort). With a search, one query per ``run`` (a ``seq`` range from
    :func:`~forensic.store.chats.search_runs`): the FTS hits of the run read in rowid order
    are in time order, and the FTS table drives the query (CROSS JOIN keeps that order of
    evaluation), so the first rows come without reading every hit; :func:`message_rows`
    merges the runs. Each row ends with ``sort_key``. ``state``: True keeps only the messages
    flagged uncommitted (``db_state``), False leaves them out, None keeps all."""
    where, args = [f"m.item IN ({','.join('?' * len(items))})"], list(items)
    if platform:
        where.append("m.platform = ?"), args.append(platform)
    if conversation:
        where.append("m.conversation = ?"), args.append(conversation)
    if lo:
        where.append("m.sent_key >= CASE WHEN m.tz_known THEN ? ELSE ? END")
        args.extend([_us(lo), _us(lo - _EARLY)])
    if hi:
        where.append("m.sent_key <= CASE WHEN m.tz_known THEN ? ELSE ? END")
        args.extend([_us(hi), _us(hi + _LATE)])
    if state is not None:
        where.append(_UNCOMMITTED_SQL if state else f"NOT {_UNCOMMITTED_SQL} IS TRUE")
    cols = "m.id, m.item, a.fields, a.corrupted, a.warnings, f.locator, m.sort_key"
    joins = "JOIN artifacts a ON a.id = m.id LEFT JOIN files f ON f.id = a.file_id"
    if fts is not None:
        if run is None:
            raise ValueError("a search query needs a seq run")
        sql = (f"SELECT {cols} FROM messages_fts h CROSS JOIN chat_messages m ON m.seq = h.rowid {joins} "
               "WHERE h.messages_fts MATCH ? AND h.rowid BETWEEN ? AND ? AND " + " AND ".join(where)
               + " ORDER BY h.rowid")
        args = [fts, run[0], run[1], *args]
    else:
        # the time index streams the listing; one conversation is read through its own index
        index = "" if conversation else "INDEXED BY chat_messages_time "
        sql = (f"SELECT {cols} FROM chat_messages m {index}{joins} "
               "WHERE " + " AND ".join(where) + " ORDER BY m.sort_key, m.id")
    if limit:
        sql += " LIMIT ?"
        args.append(limit)
    return sql, args


def message_rows(db, items: list[str], platform: str | None = None, conversation: str | None = None,
                 lo: datetime | None = None, hi: datetime | None = None, fts: str | None = None,
                 limit: int | None = None, state: bool | None = None) -> Iterator:
    """The rows of a message listing, in time order (``sort_key, id``), streamed: the first
    ones come before the last ones are read. At most ``limit`` rows. ``state``: as for
    :func:`message_query`."""
    kw = dict(platform=platform, conversation=conversation, lo=lo, hi=hi, fts=fts, limit=limit, state=state)
    if fts is None:
        sql, args = message_query(items, **kw)
        yield from db.execute(sql, args)
        return
    streams = []
    for run in search_runs(db, items):
        sql, args = message_query(items, run=run, **kw)
        streams.append(db.execute(sql, args))
    rows = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=lambda r: (r[6], r[0]))
    yield from itertools.islice(rows, limit) if limit else rows


@click.command()
@click.option("--item", default=None, help="Only this evidence item.")
@click.option("--platform", default=None, help="Only this platform (whatsapp, telegram, messenger, instagram, "
                                                "discord, sms, imessage, ...).")
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
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many messages.")
@json_option
@with_case
def messages(case: Case, item: str | None, platform: str | None, conversation: str | None, from_: str | None,
             to: str | None, search: str | None, state: bool | None, limit: int | None, as_json: bool) -> int:
    """List chat messages found by triage (every platform, one shape), in time order.

    Messages whose time zone is unknown (WhatsApp text exports without --assume-tz, Telegram
    exports without Unix times) are placed and filtered by their wall clock read as UTC, and a
    time filter keeps them when they could be in range (wall clock within FROM-12h .. TO+14h);
    they are shown with tz_known false.

    A phone database found with a hot journal or a write-ahead log is read in its committed
    state; the messages only its unfinished transaction holds are listed too, flagged U
    (db_state "uncommitted"): evidence, but not ordinary messages of that database.

    On a terminal: a table (flags explained under it). In a pipe: one compact line per
    message, the evidence item last (after a tab). With --json: JSON Lines.
    """
    scope = ListingScope(case, item)
    items = scope.items
    lo, hi = _bound(from_, False, "--from"), _bound(to, True, "--to")
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
                              fts=q, limit=limit, state=state)) as found:
        n = listing((message_json(r) for r in found), as_json=as_json,
                    columns=("Flags", "Sent", "Platform", "Conversation", "Sender", "Message", "Item"),
                    cells=_cells, line=_line, legend=MESSAGES_LEGEND, no_wrap=("Flags",))
    scope.report("messages", n, filter_words(("--platform", platform), ("--conversation", conversation),
                                             ("--from", from_), ("--to", to), ("--search", search),
                                             ("--uncommitted", state is True), ("--no-uncommitted", state is False)),
                 hint="`forensic conversations` lists the conversation ids" if conversation else None)
    return 0


@click.command()
@click.option("--item", default=None, help="Only this evidence item.")
@click.option("--platform", default=None, help="Only this platform.")
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
    where, args = [f"item IN ({','.join('?' * len(items))})"], list(items)
    if platform:
        where.append("platform = ?"), args.append(platform)
    groups = case.db.execute(
        "SELECT item, platform, conversation, max(conv_title) AS title, count(*) AS n, min(id) AS first_id, "
        "min(sent_key) AS lo, max(sent_key) AS hi, group_concat(DISTINCT file_id) AS files FROM chat_messages "
        "WHERE " + " AND ".join(where) + " GROUP BY item, platform, conversation "
        "ORDER BY item, lo IS NULL, lo, platform, conversation", args).fetchall()
    pending = _uncommitted_counts(case.db, items, platform)
    out = []
    for g in groups:
        def at(key):
            if key is None:
                return None
            r = case.db.execute("SELECT sent_at FROM chat_messages WHERE item = ? AND platform IS ? AND "
                                "conversation IS ? AND sent_key = ? ORDER BY id LIMIT 1",
                                (g["item"], g["platform"], g["conversation"], key)).fetchone()
            return r[0] if r else None
        first = case.db.execute("SELECT json_extract(fields, '$.participants') FROM artifacts WHERE id = ?",
                                (g["first_id"],)).fetchone()
        participants = json.loads(first[0]) if first and first[0] else []
        source = []
        for fid in sorted(int(x) for x in (g["files"] or "").split(",") if x):
            f = case.db.execute("SELECT path, locator FROM files WHERE id = ?", (fid,)).fetchone()
            if f is not None:
                source.append({"item": g["item"], "path": f["path"], "locator": f["locator"]})
        out.append({"item": g["item"], "platform": g["platform"], "conversation": g["conversation"],
                    "title": g["title"], "participants": participants, "messages": g["n"],
                    "first_at": at(g["lo"]), "last_at": at(g["hi"]), "source": source,
                    "uncommitted": pending.get((g["item"], g["platform"], g["conversation"]), 0)})
    if as_json:
        emit_jsonl(out)
    elif stdout_is_terminal():
        # the Uncommitted column only in a case that has such messages
        columns = ("Platform", "Messages") + (("Uncommitted",) if pending else ()) + \
            ("First", "Last", "Title", "Conversation", "Item")
        table_pages(columns, ((c["platform"], f"{c['messages']:,}")
                              + ((f"{c['uncommitted']:,}" if c["uncommitted"] else "",) if pending else ())
                              + (_when(c["first_at"]), _when(c["last_at"]), c["title"] or "-", c["conversation"],
                                 c["item"]) for c in out),
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


def _uncommitted_counts(db, items: list[str], platform: str | None) -> dict[tuple, int]:
    """(item, platform, conversation) -> how many of its messages are flagged uncommitted; only
    the conversations that have some. Read from the chat artifacts' rows (their source_ref
    first: the fields of the few that match only)."""
    where, args = [f"a.item IN ({','.join('?' * len(items))})"], list(items)
    if platform:
        where.append("m.platform = ?"), args.append(platform)
    rows = db.execute(
        "SELECT m.item, m.platform, m.conversation, count(*) FROM artifacts a INDEXED BY artifacts_type "
        "JOIN chat_messages m ON m.id = a.id WHERE a.record_type = 'chat/message' AND "
        + " AND ".join(where) + f" AND {_UNCOMMITTED_SQL} GROUP BY m.item, m.platform, m.conversation", args)
    return {(r[0], r[1], r[2]): r[3] for r in rows}


COMMANDS = [messages, conversations]
