"""Intake and triage of real disk images built by real tools (mke2fs, mtools, sfdisk, ewfacquire)."""
from __future__ import annotations

import hashlib
import os

import pytest

from builders import (disk_image, e01_image, ext4_image, fat_image, sha256, sha256_file, tiny_jpeg,
                      zip_file)

PHOTO = tiny_jpeg()
BIG = bytes(range(256)) * 4096 * 3          # 3 MiB, spans many blocks
FILES = {
    "/DCIM/Camera/IMG_0001.jpg": PHOTO,
    "/Documents/invoice.pdf": PHOTO,         # a JPEG disguised as a PDF
    "/Documents/notes.txt": "día 1: trabajo 12 h\n".encode(),
    "/big.bin": BIG,
}


def _case(forensic, tmp_path):
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-1", "--examiner", "Ann Examiner")
    return case


def _files(forensic, case, *extra):
    return {r["path"]: r for r in forensic("files", "--case", case, "--json", *extra).jsonl()}


def test_ext4_image_every_file_hashed_and_typed(forensic, tmp_path):
    img = ext4_image(tmp_path, FILES)
    before = sha256_file(img)
    case = _case(forensic, tmp_path)
    added = forensic("evidence", "add", img, "--case", case, "--id", "phone", "--json").json()
    assert added["format"] == "raw"
    assert added["sha256"] == before
    assert added["md5"] == hashlib.md5(img.read_bytes()).hexdigest()
    summary = forensic("triage", "--case", case, "--json").json()
    assert summary["item"] == "phone" and summary["warnings"] == 0
    files = _files(forensic, case)
    for path, data in FILES.items():
        assert files[path]["sha256"] == sha256(data), path
        assert files[path]["size"] == len(data)
        assert files[path]["locator"] == f"ext4.img › file system (ext4) › {path}"
        assert files[path]["inode"]
        assert files[path]["modified_at"].endswith("Z")
    assert files["/Documents/invoice.pdf"]["mime"] == "image/jpeg"
    assert files["/Documents/invoice.pdf"]["extension_mismatch"] is True
    assert files["/DCIM/Camera/IMG_0001.jpg"]["extension_mismatch"] is False
    assert files["/Documents/notes.txt"]["mime"] == "text/plain"
    assert files["/DCIM"]["kind"] == "dir"
    mism = forensic("files", "--case", case, "--json", "--mismatch").jsonl()
    assert [r["path"] for r in mism] == ["/Documents/invoice.pdf"]
    assert sha256_file(img) == before, "the evidence must never change"


def test_fat_deleted_files_recovered_and_flagged(forensic, tmp_path):
    gone = tiny_jpeg(make=b"Deleted", model=b"Recovered")
    img = fat_image(tmp_path, {"/DCIM/KEEP.JPG": PHOTO, "/DCIM/GONE.JPG": gone}, deleted=("/DCIM/GONE.JPG",))
    case = _case(forensic, tmp_path)
    forensic("evidence", "add", img, "--case", case, "--id", "card")
    summary = forensic("triage", "--case", case, "--json").json()
    assert summary["deleted"] >= 1
    files = _files(forensic, case)
    assert files["/DCIM/KEEP.JPG"]["deleted"] is False
    assert files["/DCIM/KEEP.JPG"]["sha256"] == sha256(PHOTO)
    # FAT keeps the first character of a deleted name; TSK reports it as '_'
    deleted = [r for r in files.values() if r["deleted"]]
    assert any(r["path"].endswith("ONE.JPG") and r["sha256"] == sha256(gone) for r in deleted), deleted
    # FAT times are local wall-clock times with no zone: flagged, never shown as UTC
    assert files["/DCIM/KEEP.JPG"]["times_tz_known"] is False
    assert not files["/DCIM/KEEP.JPG"]["modified_at"].endswith("Z")
    only_deleted = forensic("files", "--case", case, "--json", "--deleted").jsonl()
    assert only_deleted and all(r["deleted"] for r in only_deleted)


@pytest.mark.parametrize("label", ["gpt", "dos"])
def test_partitioned_disk_every_partition_walked(forensic, tmp_path, label):
    p1 = fat_image(tmp_path, {"/boot.txt": b"boot"}, name="p1.img", fat=16, size_mib=16)
    p2 = ext4_image(tmp_path, {"/data/media/0/DCIM/x.jpg": PHOTO}, name="p2.img")
    disk = disk_image(tmp_path, [p1, p2], label=label)
    case = _case(forensic, tmp_path)
    forensic("evidence", "add", disk, "--case", case, "--id", "disk")
    forensic("triage", "--case", case)
    files = _files(forensic, case)
    assert files["/boot.txt"]["locator"] == "disk.img › partition 1 (fat16) › /boot.txt"
    assert files["/data/media/0/DCIM/x.jpg"]["locator"] == "disk.img › partition 2 (ext4) › /data/media/0/DCIM/x.jpg"
    assert files["/data/media/0/DCIM/x.jpg"]["sha256"] == sha256(PHOTO)


def test_e01_split_segments_acquisition_hashes_verified(forensic, tmp_path):
    raw = ext4_image(tmp_path, FILES, size_mib=6)
    e01 = e01_image(tmp_path, raw, segment="1MiB")
    assert (tmp_path / "phone.E02").exists(), "the fixture must be split"
    case = _case(forensic, tmp_path)
    added = forensic("evidence", "add", e01, "--case", case, "--id", "phone", "--json").json()
    assert added["format"] == "e01"
    assert added["acquisition_hashes"]["md5"] == hashlib.md5(raw.read_bytes()).hexdigest()
    assert added["acquisition_hash_verified"] is True
    assert added["sha256"] == sha256_file(raw)          # the media's hash, as acquired
    assert len(added["segments"]) >= 2
    forensic("triage", "--case", case)
    files = _files(forensic, case)
    assert files["/big.bin"]["sha256"] == sha256(BIG)
    assert files["/big.bin"]["locator"] == "phone.E01 › file system (ext4) › /big.bin"
    ver = forensic("evidence", "verify", "phone", "--case", case, "--json").json()
    assert ver["ok"] is True


