"""Instagram for Android (com.instagram.android): direct messages in ``direct.db``.

Schema learned from ALEAPP ``scripts/artifacts/instagram.py`` (``instagramDirectMessages`` and
the thread artifact); supported: the ``direct.db`` schema of Instagram Android builds that keep
direct messages there (to about 2021; newer builds keep them in ``ig_msys_database_*``, which
``known_apps`` lists as not read, and leave this database empty).

* ``messages``: ``thread_id``, ``timestamp`` (Unix microseconds, UTC), ``message_type``
  (``text``, ``media``, ``location``, ``link``, ``voice_media``, ``video_call_event``, ...),
  ``text``, ``message`` (the whole message as JSON: ``user_id`` the sender, ``item_id``,
  ``media`` with ``image_versions2``/``video_versions`` candidates' ``url``, ``location``
  with ``lat``/``lng``/``name``, ``link`` with ``link_context.link_url``), ``user_id`` (the
  signed-in account);
* ``threads``: ``thread_id``, ``thread_info`` (JSON: ``thread_title``, ``users`` and
  ``inviter`` with ``pk``, ``username``, ``full_name``);
* ``session``: ``user_id``, the signed-in account (a message whose sender is it is outgoing).
"""
from __future__ import annotations

from forensic.extractors.chat.app_db import json_value, location, missing_columns, party, text_of, unix_micros
from forensic.extractors.chat.common import attachment, message_record
from forensic.extractors.chat.sqlite_chat import OWNER, SqliteChatExtractor, rows, source
from forensic.extractors.records import ArtifactRecord

_MSG = ("user_id", "thread_id", "timestamp", "message_type", "text", "message", "server_item_id")


class InstagramExtractor(SqliteChatExtractor):
    NAME = "instagram_direct"
    VERSION = "1"
    DESCRIPTION = "Instagram Android direct messages (direct.db)"
    FILE_NAMES = ("direct.db",)
    MARKERS = ()
    REQUIRED = ("messages",)

    MESSAGE_TABLES = {"messages": _MSG}      # live rows and deleted ones recovered from free space

    def context(self, conn, tables, item, problems) -> tuple:
        missing_columns(tables, "messages", ("thread_id", "timestamp", "message"), "Instagram", problems)
        own = None
        if "session" in tables and "user_id" in tables["session"]:
            for r in rows(conn, "session", tables["session"], ("user_id",), problems):
                own = str(r["user_id"]) if r["user_id"] is not None else own
        threads: dict[str, tuple[str | None, dict[str, str]]] = {}
        if "threads" in tables:
            for r in rows(conn, "threads", tables["threads"], ("thread_id", "thread_info"), problems):
                threads[str(r["thread_id"])] = _thread(json_value(r["thread_info"], "thread_info", problems))
        return own, threads

    def row_record(self, table, row, ctx, item) -> ArtifactRecord:
        return self._message(row, item, *ctx)

    def _message(self, r, item, own, threads) -> ArtifactRecord:
        problems: list[str] = []
        msg = json_value(r["message"], "message JSON", problems)
        msg = msg if isinstance(msg, dict) else {}
        account = own or (str(r["user_id"]) if r["user_id"] is not None else None)
        sent = unix_micros(r["timestamp"] if r["timestamp"] is not None else msg.get("timestamp"), "sent", problems)
        tid = str(r["thread_id"]) if r["thread_id"] is not None else None
        title, users = threads.get(tid, (None, {}))
        sender_id = str(msg["user_id"]) if msg.get("user_id") is not None else None
        outgoing = sender_id is not None and sender_id == account
        sender = OWNER if outgoing else (party(users.get(sender_id), sender_id) if sender_id else None)
        parties = [party(name, pk) for pk, name in users.items() if pk != account]
        kind = r["message_type"] or msg.get("item_type")
        body = text_of(r["text"]) or text_of(msg.get("text"))
        atts = []
        extra: dict = {"message_type": kind, "item_id": msg.get("item_id") or r["server_item_id"], "thread_id": tid,
                       "sender_id": sender_id, "direction": ("outgoing" if outgoing else "incoming")
                       if sender_id and account else None}
        media = msg.get("media") if isinstance(msg.get("media"), dict) else None
        if media:
            url = _media_url(media)
            atts.append(attachment(url.split("?", 1)[0].rsplit("/", 1)[-1] if url else media.get("id"), url=url,
                                   media_id=media.get("id"), media_type=media.get("media_type")))
        link = msg.get("link") if isinstance(msg.get("link"), dict) else None
        if link:
            ctx = link.get("link_context") if isinstance(link.get("link_context"), dict) else {}
            extra["link"] = ctx.get("link_url")
            body = body or text_of(link.get("text"))
        place = msg.get("location") if isinstance(msg.get("location"), dict) else None
        if place:
            loc = location(place.get("lat"), place.get("lng"), "instagram messages.message location")
            if loc:
                if place.get("name"):
                    loc["name"] = text_of(place.get("name"))        # the map and geo exports show it
                extra["location"] = loc
            extra["place_name"] = place.get("name")
        title = title or ", ".join(p for p in parties if p) or None
        return message_record(
            platform="instagram", conversation={"id": tid, "title": title},
            participants=[OWNER] + [p for p in parties if p], sender=sender, sent=sent, body=body, attachments=atts,
            system=kind in ("action_log", "video_call_event"), problems=problems,
            source=source(item, "messages", r["_rowid"]), source_ref=f"messages:{r['_rowid']}", extra=extra)


def _thread(info) -> tuple[str | None, dict[str, str]]:
    if not isinstance(info, dict):
        return None, {}
    users: dict[str, str] = {}
    listed = info.get("users") if isinstance(info.get("users"), list) else []
    for u in listed + [info.get("inviter")]:
        if isinstance(u, dict) and u.get("pk") is not None:
            name = u.get("username")
            if u.get("full_name"):
                name = f"{u['full_name']} @{name}" if name else u["full_name"]
            users[str(u["pk"])] = name
    return info.get("thread_title"), users


def _media_url(media: dict) -> str | None:
    for key in ("image_versions2", "video_versions"):
        value = media.get(key)
        candidates = value.get("candidates") if isinstance(value, dict) else value
        if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
            return candidates[0].get("url")
    return None
