"""Known app databases no extractor read: encrypted (naming the key), corrupt, no reader
here; and silence where the app's own extractor takes the file (it reports its own problems:
never two warnings for one file)."""
from __future__ import annotations

import importlib
import os
import random

import pytest

from appdb import build, run
from forensic.extractors.chat.known_apps import KnownAppsExtractor, known_db
from forensic.extractors.chat.viber import ViberExtractor

EX = KnownAppsExtractor()


def _warns(data: bytes, path: str) -> list[str]:
    recs, warns = run(EX, data, path)
    assert recs == []
    return warns


def test_names_and_paths():
    assert known_db("/data/data/com.tencent.mm/MicroMsg/abc/EnMicroMsg.db").app == "WeChat"
    assert known_db("C:\\Users\\x\\AppData\\Roaming\\Skype\\me\\main.db").app == "Skype"
    assert known_db("/sdcard/WhatsApp/Databases/msgstore-2024-01-01.1.db.crypt15").what.endswith("(crypt15)")
    assert known_db("/data/data/com.example/databases/main.db") is None
    assert known_db("/photos/main.jpg") is None
    assert not EX.accepts("/x/notes.db", "application/vnd.sqlite3", b"SQLite format 3\x00")


def test_encrypted_databases_name_the_key():
    noise = os.urandom(8192)
    [w] = _warns(noise, "/data/data/com.tencent.mm/MicroMsg/abc/EnMicroMsg.db")
    assert w.startswith("WeChat database (Android messages) /data/data/com.tencent.mm/MicroMsg/abc/EnMicroMsg.db: "
                        "encrypted (no SQLite header): not read; key needed: the SQLCipher key: the first 7 hex")
    [w] = _warns(noise, "/sdcard/WhatsApp/Databases/msgstore.db.crypt15")
    assert "WhatsApp database (Android encrypted backup (crypt15))" in w and "64-digit end-to-end backup key" in w
    [w] = _warns(noise, "/data/data/org.thoughtcrime.securesms/databases/signal.db")
    assert w.startswith("Signal database (Android)") and "Android Keystore" in w


def test_corrupt_and_no_reader(tmp_path):
    [w] = _warns(b"\x00" * 4096, "/data/data/jp.naver.line.android/databases/naver_line")
    assert w.endswith("corrupt or not a database (no SQLite header): not read")
    data = build(tmp_path / "ThreemaData.sqlite", "CREATE TABLE ZMESSAGE (Z_PK INTEGER PRIMARY KEY, ZTEXT TEXT);"
                                                  "CREATE TABLE ZCONVERSATION (Z_PK INTEGER PRIMARY KEY);")
    [w] = _warns(data, "/private/var/mobile/Containers/Shared/AppGroup/X/ThreemaData.sqlite")
    assert w.endswith("no reader in this toolkit for this database (tables: ZCONVERSATION, ZMESSAGE); not parsed")
    # a SQLite header over a destroyed schema page
    broken = bytearray(data)
    broken[100:len(broken)] = b"\xff" * (len(broken) - 100)
    [w] = _warns(bytes(broken), "/x/ThreemaData.sqlite")
    assert "ThreemaData.sqlite: corrupt: " in w


def test_silent_where_the_apps_extractor_reads(tmp_path):
    data = build(tmp_path / "viber_messages", "CREATE TABLE chats (id INTEGER);")
    assert _warns(data, "/data/data/com.viber.voip/databases/viber_messages") == []
    # ... where the Viber extractor itself says what it could not read
    _, warns = run(ViberExtractor(), data, "/data/data/com.viber.voip/databases/viber_messages")
    assert len(warns) == 1 and "none of the tables" in warns[0]


def test_wal_sidecars_not_reported():
    assert known_db("/data/data/com.whatsapp/databases/msgstore.db-wal") is None


