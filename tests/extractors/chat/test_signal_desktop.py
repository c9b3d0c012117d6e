"""Signal Desktop db.sqlite, built with the app's tables (columns as Signal Desktop's migrations
create them, message and conversation objects in the json column): a one-to-one chat with an
attachment, a quote and a reaction, a group, an event; the same database encrypted with SQLCipher
4 and read with its config.json key; an encrypted one without a key; another app's db.sqlite."""
from __future__ import annotations

import json

import pytest

from appdb import build, run
from forensic.extractors.base import ExtractorInput
from forensic.extractors.chat.signal_desktop import KEY_OPTION, SignalDesktopExtractor
from forensic.extractors.chat.sqlite_chat import OWNER
from forensic.extractors.records import ArtifactRecord, ExtractionWarning

EX = SignalDesktopExtractor()
KEY_HEX = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"    # a SQLCipher raw key
PATH = "/Users/kim/Library/Application Support/Signal/sql/db.sqlite"
SCHEMA = """
CREATE TABLE conversations(id STRING PRIMARY KEY ASC, json TEXT, active_at INTEGER, type STRING, members TEXT,
  name TEXT, profileName TEXT, profileFamilyName TEXT, profileFullName TEXT, e164 TEXT, serviceId TEXT,
  groupId TEXT, profileLastFetchedAt INTEGER);
CREATE TABLE messages(rowid INTEGER PRIMARY KEY ASC, id STRING UNIQUE, json TEXT, readStatus INTEGER,
  expires_at INTEGER, sent_at INTEGER, schemaVersion INTEGER, conversationId STRING, received_at INTEGER,
  source STRING, hasAttachments INTEGER, hasFileAttachments INTEGER, hasVisualMediaAttachments INTEGER,
  expireTimer INTEGER, expirationStartTimestamp INTEGER, type STRING, body TEXT, sourceServiceId TEXT);
CREATE TABLE sticker_packs(id TEXT PRIMARY KEY, key TEXT NOT NULL);
"""
LENA = {"id": "c1", "type": "private", "name": "Lena", "e164": "+4915100000002", "serviceId": "aaaa-1"}
KAI = {"id": "c2", "type": "private", "profileName": "Kai", "e164": "+4915100000003", "serviceId": "bbbb-2"}
GROUP = {"id": "c3", "type": "group", "name": "Night shift", "groupId": "g64",
         "membersV2": [{"aci": "aaaa-1"}, {"aci": "bbbb-2"}]}


def conv(c):
    return (c["id"], json.dumps(c), 0, c["type"], None, c.get("name"), c.get("profileName"), None, None,
            c.get("e164"), c.get("serviceId"), c.get("groupId"), None)


def msg(rowid, m):
    return (rowid, f"m{rowid}", json.dumps(m), 0, None, m.get("sent_at"), 10, m["conversationId"],
            m.get("received_at"), m.get("source"), 0, 0, 0, None, None, m["type"], m.get("body"),
            m.get("sourceServiceId"))


MESSAGES = [
    msg(1, {"type": "incoming", "body": "ready?", "sent_at": 1680000000000, "received_at": 7001,
            "received_at_ms": 1680000001000, "conversationId": "c1", "sourceServiceId": "aaaa-1",
            "attachments": [{"fileName": "IMG_77.jpg", "contentType": "image/jpeg", "size": 5000,
                             "path": "ab/abcdef"}],
            "reactions": [{"emoji": "👍", "fromId": "c1"}]}),
    msg(2, {"type": "outgoing", "body": "yes", "sent_at": 1680000060000, "received_at": 1680000060000,
            "conversationId": "c1", "quote": {"id": 1680000000000, "text": "ready?", "authorAci": "aaaa-1"}}),
    msg(3, {"type": "incoming", "body": "all here", "sent_at": 1680000120000, "conversationId": "c3",
            "source": "+4915100000003"}),
    msg(4, {"type": "keychange", "sent_at": 1680000180000, "conversationId": "c1", "key_changed": "aaaa-1"}),
]


def plain_db(tmp_path):
    return build(tmp_path / "db.sqlite", SCHEMA, {"conversations": [conv(LENA), conv(KAI), conv(GROUP)],
                                                    "messages": MESSAGES + [(5, "m5", "not json", 0, None, 1, 1,
                                                                             "c1", 1, None, 0, 0, 0, None, None,
                                                                             "incoming", None, None)]})


