"""Android backups (.ab) made here, plain and encrypted: read, mapped to device paths, and
their messages extracted; damaged or wrongly-keyed backups said clearly."""
from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from forensic.errors import CorruptSourceError, PasswordError
from forensic.locator import Locator
from forensic.sources import detect_format, open_source
from forensic.sources.android_backup import AndroidBackupSource
from tests.extractors.chat.test_phone_dbs import ANDROID_SCHEMA, WA_CURRENT, android_rows, build, wa_current_rows

SMS_DB = "/data/data/com.android.providers.telephony/databases/mmssms.db"
WA_DB = "/data/data/com.whatsapp/databases/msgstore.db"


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime = len(data), 1_700_000_000
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _cbc(key: bytes, iv: bytes, data: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(padder.update(data) + padder.finalize()) + enc.finalize()


def make_ab(payload_tar: bytes, password: bytes | None = None, compressed: bool = True, version: int = 5) -> bytes:
    """An .ab as Android's BackupManagerService writes it."""
    body = zlib.compress(payload_tar) if compressed else payload_tar
    head = f"ANDROID BACKUP\n{version}\n{int(compressed)}\n".encode()
    if password is None:
        return head + b"none\n" + body
    rounds, user_salt, ck_salt = 1000, os.urandom(64), os.urandom(64)
    user_iv, mk, mk_iv = os.urandom(16), os.urandom(32), os.urandom(16)
    user_key = hashlib.pbkdf2_hmac("sha1", password, user_salt, rounds, 32)
    # Java: (char) of each signed byte, UTF-8 encoded (version 2 on)
    as_chars = "".join(chr(b if b < 128 else 0xFF00 + b) for b in mk).encode("utf-8")
    checksum = hashlib.pbkdf2_hmac("sha1", as_chars, ck_salt, rounds, 32)
    blob = bytes([16]) + mk_iv + bytes([32]) + mk + bytes([32]) + checksum
    lines = [b"AES-256", user_salt.hex().upper().encode(), ck_salt.hex().upper().encode(), str(rounds).encode(),
             user_iv.hex().upper().encode(), _cbc(user_key, user_iv, blob).hex().upper().encode()]
    return head + b"\n".join(lines) + b"\n" + _cbc(mk, mk_iv, body)


@pytest.fixture(scope="module")
def sms_db(tmp_path_factory) -> bytes:
    return build(tmp_path_factory.mktemp("db") / "mmssms.db", ANDROID_SCHEMA, android_rows())


def _members(sms_db: bytes) -> dict[str, bytes]:
    return {"apps/com.android.providers.telephony/_manifest": b"1\n",
            "apps/com.android.providers.telephony/db/mmssms.db": sms_db,
            "apps/com.whatsapp/sp/com.whatsapp_preferences.xml": b"<map/>",
            "apps/com.whatsapp/ef/Media/note.txt": b"hi"}


def _walk(path: Path, password: bytes | None = None) -> dict[str, tuple[str, bytes | None]]:
    with open_source(path, detect_format(path), path.name, password) as src:
        out = {e.path: (str(e.locator), e.open().read() if e.has_content else None) for e in src.entries()}
        assert src.warnings == []
        assert src.details["android_backup"]["version"] == 5
    return out


@pytest.mark.parametrize("password", [None, b"s3cr\xc3\xa9t"])
def test_backup_walked_under_device_paths(tmp_path, sms_db, password):
    ab = tmp_path / "phone.ab"
    ab.write_bytes(make_ab(_tar(_members(sms_db)), password))
    assert detect_format(ab) == "android-backup"
    files = _walk(ab, password)
    assert files[SMS_DB] == ("phone.ab › apps/com.android.providers.telephony/db/mmssms.db", sms_db)
    assert "/data/data/com.whatsapp/shared_prefs/com.whatsapp_preferences.xml" in files
    assert files["/sdcard/Android/data/com.whatsapp/files/Media/note.txt"][1] == b"hi"
    assert "apps/com.android.providers.telephony/_manifest" in files      # not a device file: kept as named


def test_members_read_in_any_order(tmp_path, sms_db):
    ab = tmp_path / "order.ab"
    ab.write_bytes(make_ab(_tar(_members(sms_db))))
    with open_source(ab, "android-backup", ab.name) as src:
        entries = list(src.entries())                 # all walked first, then read backwards
        got = {e.path: e.open().read() for e in reversed(entries)}
    assert got[SMS_DB] == sms_db and got["/sdcard/Android/data/com.whatsapp/files/Media/note.txt"] == b"hi"


def test_uncompressed_backup(tmp_path, sms_db):
    ab = tmp_path / "plain.ab"
    ab.write_bytes(make_ab(_tar(_members(sms_db)), compressed=False))
    assert _walk(ab)[SMS_DB][1] == sms_db


def test_wrong_or_missing_password(tmp_path, sms_db):
    ab = tmp_path / "enc.ab"
    ab.write_bytes(make_ab(_tar(_members(sms_db)), b"right"))
    with pytest.raises(PasswordError, match="wrong password"):
        open_source(ab, "android-backup", ab.name, b"wrong")
    with pytest.raises(PasswordError, match="no password"):
        open_source(ab, "android-backup", ab.name, None)


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:15], "header truncated"),
    (lambda b: b.replace(b"\n5\n", b"\n9\n", 1), "version '9'"),
    (lambda b: b[:30] + b"\x00" * 40 + b[70:], "payload unreadable"),
])
def test_damaged_backup_said_clearly(tmp_path, sms_db, damage, message):
    ab = tmp_path / "bad.ab"
    ab.write_bytes(damage(make_ab(_tar(_members(sms_db)))))
    assert detect_format(ab) == "android-backup"
    with pytest.raises(CorruptSourceError, match=message):
        open_source(ab, "android-backup", ab.name)


