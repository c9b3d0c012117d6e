"""iTunes/Finder backups as an evidence source (issue 22).

The backups are built here as iTunes lays them out: ``Manifest.db`` (table ``Files``, with
``fileID`` = SHA-1 of ``domain-relativePath`` and an NSKeyedArchiver ``MBFile`` record per row),
every file stored as ``fileID[:2]/fileID``, ``Info.plist`` and ``Manifest.plist``. The
encrypted one follows the published format (a BackupKeyBag whose class keys are wrapped with
the password-derived key, Manifest.db and each file AES-CBC encrypted under keys wrapped by a
class key), made with ``cryptography`` primitives in this test only: the product decrypts
through ``iphone-backup-decrypt``.
"""
from __future__ import annotations

import hashlib
import os
import plistlib
import sqlite3
import struct
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.keywrap import aes_key_wrap
from cryptography.hazmat.primitives.padding import PKCS7

WA_DOMAIN = "AppDomainGroup-group.net.whatsapp.WhatsApp.shared"
SLICE = "chats/iLEAPP/testdata.whatsApp.whatsAppMessages.josh_ios15_ffs.zip"
LAST_BACKUP = datetime(2025, 4, 30, 8, 24, 11)       # a plist <date>: UTC
INFO = {"Device Name": "Josh's iPhone", "Display Name": "Josh's iPhone", "Product Name": "iPhone 12",
        "Product Type": "iPhone13,2", "Product Version": "15.4.1", "Build Version": "19E258",
        "IMEI": "356789104512345", "Serial Number": "F2LZK0ABCDEF", "Phone Number": "+34 612 34 56 78",
        "Unique Identifier": "00008101-000A1B2C3D4E5F6A", "Last Backup Date": LAST_BACKUP}
CLASS = 3


def _mbfile(rel: str, size: int, mode: int, wrapped: bytes | None = None) -> bytes:
    """A Manifest.db ``file`` blob: an NSKeyedArchiver archive of an MBFile."""
    objects: list = ["$null"]
    root = {"$class": plistlib.UID(3), "Size": size, "Mode": mode, "LastModified": 1745999051,
            "Birth": 1745990000, "LastStatusChange": 1745999051, "InodeNumber": 4242, "ProtectionClass": CLASS,
            "Flags": 0, "UserID": 501, "GroupID": 501, "RelativePath": plistlib.UID(2)}
    objects += [root, rel, {"$classname": "MBFile", "$classes": ["MBFile", "NSObject"]}]
    if wrapped is not None:
        root["EncryptionKey"] = plistlib.UID(4)
        objects += [{"NS.data": struct.pack("<l", CLASS) + wrapped, "$class": plistlib.UID(5)},
                    {"$classname": "NSMutableData", "$classes": ["NSMutableData", "NSData", "NSObject"]}]
    return plistlib.dumps({"$version": 100000, "$archiver": "NSKeyedArchiver", "$top": {"root": plistlib.UID(1)},
                           "$objects": objects}, fmt=plistlib.FMT_BINARY)


def _cbc(key: bytes, data: bytes) -> bytes:
    padder = PKCS7(128).padder()
    enc = Cipher(algorithms.AES(key), modes.CBC(b"\x00" * 16)).encryptor()
    return enc.update(padder.update(data) + padder.finalize()) + enc.finalize()


def _keybag(password: bytes, class_key: bytes) -> bytes:
    """A BackupKeyBag (TLV): the class key wrapped with the key derived from the password."""
    dpsl, salt = b"D" * 20, b"S" * 20
    round1 = PBKDF2HMAC(hashes.SHA256(), 32, dpsl, 10).derive(password)
    pkey = PBKDF2HMAC(hashes.SHA1(), 32, salt, 10).derive(round1)

    def tlv(tag: bytes, value: bytes | int) -> bytes:
        data = struct.pack(">L", value) if isinstance(value, int) else value
        return tag + struct.pack(">L", len(data)) + data
    return b"".join([tlv(b"VERS", 3), tlv(b"TYPE", 1), tlv(b"UUID", b"U" * 16), tlv(b"HMCK", b"H" * 40),
                     tlv(b"WRAP", 0), tlv(b"SALT", salt), tlv(b"ITER", 10), tlv(b"DPWT", 1), tlv(b"DPIC", 10),
                     tlv(b"DPSL", dpsl), tlv(b"UUID", b"C" * 16), tlv(b"CLAS", CLASS), tlv(b"WRAP", 2),
                     tlv(b"KTYP", 0), tlv(b"WPKY", aes_key_wrap(pkey, class_key))])


