"""Signal Desktop (Windows, macOS, Linux): ``Signal/sql/db.sqlite``.

Signal Desktop keeps its database encrypted with SQLCipher 4. The key is in ``Signal/config.json``:
``key`` (64 hex digits, raw key) up to 2024; newer versions hold ``encryptedKey`` instead, the key
sealed by the operating system's keychain (Windows DPAPI, macOS Keychain, Linux libsecret/kwallet),
which cannot be opened from the evidence alone. This reader takes:

* a decrypted copy (plain SQLite, tables ``messages`` and ``conversations``), as exported by an
  extraction tool or ``sqlcipher_export``;
* the encrypted database, when the plain ``key`` is given as the per-item option
  ``signal_desktop_key`` (hex, as config.json holds it): it is decrypted with the ``sqlcipher3``
  module (SQLCipher 4 defaults, raw key ``x'<hex>'``, as Signal Desktop's ``sql/Server.ts`` sets it)
  into a private temporary copy, never touching the evidence. Without a key, or without
  ``sqlcipher3``, one warning names what is needed.

Schema (Signal Desktop ``ts/sql/Server.ts`` and its migrations, versions 1.x to 7.x; also read by
tools such as sigtop and signal-export): ``messages`` (``id``, ``json`` holding the message object:
``body``, ``type`` incoming/outgoing or an event such as ``keychange``, ``timer-notification``,
``group-v2-change``, ``call-history``; ``sent_at`` Unix ms UTC; ``received_at`` Unix ms in early
versions, a counter since 5.x, with the time in ``received_at_ms``; ``source`` (e164) and
``sourceServiceId`` (``sourceUuid`` before 6.x); ``conversationId``; ``attachments``
[{``fileName``, ``contentType``, ``path``, ``size``}]; ``quote`` {``id``, ``text``, ``author``};
``reactions`` [{``emoji``, ``fromId``}]; ``deletedForEveryone``), ``conversations`` (``id``,
``json``: ``name``, ``profileName``, ``profileFullName``, ``e164``, ``serviceId`` (``uuid``
before 6.x), ``type`` private/group, ``groupId``, ``membersV2`` [{``aci`` or ``uuid``}]).
The JSON column is authoritative; a row whose JSON is not an object is reported and skipped.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import os
import posixpath
import tempfile
from typing import Any, Iterator

from forensic.extractors.base import ExtractorInput
from forensic.extractors.chat.app_db import party, text_of
from forensic.extractors.chat.common import SQLITE_MAGIC, attachment, message_record
from forensic.extractors.chat.sqlite_chat import OWNER, SqliteChatExtractor, rows, source, unix_ms
from forensic.extractors.records import ArtifactRecord, ExtractionWarning

KEY_OPTION = "signal_desktop_key"
_EVENTS_OUT = {"outgoing"}
_MSG_COLS = ("json", "conversationId", "sent_at", "received_at", "type", "body")


def _obj(raw: Any) -> dict | None:
    """The JSON object of a ``json`` column, or None."""
    try:
        val = json.loads(text_of(raw)) if raw is not None else None
    except ValueError:
        return None
    return val if isinstance(val, dict) else None


def _list(value: Any) -> list:
    """A JSON array field as a list; anything else (hostile or damaged) as none."""
    return value if isinstance(value, list) else []


def _key(value: Any) -> str | None:
    """An id from the JSON as text (a list or object where an id belongs is kept as its JSON)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def decrypt(data: bytes, key_hex: str, workdir: str) -> bytes:
    """The plain SQLite bytes of a SQLCipher 4 database ``data`` with Signal's raw key. Raises
    ImportError (no sqlcipher3), ValueError (key not hex) or a sqlcipher3 DatabaseError (wrong
    key, not a SQLCipher database)."""
    key = key_hex.strip().lower()
    if not key or any(c not in "0123456789abcdef" for c in key):
        raise ValueError("key is not hexadecimal")
    sqlcipher = importlib.import_module("sqlcipher3")
    enc, plain = os.path.join(workdir, "enc.sqlite"), os.path.join(workdir, "plain.sqlite")
    with open(enc, "wb") as f:
        f.write(data)
    conn = sqlcipher.connect(enc)
    try:
        conn.execute(f"PRAGMA key = \"x'{key}'\"")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()       # fails on a wrong key
        conn.execute("ATTACH DATABASE ? AS plaintext KEY ''", (plain,))
        conn.execute("SELECT sqlcipher_export('plaintext')").fetchone()
        conn.execute("DETACH DATABASE plaintext")
    finally:
        conn.close()
    with open(plain, "rb") as f:
        return f.read()


