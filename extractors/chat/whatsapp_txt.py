"""WhatsApp "Export chat" text files (``_chat.txt``, ``WhatsApp Chat with NAME.txt``).

Recognised by content: the first lines are message headers in one of WhatsApp's layouts,
whatever the file is called. Each message becomes one ``chat/message`` record citing its
line. Times in these exports are the phone's wall clock with no zone: they are kept local
and flagged (``tz_known`` false) unless the examiner states the zone for the item
(``assume_tz``). The parsing itself lives in :mod:`forensic.extractors.chat.whatsapp_text`.

Attribution: a header that names a sender ('Name:') keeps it, whatever the text (iOS writes
U+200E before some texts); only a line with no 'Name:' part is a system message. WhatsApp's
own notices that iOS writes under the chat's name (encryption, security code) are system
lines, as Android writes them with no name: marked ``app_notice``, the name kept as
``actor``. A 12-hour header with an impossible hour ('23:59 PM') is kept at its literal
24-hour time, with a warning on the record. A maps link
('https://maps.google.com/?q=LAT,LON') gives the shared ``location`` field
({latitude, longitude, source}).

``finalize`` links each attachment named in the text (``IMG-…-WA0001.jpg (file attached)``,
``<attached: 00000012-PHOTO-….jpg>``) to the file of that name in the same folder or archive
as the chat, with its SHA-256 from the walk; an attachment not found there is flagged.
"""
from __future__ import annotations

import posixpath
from datetime import datetime, timedelta
from typing import Iterable, Iterator

from forensic.extractors.base import Extractor, ExtractorInput
from forensic.extractors.chat import whatsapp_text as wt
from forensic.store.records import Link
from forensic.store.view import StoreView
from forensic.extractors.chat.whatsapp_locale import title_from_name
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from forensic.timestamps import Timestamp

_TEXT_MIMES = ("text/", "application/octet-stream")
LOCATION_SOURCE = "maps link in the message text"
_LOCATOR_SEP = " › "


def resolve_zone(name: str | None):
    """An IANA zone from the item options, or None (and the reason) when unusable."""
    if not name:
        return None, None
    try:
        from zoneinfo import ZoneInfo
        return ZoneInfo(str(name)), None
    except Exception as exc:   # unknown zone, or no tz database
        return None, f"assume_tz {name!r} is not a known time zone ({exc.__class__.__name__}); times kept local"


def sent_timestamp(local: datetime, raw: str, zone) -> Timestamp:
    """'sent' timestamp of a wall-clock time: zone unknown, or the examiner's assumed zone."""
    if zone is None:
        return Timestamp.local_unknown("sent", local, raw)
    offset = zone.utcoffset(local)
    return Timestamp.local_with_offset("sent", local, int(offset / timedelta(minutes=1)),
                                       "assumed", raw)


def conversation_title(path: str, name: str) -> str | None:
    """From the export's file name, or for ``_chat.txt`` from its folder or ZIP name."""
    title = title_from_name(name)
    if title:
        return title
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    for part in reversed(parts[:-1]):
        title = title_from_name(part)
        if title:
            return title
    return None