def test_truncated_backup_keeps_what_precedes(tmp_path, sms_db):
    whole = make_ab(_tar({"apps/p/f/a.txt": b"a" * 5000, "apps/p/f/b.bin": os.urandom(200_000)}))
    ab = tmp_path / "cut.ab"
    ab.write_bytes(whole[: len(whole) * 2 // 3])
    with open_source(ab, "android-backup", ab.name) as src:
        paths = [e.path for e in src.entries()]
        assert "/data/data/p/files/a.txt" in paths
        assert any("ends early" in w for w in src.warnings)


def test_zlib_bomb_stops_at_the_budget(tmp_path):
    from forensic.limits import Limits
    ab = tmp_path / "bomb.ab"
    ab.write_bytes(make_ab(_tar({"apps/p/f/zeros": bytes(8 << 20)})))
    limits = Limits(archive_min_budget=1 << 20, archive_ratio=2)
    with open(ab, "rb") as fh:
        src = AndroidBackupSource(fh, Locator.root("bomb.ab"), ab.stat().st_size, None, limits)
        list(src.entries())
        src.close()
    assert any("zlib bomb" in w for w in src.warnings)


def test_messages_from_a_backup(forensic, tmp_path, sms_db):
    wa = build(tmp_path / "msgstore.db", WA_CURRENT, wa_current_rows())
    ab = tmp_path / "phone.ab"
    ab.write_bytes(make_ab(_tar({**_members(sms_db), "apps/com.whatsapp/db/msgstore.db": wa}), b"pw"))
    (tmp_path / "pw.txt").write_bytes(b"pw\n")
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C", "--examiner", "E")
    forensic("evidence", "add", ab, "--case", case, "--id", "ab", "--password-file", tmp_path / "pw.txt")
    forensic("triage", "--case", case, expect=None)
    messages = forensic("messages", "--case", case, "--json").jsonl()
    assert {m["body"] for m in messages} >= {"On my way", "Привет, где ты?", "¿Dónde estás?", "в 8"}
    assert {m["source"]["path"] for m in messages} == {SMS_DB, WA_DB}
    items = forensic("evidence", "list", "--case", case, "--json").jsonl()
    assert items[0]["format"] == "android-backup"
