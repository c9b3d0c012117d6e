"""What every chat extractor shares: the one ``chat/message`` record shape, attachment
linking by path suffix at the end of a triage (``finalize``), and damage-tolerant reading of
SQLite tables.

The record shape (every platform, every source)::

    platform, conversation {id, title}, participants, sender, recipients,
    sent_at, sent_at_utc, tz_known, tz_source, body,
    attachments [{name, sha256, locator, missing, ...}], reply_to, edited, deleted, system,
    source {path, line | json_pointer | table + row_id, ...}

plus whatever the platform adds (``message_id``, ``reactions``, ``service``, ...).
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any, Iterable, Iterator

from forensic.extractors.base import ExtractorInput
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from forensic.store.records import Link, Record
from forensic.store.view import StoreView
from forensic.timestamps import Timestamp

RECORD_TYPE = "chat/message"
# The shared record shape, in this order (every platform, every source); ``edited_at`` and a
# platform's own fields follow. Listings print them in this order.
MESSAGE_FIELDS = ("platform", "conversation", "participants", "sender", "recipients", "sent_at", "sent_at_utc",
                  "tz_known", "tz_source", "body", "attachments", "reply_to", "edited", "deleted", "system",
                  "source")
_LOCATOR_SEP = " › "
SQLITE_MAGIC = b"SQLite format 3\x00"


def attachment(name: str | None, **extra: Any) -> dict:
    """One attachment; ``sha256``/``locator``/``missing`` are filled in by ``finalize``
    (stored as a link: the custody log records the completed record's hash)."""
    out = {"name": name, "sha256": None, "locator": None, "missing": None}
    out.update(extra)
    return out


def message_record(*, platform: str, conversation: dict, participants: list, sender: str | None,
                   sent: Timestamp | None, body: str, source: dict, source_ref: str,
                   recipients: list | None = None, attachments: list | None = None,
                   reply_to: Any = None, edited: bool = False, deleted: bool = False,
                   system: bool = False, edited_ts: Timestamp | None = None,
                   problems: Iterable[str] = (), corrupted: bool = False,
                   extra: dict | None = None) -> ArtifactRecord:
    """A ``chat/message`` record in the shared shape. A message without a readable time is
    kept, flagged ``corrupted``."""
    if recipients is None:
        recipients = [p for p in participants if p != sender] if sender else []
    if sent is not None:
        sent_utc = sent.iso_utc()
        # a UTC time (no local wall clock) reads the same both ways
        sent_at = sent_utc if sent.local is None and sent_utc is not None else sent.iso()
        stamps: tuple[Timestamp, ...] = (sent,) if edited_ts is None else (sent, edited_ts)
    else:
        sent_at = sent_utc = None
        stamps = () if edited_ts is None else (edited_ts,)
    fields = {
        "platform": platform,
        "conversation": conversation,
        "participants": participants,
        "sender": sender,
        "recipients": recipients,
        "sent_at": sent_at,
        "sent_at_utc": sent_utc,
        "tz_known": sent.tz_known if sent else False,
        "tz_source": sent.tz_source if sent else "unknown",
        "body": body,
        "attachments": attachments or [],
        "reply_to": reply_to,
        "edited": edited,
        "edited_at": edited_ts.iso() if edited_ts else None,
        "deleted": deleted,
        "system": system,
        "source": source,
    }
    if extra:
        if fields.keys().isdisjoint(extra):
            fields.update(extra)
        else:
            for k, v in extra.items():
                if k not in fields:        # the shared fields win
                    fields[k] = v
    return ArtifactRecord(RECORD_TYPE, fields, stamps, sent is None or corrupted,
                          problems if type(problems) is tuple else tuple(problems), source_ref)


class Edits:
    """Changes ``finalize`` makes to stored records, gathered per record so that one record
    changed for two reasons (a contact's name, an attachment found) is one link."""

    def __init__(self) -> None:
        self._changed: dict[int, tuple[dict, list[str]]] = {}

    def fields(self, rec: Record) -> dict:
        """The fields of ``rec`` to change: this run's edited copy once there is one."""
        return self._changed[rec.id][0] if rec.id in self._changed else rec.fields

    def changed(self, rec: Record, fields: dict, reason: str) -> None:
        reasons = self._changed.setdefault(rec.id, (fields, []))[1]
        if reason not in reasons:
            reasons.append(reason)

    def links(self) -> list[Link]:
        return [Link(aid, fields, "; ".join(reasons)) for aid, (fields, reasons) in self._changed.items()]


# -- attachments ---------------------------------------------------------------------------------

def container_of(locator: str | None) -> str:
    """The locator of the folder/archive holding a file: everything but its last layer."""
    if not locator:
        return ""
    return locator.rsplit(_LOCATOR_SEP, 1)[0] if _LOCATOR_SEP in locator else ""


def _tail(path: str, n: int = 3) -> tuple[str, ...]:
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".", "~")]
    return tuple(parts[-n:])


