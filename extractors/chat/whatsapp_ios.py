"""WhatsApp for iOS: ``ChatStorage.sqlite`` (a Core Data store in the app group container,
``/private/var/mobile/Containers/Shared/AppGroup/<GUID>/ChatStorage.sqlite``, with its ``-wal``).

Schema versions read: the Core Data model of WhatsApp Messenger 2.20 to 26.x (iOS 13 to 18) as
iLEAPP's ``whatsAppMessages`` artifact queries it (abrignoni/iLEAPP ``scripts/artifacts/
whatsApp.py``, commit 423798f, whose notes list test images from WhatsApp 2.20.31 to 26.14.76),
checked column by column against Josh Hickman's iOS 15 image (iLEAPP test case
``josh_ios15_ffs``). Every column this reader names is optional but ``ZWAMESSAGE.ZMESSAGEDATE``:
one a version lacks reads as NULL. Tables and columns:

* ``ZWAMESSAGE``: ``ZCHATSESSION`` (→ ``ZWACHATSESSION``), ``ZISFROMME``, ``ZFROMJID``/``ZTOJID``,
  ``ZTEXT``, ``ZMESSAGEDATE`` (Core Data time: seconds since 2001-01-01 UTC), ``ZSENTDATE``,
  ``ZMESSAGETYPE``, ``ZGROUPMEMBER`` (→ ``ZWAGROUPMEMBER``: the sender in a group),
  ``ZMEDIAITEM``, ``ZPUSHNAME``, ``ZSTANZAID`` (the message id), ``ZSTARRED``,
  ``ZGROUPEVENTTYPE``;
* ``ZWACHATSESSION``: ``ZCONTACTJID`` (the chat: a person ``…@s.whatsapp.net`` or a group
  ``…@g.us``), ``ZPARTNERNAME`` (the chat's name), ``ZSESSIONTYPE``;
* ``ZWAMEDIAITEM`` (joined on ``ZMESSAGE``, as iLEAPP does): ``ZMEDIALOCALPATH`` (relative to
  ``Message/`` in the app group container), ``ZTITLE`` (caption, or a place's name),
  ``ZLATITUDE``/``ZLONGITUDE`` (a location message's position; other media keep other numbers
  there, e.g. an image's pixel size, so they are read for type 5 only), ``ZVCARDNAME`` (a
  contact card's name; for a media file the base64 SHA-256 WhatsApp recorded for it),
  ``ZVCARDSTRING`` (the vCard; for a media file its MIME type), ``ZFILESIZE``, ``ZMEDIAURL``;
* ``ZWAGROUPMEMBER``: ``ZCHATSESSION``, ``ZMEMBERJID``, ``ZCONTACTNAME``, ``ZFIRSTNAME``;
* ``ZWAPROFILEPUSHNAME``: ``ZJID`` → ``ZPUSHNAME`` (the name a sender chose).

``ZMESSAGETYPE``: 0 text, 1 image, 2 video, 3 audio, 4 contact, 5 location, 6 group event
(system), 7 link, 8 document, 10 system notice, 11 GIF, 14 deleted for everyone (revoked:
flagged ``deleted``), 15 sticker; another value is kept as ``type <n>``.

Each message is one ``chat/message`` record (the shared shape of
:mod:`forensic.extractors.chat.common`): a location message carries ``location``
(``latitude``, ``longitude``, ``source``), a media message an attachment whose ``path``
(``Message/Media/…``) ``finalize`` links to a walked file of the same item ending with the
same components, then checks that file's SHA-256 against the one WhatsApp recorded
(``sha256_matches``); a media file that is not found by path but whose content has that
SHA-256 is linked by hash. A ``ChatStorage.sqlite`` without ``ZWAMESSAGE`` (another schema)
gives a warning naming the tables it has.
"""
from __future__ import annotations

import base64
import binascii
import posixpath
import re
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator

from forensic.extractors.base import ExtractorInput
from forensic.extractors.chat.common import Edits, attachment, link_by_suffix, message_record
from forensic.extractors.chat.sqlite_chat import OWNER, SqliteChatExtractor, lookup, rows, source
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from forensic.store.records import Link
from forensic.store.view import StoreView
from forensic.timestamps import Timestamp

APPLE_EPOCH = datetime(2001, 1, 1, tzinfo=timezone.utc)
APP = "WhatsApp iOS"
LOCATION_SOURCE = "whatsapp_ios location message (ZWAMEDIAITEM.ZLATITUDE/ZLONGITUDE)"
MEDIA_ROOT = "Message"            # ZMEDIALOCALPATH is relative to <app group>/Message/

