"""Facebook Messenger and Instagram "Download your information" JSON
(``messages/inbox/<thread>/message_<n>.json``).

Recognised by content (``messages`` whose entries have ``sender_name`` and ``timestamp_ms``;
``participants`` only needed for a thread with no message), whatever the file is called or
wherever it lies. Both services write the same shape; the platform is told from the path
(``instagram``/``facebook``/``messenger`` in a folder name), else from the content
(instagram.com links, Instagram media URIs), else ``messenger``; ``platform_basis`` says which.

Mojibake: these exports write each UTF-8 byte of a text as its own ``\\u00XX`` code point
("Ã©" for "é"). A string is repaired only when all its characters are below U+0100, at least
one is above U+007F and the Latin-1 round trip decodes as UTF-8; otherwise it is kept as is
(a real "café" in a fixed export stays "café"). ``text_repaired`` says when it happened, and
the text and sender as written are kept in ``raw_text`` (the thread's title in
``conversation_title_raw``).

A minimal export, only ``messages[].sender_name/timestamp_ms/content`` with no
``participants``, is read too: the participants are then the senders.

``timestamp_ms`` is UTC. Photos, videos, audio, files, GIFs and stickers are attachments
whose ``uri`` is a path inside the export, linked to the walked files in ``finalize``; a share
is kept in ``share``; reactions in ``reactions`` [{reaction, actor}].
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterable, Iterator

from forensic.extractors.base import Extractor, ExtractorInput
from forensic.extractors.chat.common import (attachment, link_by_suffix, is_local_path, json_mime,
                                     load_json_export, message_record)
from forensic.store.records import Link
from forensic.store.view import StoreView
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from forensic.timestamps import Timestamp

_MEDIA = (("photos", "photo"), ("videos", "video"), ("audio_files", "audio"), ("files", "file"),
          ("gifs", "gif"))
_KNOWN_KEYS = frozenset({
    "sender_name", "timestamp_ms", "content", "photos", "videos", "audio_files", "files", "gifs", "sticker",
    "share", "reactions", "type", "is_unsent", "call_duration", "users", "is_geoblocked_for_viewer",
    "is_taken_down", "bumped_message_metadata", "ip", "missed", "is_unsent_image_by_messenger_kid_parent",
    "is_collaborative_post", "reply_to", "joinable_mode", "generic_attachments",
})
_MOJIBAKE = re.compile("[\u0080-\u00ff]")
_INBOX = re.compile(r"(^|/)messages/(inbox|archived_threads|filtered_threads|message_requests|e2ee_cutover)/"
                    r"[^/]+/message_\d+\.json$", re.I)


def _list(value: Any) -> list | tuple:
    """``value`` when it is a list, else nothing (hostile input: a list field holding a scalar)."""
    return value if isinstance(value, list) else ()


def fix_mojibake(text: str) -> tuple[str, bool]:
    """(text, repaired): the UTF-8 reading of a Latin-1-escaped string, where it is one."""
    if text.isascii() or not _MOJIBAKE.search(text):
        return text, False
    try:
        return text.encode("latin-1").decode("utf-8"), True
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text, False


def _fix_all(obj: Any, flag: list[bool]) -> Any:
    """Every string inside ``obj`` repaired (``flag[0]`` set if any was)."""
    if isinstance(obj, str):
        out, fixed = fix_mojibake(obj)
        if fixed:
            flag[0] = True
        return out
    if isinstance(obj, list):
        return [_fix_all(x, flag) for x in obj]
    if isinstance(obj, dict):
        return {k: _fix_all(v, flag) for k, v in obj.items()}
    return obj


def is_thread(doc: Any) -> bool:
    """A thread by its content: messages with ``sender_name`` and ``timestamp_ms``. The
    optional top-level fields (``participants``, ``title``, ``thread_path``) are not needed;
    an empty thread is one only with its ``participants``."""
    if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
        return False
    msgs = doc["messages"]
    if not msgs:
        return isinstance(doc.get("participants"), list)
    return any(isinstance(m, dict) and "timestamp_ms" in m and "sender_name" in m for m in msgs[:20])


def looks_like_thread(head: bytes, path: str = "") -> bool:
    text = head[:65536].decode("utf-8", "ignore").lstrip("\ufeff \t\r\n")
    if not text.startswith("{"):
        return False
    if '"sender_name"' in text and '"timestamp_ms"' in text:
        return True
    return '"participants"' in text and ('"thread_path"' in text or bool(_INBOX.search(path.replace("\\", "/"))))


def platform_of(path: str, doc: dict) -> tuple[str, str]:
    """(platform, basis)."""
    low = path.replace("\\", "/").lower()
    if "instagram" in low:
        return "instagram", "path"
    if "facebook" in low or "messenger" in low:
        return "messenger", "path"
    sample = json.dumps(doc.get("messages", [])[:200], ensure_ascii=True).lower()
    if "instagram.com" in sample or "your_instagram_activity" in sample or "instagram" in str(doc.get("image", "")):
        return "instagram", "content"
    return "messenger", "default"


class FacebookJsonExtractor(Extractor):
    NAME = "facebook_json"
    VERSION = "1"
    DESCRIPTION = "Facebook Messenger / Instagram 'Download your information' message JSON"
    RECORD_TYPES = ("chat/message",)

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        if not json_mime(mime):
            return False
        return looks_like_thread(head, path)

    def extract(self, item: ExtractorInput) -> Iterator[ArtifactRecord | ExtractionWarning]:
        doc, problem = load_json_export(item, self.NAME)
        if problem is not None:
            yield ExtractionWarning(self.NAME, problem)
            return
        if not is_thread(doc):
            return
        platform, basis = platform_of(item.path, doc)
        flag = [False]
        title = _fix_all(doc.get("title"), flag) if isinstance(doc.get("title"), str) else None
        people: list[str] = []
        listed = doc.get("participants")
        for p in listed if isinstance(listed, list) else ():
            name = p.get("name") if isinstance(p, dict) else p
            if isinstance(name, str):
                people.append(fix_mojibake(name)[0])
        if not isinstance(listed, list):
            # a minimal export without the list: the people who wrote, in order of appearance
            writers: dict[str, None] = {}
            for m in doc["messages"]:
                name = m.get("sender_name") if isinstance(m, dict) else None
                if isinstance(name, str):
                    writers.setdefault(fix_mojibake(name)[0], None)
            people = list(writers)
        thread = doc.get("thread_path")
        if not thread and _INBOX.search(item.path.replace("\\", "/")):
            # a thread's files (message_1.json, message_2.json...) share its folder
            thread = item.path.replace("\\", "/").rsplit("/", 1)[0]
        conversation = {"id": str(thread) if thread else item.path, "title": title,
                        "type": doc.get("thread_type")}
        title_raw = doc.get("title") if flag[0] else None     # as written, where repaired
        unknown: dict[str, int] = {}
        for i, msg in enumerate(doc["messages"]):
            where = f"/messages/{i}"
            if not isinstance(msg, dict):
                yield ExtractionWarning(self.NAME, f"{where} is not a message object; skipped")
                continue
            yield self._record(item, where, msg, platform, basis, conversation, people, unknown, title_raw)
        if unknown:
            yield ExtractionWarning(self.NAME, "message fields this reader does not know (kept in 'extra'): "
                                    + ", ".join(sorted(unknown)), detail={"fields": unknown})

    def _record(self, item: ExtractorInput, where: str, raw: dict, platform: str, basis: str,
                conversation: dict, people: list[str], unknown: dict[str, int],
                title_raw: str | None = None) -> ArtifactRecord:
        flag = [False]
        msg = _fix_all(raw, flag)
        # the strings as the export wrote them, where the repair changed them (the evidence)
        as_written = {k: raw[k] for k in ("content", "sender_name") if isinstance(raw.get(k), str)
                      and raw[k] != msg.get(k)}
        problems: list[str] = []
        ts = None
        ms = msg.get("timestamp_ms")
        if isinstance(ms, (int, float)) and not isinstance(ms, bool):
            try:
                ts = Timestamp.from_unix("sent", ms / 1000, raw=str(ms))
            except (OverflowError, ValueError):
                problems.append(f"timestamp_ms {ms!r} is out of range")
        else:
            problems.append(f"timestamp_ms {ms!r} is not a number" if ms is not None else "message has no timestamp_ms")
        sender = msg.get("sender_name") if isinstance(msg.get("sender_name"), str) else None
        kind = msg.get("type")
        body = msg.get("content") if isinstance(msg.get("content"), str) else ""
        attachments = []
        for key, label in _MEDIA:
            for m in _list(msg.get(key)):
                if isinstance(m, dict) and isinstance(m.get("uri"), str):
                    uri = m["uri"]
                    extra = {"kind": label, "uri": uri}
                    if is_local_path(uri):
                        extra["path"] = uri
                    created = m.get("creation_timestamp")
                    if isinstance(created, (int, float)) and not isinstance(created, bool):
                        try:
                            extra["created_at"] = Timestamp.from_unix("created", created).iso_utc()
                        except (OverflowError, ValueError):
                            problems.append(f"creation_timestamp {created!r} of {uri!r} is out of range")
                    attachments.append(attachment(uri.rsplit("/", 1)[-1], **extra))
        sticker = msg.get("sticker")
        if isinstance(sticker, dict) and isinstance(sticker.get("uri"), str):
            uri = sticker["uri"]
            extra = {"kind": "sticker", "uri": uri}
            if is_local_path(uri):
                extra["path"] = uri
            attachments.append(attachment(uri.rsplit("/", 1)[-1], **extra))
        reactions = [{"reaction": r.get("reaction"), "actor": r.get("actor")}
                     for r in _list(msg.get("reactions")) if isinstance(r, dict)]
        share = msg.get("share") if isinstance(msg.get("share"), dict) else None
        system = kind in ("Subscribe", "Unsubscribe") or (kind == "Call" and not body)
        deleted = bool(msg.get("is_unsent"))
        extra = {k: v for k, v in msg.items() if k not in _KNOWN_KEYS}
        for k in extra:
            unknown[k] = unknown.get(k, 0) + 1
        fields_extra = {
            "message_type": kind, "reactions": reactions, "share": share, "text_repaired": flag[0],
            "platform_basis": basis,
        }
        if kind == "Call":
            fields_extra["call_duration"] = msg.get("call_duration")
        if _list(msg.get("users")):
            fields_extra["users"] = [u.get("name") if isinstance(u, dict) else u for u in msg["users"]]
        if as_written:
            fields_extra["raw_text"] = as_written
        if title_raw is not None:
            fields_extra["conversation_title_raw"] = title_raw
        if extra:
            fields_extra["extra"] = extra
        return message_record(
            platform=platform, conversation=conversation, participants=people,
            sender=None if system else sender, sent=ts, body=body, attachments=attachments,
            reply_to=msg.get("reply_to") if isinstance(msg.get("reply_to"), (str, int)) else None,
            deleted=deleted, system=system, problems=problems,
            source={"path": item.path, "json_pointer": where},
            source_ref=f"message {where}",
            extra={**fields_extra, **({"actor": sender} if system else {})})

    def finalize(self, store: StoreView, item: str) -> Iterable[ExtractionWarning | Link]:
        return link_by_suffix(store, item, self.NAME)