def link_by_suffix(store: StoreView, item: str, extractor: str, edits: Edits | None = None,
                   limit_warnings: int = 100) -> list[ExtractionWarning | Link]:
    """Link attachments that carry a ``path`` (a path inside the export or the device) to the
    walked file whose path ends with the same last three components (fewer if the path has
    fewer), preferring the chat file's own container. Attachments without ``path`` (remote
    URLs, names only) are left as they are (``missing`` null: not looked for). Returns the
    warnings and, without ``edits`` (where a caller gathers its own), the links."""
    own = edits is None
    edits = Edits() if edits is None else edits
    records = store.records(item, RECORD_TYPE, extractor, with_attachments=True)
    wanted: dict[str, list] = {}
    parsed = []
    for rec in records:
        fields = edits.fields(rec)
        parsed.append((rec, fields, rec.path, rec.locator))
        for att in fields.get("attachments", []):
            p = att.get("path")
            if p:
                tail = _tail(p)
                if tail:
                    wanted.setdefault(tail[-1], [])
    for f in store.files_named(item, wanted):
        wanted[f.name].append((f.path, f.locator, f.sha256))
    warnings: list[ExtractionWarning | Link] = []
    missing = 0
    for rec, fields, chat_path, chat_loc in parsed:
        changed = False
        home = container_of(chat_loc)
        for att in fields.get("attachments", []):
            p = att.get("path")
            if not p:
                continue
            tail = _tail(p)
            hits = [c for c in wanted.get(tail[-1], ()) if _tail(c[0], len(tail)) == tail] if tail else []
            hits.sort(key=lambda c: (container_of(c[1]) != home, c[1]))
            if hits:
                att.update(sha256=hits[0][2], locator=hits[0][1], missing=False)
            else:
                att.update(sha256=None, locator=None, missing=True)
                missing += 1
                if missing <= limit_warnings:
                    warnings.append(ExtractionWarning(
                        extractor, f"attachment {p!r} of a message in {chat_path} is not among the walked files",
                        locator=chat_loc, detail={"artifact_id": rec.id}))
            changed = True
        if changed:
            edits.changed(rec, fields, "attachments looked for among the walked files")
    if missing > limit_warnings:
        warnings.append(ExtractionWarning(extractor, f"{missing - limit_warnings} more missing attachments"))
    return warnings + (edits.links() if own else [])


def is_local_path(ref: str | None) -> bool:
    """A reference to a file of the export/device (not a URL)."""
    return bool(ref) and "://" not in ref and not ref.startswith(("data:", "mailto:"))


# -- SQLite databases (opened by forensic.extractors.sqlite_journal) ------------------------------

def tables_of(conn: sqlite3.Connection) -> tuple[dict[str, set[str]], str | None]:
    """table -> column names; and the problem if the schema itself cannot be read."""
    out: dict[str, set[str]] = {}
    try:
        try:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        except (sqlite3.OperationalError, UnicodeDecodeError) as exc:
            if not bad_text(exc):
                raise
            conn.text_factory = lenient_text
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    except sqlite3.DatabaseError as exc:
        return out, f"schema unreadable: {exc}"
    for name in names:
        try:
            out[name] = {r[1] for r in conn.execute(f'PRAGMA table_info("{name}")')}
        except sqlite3.DatabaseError:
            out[name] = set()
    return out, None


def lenient_text(raw: bytes) -> str:
    """A TEXT value that is not valid UTF-8 (hostile or damaged), with U+FFFD in place of
    the bad bytes: set as a connection's ``text_factory`` once such a value is met (Python's
    default raises, and costs nothing on good text)."""
    return raw.decode("utf-8", "replace")


def read_rows(conn: sqlite3.Connection, table: str, sql: str, problems: list[str],
              key: str = "ROWID", batch: int = 2000) -> Iterator[sqlite3.Row]:
    """The rows of :func:`read_batches`, one by one."""
    for rows in read_batches(conn, table, sql, problems, key, batch):
        yield from rows


