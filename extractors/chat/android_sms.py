"""Android telephony database ``mmssms.db`` (com.android.providers.telephony): SMS and MMS.

``sms``: one row per text; ``date`` (received/stored) and ``date_sent`` in Unix milliseconds
(UTC); ``type`` 1 inbox, 2 sent, 3 draft, 4 outbox, 5 failed, 6 queued; ``address`` the other
party. ``pdu`` (MMS): ``date`` in Unix *seconds*; ``msg_box`` as ``type``; its ``part`` rows
hold the text (``text/plain``) and media (``_data`` = path on the device, linked in
``finalize``); ``addr`` rows its parties (type 137 from, 151 to, 130 cc, 129 bcc).
Conversations are ``threads``; their parties come from ``canonical_addresses``.
"""
from __future__ import annotations

from typing import Iterator

from forensic.extractors.chat.common import RECORD_TYPE, attachment, message_record
from forensic.extractors.chat.sqlite_chat import (EMPTY_JSON, FLAG_JSON, MS_TYPES, NO_TIME_JSON, NULL_JSON,
                                                  ROW_ERRORS, OWNER, SqliteChatExtractor, keep_head, lookup, ms_iso,
                                                  rows, source, unix_ms)
from forensic.extractors.records import ArtifactRecord, RecordBatch
from forensic.store.records import fields_json, json_string
from forensic.timestamps import Timestamp, ms_iso_utc, utc_row

_BOX = {1: "inbox", 2: "sent", 3: "draft", 4: "outbox", 5: "failed", 6: "queued"}
_OUT = {2, 3, 4, 5, 6}
_SMS_COLS = ("thread_id", "address", "date", "date_sent", "type", "read", "seen", "subject", "body",
             "service_center", "status", "locked", "error_code")
_PDU_COLS = ("thread_id", "date", "date_sent", "msg_box", "read", "sub", "m_type", "m_id", "ct_t", "text_only")
_PART_COLS = ("mid", "seq", "ct", "name", "fn", "cl", "_data", "text")
# JSON texts of the values _sms_batch writes (fields_json's): a box or read state not here
# (FLAG_JSON) is made by _sms
_BOX_JSON = {None: NULL_JSON, **{box: fields_json(name) for box, name in _BOX.items()}}
_DIRECTION = {True: '"outgoing"', False: '"incoming"'}


def _sms_times(date, date_sent, outgoing: bool) -> tuple[str, str, tuple]:
    """``_sms``'s times of a text whose ``date`` and ``date_sent`` are Unix milliseconds
    (integers) or NULL, as ``_sms_batch`` writes them: the JSON of its fields ``sent_at`` to
    ``tz_source`` (with the ", " after), that of ``time_basis`` and ``received_at``, and its
    timestamp rows (none: no readable time, the record is corrupted). The times' ISO texts
    hold nothing JSON escapes. TypeError for a value of another type; OverflowError out of
    range."""
    if type(date) not in MS_TYPES or type(date_sent) not in MS_TYPES:
        raise TypeError("not Unix milliseconds")
    if date_sent and not outgoing:       # the sender's clock, for received texts (0 when unknown)
        basis, ms = "date_sent", date_sent
        sent = ms_iso_utc(ms)
        received = f'"{ms_iso_utc(date)}"' if date else NULL_JSON       # date: when the phone stored it
    elif date:
        basis, ms = "date", date
        sent = ms_iso_utc(ms)
        received = NULL_JSON if outgoing else f'"{sent}"'                # a received text's one time
    else:
        return NO_TIME_JSON, '"time_basis": "date", "received_at": null', ()
    return (f'"sent_at": "{sent}", "sent_at_utc": "{sent}", "tz_known": true, "tz_source": "utc", ',
            f'"time_basis": "{basis}", "received_at": {received}',
            (utc_row("sent", sent, str(ms)),))