class WhatsAppTxtExtractor(Extractor):
    NAME = "whatsapp_txt"
    VERSION = "1"
    DESCRIPTION = "WhatsApp chat exports (.txt, Android and iOS layouts, any app language)"
    RECORD_TYPES = ("chat/message",)

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        if mime and not mime.startswith(_TEXT_MIMES):
            return False
        if not head:
            return False
        facts = wt.ChatFacts()
        import io
        lines = list(wt.iter_lines(io.BytesIO(head[:16384]), facts))
        if len(head) > 16384 and len(lines) > 1:
            lines = lines[:-1]            # the last line may be cut
        return wt.looks_like_whatsapp(lines)

    def extract(self, item: ExtractorInput) -> Iterator[ArtifactRecord | ExtractionWarning]:
        options = item.options or {}
        facts = wt.ChatFacts()
        with item.stream() as stream:
            wt.scan_blocks(wt.iter_blocks(stream, facts), options.get("date_order"), facts)
        if facts.header_lines == 0:
            return                                     # not a WhatsApp export
        zone, zone_problem = resolve_zone(options.get("assume_tz"))
        if zone_problem:
            yield ExtractionWarning(self.NAME, zone_problem)
        date_order = options.get("date_order")
        if date_order and date_order not in wt.DATE_ORDERS:
            yield ExtractionWarning(self.NAME, f"date_order {date_order!r} is not one of "
                                               f"{', '.join(wt.DATE_ORDERS)}; ignored")
        title = conversation_title(item.path, item.name)
        conv_id = item.path
        if title is None and item.container:
            # a _chat.txt inside "WhatsApp Chat - NAME.zip": the archive names the chat, and
            # the full location keeps two such exports in one item apart
            title = title_from_name(item.container.split(" › ")[-1].rsplit("/", 1)[-1])
            if title is not None and item.locator:
                conv_id = item.locator
        participants = list(facts.senders)
        conversation = {"id": conv_id, "title": title}
        counts = wt.ChatCounts()
        memo: dict = {}             # this file's: the last time read, recipients per sender
        with item.stream() as stream:
            for msg in wt.parse_blocks(wt.iter_blocks(stream), facts, counts):
                yield self._record(msg, item, facts, conversation, participants, zone, memo)
        for text in wt.facts_warnings(facts, counts):
            yield ExtractionWarning(self.NAME, text, detail=_facts_detail(facts, counts))
        if counts.corrupt_lines:
            yield ExtractionWarning(self.NAME, f"{counts.corrupt_lines} line(s) look like message "
                                               "headers but cannot be read; kept as flagged records",
                                    detail=_facts_detail(facts, counts))

    def _record(self, msg: wt.ChatMessage, item: ExtractorInput, facts: wt.ChatFacts,
                conversation: dict, participants: list[str], zone, memo: dict | None = None) -> ArtifactRecord:
        """One message's record. ``memo``: this file's caches (times read, recipients per
        sender), kept by the caller from one message to the next."""
        memo = memo if memo is not None else {}
        timestamps: tuple[Timestamp, ...] = ()
        sent_at = sent_at_utc = None
        tz_known, tz_source = False, "unknown"
        if msg.local is not None:
            # a time read before (several messages a minute; the same minute again later)
            times = memo.get("times")
            if times is None:
                times = memo["times"] = {}
            hit = times.get(msg.raw_time)
            if hit is not None and hit[0] == msg.local:
                timestamps, sent_at, sent_at_utc, tz_known, tz_source = hit[1]
            else:
                ts = sent_timestamp(msg.local, msg.raw_time, zone)
                timestamps = (ts,)
                sent_at, sent_at_utc = ts.iso(), ts.iso_utc()
                tz_known, tz_source = ts.tz_known, ts.tz_source
                if len(times) >= 20_000:
                    times.clear()
                times[msg.raw_time] = (msg.local, (timestamps, sent_at, sent_at_utc, tz_known, tz_source))
        recipients = []
        if msg.sender:
            cache = memo.get("recipients")
            if cache is None:
                cache = memo["recipients"] = {}
            others = cache.get(msg.sender)
            if others is None:
                others = [p for p in participants if p != msg.sender]
                if len(cache) < 10_000:
                    cache[msg.sender] = others
            recipients = others.copy()
        source = {"path": item.path, "line": msg.line}
        if msg.line_end != msg.line:
            source["line_end"] = msg.line_end
        fields = {
            "platform": "whatsapp",
            "conversation": conversation,
            "participants": participants,
            "sender": msg.sender,
            "recipients": recipients,
            "sent_at": sent_at,
            "sent_at_utc": sent_at_utc,
            "tz_known": tz_known,
            "tz_source": tz_source,
            "body": msg.body,
            "attachments": [{"name": a, "sha256": None, "locator": None, "missing": None}
                            for a in msg.attachments] if msg.attachments else [],
            "media_omitted": msg.media_omitted,
            "reply_to": None,
            "edited": msg.edited,
            "deleted": msg.deleted,
            "system": msg.system,
            "source": source,
            "date_order": facts.date_order,
            "date_order_ambiguous": facts.date_order_ambiguous,
            "export_style": facts.layout.style if facts.layout else None,
        }
        if msg.app_notice:
            fields["app_notice"] = True
            fields["actor"] = msg.actor
        if msg.location is not None:
            # the shared-location shape every chat extractor writes (read by geo and timeline)
            fields["location"] = {"latitude": msg.location[0], "longitude": msg.location[1],
                                  "source": LOCATION_SOURCE}
        if msg.raw_time:
            fields["raw_time"] = msg.raw_time
        warnings = (msg.problem,) if msg.problem else ()
        return ArtifactRecord("chat/message", fields, timestamps, msg.corrupted, warnings, f"line {msg.line}")

    # -- attachments ---------------------------------------------------------------------------
    def finalize(self, store: StoreView, item: str) -> Iterable[ExtractionWarning | Link]:
        return link_attachments(store, item, self.NAME)