def sealed_db(tmp_path, dest, key: str = KEY_HEX) -> None:
    """The plain test database encrypted with SQLCipher 4 under the raw ``key`` at ``dest``, as
    Signal Desktop keeps it (``sqlcipher3``, the library forensic reads it with)."""
    sqlcipher3 = pytest.importorskip("sqlcipher3")
    plain = tmp_path / "plain"
    plain.mkdir()
    plain_db(plain)
    conn = sqlcipher3.connect(str(plain / "db.sqlite"))
    try:
        conn.execute("ATTACH DATABASE ? AS enc KEY \"x'" + key + "'\"", (str(dest),))
        conn.execute("SELECT sqlcipher_export('enc')").fetchone()
        conn.execute("DETACH DATABASE enc")
    finally:
        conn.close()


def check(recs, warns):
    a, b, c, d = (r.fields for r in recs)
    assert a["platform"] == "signal" and a["sender"] == "Lena (+4915100000002)" and a["direction"] == "incoming"
    assert a["conversation"] == {"id": "conversation:c1", "title": "Lena"}
    assert a["sent_at_utc"] == "2023-03-28T10:40:00Z" and a["received_at"] == "2023-03-28T10:40:01Z"
    assert a["attachments"][0]["name"] == "IMG_77.jpg" and a["attachments"][0]["path"] == "ab/abcdef"
    assert a["reactions"] == [{"emoji": "👍", "from": "Lena (+4915100000002)"}]
    assert b["sender"] == OWNER and b["recipients"] == ["Lena (+4915100000002)"] and b["reply_to"] == 1680000000000
    assert b["quote"]["author"] == "Lena (+4915100000002)" and b["received_at"] == "2023-03-28T10:41:00Z"
    assert c["group"] is True and c["conversation"]["title"] == "Night shift"
    assert c["sender"] == "Kai (+4915100000003)" and "Lena (+4915100000002)" in c["participants"]
    assert d["system"] is True and d["type"] == "keychange"
    assert any("row 5" in w and "JSON" in w for w in warns)


def test_decrypted_copy(tmp_path):
    recs, warns = run(EX, plain_db(tmp_path), PATH)
    check(recs, warns)


def test_other_apps_db_sqlite_gives_nothing(tmp_path):
    data = build(tmp_path / "db.sqlite", "CREATE TABLE messages(id INTEGER PRIMARY KEY, text TEXT);",
                 {"messages": [(1, "hi")]})
    recs, warns = run(EX, data, "/data/app/db.sqlite")
    assert recs == [] and warns == []


def item(data, options=None):
    return ExtractorInput(path=PATH, name="db.sqlite", mime="application/octet-stream", size=len(data), data=data,
                          options=options)


def split(gen):
    out = list(gen)
    return ([r for r in out if isinstance(r, ArtifactRecord)], [w.message for w in out
                                                                if isinstance(w, ExtractionWarning)])


def test_encrypted_with_config_key(tmp_path):
    key = KEY_HEX
    enc = tmp_path / "enc.sqlite"
    sealed_db(tmp_path, enc, key)
    data = enc.read_bytes()
    assert not data.startswith(b"SQLite format 3") and EX.accepts(PATH, "application/octet-stream", data[:8192])
    recs, warns = split(EX.extract(item(data, {KEY_OPTION: key})))
    check(recs, warns)
    assert any("decrypted" in w for w in warns)
    assert enc.read_bytes() == data                        # the evidence bytes untouched
    # a wrong key: a warning, no crash
    recs, warns = split(EX.extract(item(data, {KEY_OPTION: "11" * 32})))
    assert recs == [] and any("not decrypted" in w for w in warns)
    recs, warns = split(EX.extract(item(data, {KEY_OPTION: "zz"})))
    assert recs == [] and any("not hexadecimal" in w for w in warns)


def test_encrypted_without_key_names_what_is_needed():
    data = bytes(range(256)) * 16
    assert EX.accepts(PATH, "application/octet-stream", data[:8192])
    assert not EX.accepts("/tmp/other/db.sqlite", "application/octet-stream", data[:8192])
    recs, warns = split(EX.extract(item(data)))
    assert recs == [] and len(warns) == 1
    assert "config.json" in warns[0] and "encryptedKey" in warns[0] and "--signal-key" in warns[0]


