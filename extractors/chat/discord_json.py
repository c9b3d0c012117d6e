"""Discord channel exports written by DiscordChatExporter (JSON format).

Shape: ``{"guild": {id, name}, "channel": {id, type, category, name, topic}, "dateRange",
"exportedAt", "messages": [{id, type, timestamp, timestampEdited, isPinned, content,
author {id, name, discriminator, nickname, isBot}, attachments [{id, url, fileName,
fileSizeBytes}], embeds, stickers, reactions [{emoji {name}, count, users?}], mentions,
reference {messageId, channelId, guildId}}], "messageCount"}``. Recognised by content.

``timestamp`` is ISO 8601 with the exporting computer's UTC offset: the instant is known
(``tz_source`` "offset_tag"). A ``timestamp`` without an offset is kept local, zone unknown.
Attachments downloaded with ``--media`` have a relative ``url`` (a path beside the JSON),
linked to the walked files in ``finalize``; remote URLs are kept as ``url``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Iterator

from forensic.extractors.base import Extractor, ExtractorInput
from forensic.extractors.chat.common import (attachment, link_by_suffix, is_local_path, json_mime,
                                     load_json_export, message_record)
from forensic.store.records import Link
from forensic.store.view import StoreView
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from forensic.timestamps import Timestamp

_KNOWN_KEYS = frozenset({
    "id", "type", "timestamp", "timestampEdited", "callEndedTimestamp", "isPinned", "content", "author",
    "attachments", "embeds", "stickers", "reactions", "mentions", "reference", "inlineEmojis", "interaction",
})
# DiscordChatExporter message types that are not someone writing
_SYSTEM_TYPES = frozenset({
    "RecipientAdd", "RecipientRemove", "Call", "ChannelNameChange", "ChannelIconChange", "ChannelPinnedMessage",
    "GuildMemberJoin", "ThreadCreated", "GuildBoost", "GuildBoostTier1", "GuildBoostTier2", "GuildBoostTier3",
    "ChannelFollowAdd",
})


def is_export(doc: Any) -> bool:
    return (isinstance(doc, dict) and isinstance(doc.get("channel"), dict) and isinstance(doc.get("messages"), list)
            and (isinstance(doc.get("guild"), dict) or "messageCount" in doc))


def looks_like_export(head: bytes) -> bool:
    text = head[:65536].decode("utf-8", "ignore").lstrip("\ufeff \t\r\n")
    return text.startswith("{") and '"guild"' in text and '"channel"' in text


def parse_time(value: Any, label: str) -> tuple[Timestamp | None, str | None]:
    if not isinstance(value, str) or not value:
        return None, None if value is None else f"{label} time {value!r} is not a string"
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None, f"{label} time {value!r} is not ISO 8601"
    if dt.tzinfo is None:
        return Timestamp.local_unknown(label, dt, value), None
    offset = int(dt.utcoffset().total_seconds() // 60)
    return Timestamp.local_with_offset(label, dt.replace(tzinfo=None), offset, "offset_tag", value), None


def _author(a: Any) -> tuple[str | None, dict]:
    if not isinstance(a, dict):
        return None, {}
    name = a.get("nickname") or a.get("name")
    disc = a.get("discriminator")
    return (str(name) if name is not None else None), {
        "id": a.get("id"), "name": a.get("name"), "nickname": a.get("nickname"),
        "discriminator": disc, "is_bot": a.get("isBot")}


class DiscordJsonExtractor(Extractor):
    NAME = "discord_json"
    VERSION = "1"
    DESCRIPTION = "Discord channel exports (DiscordChatExporter JSON)"
    RECORD_TYPES = ("chat/message",)

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        if not json_mime(mime):
            return False
        return looks_like_export(head)

    def extract(self, item: ExtractorInput) -> Iterator[ArtifactRecord | ExtractionWarning]:
        doc, problem = load_json_export(item, self.NAME)
        if problem is not None:
            yield ExtractionWarning(self.NAME, problem)
            return
        if not is_export(doc):
            return
        guild = doc.get("guild") if isinstance(doc.get("guild"), dict) else {}
        channel = doc["channel"]
        title = channel.get("name")
        if guild.get("name") and guild.get("name") != "Direct Messages":
            title = f"{guild['name']} / #{channel.get('name')}"
        conversation = {"id": str(channel.get("id") or item.path), "title": title, "type": channel.get("type"),
                        "guild": guild.get("name"), "guild_id": guild.get("id"), "category": channel.get("category"),
                        "topic": channel.get("topic")}
        people: dict[str, str] = {}          # author id (else name) -> display name
        for m in doc["messages"]:
            if isinstance(m, dict):
                name, author = _author(m.get("author"))
                if name:
                    people.setdefault(str(author.get("id") or name), name)
        participants = list(dict.fromkeys(people.values()))
        unknown: dict[str, int] = {}
        for i, msg in enumerate(doc["messages"]):
            where = f"/messages/{i}"
            if not isinstance(msg, dict):
                yield ExtractionWarning(self.NAME, f"{where} is not a message object; skipped")
                continue
            yield self._record(item, where, msg, conversation, participants, unknown)
        declared = doc.get("messageCount")
        if isinstance(declared, int) and declared != len(doc["messages"]):
            yield ExtractionWarning(self.NAME, f"messageCount says {declared} but the export holds "
                                               f"{len(doc['messages'])} messages")
        if unknown:
            yield ExtractionWarning(self.NAME, "message fields this reader does not know (kept in 'extra'): "
                                    + ", ".join(sorted(unknown)), detail={"fields": unknown})

    def _record(self, item: ExtractorInput, where: str, msg: dict, conversation: dict, participants: list[str],
                unknown: dict[str, int]) -> ArtifactRecord:
        problems = []
        ts, p = parse_time(msg.get("timestamp"), "sent")
        if p or ts is None:
            problems.append(p or "message has no timestamp")
        edited, p = parse_time(msg.get("timestampEdited"), "edited")
        if p:
            problems.append(p)
        sender, author = _author(msg.get("author"))
        kind = msg.get("type")
        system = kind in _SYSTEM_TYPES
        attachments = []
        for a in msg.get("attachments") or ():
            if not isinstance(a, dict):
                continue
            url = a.get("url")
            extra = {"url": url, "size": a.get("fileSizeBytes"), "id": a.get("id")}
            if isinstance(url, str) and is_local_path(url):
                extra["path"] = url
            attachments.append(attachment(a.get("fileName") or (url or "").rsplit("/", 1)[-1], **extra))
        reactions = []
        for r in msg.get("reactions") or ():
            if isinstance(r, dict):
                emoji = r.get("emoji") if isinstance(r.get("emoji"), dict) else {}
                users = [u.get("nickname") or u.get("name") for u in r.get("users") or () if isinstance(u, dict)]
                reactions.append({"reaction": emoji.get("name"), "count": r.get("count"), "actors": users})
        ref = msg.get("reference") if isinstance(msg.get("reference"), dict) else None
        extra = {k: v for k, v in msg.items() if k not in _KNOWN_KEYS}
        for k in extra:
            unknown[k] = unknown.get(k, 0) + 1
        fields_extra = {"message_id": msg.get("id"), "message_type": kind, "author": author,
                        "pinned": bool(msg.get("isPinned")), "reactions": reactions,
                        "mentions": [m.get("name") for m in msg.get("mentions") or () if isinstance(m, dict)],
                        "embeds": len(msg.get("embeds") or ())}
        if ref is not None:
            fields_extra["reference"] = ref
        if extra:
            fields_extra["extra"] = extra
        if system:
            fields_extra["actor"] = sender
        return message_record(
            platform="discord", conversation=conversation, participants=participants,
            sender=None if system else sender, sent=ts, edited_ts=edited, edited=edited is not None,
            body=msg.get("content") if isinstance(msg.get("content"), str) else "",
            attachments=attachments, reply_to=ref.get("messageId") if ref else None, system=system,
            problems=problems, source={"path": item.path, "json_pointer": where, "message_id": msg.get("id")},
            source_ref=f"message {msg.get('id')} ({where})", extra=fields_extra)

    def finalize(self, store: StoreView, item: str) -> Iterable[ExtractionWarning | Link]:
        return link_by_suffix(store, item, self.NAME)
