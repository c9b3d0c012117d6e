"""Telegram Desktop "Export chat history" JSON (``result.json``).

Two shapes: one chat (``{"name", "type", "id", "messages": [...]}``) or a full account
export (``{"chats": {"list": [chat, ...]}, "left_chats": {"list": [...]}, ...}``).
Recognised by content, whatever the file is called. ``date_unixtime`` is UTC; older exports
have only ``date``, the exporting computer's wall clock, kept local with the zone unknown.
Text is a string or an array of strings and entity objects (flattened). ``photo``/``file``
are paths relative to the export folder, linked to the walked files in ``finalize``.

The file is loaded whole (``json.load``) up to :data:`MAX_JSON_BYTES`; larger files are
skipped with a warning (a streaming reader is future work).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Iterator

from forensic.extractors.base import Extractor, ExtractorInput
from forensic.extractors.chat.common import MAX_JSON_BYTES, json_mime, load_json_export
from forensic.store.records import Link
from forensic.store.view import StoreView
from forensic.extractors.chat.whatsapp_txt import link_attachments, resolve_zone
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from forensic.timestamps import Timestamp

_NOT_INCLUDED = "(File not included"
_KNOWN_KEYS = frozenset({
    "id", "type", "date", "date_unixtime", "from", "from_id", "text", "text_entities", "edited",
    "edited_unixtime", "forwarded_from", "forwarded_from_id", "reply_to_message_id",
    "reply_to_peer_id", "photo", "photo_file_size", "file", "file_name", "file_size", "thumbnail",
    "thumbnail_file_size", "media_type", "mime_type", "duration_seconds", "width", "height",
    "sticker_emoji", "actor", "actor_id", "action", "title", "members", "via_bot", "poll",
    "location_information", "live_location_period_seconds", "contact_information",
    "contact_vcard", "author", "saved_from", "inline_bot_buttons", "reactions", "self_destruct_period_seconds",
    "message_id", "discard_reason", "game_title", "game_description", "game_link", "invoice_information",
    "boosts", "place_name", "address", "performer", "schedule_date", "period", "text_entities_count",
})


def flatten_text(text: Any) -> str:
    """Telegram text: a string, or a list of strings and ``{"type", "text"}`` entities."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    if isinstance(text, list):
        out = []
        for part in text:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict):
                out.append(str(part.get("text", "")))
        return "".join(out)
    return str(text)


def _is_chat(obj: Any) -> bool:
    if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
        return False
    msgs = obj["messages"]
    return not msgs or any(isinstance(m, dict) and "type" in m and "date" in m for m in msgs[:20])


def chats_of(doc: Any) -> list[tuple[str, dict]]:
    """(JSON pointer, chat) pairs of a single-chat or full export; [] when neither."""
    if _is_chat(doc):
        return [("", doc)]
    out = []
    if isinstance(doc, dict):
        for section in ("chats", "left_chats"):
            sec = doc.get(section)
            if isinstance(sec, dict) and isinstance(sec.get("list"), list):
                for i, chat in enumerate(sec["list"]):
                    if _is_chat(chat):
                        out.append((f"/{section}/list/{i}", chat))
    return out


def looks_like_telegram(head: bytes) -> bool:
    text = head[:65536].decode("utf-8", "ignore").lstrip("\ufeff \t\r\n")
    if not text.startswith("{"):
        return False
    if '"messages"' in text and '"date"' in text and '"type"' in text:
        return True
    return '"chats"' in text and '"list"' in text