class AndroidSmsExtractor(SqliteChatExtractor):
    NAME = "android_sms"
    VERSION = "2"
    DESCRIPTION = "Android SMS/MMS database (mmssms.db)"
    FILE_NAMES = ("mmssms.db",)
    MARKERS = (b"CREATE TABLE sms (", b"CREATE TABLE pdu (")
    REQUIRED = ("sms", "pdu")

    MESSAGE_TABLES = {"sms": _SMS_COLS, "pdu": _PDU_COLS}
    TUPLE_TABLES = ("sms",)

    def context(self, conn, tables, item, problems) -> dict:
        for needed in ("sms", "pdu"):
            if needed not in tables:
                problems.append(f"table {needed} missing: its messages cannot be read")
        canon: dict = {}
        if "canonical_addresses" in tables:
            found = lookup(conn, "canonical_addresses", tables["canonical_addresses"], "ROWID", ("address",), problems)
            canon = {k: r["address"] for k, r in found.items()}
        threads: dict[int, list[str]] = {}
        if "threads" in tables and "recipient_ids" in tables["threads"]:
            for r in rows(conn, "threads", tables["threads"], ("recipient_ids",), problems):
                ids = (r["recipient_ids"] or "").split()
                threads[r["_rowid"]] = [canon.get(int(i), i) if i.isdigit() else i for i in ids]
        parts: dict[int, list] = {}
        addrs: dict[int, list] = {}
        if "pdu" in tables:
            if "part" in tables:
                for p in rows(conn, "part", tables["part"], _PART_COLS, problems):
                    parts.setdefault(p["mid"], []).append(p)
            else:
                problems.append("table part missing: MMS text and media cannot be read")
            if "addr" in tables:
                for a in rows(conn, "addr", tables["addr"], ("msg_id", "address", "type"), problems):
                    addrs.setdefault(a["msg_id"], []).append(a)
        return {"threads": threads, "parts": parts, "addrs": addrs, "seen": {}, "heads": {}}

    def row_record(self, table, row, ctx, item) -> ArtifactRecord:
        if table == "sms":
            return self._sms(row, item, ctx["threads"], ctx["seen"])
        rowid = row["_rowid"]
        return self._mms(row, item, ctx["threads"], ctx["parts"].get(rowid, []), ctx["addrs"].get(rowid, []))

    def row_batches(self, table, got, ctx, item, problems) -> Iterator[RecordBatch]:
        if table == "sms":
            yield self._sms_batch(got, item, ctx, problems)
        else:
            yield from super().row_batches(table, got, ctx, item, problems)

    def _sms_batch(self, got, item, ctx: dict, problems: list[str]) -> RecordBatch:
        """The records of a read's SMS rows, the same as ``_sms`` makes them, written straight
        to the text they are stored as: no Timestamp, record object or fields dict each, and
        each record's fields as their JSON text, written piece by piece exactly as
        ``fields_json`` writes the dict ``_sms`` makes (the tests compare the two paths byte
        for byte). A thread's fields before the time (conversation, participants, sender,
        recipients) are written once per thread, address and direction. This is for the usual
        row: times as Unix milliseconds (integers), texts as text or NULL, a box and read state
        the app writes; any other row is made by ``_sms`` itself."""
        batch = RecordBatch(RECORD_TYPE)
        fields, times, corrupted, warnings, refs = (batch.fields.append, batch.times.append, batch.corrupted.append,
                                                    batch.warnings.append, batch.source_refs.append)
        threads, seen, heads = ctx["threads"], ctx["seen"], ctx["heads"]
        # the fields between the body and the row id, the same for every row of this database
        middle = ('"attachments": [], "reply_to": null, "edited": false, "edited_at": null, "deleted": false, '
                  f'"system": false, "source": {{"path": {json_string(item.path)}, "table": "sms", "row_id": ')
        for r in got:
            (rowid, thread_id, address, date, date_sent, box, read, _seen, subject, body, service_center,
             _status, _locked, _error_code) = r
            try:
                outgoing = box in _OUT
                when, basis, stamps = _sms_times(date, date_sent, outgoing)
                head = heads.get((thread_id, address, outgoing)) or self._head(thread_id, address, outgoing, ctx)
                # a value of another type raises (json_string: TypeError; the tables: KeyError)
                text = (f'{head}{when}"body": {json_string(body) if body else EMPTY_JSON}, {middle}{rowid}}}, '
                        f'"kind": "sms", "direction": {_DIRECTION[outgoing]}, "box": {_BOX_JSON[box]}, {basis}, '
                        f'"read": {FLAG_JSON[read]}, '
                        f'"subject": {NULL_JSON if subject is None else json_string(subject)}, '
                        f'"service_center": {NULL_JSON if service_center is None else json_string(service_center)}, '
                        f'"address": {NULL_JSON if address is None else json_string(address)}}}')
            except ROW_ERRORS:                  # made one by one: _sms's record, or its words for the row
                try:
                    batch.add(self._sms(r, item, threads, seen))
                except ROW_ERRORS as exc:
                    problems.append(f"table sms: row {rowid} not readable as a message ({exc})")
                continue
            fields(text)
            times(stamps)
            corrupted(not stamps)
            warnings(())
            refs(f"sms:{rowid}")
        return batch

    def _head(self, thread_id, address, outgoing: bool, ctx: dict) -> str:
        """The JSON text of an SMS record's fields before its time (platform, conversation,
        participants, sender, recipients) as ``_sms`` makes them, with the ", " that follows:
        written once per thread, address and direction, kept in ``ctx["heads"]`` under
        (thread_id, address, outgoing)."""
        conv_id, title, members = self._thread(thread_id, ctx["threads"], address, ctx["seen"])
        text = fields_json({"platform": "sms", "conversation": {"id": conv_id, "title": title},
                            "participants": members, "sender": OWNER if outgoing else address,
                            "recipients": ([address] if address else []) if outgoing else [OWNER]})
        # each holds its thread's whole party list: a hostile file's texts in a thread of many
        # parties, each from an address of its own, would keep one per text (keep_head's budget)
        return keep_head(ctx, (thread_id, address, outgoing), text[:-1] + ", ", len(text) + 1)

    def _conversation(self, thread_id, threads, fallback: list[str]) -> tuple[dict, list[str]]:
        parties = threads.get(thread_id) or fallback
        return ({"id": f"thread:{thread_id}" if thread_id is not None else f"address:{','.join(fallback)}",
                 "title": ", ".join(parties) or None}, parties)

    def _thread(self, thread_id, threads, address, seen: dict) -> tuple[str, str | None, list[str]]:
        """(conversation id, title, participants) of an SMS, worked out once per thread (a
        million texts share a few hundred threads), or per thread and address for a thread
        whose parties are not known (its one party is the text's address); callers copy
        before use."""
        # one entry per known thread, however many addresses its texts name: a hostile file's
        # texts in a thread of many parties, each from an address of its own, kept a copy of
        # the party list per text
        key = (thread_id, None) if threads.get(thread_id) else (thread_id, address)
        got = seen.get(key)
        if got is None:
            conv, parties = self._conversation(thread_id, threads, [address] if address else [])
            got = seen[key] = (conv["id"], conv["title"], [OWNER, *(p for p in parties if p)])
        return got

    def _sms(self, r, item, threads, seen: dict) -> ArtifactRecord:
        problems: list[str] = []
        # unpacked, not read by name: sqlite3.Row looks a name up along its columns each time
        (rowid, thread_id, address, date, date_sent, box, read, _seen, subject, body, service_center,
         _status, _locked, _error_code) = r
        outgoing = box in _OUT
        conv_id, title, participants = self._thread(thread_id, threads, address, seen)
        # date_sent is the sender's clock for received texts (0 when unknown); date is when stored
        sent = None if outgoing else unix_ms(date_sent, "sent", problems)
        if sent is None:                 # sent texts, or received ones without the sender's time
            sent, basis = unix_ms(date, "sent", problems), "date"
            received = None if outgoing or sent is None else sent.iso_utc()
        else:
            basis, received = "date_sent", ms_iso(date, "sent", problems)
        if outgoing:
            sender, recipients = OWNER, [address] if address else []
        else:
            sender, recipients = address, [OWNER]
        return message_record(
            platform="sms", conversation={"id": conv_id, "title": title}, participants=list(participants),
            sender=sender, recipients=recipients, sent=sent, body=body or "", problems=problems,
            source={"path": item.path, "table": "sms", "row_id": rowid}, source_ref=f"sms:{rowid}",
            extra={"kind": "sms", "direction": "outgoing" if outgoing else "incoming", "box": _BOX.get(box, box),
                   "time_basis": basis,
                   "received_at": received,
                   "read": bool(read) if read is not None else None, "subject": subject,
                   "service_center": service_center, "address": address})

    def _mms(self, r, item, threads, parts, addrs) -> ArtifactRecord:
        problems: list[str] = []
        box = r["msg_box"]
        outgoing = box in _OUT
        frm = [a["address"] for a in addrs if a["type"] == 137]
        to = [a["address"] for a in addrs if a["type"] in (151, 130, 129)]
        conv, parties = self._conversation(r["thread_id"], threads, frm + to)
        sent = None
        if r["date"]:
            try:
                sent = Timestamp.from_unix("sent", int(r["date"]), raw=str(r["date"]))
            except (TypeError, ValueError, OverflowError):
                problems.append(f"pdu date {r['date']!r} is not a Unix time in seconds")
        texts, media = [], []
        for p in sorted(parts, key=lambda p: (p["seq"] or 0, p["_rowid"])):
            ct = (p["ct"] or "").lower()
            if ct == "text/plain":
                texts.append(p["text"] or "")
            elif ct != "application/smil":
                extra = {"content_type": p["ct"], "part_id": p["_rowid"]}
                if p["_data"]:
                    extra["path"] = p["_data"]
                media.append(attachment(p["name"] or p["fn"] or p["cl"] or (p["_data"] or "").rsplit("/", 1)[-1],
                                        **extra))
        sender = OWNER if outgoing else (frm[0] if frm and frm[0] != "insert-address-token" else None)
        recipients = [a for a in to if a != "insert-address-token"] if outgoing else [OWNER]
        return message_record(
            platform="sms", conversation=conv, participants=[OWNER] + [p for p in parties if p],
            sender=sender, recipients=recipients, sent=sent, body="\n".join(texts), attachments=media,
            problems=problems, source=source(item, "pdu", r["_rowid"]), source_ref=f"pdu:{r['_rowid']}",
            extra={"kind": "mms", "direction": "outgoing" if outgoing else "incoming", "box": _BOX.get(box, box),
                   "subject": r["sub"], "read": bool(r["read"]) if r["read"] is not None else None,
                   "m_type": r["m_type"]})
