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

The key (:func:`key_from_config`): ``config.json``'s ``key`` as it is; its ``encryptedKey``
(Signal Desktop 7.16 and later: Electron ``safeStorage``, the hex of Chromium's ``os_crypt``
blob) unsealed where the scheme is public and the secret known: ``v10``/``v11`` on Linux and
``v10`` on macOS are AES-128-CBC (IV 16 spaces, PKCS#7) under PBKDF2-HMAC-SHA1(password,
salt ``saltysalt``, 16 bytes; 1 iteration on Linux, 1003 on macOS) (Chromium
``components/os_crypt/sync/os_crypt_linux.cc`` and ``os_crypt_mac.mm``). Linux ``v10`` with no
keyring uses the built-in password ``peanuts``, so it opens from the evidence alone; Linux
``v11`` needs the keyring's secret (libsecret/kwallet "Signal Safe Storage" / "Chromium Safe
Storage") and macOS the Keychain's "Signal Safe Storage" password, given by the examiner.
Windows' DPAPI-sealed key is not opened here: the examiner gives the unsealed key.
A ``config.json`` in the evidence is read for what it says of the key (a warning: no key is
stored in the case).
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
PASSWORD_OPTION = "signal_desktop_password"      # the safeStorage password (keyring / Keychain)
LINUX_DEFAULT_PASSWORD = b"peanuts"              # Chromium os_crypt_linux.cc: no keyring (v10)
_ITERATIONS = {"linux": 1, "macos": 1003}        # os_crypt_linux.cc, os_crypt_mac.mm
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


def _unseal(blob: bytes, password: bytes, iterations: int) -> str | None:
    """Chromium's os_crypt AES-128-CBC blob (after its 3-byte version prefix) under ``password``:
    the SQLCipher key it holds (64 hex digits), or None when this password does not open it."""
    from cryptography.hazmat.primitives import hashes, padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    body = blob[3:]
    if not body or len(body) % 16:
        return None
    key = PBKDF2HMAC(algorithm=hashes.SHA1(), length=16, salt=b"saltysalt", iterations=iterations).derive(password)
    dec = Cipher(algorithms.AES(key), modes.CBC(b" " * 16)).decryptor()
    padded = dec.update(body) + dec.finalize()
    unpad = padding.PKCS7(128).unpadder()
    try:
        plain = unpad.update(padded) + unpad.finalize()
    except ValueError:          # bad padding: another password
        return None
    text = plain.decode("ascii", "replace").strip().lower()
    if len(text) == 64 and all(c in "0123456789abcdef" for c in text):
        return text
    return None


def key_from_config(data: bytes, password: bytes | None = None) -> tuple[str, str]:
    """The database key of a Signal Desktop ``config.json`` and how it was had ('config.json key',
    'encryptedKey v10, Linux default password', ...). Raises ValueError saying what is needed
    when the key cannot be had from what is given."""
    try:
        conf = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:      # RecursionError: "[[[[..."
        raise ValueError(f"config.json is not JSON ({exc})") from None
    if not isinstance(conf, dict):
        raise ValueError("config.json holds no JSON object")
    if isinstance(conf.get("key"), str) and conf["key"].strip():
        return conf["key"].strip().lower(), "config.json key"
    sealed = conf.get("encryptedKey")
    if not isinstance(sealed, str) or not sealed.strip():
        raise ValueError("config.json holds neither 'key' nor 'encryptedKey'")
    try:
        blob = bytes.fromhex(sealed.strip())
    except ValueError:
        raise ValueError("config.json's encryptedKey is not hexadecimal") from None
    version = blob[:3]
    if version not in (b"v10", b"v11"):
        raise ValueError(f"config.json's encryptedKey has the unknown prefix {version!r} (Windows DPAPI sealing "
                         "or a newer scheme): give the key unsealed on the owner's system (--signal-key)")
    if version == b"v10":
        key = _unseal(blob, LINUX_DEFAULT_PASSWORD, _ITERATIONS["linux"])
        if key:
            return key, "encryptedKey v10, Linux default password (no keyring)"
    if password:
        for system, iterations in _ITERATIONS.items():
            key = _unseal(blob, password, iterations)
            if key:
                return key, f"encryptedKey {version.decode()}, {system} safeStorage password given"
        raise ValueError(f"config.json's encryptedKey ({version.decode()}) is not opened by the safeStorage "
                         "password given (tried as Linux keyring and macOS Keychain password)")
    raise ValueError(f"its key is encrypted by the OS keystore (encryptedKey {version.decode()}: Windows DPAPI, "
                     "macOS Keychain or Linux libsecret/kwallet): give --signal-key HEX (the key unsealed on the "
                     "owner's system), or the 'Signal Safe Storage' password from the keyring or Keychain with "
                     "--signal-password-file")


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
        if _is_config(p):
            return True
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
        if _is_config(item.path.replace("\\", "/").lower()):
            yield from self._config(item)
            return
        key = (item.options or {}).get(KEY_OPTION)
        if not key:
            yield ExtractionWarning(self.NAME, (
                f"{item.path}: Signal Desktop database is encrypted (SQLCipher 4). Needed: the 'key' (hex) from "
                "Signal/config.json: decrypt a copy with it (sqlcipher: PRAGMA key = \"x'KEY'\"; "
                "sqlcipher_export) and add that copy as evidence, or give it: forensic triage --signal-key HEX "
                "(or --signal-config config.json); "
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

    def _config(self, item: ExtractorInput) -> Iterator[ExtractionWarning]:
        """What Signal's config.json says of the database key: a warning, never the key."""
        opts = item.options or {}
        if opts.get(KEY_OPTION):
            return
        try:
            with item.stream() as f:
                data = f.read(1 << 20)
        except (OSError, ValueError) as exc:
            yield ExtractionWarning(self.NAME, f"{item.path}: not readable ({exc})")
            return
        password = opts.get(PASSWORD_OPTION)
        try:
            _, how = key_from_config(data, password.encode() if isinstance(password, str) else password)
        except ValueError as exc:
            yield ExtractionWarning(self.NAME, f"{item.path}: Signal Desktop database found; {exc}")
            return
        yield ExtractionWarning(self.NAME, (
            f"{item.path}: Signal Desktop config.json: the database key can be had ({how}); "
            "give a copy of this file to forensic triage --signal-config FILE to read the encrypted db.sqlite "
            "(the key itself is not stored in the case)"))

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


def _is_config(path: str) -> bool:
    """Signal Desktop's config.json (``Signal/``, ``Signal Beta/``; lower-case, ``/`` path)."""
    parts = path.rsplit("/", 2)
    return len(parts) == 3 and parts[2] == "config.json" and parts[1] in ("signal", "signal beta")


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