class TelegramJsonExtractor(Extractor):
    NAME = "telegram_json"
    VERSION = "1"
    DESCRIPTION = "Telegram Desktop JSON exports (result.json: one chat or a full export)"
    RECORD_TYPES = ("chat/message",)

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        if not json_mime(mime):
            return False
        return looks_like_telegram(head)

    def extract(self, item: ExtractorInput) -> Iterator[ArtifactRecord | ExtractionWarning]:
        doc, problem = load_json_export(item, self.NAME)
        if problem is not None:
            if doc is None and (item.size > MAX_JSON_BYTES or item.data is None
                                or looks_like_telegram(item.data)):
                yield ExtractionWarning(self.NAME, problem)
            return
        chats = chats_of(doc)
        if not chats:
            return
        options = item.options or {}
        zone, zone_problem = resolve_zone(options.get("assume_tz"))
        if zone_problem:
            yield ExtractionWarning(self.NAME, zone_problem)
        unknown: dict[str, int] = {}
        for pointer, chat in chats:
            yield from self._chat(item, pointer, chat, zone, unknown)
        if unknown:
            yield ExtractionWarning(self.NAME, "message fields this reader does not know (kept in "
                                               "'extra'): " + ", ".join(sorted(unknown)),
                                    detail={"fields": unknown})

    def _chat(self, item: ExtractorInput, pointer: str, chat: dict, zone,
              unknown: dict[str, int]) -> Iterator[ArtifactRecord | ExtractionWarning]:
        chat_id = chat.get("id")
        title = chat.get("name")
        conversation = {"id": str(chat_id) if chat_id is not None else f"{item.path}#{pointer or '/'}",
                        "title": title, "type": chat.get("type")}
        participants: dict[str, None] = {}
        for msg in chat["messages"]:
            if isinstance(msg, dict):
                who = msg.get("from") if msg.get("type") == "message" else None
                if isinstance(who, str) and who:
                    participants.setdefault(who, None)
        people = list(participants)
        for i, msg in enumerate(chat["messages"]):
            where = f"{pointer}/messages/{i}"
            if not isinstance(msg, dict):
                yield ExtractionWarning(self.NAME, f"{where} is not a message object; skipped")
                continue
            yield self._record(item, where, msg, conversation, people, zone, unknown)

    def _record(self, item, where: str, msg: dict, conversation: dict, people: list[str], zone,
                unknown: dict[str, int]) -> ArtifactRecord:
        problems: list[str] = []
        system = msg.get("type") == "service"
        sender = None if system else msg.get("from")
        if sender is not None and not isinstance(sender, str):
            sender = str(sender)
        ts = _time(msg, "date", "date_unixtime", "sent", zone, problems)
        edited_ts = _time(msg, "edited", "edited_unixtime", "edited", zone, []) if msg.get("edited") else None
        body = flatten_text(msg.get("text"))
        if system and not body:
            body = str(msg.get("action") or "")
        attachments = []
        media_omitted = False
        for key in ("photo", "file"):
            value = msg.get(key)
            if isinstance(value, str) and value:
                if value.startswith(_NOT_INCLUDED):
                    media_omitted = True
                else:
                    attachments.append({"name": value, "sha256": None, "locator": None, "missing": None})
        extra = {k: v for k, v in msg.items() if k not in _KNOWN_KEYS}
        for k in extra:
            unknown[k] = unknown.get(k, 0) + 1
        fields = {
            "platform": "telegram",
            "conversation": conversation,
            "participants": people,
            "sender": sender,
            "sender_id": msg.get("from_id") if not system else None,
            "recipients": [p for p in people if p != sender] if sender else [],
            "sent_at": ts.iso() if ts else None,
            "sent_at_utc": ts.iso_utc() if ts else None,
            "tz_known": ts.tz_known if ts else False,
            "tz_source": ts.tz_source if ts else "unknown",
            "body": body,
            "attachments": attachments,
            "media_omitted": media_omitted,
            "media_type": msg.get("media_type"),
            "reply_to": msg.get("reply_to_message_id"),
            "edited": bool(msg.get("edited")),
            "edited_at": edited_ts.iso() if edited_ts else None,
            "deleted": False,
            "system": system,
            "forwarded_from": msg.get("forwarded_from"),
            "message_id": msg.get("id"),
            "source": {"path": item.path, "json_pointer": where, "message_id": msg.get("id")},
        }
        if system:
            fields["actor"] = msg.get("actor")
            fields["action"] = msg.get("action")
        if extra:
            fields["extra"] = extra
        stamps = tuple(t for t in (ts, edited_ts) if t is not None)
        return ArtifactRecord("chat/message", fields, stamps, corrupted=ts is None,
                              warnings=tuple(problems), source_ref=f"message {msg.get('id')} ({where})")

    def finalize(self, store: StoreView, item: str) -> Iterable[ExtractionWarning | Link]:
        return link_attachments(store, item, self.NAME, relative=True)


def _time(msg: dict, local_key: str, unix_key: str, label: str, zone, problems: list[str]) -> Timestamp | None:
    unix = msg.get(unix_key)
    if unix is not None:
        try:
            return Timestamp.from_unix(label, int(unix), raw=str(unix))
        except (TypeError, ValueError, OverflowError):
            problems.append(f"{unix_key} {unix!r} is not a Unix time")
    local = msg.get(local_key)
    if isinstance(local, str):
        try:
            wall = datetime.fromisoformat(local)
            if zone is None:
                return Timestamp.local_unknown(label, wall, local)
            offset = int(zone.utcoffset(wall).total_seconds() // 60)
            return Timestamp.local_with_offset(label, wall, offset, "assumed", local)
        except ValueError:
            problems.append(f"{local_key} {local!r} is not an ISO date")
    elif label == "sent":
        problems.append("message has no date")
    return None
