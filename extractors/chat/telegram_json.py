"""Telegram Desktop "Export chat history" JSON (``result.json``).

Two shapes: one chat (``{"name", "type", "id", "messages": [...]}``) or a full account
export (``{"chats": {"list": [chat, ...]}, "left_chats": {"list": [...]}, ...}``).
Recognised by content, whatever the file is called, and from the messages alone: a chat is
an object whose ``messages`` are objects with a time (``date_unixtime`` or ``date``) and a
sender, text, type or action. A minimal export whose messages carry only ``date_unixtime``,
``from`` and ``text`` is read (a message with no ``type`` is a message unless it has an
``action``); no optional top-level field is required.

Times: ``date_unixtime`` is UTC and is preferred; ``date`` is the exporting computer's wall
clock with no zone, kept as written (``date_raw``) and used, flagged (``tz_known`` false),
only when there is no ``date_unixtime``; ``time_field`` says which one the record's time is.
Where both are there, their difference is the exporting computer's UTC offset at that time
(``date_offset``, '-07:00'), a clue to where it was.

Text is a string or an array of strings and entity objects: flattened to plain text for
``body``, the entities kept in ``text_entities`` (the export's own list where it has one).
Service messages (``type: service``) are system messages: ``actor``, ``action`` and the
action's own fields (``title``, ``members``, ``duration_seconds``...) in ``service``.
Media: ``photo``/``file`` are paths relative to the export folder (attachments, linked to the
walked files in ``finalize``), with ``media_type``, ``mime_type``, ``duration_seconds``,
``width``, ``height``, sizes in ``media``; "(File not included...)" marks media the export
left out (``media_omitted``). ``location_information`` becomes the shared ``location``
field ({latitude, longitude, source}), ``contact_information`` ``contact``, ``poll``
``poll``; ``forwarded_from``, ``reply_to_message_id``, ``edited``/``edited_unixtime``,
``reactions``, ``via_bot``... are kept. Fields this reader does not know are kept in
``extra`` and named in one warning per file.

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
LOCATION_SOURCE = "telegram location_information"
# the fields of a message that go to the record's own fields (the rest of a known key is kept
# as it is, under its name, where the message has it)
_MEDIA_KEYS = ("media_type", "mime_type", "duration_seconds", "width", "height", "file_name", "file_size",
               "photo_file_size", "thumbnail", "thumbnail_file_size", "sticker_emoji", "performer", "title")
_SERVICE_KEYS = frozenset({
    "title", "members", "message_id", "duration_seconds", "discard_reason", "inviter", "boosts", "period",
    "schedule_date", "game_message_id", "score", "amount", "currency", "invoice_message_id", "recurring",
    "values", "distance", "reason_domain", "reason_app_id", "reason_app_name", "to_id", "emoticon",
    "new_title", "new_icon_emoji_id", "photo", "width", "height", "photo_file_size", "text_entities_count",
    "giveaway_msg_id", "stars", "gift", "days",
})
_KEPT_KEYS = ("forwarded_from_id", "reply_to_peer_id", "via_bot", "author", "saved_from", "reactions",
              "inline_bot_buttons", "self_destruct_period_seconds", "live_location_period_seconds",
              "contact_vcard", "game_title", "game_description", "game_link", "invoice_information",
              "place_name", "address", "from_id")
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


def text_entities(msg: dict) -> list[dict] | None:
    """The message's text entities: the export's ``text_entities`` where it has them, else
    those of a rich-text ``text`` list (a plain string part as a ``plain`` entity); None for
    plain text with no entities."""
    given = msg.get("text_entities")
    if isinstance(given, list):
        return [e for e in given if isinstance(e, dict)] or None
    text = msg.get("text")
    if not isinstance(text, list):
        return None
    out = []
    for part in text:
        if isinstance(part, str):
            out.append({"type": "plain", "text": part})
        elif isinstance(part, dict):
            out.append(part)
    return out or None


def _is_message(m: Any) -> bool:
    """A Telegram message object: a time, and a sender, text, type or action."""
    return (isinstance(m, dict) and ("date_unixtime" in m or "date" in m)
            and ("from" in m or "text" in m or "type" in m or "action" in m))


def _is_chat(obj: Any) -> bool:
    if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
        return False
    msgs = obj["messages"]
    return not msgs or any(_is_message(m) for m in msgs[:20])


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
    """The start of a Telegram export: a JSON object with messages that have a Unix time
    (``date_unixtime``, Telegram's own name), or a local ``date`` with a type or sender; or
    a full export's chat list."""
    text = head[:65536].decode("utf-8", "ignore").lstrip("\ufeff \t\r\n")
    if not text.startswith("{"):
        return False
    if '"messages"' in text and ('"date_unixtime"' in text
                                 or ('"date"' in text and ('"type"' in text or '"from"' in text))):
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
            if isinstance(msg, dict) and not _is_service(msg):
                who = msg.get("from")
                if isinstance(who, str) and who:
                    participants.setdefault(who, None)
        people = list(participants)
        for i, msg in enumerate(chat["messages"]):
            where = f"{pointer}/messages/{i}"
            if not isinstance(msg, dict):
                yield ExtractionWarning(self.NAME, f"{where} is not a message object; skipped")
                continue
            yield self._record(item, where, msg, conversation, people, zone, unknown)

    def _record(self, item: ExtractorInput, where: str, msg: dict, conversation: dict, people: list[str], zone,
                unknown: dict[str, int]) -> ArtifactRecord:
        problems: list[str] = []
        system = _is_service(msg)
        sender = None if system else msg.get("from")
        if sender is not None and not isinstance(sender, str):
            sender = str(sender)
        ts, time_field = _time(msg, "date", "date_unixtime", "sent", zone, problems)
        edited_ts = (_time(msg, "edited", "edited_unixtime", "edited", zone, [])[0]
                     if msg.get("edited") or msg.get("edited_unixtime") else None)
        body = flatten_text(msg.get("text"))
        if system and not body:
            body = str(msg.get("action") or "")
        attachments = []
        media_omitted = False
        media = {k: msg[k] for k in _MEDIA_KEYS if k in msg and not (system and k in _SERVICE_KEYS)}
        for key in ("photo", "file", "contact_vcard"):
            value = msg.get(key)
            if system and key == "photo":
                continue                        # a new chat photo: kept with the action in 'service'
            if isinstance(value, str) and value:
                if value.startswith(_NOT_INCLUDED):
                    media_omitted = True
                else:
                    kind = ("photo" if key == "photo" else "vcard" if key == "contact_vcard"
                            else str(msg.get("media_type") or "file"))
                    att = {"name": value, "sha256": None, "locator": None, "missing": None, "kind": kind}
                    if key == "file" and msg.get("mime_type"):
                        att["mime_type"] = msg["mime_type"]
                    attachments.append(att)
        extra = {k: v for k, v in msg.items() if k not in _KNOWN_KEYS and not (system and k in _SERVICE_KEYS)}
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
            "time_field": time_field,
            "date_raw": msg.get("date") if isinstance(msg.get("date"), str) else None,
            "date_offset": _offset(msg.get("date"), ts) if time_field == "date_unixtime" else None,
            "body": body,
            "attachments": attachments,
            "media_omitted": media_omitted,
            "media_type": msg.get("media_type"),
            "reply_to": msg.get("reply_to_message_id"),
            "edited": bool(msg.get("edited") or msg.get("edited_unixtime")),
            "edited_at": edited_ts.iso() if edited_ts else None,
            "deleted": False,
            "system": system,
            "forwarded_from": msg.get("forwarded_from"),
            "message_id": msg.get("id"),
            "source": {"path": item.path, "json_pointer": where, "message_id": msg.get("id")},
        }
        entities = text_entities(msg)
        if entities is not None:
            fields["text_entities"] = entities
        if media:
            fields["media"] = media
        location = _location(msg.get("location_information"), problems)
        if location is not None:
            fields["location"] = location
        contact = msg.get("contact_information")
        if isinstance(contact, dict):
            fields["contact"] = contact
        if isinstance(msg.get("poll"), dict):
            fields["poll"] = msg["poll"]
        for k in _KEPT_KEYS:
            if k in msg and k not in fields:
                fields[k] = msg[k]
        if system:
            fields["actor"] = msg.get("actor")
            fields["actor_id"] = msg.get("actor_id")
            fields["action"] = msg.get("action")
            service = {k: v for k, v in msg.items() if k in _SERVICE_KEYS}
            if service:
                fields["service"] = service
        if extra:
            fields["extra"] = extra
        stamps = tuple(t for t in (ts, edited_ts) if t is not None)
        return ArtifactRecord("chat/message", fields, stamps, corrupted=ts is None,
                              warnings=tuple(problems), source_ref=f"message {msg.get('id')} ({where})")

    def finalize(self, store: StoreView, item: str) -> Iterable[ExtractionWarning | Link]:
        return link_attachments(store, item, self.NAME, relative=True)


