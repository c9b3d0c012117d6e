"""Known messaging-app databases that no extractor read: one warning each, naming the app
and why (encrypted and the key it needs, corrupt, no reader in this toolkit, unknown schema),
so that an examiner knows what was not read.

A file is *known* when its name (or its path, for common names such as ``main.db``) is one
the table below lists. For such a file this extractor asks every other registered extractor
whether it takes the file (``accepts``): if one does, that extractor reads it and reports its
own problems (a missing table, an unknown schema version, damage), and nothing is added here,
so there is never a second warning for the same file. Otherwise:

* not a SQLite header: an app whose database is encrypted (SQLCipher, WhatsApp's
  ``.crypt12/14/15``) is reported as encrypted, naming the key needed; content that looks
  random is reported as encrypted; anything else as corrupt or not a database;
* a SQLite database this toolkit has no reader for: reported as not parsed, with its tables;
* a SQLite database whose schema cannot be read: reported as corrupt.

Sources for names, paths and keys: ALEAPP/iLEAPP artifact path lists
(``scripts/artifacts/*.py``), mvt's Android/iOS module paths, and the apps' published
storage formats (SQLCipher for Signal, Threema, Wickr, WeChat; WhatsApp's crypt formats).
"""
from __future__ import annotations

import fnmatch
import math
import posixpath
import sqlite3
from collections import Counter
from dataclasses import dataclass
from typing import Iterator

from forensic.extractors.base import Extractor, ExtractorInput
from forensic.extractors.chat.common import SQLITE_MAGIC, tables_of
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from forensic.extractors.sqlite_journal import open_database

HEAD = 8192


@dataclass(frozen=True, slots=True)
class KnownDb:
    app: str
    what: str                              # what the file holds
    patterns: tuple[str, ...]              # lower-case globs on the base name, or on the path if they hold '/'
    encrypted: str | None = None           # the key needed, for a database stored encrypted


_SQLCIPHER = "SQLCipher"
KNOWN: tuple[KnownDb, ...] = (
    KnownDb("WhatsApp", "Android messages", ("msgstore.db",)),
    KnownDb("WhatsApp", "Android contacts", ("wa.db",)),
    KnownDb("WhatsApp", "Android encrypted backup (crypt12/crypt14)", ("msgstore*.db.crypt12", "msgstore*.db.crypt14",
                                                                        "wa.db.crypt12", "wa.db.crypt14"),
            encrypted="the 158-byte key file /data/data/com.whatsapp/files/key from the same device"),
    KnownDb("WhatsApp", "Android encrypted backup (crypt15)", ("msgstore*.db.crypt15", "wa.db.crypt15"),
            encrypted="the 64-digit end-to-end backup key (or the key file in /data/data/com.whatsapp/files/"
                      "encrypted_backup.key)"),
    KnownDb("WhatsApp", "iOS messages", ("chatstorage.sqlite",)),
    KnownDb("WhatsApp", "iOS contacts", ("contactsv2.sqlite",)),
    KnownDb("Telegram", "Android cache (messages, users, chats)", ("cache4.db",)),
    KnownDb("Telegram", "iOS Postbox database", ("*/telegram-data/*/postbox/db/db_sqlite",)),
    KnownDb("Telegram", "Desktop local storage (tdata)", ("*/tdata/key_datas",),
            encrypted="the Telegram Desktop local passcode, when one is set (the local key is in key_datas)"),
    KnownDb("Signal", "Android", ("*/org.thoughtcrime.securesms/databases/signal.db", "signal.db"),
            encrypted=f"the {_SQLCIPHER} key kept by the Android Keystore (an extraction's secrets, or a decrypted "
                      "Signal backup's database)"),
    KnownDb("Signal", "Desktop", ("*/signal/sql/db.sqlite",),
            encrypted=f"the {_SQLCIPHER} key in Signal's config.json (itself sealed by the OS keychain in newer "
                      "versions)"),
    KnownDb("Threema", "Android", ("threema.db", "threema4.db"),
            encrypted=f"the {_SQLCIPHER} key from Threema's key.dat (and its passphrase, if one is set)"),
    KnownDb("Threema", "iOS", ("threemadata.sqlite",)),
    KnownDb("Wickr", "Android", ("wickr_db",),
            encrypted=f"the {_SQLCIPHER} key derived from the user's Wickr password"),
    KnownDb("WeChat", "Android messages", ("enmicromsg.db",),
            encrypted=f"the {_SQLCIPHER} key: the first 7 hex digits of MD5(IMEI + uin), from the device's IMEI and "
                      "the uin in shared_prefs/system_config_prefs.xml"),
    KnownDb("WeChat", "iOS messages", ("*/documents/*/db/mm.sqlite", "message_*.sqlite")),
    KnownDb("Viber", "Android messages", ("viber_messages",)),
    KnownDb("Viber", "Android contacts", ("viber_data",)),
    KnownDb("Viber", "iOS", ("contacts.data",)),
    KnownDb("Facebook Messenger", "Android threads", ("threads_db2",)),
    KnownDb("Facebook Messenger", "mailbox (msys)", ("msys_database_*",)),
    KnownDb("Facebook Messenger", "iOS mailbox (lightspeed)", ("lightspeed-*.db",)),
    KnownDb("Instagram", "Android direct messages", ("direct.db",)),
    KnownDb("Instagram", "Android mailbox (msys)", ("ig_msys_database_*",)),
    KnownDb("Google Messages", "Android messages", ("bugle_db",)),
    KnownDb("Kik", "Android messages", ("kikdatabase.db", "*.kikdatabase.db")),
    KnownDb("Kik", "iOS messages", ("kik.sqlite",)),
    KnownDb("Skype", "messages (legacy)", ("*/skype/*/main.db", "*/com.skype.raider/*/main.db")),
    KnownDb("Skype", "messages (Skype 8+)", ("s4l-*.db",)),
    KnownDb("Skype", "Android messages (Skype 7)", ("*/com.skype.raider/databases/live*",)),
    KnownDb("Line", "Android messages", ("naver_line",)),
    KnownDb("Line", "iOS messages", ("line.sqlite",)),
    KnownDb("Snapchat", "Android messages", ("arroyo.db",)),
    KnownDb("Snapchat", "Android friends and feed", ("*/com.snapchat.android/databases/main.db",)),
    KnownDb("Wire", "Android messages", ("*/com.wire/databases/*",)),
    KnownDb("Session", "Android messages", ("session.db",),
            encrypted=f"the {_SQLCIPHER} key kept by the Android Keystore"),
    KnownDb("imo", "Android messages", ("imofriendsmanager.db",)),
    KnownDb("TextNow", "Android messages", ("textnow_data.db",)),
    KnownDb("Android Messages", "SMS/MMS", ("mmssms.db",)),
    KnownDb("iMessage", "messages", ("sms.db", "chat.db")),
)