def test_nested_zip_inside_image_walked(forensic, tmp_path):
    inner = zip_file(tmp_path / "export.zip", [("WhatsApp/Media/IMG-1.jpg", PHOTO), ("chat.txt", b"hi")])
    img = ext4_image(tmp_path, {"/sdcard/export.zip": inner.read_bytes()})
    case = _case(forensic, tmp_path)
    forensic("evidence", "add", img, "--case", case, "--id", "phone")
    forensic("triage", "--case", case)
    rows = forensic("files", "--case", case, "--json").jsonl()
    member = [r for r in rows if r["path"] == "WhatsApp/Media/IMG-1.jpg"]
    assert member and member[0]["locator"] == ("ext4.img › file system (ext4) › /sdcard/export.zip"
                                               " › WhatsApp/Media/IMG-1.jpg")
    assert member[0]["sha256"] == sha256(PHOTO)


def test_rerun_after_completion_and_force_gives_no_duplicates(forensic, tmp_path):
    img = ext4_image(tmp_path, FILES)
    case = _case(forensic, tmp_path)
    forensic("evidence", "add", img, "--case", case, "--id", "phone")
    first = forensic("triage", "--case", case, "--json").json()
    again = forensic("triage", "--case", case, "--json").json()
    assert again["already_triaged"] is True
    forced = forensic("triage", "--case", case, "--json", "--force").json()
    assert forced["files"] == first["files"]
    assert len(forensic("files", "--case", case, "--json").jsonl()) == first["files"]


def test_hash_option_adds_md5_and_sha1(forensic, tmp_path):
    img = ext4_image(tmp_path, {"/a.txt": b"abc"})
    case = _case(forensic, tmp_path)
    forensic("evidence", "add", img, "--case", case, "--id", "x")
    forensic("triage", "--case", case, "--hash", "md5,sha1,sha256")
    row = _files(forensic, case)["/a.txt"]
    assert row["md5"] == hashlib.md5(b"abc").hexdigest()
    assert row["sha1"] == hashlib.sha1(b"abc").hexdigest()
    assert row["sha256"] == sha256(b"abc")


def test_ext2_deleted_and_freed_files_recovered(forensic, tmp_path):
    from builders import debugfs, ext_inode
    secret, orphan = os.urandom(5000), os.urandom(3000)
    img = ext4_image(tmp_path, {"/keep.txt": b"keep", "/secret.bin": secret, "/orphan.bin": orphan},
                     fstype="ext2", size_mib=4)
    ino = ext_inode(img, "/orphan.bin")
    debugfs(img, "rm /secret.bin", "unlink /orphan.bin", f"kill_file <{ino}>")
    case = _case(forensic, tmp_path)
    forensic("evidence", "add", img, "--case", case, "--id", "e2")
    forensic("triage", "--case", case)
    deleted = {r["path"]: r for r in forensic("files", "--case", case, "--json", "--deleted").jsonl()}
    assert deleted["/secret.bin"]["sha256"] == sha256(secret)
    # an unlinked-then-freed inode: its name survives as directory slack (or TSK lists it in $OrphanFiles)
    found = [r for r in deleted.values() if r["sha256"] == sha256(orphan)]
    assert len(found) == 1 and found[0]["inode"] == str(ino)


def test_ntfs_alternate_data_stream_is_an_entry_of_its_own(forensic, tmp_path):
    from builders import ntfs_image
    img = ntfs_image(tmp_path, {"/report.doc": b"visible body"}, {"/report.doc": {"hidden": b"hidden payload"}})
    case = _case(forensic, tmp_path)
    forensic("evidence", "add", img, "--case", case, "--id", "ntfs")
    forensic("triage", "--case", case, expect=None)
    files = _files(forensic, case)
    assert files["/report.doc"]["sha256"] == sha256(b"visible body")
    ads = files["/report.doc:hidden"]
    assert ads["kind"] == "stream"
    assert ads["sha256"] == sha256(b"hidden payload")
    assert ads["locator"] == "ntfs.img › file system (ntfs) › /report.doc › report.doc:hidden"
    assert files["/report.doc"]["modified_at"].endswith("Z")      # NTFS stores UTC


def test_assume_tz_applies_to_fat_times_as_an_assumption(forensic, tmp_path):
    img = fat_image(tmp_path, {"/DCIM/KEEP.JPG": PHOTO})
    case = _case(forensic, tmp_path)
    forensic("evidence", "add", img, "--case", case, "--id", "card")
    forensic("triage", "--case", case)
    local = _files(forensic, case)["/DCIM/KEEP.JPG"]
    assert local["times_tz_source"] == "unknown" and not local["modified_at"].endswith("Z")
    summary = forensic("triage", "--case", case, "--force", "--assume-tz", "Asia/Tbilisi", "--json").json()
    assert summary["options"]["assume_tz"] == "Asia/Tbilisi"
    row = _files(forensic, case)["/DCIM/KEEP.JPG"]
    assert row["times_tz_known"] is True and row["times_tz_source"] == "assumed"
    from datetime import datetime, timedelta
    wall = datetime.fromisoformat(local["modified_at"])
    assert row["modified_at"] == (wall - timedelta(hours=4)).isoformat() + "Z"   # Tbilisi is UTC+4