class SignalDesktopExtractor(SqliteChatExtractor):
    NAME = "signal_desktop"
    VERSION = "1"
    DESCRIPTION = ("Signal Desktop db.sqlite (decrypted, or SQLCipher with the config.json key given as option "
                   f"{KEY_OPTION})")
    FILE_NAMES = ()
    REQUIRED = ("messages",)
    MESSAGE_TABLES = {"messages": _MSG_COLS}

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        p = path.replace("\\", "/").lower()
        if posixpath.basename(p) != "db.sqlite":
            return False
        # a plain copy by its name; an encrypted one (random bytes) only where Signal keeps it
        return head.startswith(SQLITE_MAGIC) or p.endswith("signal/sql/db.sqlite")

    def extract(self, item: ExtractorInput) -> Iterator[ArtifactRecord | ExtractionWarning]:
        try:
            with item.stream() as f:
                head = f.read(16)
        except (OSError, ValueError) as exc:
            yield ExtractionWarning(self.NAME, f"{item.path}: not readable ({exc})")
            return
        if head.startswith(SQLITE_MAGIC):
            yield from super().extract(item)
            return
        key = (item.options or {}).get(KEY_OPTION)
        if not key:
            yield ExtractionWarning(self.NAME, (
                f"{item.path}: Signal Desktop database is encrypted (SQLCipher 4). Needed: the 'key' (hex) from "
                "Signal/config.json: decrypt a copy with it (sqlcipher: PRAGMA key = \"x'KEY'\"; "
                f"sqlcipher_export) and add that copy as evidence, or give the key as extractor option {KEY_OPTION}; "
                "where config.json holds 'encryptedKey' "
                "instead, the key is sealed by the OS keychain (Windows DPAPI, macOS Keychain, Linux libsecret) "
                "and must be unsealed on the owner's system first; nothing read"))
            return
        if item.siblings:
            yield ExtractionWarning(self.NAME, f"{item.path}: its {', '.join(sorted(item.siblings))} (encrypted) "
                                               "not applied: the database file alone is decrypted")
        try:
            with tempfile.TemporaryDirectory(prefix="signal-desktop-") as tmp:
                with item.stream() as f:
                    data = f.read()
                plain = decrypt(data, str(key), tmp)
        except ImportError:
            yield ExtractionWarning(self.NAME, f"{item.path}: encrypted; the sqlcipher3 module (pip install "
                                               "sqlcipher3) is needed to decrypt it; nothing read")
            return
        except Exception as exc:  # sqlcipher3's DatabaseError (wrong key, damage), bad key text, disk
            yield ExtractionWarning(self.NAME, f"{item.path}: not decrypted with the given key ({exc}); "
                                               "nothing read")
            return
        yield ExtractionWarning(self.NAME, f"{item.path}: decrypted (SQLCipher 4, key given) into a private "
                                           "temporary copy; records read from it")
        yield from super().extract(dataclasses.replace(item, data=plain, size=len(plain), reopen=None,
                                                       siblings=None))

    def context(self, conn, tables, item, problems) -> "_Context":
        ctx = _Context()
        if "json" not in tables.get("messages", set()):
            ctx.foreign = True             # some other app's db.sqlite with a messages table
            return ctx
        if "conversations" not in tables:
            problems.append("Signal Desktop: table conversations missing: conversations are given by id")
            return ctx
        for r in rows(conn, "conversations", tables["conversations"], ("id", "json"), problems):
            c = _obj(r["json"])
            if c is None:
                problems.append(f"table conversations: row {r['_rowid']} has no JSON object; skipped")
                continue
            cid = _key(r["id"] if r["id"] is not None else c.get("id"))
            ctx.convs[cid] = c
            for k in ("serviceId", "uuid", "e164"):
                if c.get(k):
                    ctx.by_ident[str(_key(c[k]))] = c
        return ctx

    def row_record(self, table, r, ctx, item) -> ArtifactRecord | None:
        if ctx.foreign:
            return None
        problems: list[str] = []
        m = _obj(r["json"])
        if m is None:
            raise ValueError("its json column holds no JSON object")
        mtype = m.get("type", r["type"])
        outgoing = mtype in _EVENTS_OUT
        cid = _key(m.get("conversationId", r["conversationId"]))
        conv = ctx.convs.get(cid) or {}
        is_group = conv.get("type") == "group"
        author = _key(m.get("sourceServiceId") or m.get("sourceUuid") or m.get("source"))
        sender = OWNER if outgoing else (ctx.label_ident(author) if author else ctx.label(conv) if not is_group
                                         else None)
        if is_group:
            others = [ctx.label_ident(x.get("aci") or x.get("uuid")) for x in _list(conv.get("membersV2"))
                      if isinstance(x, dict)]
            if sender and sender != OWNER and sender not in others:
                others.append(sender)
        else:
            others = [ctx.label(conv) or f"conversation:{cid}"]
        others = [o for o in dict.fromkeys(others) if o]
        sent = unix_ms(m.get("sent_at", r["sent_at"]), "sent", problems)
        rec_ms = m.get("received_at_ms")
        if rec_ms is None:
            raw = m.get("received_at", r["received_at"])
            rec_ms = raw if isinstance(raw, int) and raw > 10**11 else None     # since 5.x a counter
        received = unix_ms(rec_ms, "received", problems)
        atts = []
        for a in _list(m.get("attachments")):
            if isinstance(a, dict):
                extra = {k: a[k] for k in ("contentType", "size") if a.get(k) is not None}
                if a.get("path"):
                    extra["path"] = str(a["path"])
                atts.append(attachment(a.get("fileName") or (str(a["path"]).rsplit("/", 1)[-1]
                                                             if a.get("path") else None), **extra))
        quote = m.get("quote") if isinstance(m.get("quote"), dict) else None
        reactions = [{"emoji": x.get("emoji"), "from": ctx.label_ident(x.get("fromId"))}
                     for x in _list(m.get("reactions")) if isinstance(x, dict)]
        system = mtype not in ("incoming", "outgoing")
        body = m.get("body")
        return message_record(
            platform="signal", conversation={"id": f"conversation:{cid}", "title": ctx.title(conv) or str(cid)},
            participants=[OWNER] + others, sender=sender, sent=sent,
            body=body if isinstance(body, str) else text_of(r["body"]), attachments=atts,
            reply_to=quote.get("id") if quote else None, deleted=bool(m.get("deletedForEveryone")),
            system=system, problems=problems, source=source(item, table, r["_rowid"]),
            source_ref=f"{table}:{r['_rowid']}",
            extra={"direction": "outgoing" if outgoing else "incoming", "type": mtype, "group": is_group,
                   "app": "Signal Desktop",
                   "received_at": received.iso_utc() if received is not None else None,
                   "quote": {"id": quote.get("id"), "text": quote.get("text"),
                             "author": ctx.label_ident(quote.get("authorAci") or quote.get("authorUuid")
                                                       or quote.get("author"))} if quote else None,
                   "reactions": reactions or None})


class _Context:
    def __init__(self) -> None:
        self.convs: dict = {}
        self.by_ident: dict[str, dict] = {}
        self.foreign = False

    @staticmethod
    def title(conv: dict) -> str | None:
        name = conv.get("name") or conv.get("profileFullName") or conv.get("profileName") or conv.get("e164")
        return None if name is None else str(name)

    def label(self, conv: dict) -> str | None:
        if not conv:
            return None
        return party(conv.get("name") or conv.get("profileFullName") or conv.get("profileName"),
                     conv.get("e164") or conv.get("serviceId") or conv.get("uuid"))

    def label_ident(self, ident: Any) -> str | None:
        if ident in (None, ""):
            return None
        ident = _key(ident)
        conv = self.by_ident.get(str(ident)) or self.convs.get(ident)      # a service id, e164, or conversation id
        return (self.label(conv) if conv else None) or str(ident)