_TYPES = {0: "text", 1: "image", 2: "video", 3: "audio", 4: "contact", 5: "location", 6: "system", 7: "link",
          8: "document", 10: "system", 11: "gif", 14: "deleted", 15: "sticker"}
_MESSAGE = ("ZCHATSESSION", "ZISFROMME", "ZFROMJID", "ZTOJID", "ZTEXT", "ZMESSAGEDATE", "ZSENTDATE", "ZMESSAGETYPE",
            "ZGROUPMEMBER", "ZMEDIAITEM", "ZPUSHNAME", "ZSTANZAID", "ZSTARRED", "ZGROUPEVENTTYPE")
_SESSION = ("ZCONTACTJID", "ZPARTNERNAME", "ZSESSIONTYPE")
_MEDIA = ("ZMESSAGE", "ZMEDIALOCALPATH", "ZTITLE", "ZLATITUDE", "ZLONGITUDE", "ZVCARDNAME", "ZVCARDSTRING",
          "ZFILESIZE", "ZMEDIAURL")
_MEMBER = ("ZCHATSESSION", "ZMEMBERJID", "ZCONTACTNAME", "ZFIRSTNAME")
_MIME = re.compile(r"^[a-z]+/[A-Za-z0-9.+_-]+$")


def core_data_time(value, label: str, problems: list[str]) -> Timestamp | None:
    """Core Data seconds since 2001-01-01 UTC (fractions kept) -> a UTC timestamp; None for
    NULL or 0; a value that is no such time is reported."""
    if value is None or value == 0:
        return None
    try:
        seconds = float(value)
        return Timestamp(label, APPLE_EPOCH + timedelta(seconds=seconds), None, True, "utc", str(value), 0)
    except (TypeError, ValueError, OverflowError):
        problems.append(f"{label} time {value!r} is not a Core Data time (seconds since 2001-01-01)")
        return None


def media_sha256(value) -> str | None:
    """``ZVCARDNAME`` of a media item: the base64 SHA-256 of its file, as hex; None when it is
    not one (a contact's name)."""
    if not isinstance(value, str) or len(value) != 44:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