def _is_service(msg: dict) -> bool:
    """A service message (an action: call, join, pin...): typed so, or untyped with an action."""
    kind = msg.get("type")
    return kind == "service" or (kind is None and "action" in msg)


def _location(info: Any, problems: list[str]) -> dict | None:
    """The shared location shape of ``location_information`` ({latitude, longitude}), or None
    (with a problem when it is there but no position)."""
    if info is None:
        return None
    try:
        lat, lon = float(info["latitude"]), float(info["longitude"])
    except (TypeError, KeyError, ValueError):
        problems.append(f"location_information {info!r} has no readable latitude and longitude")
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        problems.append(f"location_information {lat}, {lon} is outside the globe")
        return None
    return {"latitude": lat, "longitude": lon, "source": LOCATION_SOURCE}


def _offset(local: Any, ts: Timestamp | None) -> str | None:
    """The exporting computer's UTC offset at a message ('+02:00'), told by its local ``date``
    against its UTC ``date_unixtime``; None unless both are there and differ by whole quarter
    hours within 14 hours (what a real zone can be)."""
    if not isinstance(local, str) or ts is None or ts.utc is None:
        return None
    try:
        wall = datetime.fromisoformat(local)
    except ValueError:
        return None
    if wall.tzinfo is not None:
        return None
    minutes, rest = divmod((wall - ts.utc.replace(tzinfo=None)).total_seconds(), 60)
    if rest or minutes % 15 or abs(minutes) > 14 * 60:
        return None
    sign = "-" if minutes < 0 else "+"
    h, m = divmod(int(abs(minutes)), 60)
    return f"{sign}{h:02d}:{m:02d}"


