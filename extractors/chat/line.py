"""LINE for Android (jp.naver.line.android): ``naver_line``.

Schema learned from ALEAPP ``scripts/artifacts/line.py`` (its message and call queries);
supported: the ``naver_line`` layout with ``chat_history``, ``contacts``, ``chat``,
``groups`` and ``membership`` (LINE Android 9 to 13; newer builds may leave ``contacts``
empty, in which case senders are given by their LINE mid).

* ``chat_history``: ``chat_id`` (a contact's mid, a group's or room's id), ``from_mid``
  (NULL for the device's own account), ``content``, ``created_time`` (Unix ms, UTC, stored
  as text or integer), ``status`` (kept raw; ALEAPP reads 1 as incoming, 2 as outgoing),
  ``attachement_type`` (the app's spelling; 6 is a call record, kept flagged ``system``),
  ``attachement_local_uri`` (a media file on the device), ``location_name``,
  ``location_address``, ``location_latitude``/``location_longitude`` (integer micro-degrees),
  ``server_id``;
* ``contacts``: ``m_id``, ``name``, ``server_name``, ``addressbook_name``, ``custom_name``;
* ``chat``: ``chat_id``, ``chat_name``; ``groups``: ``id``, ``name``; ``membership``: ``id``
  (group), ``m_id`` (member).
"""
from __future__ import annotations

from forensic.extractors.chat.app_db import location, missing_columns, party, text_of
from forensic.extractors.chat.common import attachment, message_record
from forensic.extractors.chat.sqlite_chat import OWNER, SqliteChatExtractor, rows, source, unix_ms
from forensic.extractors.records import ArtifactRecord

_MSG = ("server_id", "type", "chat_id", "from_mid", "content", "created_time", "status", "attachement_type",
        "attachement_local_uri", "location_name", "location_address", "location_latitude", "location_longitude")
_CALL = 6


class LineExtractor(SqliteChatExtractor):
    NAME = "line_db"
    VERSION = "1"
    DESCRIPTION = "LINE Android database (naver_line)"
    FILE_NAMES = ("naver_line",)
    MARKERS = (b"CREATE TABLE chat_history",)
    REQUIRED = ("chat_history",)

    MESSAGE_TABLES = {"chat_history": _MSG}      # live rows and deleted ones recovered from free space

    def context(self, conn, tables, item, problems) -> tuple:
        missing_columns(tables, "chat_history", ("chat_id", "from_mid", "content", "created_time"), "LINE", problems)
        names: dict[str, str] = {}
        if "contacts" in tables:
            for r in rows(conn, "contacts", tables["contacts"], ("m_id", "name", "server_name", "addressbook_name",
                                                                 "custom_name"), problems):
                if r["m_id"]:
                    names[r["m_id"]] = r["custom_name"] or r["addressbook_name"] or r["name"] or r["server_name"]
        titles: dict[str, str] = {}
        for table, key, col in (("chat", "chat_id", "chat_name"), ("groups", "id", "name")):
            if table in tables:
                for r in rows(conn, table, tables[table], (key, col), problems):
                    if r[key] and r[col]:
                        titles.setdefault(r[key], r[col])
        groups: dict[str, list[str]] = {}
        if "membership" in tables:
            for r in rows(conn, "membership", tables["membership"], ("id", "m_id"), problems):
                groups.setdefault(r["id"], []).append(party(names.get(r["m_id"]), r["m_id"]))
        return names, titles, groups, "from_mid" in tables["chat_history"]

    def row_record(self, table, row, ctx, item) -> ArtifactRecord:
        return self._message(row, item, *ctx)

    def _message(self, r, item, names, titles, groups, has_from: bool) -> ArtifactRecord:
        problems: list[str] = []
        chat = r["chat_id"]
        # without from_mid (another schema) the direction falls back on status as ALEAPP reads it
        outgoing = r["from_mid"] is None if has_from else r["status"] == 2
        group = chat in groups
        others = groups.get(chat) or ([party(names.get(chat), chat)] if chat else [])
        sender = OWNER if outgoing else party(names.get(r["from_mid"]), r["from_mid"])
        try:
            created = int(r["created_time"]) if r["created_time"] not in (None, "") else None
        except (TypeError, ValueError):
            created = r["created_time"]
        atts = []
        if r["attachement_local_uri"]:
            uri = text_of(r["attachement_local_uri"])
            extra = {"attachment_type": r["attachement_type"]}
            if uri.startswith("file://"):
                extra["path"] = uri[len("file://"):]
            elif uri.startswith("/"):
                extra["path"] = uri
            else:
                extra["uri"] = uri
            atts.append(attachment(uri.rstrip("/").rsplit("/", 1)[-1] or uri, **extra))
        extra: dict = {"direction": "outgoing" if outgoing else "incoming", "group": group, "status": r["status"],
                       "attachment_type": r["attachement_type"], "server_id": r["server_id"],
                       "sender_mid": r["from_mid"]}
        lat, lon = r["location_latitude"], r["location_longitude"]
        if lat not in (None, 0, "") and lon not in (None, 0, ""):
            try:
                loc = location(int(lat) / 1e6, int(lon) / 1e6,
                               "line chat_history.location_latitude/location_longitude (micro-degrees)")
            except (TypeError, ValueError):
                loc = None
                problems.append(f"location {lat!r}, {lon!r} is not in micro-degrees")
            if loc:
                if r["location_name"]:
                    loc["name"] = text_of(r["location_name"])        # the map and geo exports show it
                extra["location"] = loc
                extra["place_name"] = r["location_name"]
                extra["place_address"] = r["location_address"]
        return message_record(
            platform="line", conversation={"id": chat, "title": titles.get(chat) or ", ".join(o for o in others if o)
                                           or None},
            participants=[OWNER] + [o for o in others if o], sender=sender,
            sent=unix_ms(created, "sent", problems), body=text_of(r["content"]), attachments=atts,
            system=r["attachement_type"] == _CALL, problems=problems,
            source=source(item, "chat_history", r["_rowid"]), source_ref=f"chat_history:{r['_rowid']}", extra=extra)