def build_backup(folder: Path, files: list[tuple[str, str, bytes | None]], password: bytes | None = None) -> Path:
    """An iTunes-style backup in ``folder``: ``files`` are (domain, relativePath, content or None for a folder)."""
    folder.mkdir(parents=True)
    class_key = b"K" * 32
    db = folder / ("Manifest.plain.db" if password else "Manifest.db")
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, "
                "file BLOB)")
    con.execute("CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB)")
    for n, (domain, rel, content) in enumerate(files):
        fid = hashlib.sha1(f"{domain}-{rel}".encode()).hexdigest()
        if content is None:
            con.execute("INSERT INTO Files VALUES (?,?,?,2,?)", (fid, domain, rel, _mbfile(rel, 0, 0o40755)))
            continue
        wrapped = None
        stored = content
        if password:
            file_key = bytes([n + 1]) * 32
            wrapped = aes_key_wrap(class_key, file_key)
            stored = _cbc(file_key, content)
        (folder / fid[:2]).mkdir(exist_ok=True)
        (folder / fid[:2] / fid).write_bytes(stored)
        con.execute("INSERT INTO Files VALUES (?,?,?,1,?)", (fid, domain, rel,
                                                             _mbfile(rel, len(content), 0o100644, wrapped)))
    con.commit()
    con.close()
    manifest: dict = {"Version": "10.0", "IsEncrypted": bool(password), "Date": LAST_BACKUP,
                      "Lockdown": {"ProductType": "iPhone13,2", "ProductVersion": "15.4.1",
                                   "SerialNumber": "F2LZK0ABCDEF", "DeviceName": "Josh's iPhone"}}
    if password:
        manifest_key = b"M" * 32
        manifest["BackupKeyBag"] = _keybag(password, class_key)
        manifest["ManifestKey"] = struct.pack("<l", CLASS) + aes_key_wrap(class_key, manifest_key)
        (folder / "Manifest.db").write_bytes(_cbc(manifest_key, db.read_bytes()))
        db.unlink()
    (folder / "Manifest.plist").write_bytes(plistlib.dumps(manifest, fmt=plistlib.FMT_BINARY))
    (folder / "Info.plist").write_bytes(plistlib.dumps(INFO))
    (folder / "Status.plist").write_bytes(plistlib.dumps({"IsFullBackup": False, "Version": "3.3"}))
    return folder