def test_triage_warns_once_per_file(forensic, tmp_path):
    """Through a triage: one warning for each known database not read (encrypted, corrupt, no
    reader), the app's own warning for its database missing tables, none for one read."""
    phone = tmp_path / "phone"
    viber = phone / "data/data/com.viber.voip/databases"
    viber.mkdir(parents=True)
    build(viber / "viber_messages", "CREATE TABLE chats (id INTEGER);")                  # Viber warns
    build(viber / "viber_data", "CREATE TABLE phonebookcontact (_id INTEGER PRIMARY KEY, display_name TEXT);",
          {"phonebookcontact": [(1, "Ana")]})                                            # read: silent
    wechat = phone / "data/data/com.tencent.mm/MicroMsg/ab12"
    wechat.mkdir(parents=True)
    (wechat / "EnMicroMsg.db").write_bytes(os.urandom(4096))                           # encrypted
    (phone / "data/data/jp.naver.line.android/databases").mkdir(parents=True)
    (phone / "data/data/jp.naver.line.android/databases/naver_line").write_bytes(b"\x00" * 2048)   # corrupt
    build(phone / "ThreemaData.sqlite", "CREATE TABLE ZMESSAGE (Z_PK INTEGER PRIMARY KEY);")       # no reader
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "KA-1", "--examiner", "E")
    forensic("evidence", "add", phone, "--case", case, "--id", "phone")
    forensic("triage", "--case", case, expect=3)
    rows = forensic("warnings", "--case", case, "--json", expect=None).jsonl()
    by_file: dict[str, list[str]] = {}
    for w in rows:
        by_file.setdefault(w["locator"].rsplit("/", 1)[-1], []).append(w["message"])
    assert sorted(by_file) == ["EnMicroMsg.db", "ThreemaData.sqlite", "naver_line", "viber_messages"]
    assert all(len(v) == 1 for v in by_file.values())
    assert "encrypted (no SQLite header)" in by_file["EnMicroMsg.db"][0]
    assert "corrupt or not a database" in by_file["naver_line"][0]
    assert "no reader in this toolkit" in by_file["ThreemaData.sqlite"][0]
    assert "none of the tables messages, phonebookcontact is present" in by_file["viber_messages"][0]
    assert forensic("messages", "--case", case, "--json", expect=None).jsonl() == []     # no app had messages


APPS = [("forensic.extractors.chat.viber", "ViberExtractor", "viber_messages", "messages"),
        ("forensic.extractors.chat.messenger", "MessengerExtractor", "threads_db2", "messages"),
        ("forensic.extractors.chat.instagram", "InstagramExtractor", "direct.db", "messages"),
        ("forensic.extractors.chat.google_messages", "GoogleMessagesExtractor", "bugle_db", "messages"),
        ("forensic.extractors.chat.kik", "KikExtractor", "kikDatabase.db", "messagesTable"),
        ("forensic.extractors.chat.skype", "SkypeExtractor", "s4l-x.db", "messagesv12"),
        ("forensic.extractors.chat.line", "LineExtractor", "naver_line", "chat_history"),
        ("forensic.extractors.chat.snapchat", "SnapchatExtractor", "arroyo.db", "conversation_message"),
        ("forensic.extractors.chat.telegram_android", "TelegramAndroidExtractor", "cache4.db", "messages_v2"),
        ("forensic.extractors.chat.signal", "SignalExtractor", "signal.db", "message")]


@pytest.mark.parametrize("module, cls, name, table", APPS, ids=[a[2] for a in APPS])
def test_hostile_databases_never_crash(tmp_path, module, cls, name, table):
    """Each app reader over its database truncated, and with bytes flipped: records or
    warnings, never an exception, and never silence about the damage."""
    ex = getattr(importlib.import_module(module), cls)()
    data = build(tmp_path / name, f"CREATE TABLE {table} (a, b, c, data BLOB, nsp_data TEXT);",
                 {table: [(i, "x" * 150, i * 1000, os.urandom(40), "{") for i in range(600)]})
    _, warns = run(ex, data[: len(data) * 3 // 5], f"/x/{name}")
    assert warns
    rng = random.Random(7)
    flipped = bytearray(data)
    for _ in range(300):
        flipped[rng.randrange(100, len(flipped))] ^= 0xFF
    run(ex, bytes(flipped), f"/x/{name}")