def test_hostile_json_values_warn_and_go_on(tmp_path):
    odd = {"id": "c9", "type": "group", "name": ["x"], "membersV2": 7}
    odd_row = ("c9", json.dumps(odd), 0, "group", None, None, None, None, None, None, None, None, None)
    third = msg(3, {"type": "outgoing", "body": "ok", "sent_at": 1680000000000, "conversationId": "c1"})
    third = third[:2] + (third[2].replace('"c1"', '["c1"]'),) + third[3:]       # a list where an id belongs
    data = build(tmp_path / "db.sqlite", SCHEMA, {"conversations": [conv(LENA), odd_row], "messages": [
        msg(1, {"type": "incoming", "body": 5, "sent_at": "soon", "conversationId": "c1", "attachments": "x",
                "reactions": 3}),
        msg(2, {"type": "incoming", "body": "[b]bold[/b]", "sent_at": 10**17, "conversationId": "c9"}),
        third,
        msg(4, {"type": "incoming", "body": "still read", "sent_at": 1680000000000, "conversationId": "c1"})]})
    recs, warns = run(EX, data, PATH)
    one, two, three, four = (r.fields for r in recs)        # every row kept: odd values read as none
    assert one["body"] == "5" and one["attachments"] == [] and one["reactions"] is None and recs[0].corrupted
    assert two["conversation"]["title"] == "['x']" and two["participants"] == ["(device owner)"]
    assert three["conversation"]["id"] == 'conversation:["c1"]' and four["body"] == "still read"
    assert four["sent_at_utc"] == "2023-03-28T10:40:00Z"
    assert any("soon" in w for w in recs[0].warnings) and warns == []


# --- the key in config.json, and its safeStorage-sealed form (Signal Desktop 7.16+) ---------------

KEY = KEY_HEX


def seal(key_hex: str, password: bytes, iterations: int, version: bytes = b"v10") -> str:
    """Chromium os_crypt's sealing (os_crypt_linux.cc, os_crypt_mac.mm) as Electron safeStorage
    writes config.json's encryptedKey: PBKDF2-HMAC-SHA1(password, 'saltysalt', iterations, 16
    bytes), AES-128-CBC, IV 16 spaces, PKCS#7; the version prefix; hex."""
    from cryptography.hazmat.primitives import hashes, padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
    k = PBKDF2HMAC(algorithm=hashes.SHA1(), length=16, salt=b"saltysalt", iterations=iterations).derive(password)
    pad = padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(k), modes.CBC(b" " * 16)).encryptor()
    body = enc.update(pad.update(key_hex.encode()) + pad.finalize()) + enc.finalize()
    return (version + body).hex()


def config(**fields) -> bytes:
    return json.dumps({"mediaPermissions": True, **fields}).encode()


def test_key_from_config_every_public_variant():
    from forensic.extractors.chat.signal_desktop import key_from_config
    assert key_from_config(config(key=KEY.upper())) == (KEY, "config.json key")
    # Linux, no keyring: v10 under Chromium's built-in password, opened from the evidence alone
    key, how = key_from_config(config(encryptedKey=seal(KEY, b"peanuts", 1)))
    assert key == KEY and "v10" in how and "Linux default" in how
    # Linux keyring (v11) and macOS Keychain (v10, 1003 iterations): the password given opens them
    secret = b"k3yr1ng-secret-from-libsecret"
    assert key_from_config(config(encryptedKey=seal(KEY, secret, 1, b"v11")), secret)[0] == KEY
    key, how = key_from_config(config(encryptedKey=seal(KEY, secret, 1003)), secret)
    assert key == KEY and "macos" in how
    # without the password, or with a wrong one: what is needed, never a wrong key
    with pytest.raises(ValueError, match="encrypted by the OS keystore.*--signal-key"):
        key_from_config(config(encryptedKey=seal(KEY, secret, 1, b"v11")))
    with pytest.raises(ValueError, match="not opened"):
        key_from_config(config(encryptedKey=seal(KEY, secret, 1003)), b"wrong")
    # Windows: v10 + AES-256-GCM under a DPAPI-sealed key: not opened here, the message says so
    import os
    with pytest.raises(ValueError, match="--signal-key"):
        key_from_config(config(encryptedKey=(b"v10" + os.urandom(12 + 80 + 16)).hex()))
    for bad, why in ((b"{", "not JSON"), (b"[" * 100_000, "not JSON"), (b"[]", "no JSON object"), (config(), "neither"),
                     (config(encryptedKey="zz"), "not hexadecimal"), (config(encryptedKey="763939aa"), "prefix")):
        with pytest.raises(ValueError, match=why):
            key_from_config(bad)