def _tree(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _case(forensic, tmp_path: Path) -> Path:
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C", "--examiner", "E")
    return case


def _chatstorage(corpus: Path) -> list[tuple[str, str, bytes | None]]:
    sample = corpus / SLICE
    if not sample.is_file():
        pytest.skip(f"{SLICE} not in the corpus")
    with zipfile.ZipFile(sample) as zf:
        out: list[tuple[str, str, bytes | None]] = [(WA_DOMAIN, "", None)]
        for name in sorted(zf.namelist()):
            out.append((WA_DOMAIN, name.rsplit("/", 1)[-1], zf.read(name)))
    return out


def _check_device(item: dict, encrypted: bool) -> None:
    dev = item["device"]
    assert dev["model"] == "iPhone 12" and dev["product_type"] == "iPhone13,2"
    assert dev["imei"] == "356789104512345" and dev["serial"] == "F2LZK0ABCDEF"
    assert dev["ios_version"] == "15.4.1" and dev["device_name"] == "Josh's iPhone"
    assert dev["udid"] == "00008101-000A1B2C3D4E5F6A" and dev["last_backup"] == "2025-04-30T08:24:11Z"
    assert dev["encrypted"] is encrypted


@pytest.mark.corpus
def test_backup_gives_the_same_32_messages_as_the_full_file_system(corpus, forensic, tmp_path):
    backup = build_backup(tmp_path / "00008101-000A1B2C3D4E5F6A", _chatstorage(corpus))
    before = _tree(backup)
    case = _case(forensic, tmp_path)
    forensic("evidence", "add", backup, "--case", case, "--id", "backup")
    item, = forensic("evidence", "list", "--case", case, "--json").jsonl()
    assert item["format"] == "itunes"
    _check_device(item, encrypted=False)
    forensic("triage", "--case", case, expect=None)
    msgs = forensic("messages", "--case", case, "--json").jsonl()
    convs = forensic("conversations", "--case", case, "--json").jsonl()
    assert len(msgs) == 32 and len(convs) == 5
    fid = hashlib.sha1(f"{WA_DOMAIN}-ChatStorage.sqlite".encode()).hexdigest()
    files = forensic("files", "--case", case, "--json").jsonl()
    # listed under its device path (the group id stands for the container's UUID folder)
    wa_path = f"/private/var/mobile/Containers/Shared/AppGroup/{WA_DOMAIN.split('-', 1)[1]}/ChatStorage.sqlite"
    db, = [f for f in files if f["path"] == wa_path]
    assert db["locator"] == f"{backup.name} › {WA_DOMAIN}/ChatStorage.sqlite ({fid[:2]}/{fid})"
    assert _tree(backup) == before                       # the evidence as found
    assert forensic("evidence", "verify", "backup", "--case", case).code == 0


@pytest.mark.corpus
def test_encrypted_backup_opens_with_its_password_only(corpus, forensic, tmp_path):
    backup = build_backup(tmp_path / "enc", _chatstorage(corpus), password=b"hunter2 x")
    before = _tree(backup)
    case = _case(forensic, tmp_path)
    res = forensic("evidence", "add", backup, "--case", case, expect=1)
    assert "encrypted" in res.err and "--password-file" in res.err
    (tmp_path / "wrong.txt").write_text("hunter3\n")
    res = forensic("evidence", "add", backup, "--case", case, "--password-file", tmp_path / "wrong.txt", expect=1)
    assert "wrong password" in res.err
    assert forensic("evidence", "list", "--case", case, "--json").jsonl() == []      # nothing half-added
    (tmp_path / "pw.txt").write_text("hunter2 x\n")
    forensic("evidence", "add", backup, "--case", case, "--id", "enc", "--password-file", tmp_path / "pw.txt")
    item, = forensic("evidence", "list", "--case", case, "--json").jsonl()
    _check_device(item, encrypted=True)
    forensic("triage", "--case", case, expect=None)
    assert len(forensic("messages", "--case", case, "--json").jsonl()) == 32
    assert _tree(backup) == before
    assert not any(p.name.endswith(".sqlite") for p in backup.rglob("*"))     # nothing decrypted beside it


def test_listing_times_and_a_wrong_password_without_the_corpus(forensic, tmp_path):
    files = [("HomeDomain", "Library", None), ("HomeDomain", "Library/SMS/notes.txt", b"meet at 9\n"),
             ("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.TXT", b"x" * 5000)]
    backup = build_backup(tmp_path / "enc", files, password=b"pw")
    from forensic.errors import PasswordError
    from forensic.locator import Locator
    from forensic.sources.itunes import ItunesBackupSource
    with pytest.raises(PasswordError, match="wrong password"):
        ItunesBackupSource(backup, Locator.root("enc"), password=b"nope")
    with ItunesBackupSource(backup, Locator.root("enc"), password=b"pw") as src:
        entries = {e.path: e for e in src.entries()}
        with entries["/private/var/mobile/Library/SMS/notes.txt"].open() as fh:
            assert fh.read() == b"meet at 9\n"
        with entries["/private/var/mobile/Media/DCIM/100APPLE/IMG_0001.TXT"].open() as fh:
            assert fh.read() == b"x" * 5000
        work = src.work
        assert work.is_dir() and not work.is_relative_to(backup)
    assert not work.exists()                              # derived data removed with the source
    assert entries["/private/var/mobile/Library"].kind == "dir"
    notes = entries["/private/var/mobile/Library/SMS/notes.txt"]
    assert notes.times["modified"] == datetime.fromtimestamp(1745999051, tz=timezone.utc)
    assert {"/Info.plist", "/Manifest.plist", "/Manifest.db", "/Status.plist"} <= set(entries)


def test_damaged_manifest_and_info_are_warnings(forensic, tmp_path):
    files = [("HomeDomain", "Library/SMS/notes.txt", b"meet at 9\n")]
    backup = build_backup(tmp_path / "b", files)
    (backup / "Info.plist").write_bytes(b"<plist><dict><key>IMEI")        # truncated
    con = sqlite3.connect(backup / "Manifest.db")
    con.execute("UPDATE Files SET file = x'00ff'")                         # a forged record
    con.commit()
    con.close()
    from forensic.locator import Locator
    from forensic.sources import detect_format
    from forensic.sources.itunes import ItunesBackupSource
    assert detect_format(backup) == "itunes"
    with ItunesBackupSource(backup, Locator.root("b")) as src:
        entries = {e.path: e for e in src.entries()}
        notes = entries["/private/var/mobile/Library/SMS/notes.txt"]
        assert notes.warnings and "cannot be decoded" in notes.warnings[0]
        with notes.open() as fh:
            assert fh.read() == b"meet at 9\n"
        assert src.details["device"]["product_type"] == "iPhone13,2"       # from Manifest.plist's Lockdown
        assert any("Info.plist" in w for w in src.warnings)
    # Manifest.db beyond reading: the stored files are still listed, under their storage names
    (backup / "Manifest.db").write_bytes(b"SQLite format 3\x00" + os.urandom(4000))
    case = _case(forensic, tmp_path)
    forensic("evidence", "add", backup, "--case", case, "--id", "b")
    forensic("triage", "--case", case, expect=None)
    fid = hashlib.sha1(b"HomeDomain-Library/SMS/notes.txt").hexdigest()
    paths = {f["path"] for f in forensic("files", "--case", case, "--json").jsonl()}
    assert f"/{fid[:2]}/{fid}" in paths


def test_a_plain_folder_stays_a_folder(tmp_path):
    from forensic.sources import detect_format
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "Manifest.db").write_bytes(b"not sqlite")
    assert detect_format(tmp_path / "f") == "directory"


