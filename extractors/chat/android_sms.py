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
from forensic.extractors.chat.sqlite_chat import (ROW_ERRORS, OWNER, SqliteChatExtractor, lookup, ms_iso, rows,
                                                  source, unix_ms)
from forensic.extractors.records import ArtifactRecord, RecordBatch
from forensic.timestamps import Timestamp, ms_iso_utc, utc_row

_BOX = {1: "inbox", 2: "sent", 3: "draft", 4: "outbox", 5: "failed", 6: "queued"}
_OUT = {2, 3, 4, 5, 6}
_SMS_COLS = ("thread_id", "address", "date", "date_sent", "type", "read", "seen", "subject", "body",
             "service_center", "status", "locked", "error_code")
_PDU_COLS = ("thread_id", "date", "date_sent", "msg_box", "read", "sub", "m_type", "m_id", "ct_t", "text_only")
_PART_COLS = ("mid", "seq", "ct", "name", "fn", "cl", "_data", "text")
_MS_TYPES = (int, type(None))


def _sms_times(date, date_sent, outgoing: bool) -> tuple[str, int | None, str | None, str | None]:
    """``_sms``'s times of a text whose ``date`` and ``date_sent`` are Unix milliseconds
    (integers) or NULL: (time_basis, the sent time's raw value, sent_at, received_at), the
    times as ISO text. TypeError for a value of another type; OverflowError out of range."""
    if type(date) not in _MS_TYPES or type(date_sent) not in _MS_TYPES:
        raise TypeError("not Unix milliseconds")
    if date_sent and not outgoing:       # the sender's clock, for received texts (0 when unknown)
        return "date_sent", date_sent, ms_iso_utc(date_sent), ms_iso_utc(date) if date else None
    sent = ms_iso_utc(date) if date else None
    return "date", date, sent, None if outgoing else sent


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
        return {"threads": threads, "parts": parts, "addrs": addrs, "seen": {}, "parties": {}}

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
        """The records of a read's SMS rows, the same as ``_sms`` makes them, without a
        Timestamp or a record object each: the usual times, Unix milliseconds as integers, go
        straight to their text and stored row, and a thread's conversation, participants and
        parties are made once (shared by its records: a batch is stored, never changed). A
        row this cannot make (a time as text or out of range, a value of a type the app never
        writes) is made by ``_sms`` itself."""
        batch = RecordBatch(RECORD_TYPE)
        fields, times, corrupted, warnings, refs = (batch.fields.append, batch.times.append, batch.corrupted.append,
                                                    batch.warnings.append, batch.source_refs.append)
        path, threads, seen, parties = item.path, ctx["threads"], ctx["seen"], ctx["parties"]
        for r in got:
            (rowid, thread_id, address, date, date_sent, box, read, _seen, subject, body, service_center,
             _status, _locked, _error_code) = r
            try:
                outgoing = box in _OUT
                basis, ms, sent, received = _sms_times(date, date_sent, outgoing)
                conversation, participants, sender, recipients = (
                    parties.get((thread_id, address, outgoing))
                    or self._parties(thread_id, threads, address, outgoing, seen, parties))
                text = {"platform": "sms", "conversation": conversation, "participants": participants,
                        "sender": sender, "recipients": recipients, "sent_at": sent, "sent_at_utc": sent,
                        "tz_known": sent is not None, "tz_source": "utc" if sent is not None else "unknown",
                        "body": body or "", "attachments": (), "reply_to": None, "edited": False, "edited_at": None,
                        "deleted": False, "system": False, "source": {"path": path, "table": "sms", "row_id": rowid},
                        "kind": "sms", "direction": "outgoing" if outgoing else "incoming",
                        "box": _BOX.get(box, box), "time_basis": basis, "received_at": received,
                        "read": bool(read) if read is not None else None, "subject": subject,
                        "service_center": service_center, "address": address}
            except ROW_ERRORS:                  # made one by one: _sms's record, or its words for the row
                try:
                    batch.add(self._sms(r, item, threads, seen))
                except ROW_ERRORS as exc:
                    problems.append(f"table sms: row {rowid} not readable as a message ({exc})")
                continue
            fields(text)
            times((utc_row("sent", sent, str(ms)),) if sent is not None else ())
            corrupted(sent is None)
            warnings(())
            refs(f"sms:{rowid}")
        return batch

    def _parties(self, thread_id, threads, address, outgoing: bool, seen: dict, parties: dict) -> tuple:
        """(conversation, participants, sender, recipients) of an SMS as ``_sms`` gives them,
        made once per thread, address and direction (lists as tuples: the same JSON), kept in
        ``parties`` under (thread_id, address, outgoing)."""
        conv_id, title, members = self._thread(thread_id, threads, address, seen)
        got = parties[(thread_id, address, outgoing)] = (
            {"id": conv_id, "title": title}, tuple(members), OWNER if outgoing else address,
            ((address,) if address else ()) if outgoing else (OWNER,))
        return got

    def _conversation(self, thread_id, threads, fallback: list[str]) -> tuple[dict, list[str]]:
        parties = threads.get(thread_id) or fallback
        return ({"id": f"thread:{thread_id}" if thread_id is not None else f"address:{','.join(fallback)}",
                 "title": ", ".join(parties) or None}, parties)

    def _thread(self, thread_id, threads, address, seen: dict) -> tuple[str, str | None, list[str]]:
        """(conversation id, title, participants) of an SMS, worked out once per thread and
        address (a million texts share a few hundred threads); callers copy before use."""
        key = (thread_id, address)
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