def test_config_json_in_evidence_warns_without_the_key():
    cfg = "/home/kim/.config/Signal/config.json"
    assert EX.accepts(cfg, "application/json", b"{")
    assert not EX.accepts("/home/kim/.config/Other/config.json", "application/json", b"{")
    sealed = config(encryptedKey=seal(KEY, b"keychain", 1003))
    out = list(EX.extract(ExtractorInput(cfg, "config.json", "application/json", len(sealed), sealed)))
    assert [type(w) for w in out] == [ExtractionWarning]
    assert "Signal Desktop database found; its key is encrypted by the OS keystore" in out[0].message
    assert "--signal-key" in out[0].message
    linux = config(encryptedKey=seal(KEY, b"peanuts", 1))
    out = list(EX.extract(ExtractorInput(cfg, "config.json", "application/json", len(linux), linux)))
    assert len(out) == 1 and "can be had" in out[0].message and "--signal-config" in out[0].message
    assert KEY not in out[0].message
    # a hostile one (nested past the parser's depth): a warning, the run goes on
    deep = b"[" * 100_000
    out = list(EX.extract(ExtractorInput(cfg, "config.json", "application/json", len(deep), deep)))
    assert [type(w) for w in out] == [ExtractionWarning] and "not JSON" in out[0].message
    # with the key given, nothing to say
    assert list(EX.extract(ExtractorInput(cfg, "config.json", "", len(linux), linux, options={KEY_OPTION: KEY}))) == []


def test_triage_signal_config_reads_the_encrypted_db_and_custody_keeps_only_the_hash(tmp_path, forensic):
    import hashlib
    signal = tmp_path / "laptop" / "home" / "kim" / ".config" / "Signal"
    (signal / "sql").mkdir(parents=True)
    sealed_db(tmp_path, signal / "sql" / "db.sqlite")
    (signal / "config.json").write_bytes(config(encryptedKey=seal(KEY, b"peanuts", 1)))
    copy = tmp_path / "config-copy.json"
    copy.write_bytes((signal / "config.json").read_bytes())
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-15", "--examiner", "Ann Examiner")
    forensic("evidence", "add", tmp_path / "laptop", "--case", case, "--id", "laptop")
    first = forensic("triage", "--case", case, expect=None)
    assert forensic("messages", "--json", "--case", case).jsonl() == []
    warned = " ".join(str(w) for w in forensic("warnings", "--json", "--case", case).jsonl())
    assert "--signal-config" in warned and "encrypted (SQLCipher 4)" in warned and first.code in (0, 3)
    forensic("triage", "--force", "--signal-config", copy, "--case", case, expect=None)
    bodies = sorted(m.get("body") or "" for m in forensic("messages", "--json", "--case", case).jsonl())
    assert {"ready?", "yes", "all here"} <= set(bodies)
    log = forensic("custody", "log", "--case", case, "--json").out
    assert KEY not in log and hashlib.sha256(KEY.encode()).hexdigest() in log
    summary = forensic("triage", "--force", "--signal-key", KEY, "--case", case, "--json", expect=None).out
    assert KEY not in summary and hashlib.sha256(KEY.encode()).hexdigest() in summary
    assert forensic("triage", "--signal-key", "abc", "--case", case, expect=2).code == 2
    assert forensic("triage", "--signal-key", KEY, "--signal-config", copy, "--case", case, expect=2).code == 2


def test_evidence_add_signal_config_serves_every_triage(tmp_path, forensic):
    import hashlib
    signal = tmp_path / "mac" / "Users" / "kim" / "Library" / "Application Support" / "Signal"
    (signal / "sql").mkdir(parents=True)
    sealed_db(tmp_path, signal / "sql" / "db.sqlite")
    keychain = b"bW9ja2VkLWtleWNoYWluLXNlY3JldA=="           # macOS Keychain 'Signal Safe Storage'
    (signal / "config.json").write_bytes(config(encryptedKey=seal(KEY, keychain, 1003)))
    copy, pw = tmp_path / "config.json", tmp_path / "keychain.txt"
    copy.write_bytes((signal / "config.json").read_bytes())
    pw.write_bytes(keychain + b"\n")
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-15b", "--examiner", "Ann Examiner")
    # without the password: refused at intake, saying what is needed
    bad = forensic("evidence", "add", tmp_path / "mac", "--signal-config", copy, "--case", case, expect=2)
    assert "--signal-key" in bad.err or "--signal-password-file" in bad.err
    forensic("evidence", "add", tmp_path / "mac", "--signal-config", copy, "--signal-password-file", pw,
             "--case", case, "--id", "mac")
    forensic("triage", "--case", case, expect=None)
    bodies = {m.get("body") for m in forensic("messages", "--json", "--case", case).jsonl()}
    assert {"ready?", "yes", "all here"} <= bodies
    log = forensic("custody", "log", "--case", case, "--json").out
    assert KEY not in log and keychain.decode() not in log and hashlib.sha256(KEY.encode()).hexdigest() in log
    warned = " ".join(str(w) for w in forensic("warnings", "--json", "--case", case).jsonl())
    assert "encrypted by the OS keystore" not in warned and "decrypted (SQLCipher 4" in warned