def test_the_device_is_in_both_listings(forensic, tmp_path):
    backup = build_backup(tmp_path / "b", [("HomeDomain", "Library/SMS/notes.txt", b"meet at 9\n")])
    case = _case(forensic, tmp_path)
    res = forensic("evidence", "add", backup, "--case", case, "--id", "b")
    assert "iPhone 12" in res.err and "IMEI 356789104512345" in res.err
    res = forensic("evidence", "list", "--case", case)
    assert res.out.split("\t")[:2] == ["b", "itunes"]                  # the data columns unchanged
    assert "b: device Josh's iPhone, iPhone 12, iOS 15.4.1, serial F2LZK0ABCDEF" in res.err
    item, = forensic("evidence", "list", "--case", case, "--json").jsonl()
    _check_device(item, encrypted=False)


def test_a_storage_folder_linked_out_of_the_backup_is_not_followed(tmp_path):
    backup = build_backup(tmp_path / "b", [("HomeDomain", "Library/SMS/notes.txt", b"meet at 9\n")])
    fid = hashlib.sha1(b"HomeDomain-Library/SMS/notes.txt").hexdigest()
    outside = tmp_path / "outside"
    (backup / fid[:2]).rename(outside)
    (outside / fid).write_bytes(b"not the evidence")
    (backup / fid[:2]).symlink_to(outside)
    from forensic.locator import Locator
    from forensic.sources.itunes import ItunesBackupSource
    with ItunesBackupSource(backup, Locator.root("b")) as src:
        notes = next(e for e in src.entries() if e.name == "notes.txt")
    assert notes.opener is None and "symbolic link" in notes.warnings[0]


def test_encrypted_files_are_hashed_decrypted_through_triage(forensic, tmp_path):
    files = [("HomeDomain", "Library/SMS/notes.txt", b"meet at 9\n"), ("HomeDomain", "Library/x.bin", b"\x00" * 33)]
    backup = build_backup(tmp_path / "enc", files, password=b"pw")
    case = _case(forensic, tmp_path)
    res = forensic("evidence", "add", backup, "--case", case, "--password-file", tmp_path / "nope.txt", expect=None)
    assert res.code != 0 and "password file" in res.err
    (tmp_path / "pw.txt").write_text("pw\n")
    forensic("evidence", "add", backup, "--case", case, "--id", "enc", "--password-file", tmp_path / "pw.txt")
    forensic("triage", "--case", case)
    got = {f["path"]: f["sha256"] for f in forensic("files", "--case", case, "--json").jsonl()}
    assert got["/private/var/mobile/Library/SMS/notes.txt"] == hashlib.sha256(b"meet at 9\n").hexdigest()
    assert got["/private/var/mobile/Library/x.bin"] == hashlib.sha256(b"\x00" * 33).hexdigest()
    assert forensic("warnings", "--case", case, "--json", expect=None).jsonl() == []