def known_db(path: str) -> KnownDb | None:
    """The table's entry for ``path`` (case-insensitive), or None."""
    low = path.replace("\\", "/").lower()
    name = posixpath.basename(low)
    for k in KNOWN:
        for pat in k.patterns:
            if fnmatch.fnmatchcase(low if "/" in pat else name, pat):
                return k
    return None


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte."""
    if not data:
        return 0.0
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in Counter(data).values())


class KnownAppsExtractor(Extractor):
    NAME = "known_apps"
    VERSION = "1"
    DESCRIPTION = "Known app databases that no extractor read: a warning each (encrypted, corrupt, no reader)"
    RECORD_TYPES = ()

    def __init__(self) -> None:
        self._others: list[Extractor] | None = None

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        return known_db(path) is not None

    def others(self) -> list[Extractor]:
        """Every other registered extractor (loaded once, on first use: the registry lists this
        module too)."""
        if self._others is None:
            from forensic.extractors.registry import available_extractors
            self._others = [x for x in available_extractors() if x.NAME != self.NAME]
        return self._others

    def read_by_other(self, path: str, mime: str, head: bytes) -> str | None:
        for ex in self.others():
            try:
                if ex.accepts(path, mime, head):
                    return ex.NAME
            except Exception:                 # another extractor's fault is its own warning, not ours
                continue
        return None

    def extract(self, item: ExtractorInput) -> Iterator[ArtifactRecord | ExtractionWarning]:
        known = known_db(item.path)
        if known is None:
            return
        try:
            with item.stream() as fh:
                head = fh.read(HEAD)
        except (OSError, ValueError) as exc:
            yield self._warn(known, item, f"unreadable ({exc}); not read")
            return
        if self.read_by_other(item.path, item.mime, head):
            return
        if not head:
            yield self._warn(known, item, "empty file; nothing to read")
        elif not head.startswith(SQLITE_MAGIC):
            yield self._warn(known, item, self._not_sqlite(known, head))
        else:
            yield from self._sqlite(known, item)

    def _not_sqlite(self, known: KnownDb, head: bytes) -> str:
        sample = head[:4096]
        randomish = len(sample) >= 256 and entropy(sample) > 7.0
        if known.encrypted:
            how = "encrypted" if randomish else "encrypted or corrupt (its start does not look random)"
            return f"{how} (no SQLite header): not read; key needed: {known.encrypted}"
        if randomish:
            return "encrypted or compressed (no SQLite header; the content looks random): not read"
        return "corrupt or not a database (no SQLite header): not read"

    def _sqlite(self, known: KnownDb, item: ExtractorInput) -> Iterator[ExtractionWarning]:
        try:
            with open_database(item) as db:
                tables, problem = tables_of(db.committed)
        except (sqlite3.DatabaseError, OSError) as exc:
            yield self._warn(known, item, f"corrupt: {exc}; not read")
            return
        if problem:
            yield self._warn(known, item, f"corrupt: {problem}; not read")
            return
        names = sorted(t for t in tables if not t.startswith("sqlite_"))
        shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        yield self._warn(known, item, f"no reader in this toolkit for this database (tables: {shown or 'none'}); "
                                      "not parsed")

    def _warn(self, known: KnownDb, item: ExtractorInput, reason: str) -> ExtractionWarning:
        return ExtractionWarning(self.NAME, f"{known.app} database ({known.what}) {item.path}: {reason}",
                                 detail={"app": known.app, "database": known.what})