def read_batches(conn: sqlite3.Connection, table: str, sql: str, problems: list[str],
                 key: str = "ROWID", batch: int = 2000, tuples: bool = False) -> Iterator[list]:
    """Rows of ``sql`` (which must select ``key`` AS _rowid, first, from ``table`` and accept
    ``WHERE … _rowid > ?`` via a ``{after}`` placeholder), read in rowid batches so that a
    damaged page costs only the batch it sits in: the read resumes past it, and each loss is
    described in ``problems``. Each query's rows come as one list (the rows read before a
    damaged page too): ``sqlite3.Row`` objects, or with ``tuples`` plain tuples (cheaper,
    for a reader that unpacks them). Reading only ever goes forwards (a damaged b-tree may answer out of
    order), and text that is not valid UTF-8 is read with replacement characters."""
    last = None
    careful = 0                 # rows to read one query each (near damage: no read-ahead)
    jump = 1
    while True:
        size = 1 if careful else batch
        n = 0
        before = last
        got: list = []
        try:
            cur = conn.cursor()
            if tuples:
                cur.row_factory = None
            cur.execute(sql.format(after=f"{key} > ?" if last is not None else "1"),
                        ((last,) if last is not None else ()) + (size,))
            for r in cur:                     # rows before a damaged page are kept
                n += 1
                rowid = r[0]
                if last is not None and rowid <= last:
                    continue                  # a damaged b-tree answering out of order: never read backwards
                last = rowid
                jump = 1
                got.append(r)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            if got:
                yield got
            if bad_text(exc) and conn.text_factory is not lenient_text:
                conn.text_factory = lenient_text   # the rest of this database: bad bytes replaced
                problems.append(f"table {table}: text that is not valid UTF-8 after rowid "
                                f"{last if last is not None else 0}, read with U+FFFD in place of the bad bytes")
                continue
            if not careful:
                careful = 64                  # retry row by row up to the damage
                continue
            nxt = _next_readable(conn, table, key, (last or 0) + jump - 1)
            jump *= 2
            problems.append(f"table {table}: rows after rowid {last if last is not None else 0} unreadable "
                            f"({exc})" + (f"; reading resumed at rowid {nxt}" if nxt is not None else
                                          "; rest of the table skipped"))
            if nxt is None:
                return
            last = max(nxt - 1, last or 0)    # forwards only, whatever a damaged tree answers
            continue
        if got:
            yield got
        if n and last == before:
            return                            # rows, but none past the last one read: no way forwards
        if careful:
            careful -= 1
            if n == 0:
                return
            continue
        if n < size:
            return


def bad_text(exc: BaseException) -> bool:
    """Whether reading failed on TEXT that is not valid UTF-8: Python's sqlite3 reports it as
    an OperationalError ('Could not decode to UTF-8 column ...'), or as the UnicodeDecodeError
    met while writing that message."""
    return isinstance(exc, UnicodeDecodeError) or (isinstance(exc, sqlite3.OperationalError)
                                                   and str(exc).startswith("Could not decode to UTF-8"))


def _next_readable(conn, table: str, key: str, last) -> int | None:
    """A readable rowid beyond ``last`` found by probing rowids upwards (exponential steps),
    or None."""
    try:
        top = conn.execute(f'SELECT max({key}) FROM "{table}"').fetchone()[0]
    except sqlite3.DatabaseError:
        top = None
    start = (last or 0) + 1
    if top is None:
        top = start + (1 << 20)
    step = 1
    probe = start
    while probe <= top:
        try:
            r = conn.execute(f'SELECT {key} FROM "{table}" WHERE {key} >= ? ORDER BY {key} LIMIT 1',
                             (probe,)).fetchone()
            if r is None:
                return None
            if r[0] < probe:                  # a damaged b-tree answering out of order: look further on
                probe += step
                step *= 2
                continue
            # the row itself must be readable too
            conn.execute(f'SELECT * FROM "{table}" WHERE {key} = ?', (r[0],)).fetchone()
            return r[0]
        except sqlite3.DatabaseError:
            probe += step
            step *= 2
    return None


# -- JSON exports --------------------------------------------------------------------------------
MAX_JSON_BYTES = 512 * 1024 * 1024      # loaded whole (json.loads) up to this size


def json_mime(mime: str | None) -> bool:
    """May content of this MIME type be a JSON export (libmagic calls JSON text/plain too)?"""
    return not mime or mime.startswith("text/") or mime in ("application/json", "application/octet-stream")


def load_json_export(item: ExtractorInput, extractor: str) -> tuple[Any, str | None]:
    """(document, None), or (None, a warning) for a file that is too large or not JSON."""
    if item.size > MAX_JSON_BYTES:
        return None, (f"JSON export of {item.size} bytes is over the {MAX_JSON_BYTES} byte limit "
                      "for this reader; skipped")
    try:
        with item.stream() as stream:
            raw = stream.read(MAX_JSON_BYTES + 1)
        return json.loads(raw.decode("utf-8-sig", "replace")), None
    except (ValueError, RecursionError) as exc:
        return None, f"not readable as JSON: {exc}"