def _time(msg: dict, local_key: str, unix_key: str, label: str, zone,
          problems: list[str]) -> tuple[Timestamp | None, str | None]:
    """(timestamp, the field it was read from): ``unix_key`` (UTC) when readable, else
    ``local_key`` (a wall-clock time with no zone: flagged, or in the examiner's assumed zone)."""
    unix = msg.get(unix_key)
    if unix is not None:
        try:
            return Timestamp.from_unix(label, int(unix), raw=str(unix)), unix_key
        except (TypeError, ValueError, OverflowError):
            problems.append(f"{unix_key} {unix!r} is not a Unix time")
    local = msg.get(local_key)
    if isinstance(local, str):
        try:
            wall = datetime.fromisoformat(local)
            if wall.tzinfo is not None:
                problems.append(f"{local_key} {local!r} carries a zone Telegram does not write; read as written")
                return Timestamp.from_unix(label, wall.timestamp(), raw=local), local_key
            if zone is None:
                return Timestamp.local_unknown(label, wall, local), local_key
            offset = int(zone.utcoffset(wall).total_seconds() // 60)
            return Timestamp.local_with_offset(label, wall, offset, "assumed", local), local_key
        except (ValueError, OverflowError):
            problems.append(f"{local_key} {local!r} is not an ISO date")
    elif label == "sent":
        problems.append("message has no date")
    return None, None