def _facts_detail(facts: wt.ChatFacts, counts: wt.ChatCounts) -> dict:
    return {
        "date_order": facts.date_order, "date_order_basis": facts.date_order_basis,
        "date_order_ambiguous": facts.date_order_ambiguous, "layout": facts.layout.style if facts.layout else None,
        "clock": facts.clock, "calendar": facts.calendar, "lines": facts.lines,
        "message_lines": counts.message_lines, "system_lines": counts.system_lines,
        "continuation_lines": counts.continuation_lines, "corrupt_lines": counts.corrupt_lines,
        "preamble_lines": counts.preamble_lines, "undecodable_lines": facts.undecodable_count,
    }


def _container(locator: str | None) -> str:
    """The locator of the folder/archive holding a file: everything but its last layer."""
    if not locator:
        return ""
    return locator.rsplit(_LOCATOR_SEP, 1)[0] if _LOCATOR_SEP in locator else ""


def link_attachments(store: StoreView, item: str, extractor: str,
                     relative: bool = False) -> list[ExtractionWarning | Link]:
    """Fill ``sha256``/``locator``/``missing`` of the attachments of ``extractor``'s chat
    messages in ``item`` from the files of the same folder/container as each chat file:
    the warnings, and a link for each message completed.

    ``relative``: attachment names are paths relative to the chat file's folder (Telegram's
    ``photos/photo_1.jpg``); otherwise they are bare file names."""
    folders: dict[tuple[str, str], dict[str, tuple]] = {}
    warnings: list[ExtractionWarning | Link] = []
    links: list[ExtractionWarning | Link] = []
    missing_total = 0
    for rec in store.records(item, "chat/message", extractor, with_attachments=True):
        fields, art_id, chat_path, chat_locator = rec.fields, rec.id, rec.path, rec.locator
        if chat_path is None:
            continue
        folder = posixpath.dirname(chat_path.replace("\\", "/"))
        container = _container(chat_locator)
        key = (folder, container)
        if key not in folders:
            folders[key] = _files_under(store, item, folder, container, relative)
        known = folders[key]
        changed = False
        for att in fields.get("attachments", []):
            name = att.get("name")
            if not name:
                continue
            wanted = posixpath.normpath(name.replace("\\", "/")) if relative else name
            hit = known.get(wanted)
            if hit is not None:
                att.update(sha256=hit[0], locator=hit[1], missing=False)
            else:
                att.update(sha256=None, locator=None, missing=True)
                missing_total += 1
                if missing_total <= 100:
                    ref = fields.get("source", {})
                    warnings.append(ExtractionWarning(
                        extractor, f"attachment {name!r} named at line {ref.get('line')} of "
                                   f"{chat_path} is not in the export's folder",
                        locator=chat_locator, detail={"artifact_id": art_id, "name": name}))
            changed = True
        if changed:
            links.append(Link(art_id, fields, "attachments looked for in the export's folder"))
    if missing_total > 100:
        warnings.append(ExtractionWarning(extractor, f"{missing_total - 100} more missing attachments"))
    return warnings + links


def _files_under(store: StoreView, item: str, folder: str, container: str, relative: bool) -> dict[str, tuple]:
    """name (or path relative to ``folder``) -> (sha256, locator) of the files in that folder
    (and, when ``relative``, below it) inside the same container."""
    prefix = (folder.rstrip("/") + "/") if folder else ""
    out: dict[str, tuple] = {}
    for f in store.files_under(item, prefix):
        path, locator, sha256 = f.path, f.locator, f.sha256
        if _container(locator) != container:
            continue
        path = path.replace("\\", "/")
        rel = path[len(prefix):] if prefix else path.lstrip("/")
        if not relative and "/" in rel:
            continue
        out.setdefault(rel, (sha256, locator))
    return out