def push_name(value) -> str | None:
    """``ZPUSHNAME`` as a name. Recent versions keep a base64 protobuf there instead (field 1,
    a varint: it decodes to bytes starting 0x08), which is not a name."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        raw = base64.b64decode(value, validate=True)
        if len(value) % 4 == 0 and raw[:1] == b"\x08":
            return None
    except (binascii.Error, ValueError):
        pass
    return value


def location_of(media, kind: str) -> dict | None:
    """The position of a location message: type 5, both coordinates in range and not 0/0."""
    if media is None or kind != "location":
        return None
    lat, lon = media["ZLATITUDE"], media["ZLONGITUDE"]
    if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    out = {"latitude": float(lat), "longitude": float(lon), "source": LOCATION_SOURCE}
    if media["ZTITLE"]:
        out["name"] = _text(media["ZTITLE"])
    return out


class WhatsAppIosExtractor(SqliteChatExtractor):
    NAME = "whatsapp_ios"
    VERSION = "1"
    DESCRIPTION = "WhatsApp for iOS message database (ChatStorage.sqlite: chats, groups, media, locations)"
    FILE_NAMES = ("chatstorage.sqlite",)
    MARKERS = (b"CREATE TABLE ZWAMESSAGE", b"CREATE TABLE ZWACHATSESSION")
    REQUIRED = ("ZWAMESSAGE",)

    def extract(self, item: ExtractorInput) -> Iterator[ArtifactRecord | ExtractionWarning]:
        for out in super().extract(item):
            if isinstance(out, ExtractionWarning) and "none of the tables" in out.message:
                # the base class's words, made to say which app and what the schema holds
                out = ExtractionWarning(self.NAME, f"{APP}: {item.path}: table ZWAMESSAGE is missing (unknown "
                                                   "ChatStorage.sqlite schema); no message read")
            yield out

    def read(self, conn, tables, item, problems) -> Iterator[ArtifactRecord]:
        msg_cols = tables["ZWAMESSAGE"]
        if "ZMESSAGEDATE" not in msg_cols:
            problems.append(f"{APP}: {item.path}: ZWAMESSAGE has no ZMESSAGEDATE column (unknown schema); "
                            "messages read without times")
        for table in ("ZWACHATSESSION", "ZWAMEDIAITEM", "ZWAGROUPMEMBER"):
            if table not in tables:
                problems.append(f"{APP}: {item.path}: table {table} is missing; messages read without "
                                + {"ZWACHATSESSION": "their chats", "ZWAMEDIAITEM": "media or locations",
                                   "ZWAGROUPMEMBER": "group members"}[table])
        sessions = lookup(conn, "ZWACHATSESSION", tables["ZWACHATSESSION"], "Z_PK", _SESSION,
                          problems) if "ZWACHATSESSION" in tables else {}
        media = lookup(conn, "ZWAMEDIAITEM", tables["ZWAMEDIAITEM"], "ZMESSAGE", _MEDIA,
                       problems) if "ZWAMEDIAITEM" in tables else {}
        members: dict = {}             # Z_PK -> member row
        by_session: dict = {}          # chat Z_PK -> member jids
        if "ZWAGROUPMEMBER" in tables:
            for r in rows(conn, "ZWAGROUPMEMBER", tables["ZWAGROUPMEMBER"], ("Z_PK",) + _MEMBER, problems):
                members[r["Z_PK"] if r["Z_PK"] is not None else r["_rowid"]] = r
                if r["ZMEMBERJID"]:
                    by_session.setdefault(r["ZCHATSESSION"], set()).add(_text(r["ZMEMBERJID"]))
        pushed = {}
        if "ZWAPROFILEPUSHNAME" in tables:
            pushed = {k: r["ZPUSHNAME"] for k, r in lookup(conn, "ZWAPROFILEPUSHNAME", tables["ZWAPROFILEPUSHNAME"],
                                                           "ZJID", ("ZPUSHNAME",), problems).items()}
        owner = _owner_jid(conn, msg_cols, problems)
        for r in rows(conn, "ZWAMESSAGE", msg_cols, ("Z_PK",) + _MESSAGE, problems):
            yield self._record(item, r, sessions, media, members, by_session, pushed, owner)

    def _record(self, item, r, sessions, media, members, by_session, pushed, owner) -> ArtifactRecord:
        problems: list[str] = []
        pk = r["Z_PK"] if r["Z_PK"] is not None else r["_rowid"]
        session = sessions.get(r["ZCHATSESSION"])
        jid = _text(session["ZCONTACTJID"]) if session is not None else None
        if jid is None and r["ZCHATSESSION"] is not None:
            jid = f"chat:{r['ZCHATSESSION']}"
        title = (_text(session["ZPARTNERNAME"]) if session is not None else None) or jid
        group = bool(jid) and jid.endswith("@g.us")
        member_jids = by_session.get(r["ZCHATSESSION"], set())
        others = sorted(j for j in member_jids if j != owner) if group else ([jid] if jid else [])
        from_me = bool(r["ZISFROMME"])
        from_jid = _text(r["ZFROMJID"])
        member = members.get(r["ZGROUPMEMBER"]) if r["ZGROUPMEMBER"] is not None else None
        if from_me:
            sender = OWNER
        elif group:
            # the member row names the sender; an older row may carry it in ZFROMJID instead
            sender = _text(member["ZMEMBERJID"]) if member is not None and member["ZMEMBERJID"] else (
                from_jid if from_jid and from_jid != jid else None)
        else:
            sender = from_jid or jid
        code = r["ZMESSAGETYPE"]
        kind = _TYPES.get(code, f"type {code}") if code is not None else "text"
        system = kind == "system"
        m = media.get(pk)
        body = _text(r["ZTEXT"]) or ""
        if not body and m is not None and m["ZTITLE"] and kind not in ("location", "deleted"):
            body = _text(m["ZTITLE"]) or ""                     # a media item's caption
        attachments = []
        extra: dict = {"message_type": kind, "message_type_code": code, "key_id": _text(r["ZSTANZAID"]),
                       "direction": "outgoing" if from_me else "incoming", "chat_jid": jid,
                       "from_jid": from_jid, "to_jid": _text(r["ZTOJID"]),
                       "starred": bool(r["ZSTARRED"]) if r["ZSTARRED"] is not None else None}
        if m is not None:
            local = _text(m["ZMEDIALOCALPATH"])
            if local:
                mime = m["ZVCARDSTRING"] if isinstance(m["ZVCARDSTRING"], str) and _MIME.match(
                    m["ZVCARDSTRING"]) else None
                attachments.append(attachment(posixpath.basename(local), path=f"{MEDIA_ROOT}/{local.lstrip('/')}",
                                              kind=kind, mime_type=mime, size=m["ZFILESIZE"],
                                              media_sha256=media_sha256(m["ZVCARDNAME"]), url=_text(m["ZMEDIAURL"])))
            if kind == "contact":
                extra["vcard"] = {"name": _text(m["ZVCARDNAME"]), "vcard": _text(m["ZVCARDSTRING"])}
            loc = location_of(m, kind)
            if loc is not None:
                extra["location"] = loc
        names = {}
        if not from_me and sender:
            name = _text(member["ZCONTACTNAME"] or member["ZFIRSTNAME"]) if member is not None else None
            if not group and session is not None:
                name = name or _text(session["ZPARTNERNAME"])
            name = name or _text(pushed.get(sender)) or push_name(r["ZPUSHNAME"])
            if name:
                extra["sender_name"] = name
                names[sender] = name
        if owner:
            extra["owner_jid"] = owner
        if r["ZGROUPEVENTTYPE"]:
            extra["group_event_type"] = r["ZGROUPEVENTTYPE"]
        if system:
            extra["actor"] = sender or from_jid
        sent = core_data_time(r["ZMESSAGEDATE"], "sent", problems)
        second = core_data_time(r["ZSENTDATE"], "zsentdate", problems)
        extra["zsentdate_utc"] = second.iso_utc() if second is not None else None
        return message_record(
            platform="whatsapp", conversation={"id": jid, "title": title, "group": group},
            participants=[OWNER] + others, sender=None if system else sender,
            recipients=others if from_me else [OWNER] + [o for o in others if o != sender],
            sent=sent, body=body, attachments=attachments, deleted=kind == "deleted", system=system,
            problems=problems, source=source(item, "ZWAMESSAGE", pk), source_ref=f"ZWAMESSAGE:{pk}", extra=extra)

    def finalize(self, store: StoreView, item: str) -> Iterable[ExtractionWarning | Link]:
        """Attachments by path (the last components of ``Message/Media/…``), then each linked
        file's SHA-256 against the one WhatsApp recorded (``sha256_matches``). An attachment
        not found by path is linked to a file under the same container's ``Message/`` folder
        whose SHA-256 is the one WhatsApp recorded, when there is one (``linked_by``
        "sha256"), and its "not among the walked files" warning is withdrawn."""
        edits = Edits()
        warnings = link_by_suffix(store, item, self.NAME, edits)
        by_hash: dict[str, dict] = {}       # database folder -> sha256 -> file
        found_by_hash = set()
        for rec in store.records(item, "chat/message", self.NAME, with_attachments=True):
            fields = edits.fields(rec)
            changed = False
            for att in fields.get("attachments", []):
                want = att.get("media_sha256")
                if not want:
                    continue
                if att.get("sha256"):
                    att["sha256_matches"] = att["sha256"] == want
                    changed = True
                    continue
                folder = posixpath.dirname(rec.path or "")
                if folder not in by_hash:
                    prefix = f"{folder}/{MEDIA_ROOT}/" if folder else f"{MEDIA_ROOT}/"
                    by_hash[folder] = {f.sha256: f for f in store.files_under(item, prefix)
                                       if f.sha256 and f.kind == "file"}
                f = by_hash[folder].get(want)
                if f is not None:
                    att.update(sha256=f.sha256, locator=f.locator, missing=False, sha256_matches=True,
                               linked_by="sha256")
                    found_by_hash.add(rec.id)
                    changed = True
            if changed:
                edits.changed(rec, fields, "media SHA-256 checked against WhatsApp's record")
        if found_by_hash:
            warnings = [w for w in warnings if not (isinstance(w, ExtractionWarning)
                                                    and w.detail.get("artifact_id") in found_by_hash)]
        return warnings + edits.links()


def _text(value) -> str | None:
    """A text column as text: a hostile database may put a number or a BLOB where a jid or a
    name belongs (a BLOB is decoded as UTF-8, bad bytes replaced)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _owner_jid(conn, cols: set[str], problems: list[str]) -> str | None:
    """The device owner's jid, where the database tells it without doubt: the one ``ZTOJID``
    that messages received in groups and system notices are addressed to. None otherwise."""
    if "ZTOJID" not in cols or "ZISFROMME" not in cols:
        return None
    seen = set()
    for r in rows(conn, "ZWAMESSAGE", cols, ("ZTOJID", "ZISFROMME"), problems, where='"ZISFROMME" = 0'):
        if r["ZTOJID"]:
            seen.add(_text(r["ZTOJID"]))
            if len(seen) > 1:
                return None
    return next(iter(seen)) if seen else None
